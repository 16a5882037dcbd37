// The chat page: the official Convex browser client, unmodified, against pyconvex.
import { ConvexClient } from "convex/browser";
import { anyApi } from "convex/server";

const api = anyApi;
const PAGE = 30;
// Served by the deployment itself (same origin); ?backend=URL points elsewhere.
const backend = new URLSearchParams(location.search).get("backend") || location.origin;
const client = new ConvexClient(backend);

const $ = (id) => document.getElementById(id);
const nameInput = $("name");
nameInput.value = localStorage.getItem("chatName") || `guest-${Math.floor(Math.random() * 1000)}`;
nameInput.addEventListener("change", () => localStorage.setItem("chatName", nameInput.value));

let channelId = null;
let pages = []; // [{ unsubscribe, result }], newest page first
const showError = (e) => ($("error").textContent = e ? e.data?.message || e.message || String(e) : "");

client.connectionState && setInterval(() => {
  const s = client.connectionState();
  $("status").textContent = s.isWebSocketConnected ? "live" : "reconnecting…";
}, 500);

function renderMessages() {
  const list = $("messages");
  list.replaceChildren();
  for (const page of pages) {
    for (const m of page.result?.page ?? []) {
      const li = document.createElement("li");
      li.dataset.testid = "message";
      const who = document.createElement("span");
      who.className = "author";
      who.textContent = m.author;
      const body = document.createElement("span");
      body.className = "body";
      body.textContent = m.body;
      li.append(who, body);
      list.append(li);
    }
  }
  const last = pages[pages.length - 1]?.result;
  $("older").hidden = !last || last.isDone;
}

function subscribePage(cursor) {
  const page = { result: null, unsubscribe: null };
  page.unsubscribe = client.onUpdate(
    api.messages.list,
    { channelId, paginationOpts: { numItems: PAGE, cursor } },
    (result) => { page.result = result; renderMessages(); },
    (error) => showError(error),
  );
  pages.push(page);
}

function openChannel(id) {
  for (const p of pages) p.unsubscribe();
  pages = [];
  channelId = id;
  for (const b of document.querySelectorAll("#channels button")) b.classList.toggle("active", b.dataset.id === id);
  renderMessages();
  subscribePage(null);
}

$("older").addEventListener("click", () => {
  const last = pages[pages.length - 1]?.result;
  if (last && !last.isDone) subscribePage(last.continueCursor);
});

client.onUpdate(api.channels.list, {}, (channels) => {
  const ul = $("channels");
  ul.replaceChildren();
  for (const c of channels) {
    const li = document.createElement("li");
    const b = document.createElement("button");
    b.textContent = `# ${c.name}`;
    b.dataset.id = c._id;
    b.dataset.testid = `channel-${c.name}`;
    b.addEventListener("click", () => openChannel(c._id));
    li.append(b);
    ul.append(li);
  }
  if (!channelId && channels.length) openChannel(channels[0]._id);
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
