// The chat page: the official Convex React client, unmodified, against pyconvex.
// Messages are a live paginated list (usePaginatedQuery): newest first, older pages on
// demand, every loaded page kept current as messages come and go.
import { ConvexAuthProvider, useAuthActions } from "@convex-dev/auth/react";
import { Authenticated, ConvexProvider, ConvexReactClient, Unauthenticated, usePaginatedQuery, useQuery } from "convex/react";
import { anyApi } from "convex/server";
import { createElement as h, useEffect, useState } from "react";
import { createRoot } from "react-dom/client";

const api = anyApi;
const params = new URLSearchParams(location.search);
// Messages per page (?pageSize=N, for trying pagination with a few messages).
const PAGE = Number(params.get("pageSize")) || 30;
// Served by the deployment itself (same origin); ?backend=URL points elsewhere.
const backend = params.get("backend") || location.origin;
const client = new ConvexReactClient(backend);

const $ = (id) => document.getElementById(id);
const nameInput = $("name");
nameInput.value = localStorage.getItem("chatName") || `guest-${Math.floor(Math.random() * 1000)}`;
nameInput.addEventListener("change", () => localStorage.setItem("chatName", nameInput.value));

const showError = (e) => ($("error").textContent = e ? e.data?.message || e.message || String(e) : "");

setInterval(() => {
  const s = client.connectionState();
  $("status").textContent = s.isWebSocketConnected ? "live" : "reconnecting…";
}, 500);

// The open channel lives outside React (the channel list and composer are plain DOM);
// the feed re-renders when it changes.
let channelId = null;
const channelListeners = new Set();
function openChannel(id) {
  channelId = id;
  for (const b of document.querySelectorAll("#channels button")) b.classList.toggle("active", b.dataset.id === id);
  for (const fn of channelListeners) fn(id);
}

function Message({ m }) {
  const remove = () => client.mutation(api.messages.remove, { id: m._id }).catch(showError);
  return h("li", { "data-testid": "message", "data-id": m._id },
    h("span", { className: "author" }, m.author),
    h("span", { className: "body" }, m.body),
    h("button", { className: "remove", "data-testid": "remove", title: "Delete", onClick: remove }, "×"),
  );
}

function Messages({ channel }) {
  const { results, status, loadMore } = usePaginatedQuery(
    api.messages.list, { channelId: channel }, { initialNumItems: PAGE },
  );
  return [
    h("button", {
      key: "older", id: "older", "data-testid": "older",
      hidden: status !== "CanLoadMore", onClick: () => loadMore(PAGE),
    }, "Load older messages"),
    h("ol", { key: "list", id: "messages", "data-testid": "messages", "data-status": status },
      results.map((m) => h(Message, { key: m._id, m }))),
  ];
}

function Feed() {
  const [channel, setChannel] = useState(channelId);
  useEffect(() => {
    channelListeners.add(setChannel);
    return () => channelListeners.delete(setChannel);
  }, []);
  // A new channel is a new paginated query (key): its pages start over.
  return channel ? h(Messages, { key: channel, channel }) : null;
}

createRoot($("feed")).render(h(ConvexProvider, { client }, h(Feed)));

// Signing in (optional: guests chat under the name above). @convex-dev/auth's React
// client, unmodified, against pyconvex.auth; it sets the shared client's token.
function SignInForm() {
  const { signIn } = useAuthActions();
  const [flow, setFlow] = useState("signIn");
  const submit = (event) => {
    event.preventDefault();
    showError(null);
    signIn("password", new FormData(event.currentTarget)).catch(showError);
  };
  return h("form", { id: "sign-in", onSubmit: submit },
    h("input", { name: "email", type: "email", placeholder: "email", "data-testid": "auth-email" }),
    h("input", { name: "password", type: "password", placeholder: "password", "data-testid": "auth-password" }),
    h("input", { name: "flow", type: "hidden", value: flow }),
    flow === "signUp" && h("input", { name: "name", placeholder: "display name", "data-testid": "auth-name" }),
    h("button", { type: "submit", "data-testid": "auth-submit" }, flow === "signIn" ? "Sign in" : "Sign up"),
    h("button", { type: "button", "data-testid": "auth-toggle", onClick: () => setFlow(flow === "signIn" ? "signUp" : "signIn") },
      flow === "signIn" ? "new here?" : "have an account?"),
    h("button", { type: "button", "data-testid": "auth-oidc", onClick: () => signIn("oidc").catch(showError) }, "OpenID"));
}

function SignedIn() {
  const { signOut } = useAuthActions();
  const me = useQuery(api.users.me);
  return h("span", null,
    h("span", { "data-testid": "signed-in-as" }, me ? `signed in as ${me.name ?? me.email}` : "…"), " ",
    h("button", { "data-testid": "sign-out", onClick: () => void signOut() }, "Sign out"));
}

createRoot($("account")).render(h(ConvexAuthProvider, { client },
  h(Unauthenticated, null, h(SignInForm)),
  h(Authenticated, null, h(SignedIn))));

const channels = client.watchQuery(api.channels.list, {});
channels.onUpdate(() => {
  const list = channels.localQueryResult();
  if (!list) return;
  const ul = $("channels");
  ul.replaceChildren();
  for (const c of list) {
    const li = document.createElement("li");
    const b = document.createElement("button");
    b.textContent = `# ${c.name}`;
    b.dataset.id = c._id;
    b.dataset.testid = `channel-${c.name}`;
    b.addEventListener("click", () => openChannel(c._id));
    li.append(b);
    ul.append(li);
  }
  if (!channelId && list.length) openChannel(list[0]._id);
  else for (const b of ul.querySelectorAll("button")) b.classList.toggle("active", b.dataset.id === channelId);
});

$("composer").addEventListener("submit", async (event) => {
  event.preventDefault();
  const body = $("body").value;
  if (!channelId) return;
  try {
    showError(null);
    $("body").value = "";
    await client.mutation(api.messages.send, { channelId, author: nameInput.value, body });
  } catch (e) {
    $("body").value = body;
    showError(e);
  }
});

$("new-channel").addEventListener("submit", async (event) => {
  event.preventDefault();
  try {
    const id = await client.mutation(api.channels.create, { name: $("channel-name").value });
    $("channel-name").value = "";
    openChannel(id);
  } catch (e) {
    showError(e);
  }
});

client.mutation(api.channels.ensure_defaults, {}).catch(showError);
