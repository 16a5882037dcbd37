// The official npm `convex` client against custom functions, row-level security and
// the rate limiter of tests/fixtures/secureapp. Usage: node secure.mjs <deployment url>.
// Prints one JSON object with what it saw.
import { ConvexClient, ConvexHttpClient } from "convex/browser";
import { ConvexError } from "convex/values";

const url = process.argv[2];
const out = {};
const timeout = (ms, what) =>
  new Promise((_, reject) => setTimeout(() => reject(new Error(`timeout: ${what}`)), ms));
const dataOf = async (promise) => {
  try {
    await promise;
    return null;
  } catch (e) {
    return e instanceof ConvexError ? e.data : String(e);
  }
};

async function main() {
  const http = new ConvexHttpClient(url);
  await http.mutation("custom:setup", { subject: "ann", name: "Ann", token: "tok" });
  // A consumed argument (sessionId) and the handler's own (suffix), both public.
  out.greet = await http.query("custom:greet", { sessionId: "tok", suffix: "!" });
  out.post = await http.mutation("custom:post", { sessionId: "tok", text: "x" });
  out.badSession = await dataOf(http.query("custom:greet", { sessionId: "no", suffix: "!" }));

  const client = new ConvexClient(url);
  out.wsGreet = await client.query("custom:greet", { sessionId: "tok", suffix: "?" });
  // Sending is rate-limited: the refusal is a ConvexError with retryAfter.
  const results = [];
  for (let i = 0; i < 4; i++) {
    results.push(await client.mutation("limits:consume", { name: "bucket", key: "npm" }));
  }
  out.limited = results.map((r) => r.ok);
  out.rateLimitError = await dataOf(
    client.mutation("limits:consume", { name: "bucket", key: "npm", throws: true }));

  // A live query under RLS: private channel, anonymous viewer, then the channel opens.
  const cid = await http.mutation("chat:make_channel", { name: "p", public: false, members: [] });
  await http.mutation("chat:raw_insert", { channelId: cid, author: "x", body: "hidden", n: 1 });
  let resolveSeen;
  const seen = new Promise((r) => (resolveSeen = r));
  const updates = [];
  const unsub = client.onUpdate("chat:by_channel", { channelId: cid }, (msgs) => {
    updates.push(msgs.map((m) => m.body));
    if (msgs.length > 0) resolveSeen(msgs.map((m) => m.body));
  });
  out.before = await client.query("chat:by_channel", { channelId: cid });
  await http.mutation("chat:set_public", { channelId: cid, public: true });
  out.after = await Promise.race([seen, timeout(10000, "live update under RLS")]);
  unsub();
  await client.close();
}

main()
  .then(() => console.log(JSON.stringify(out)))
  .catch((e) => {
    out.error = String(e && e.stack ? e.stack : e);
    console.log(JSON.stringify(out));
    process.exit(1);
  });
