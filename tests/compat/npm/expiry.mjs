// The official npm ConvexClient with a short-lived token: when the server reports the
// socket's token expired (AuthError), the client fetches a fresh one and its live query
// resumes. Usage: node expiry.mjs <url> <token> <token>... (handed out in turn; the last
// one repeats). Prints one JSON object.
import { ConvexClient } from "convex/browser";

const [url, ...tokens] = process.argv.slice(2);
const out = { fetches: [], updates: [], authChanges: [] };
const started = Date.now();
const client = new ConvexClient(url);
client.setAuth(
  async ({ forceRefreshToken }) => {
    out.fetches.push({ at: Date.now() - started, forceRefreshToken });
    return tokens[Math.min(out.fetches.length - 1, tokens.length - 1)];
  },
  (isAuthenticated) => out.authChanges.push(isAuthenticated),
);
client.onUpdate("me:whoami", {}, (value) =>
  out.updates.push({ at: Date.now() - started, subject: value?.subject ?? null }),
);

const deadline = Date.now() + 40000;
while (Date.now() < deadline && out.fetches.length < 3) {
  await new Promise((r) => setTimeout(r, 100));
}
// After the fresh token: the live query runs again and a mutation runs as the user.
out.mutation = await client.mutation("me:whoami_now", {});
out.queryAfter = (await client.query("me:whoami", {}))?.subject ?? null;
await new Promise((r) => setTimeout(r, 500));
await client.close();
console.log(JSON.stringify(out));
process.exit(0);
