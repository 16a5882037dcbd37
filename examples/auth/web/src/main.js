// The auth example's page: @convex-dev/auth's React client, unmodified, against
// pyconvex.auth. Sign up or in with a password; <Authenticated> shows your private notes.
import { ConvexAuthProvider, useAuthActions, useAuthToken } from "@convex-dev/auth/react";
import { Authenticated, AuthLoading, ConvexReactClient, Unauthenticated, useMutation, useQuery } from "convex/react";
import { anyApi } from "convex/server";
import { createElement as h, useState } from "react";
import { createRoot } from "react-dom/client";

const api = anyApi;
// Served by the deployment itself (same origin); ?backend=URL points elsewhere.
const backend = new URLSearchParams(location.search).get("backend") || location.origin;
const client = new ConvexReactClient(backend);
const showError = (e) =>
  (document.getElementById("error").textContent = e ? e.data || e.message || String(e) : "");

function SignIn() {
  const { signIn } = useAuthActions();
  const [flow, setFlow] = useState("signIn");
  const submit = (event) => {
    event.preventDefault();
    showError(null);
    signIn("password", new FormData(event.currentTarget)).catch(showError);
  };
  return h("form", { onSubmit: submit, "data-testid": "sign-in-form" },
    h("input", { name: "email", type: "email", placeholder: "Email", "data-testid": "email" }),
    h("input", { name: "password", type: "password", placeholder: "Password", "data-testid": "password" }),
    flow === "signUp" && h("input", { name: "name", placeholder: "Name", "data-testid": "name" }),
    h("input", { name: "flow", type: "hidden", value: flow }),
    h("button", { type: "submit", "data-testid": "submit" }, flow === "signIn" ? "Sign in" : "Sign up"),
    h("button", { type: "button", "data-testid": "toggle", onClick: () => setFlow(flow === "signIn" ? "signUp" : "signIn") },
      flow === "signIn" ? "I need an account" : "I have an account"),
    // OAuth/OIDC: signIn answers with a redirect to the provider, which the client follows;
    // back on this page with ?code=..., ConvexAuthProvider finishes the sign-in by itself.
    h("button", { type: "button", "data-testid": "oidc", onClick: () => signIn("oidc").catch(showError) },
      "Sign in with OpenID Connect"));
}

function Notes() {
  const { signOut } = useAuthActions();
  const token = useAuthToken();
  const me = useQuery(api.notes.me);
  const notes = useQuery(api.notes.mine) ?? [];
  const add = useMutation(api.notes.add);
  const [text, setText] = useState("");
  const submit = (event) => {
    event.preventDefault();
    add({ text }).then(() => setText("")).catch(showError);
  };
  return h("div", null,
    h("p", { "data-testid": "whoami" }, me ? `Signed in as ${me.name ?? me.email}` : "…"),
    h("p", { "data-testid": "has-token" }, token ? "token: yes" : "token: no"),
    h("form", { onSubmit: submit },
      h("input", { value: text, onChange: (e) => setText(e.target.value), "data-testid": "note-input" }),
      h("button", { type: "submit", "data-testid": "add" }, "Add")),
    h("ul", null, notes.map((n, i) => h("li", { key: i, "data-testid": "note" }, n))),
    h("button", { "data-testid": "sign-out", onClick: () => void signOut() }, "Sign out"));
}

function SignedOutNotes() {
  // What a signed-out page can read: the same query, which must hold nothing private.
  const notes = useQuery(api.notes.mine);
  return h("p", { "data-testid": "public-notes" }, notes === undefined ? "…" : `${notes.length} notes visible`);
}

function App() {
  return h(ConvexAuthProvider, { client },
    h(AuthLoading, null, h("p", null, "Loading…")),
    h(Unauthenticated, null, h(SignIn), h(SignedOutNotes)),
    h(Authenticated, null, h(Notes)));
}

createRoot(document.getElementById("root")).render(h(App));
