// Drives the official npm `convex` client against a pyconvex server.
// Usage: node client.mjs <deployment url>. Prints one JSON object with what it saw.
import { ConvexClient, ConvexHttpClient } from "convex/browser";
import { ConvexError } from "convex/values";

const url = process.argv[2];
const out = {};
const timeout = (ms, what) =>
  new Promise((_, reject) => setTimeout(() => reject(new Error(`timeout: ${what}`)), ms));

async function main() {
  const http = new ConvexHttpClient(url);
  const cid = await http.mutation("channels:create", { name: "general" });
  out.httpChannels = (await http.query("channels:list", {})).map((c) => c.name);

  try {
    await http.mutation("messages:send", { channelId: cid, text: "   " });
    out.httpConvexError = null;
  } catch (e) {
    out.httpConvexError = e instanceof ConvexError ? e.data : String(e);
  }

  const client = new ConvexClient(url);
  // Live update: a subscription sees another client's mutation.
  let resolveSeen;
  const seen = new Promise((r) => (resolveSeen = r));
  let sentAt = 0;
  const unsub = client.onUpdate("messages:list", { channelId: cid }, (msgs) => {
    if (sentAt && msgs.some((m) => m.text === "from http")) resolveSeen(Date.now() - sentAt);
  });
  await client.query("messages:list", { channelId: cid });
  sentAt = Date.now();
  await http.mutation("messages:send", { channelId: cid, text: "from http" });
  out.updateLatencyMs = await Promise.race([seen, timeout(5000, "live update")]);
  unsub();

  // Mutations over WebSocket read their own writes; ConvexError data is intact.
  const mid = await client.mutation("messages:send", { channelId: cid, text: "over ws" });
  out.wsMutationId = typeof mid;
  try {
    await client.mutation("messages:send", { channelId: cid, text: " " });
  } catch (e) {
    out.wsConvexError = e instanceof ConvexError ? e.data : String(e);
  }
  out.wsAction = await client.action("actions:make_channel_and_count", { name: "c2" });

  // Two queries, one commit: never observed in a mixed state.
  let mixed = 0;
  let updates = 0;
  const check = () => {
    const a = client.client.localQueryResult("counters:get", { name: "a" });
    const b = client.client.localQueryResult("counters:get", { name: "b" });
    if (a !== undefined && b !== undefined) {
      updates += 1;
      if (a !== b) mixed += 1;
    }
  };
  const ua = client.onUpdate("counters:get", { name: "a" }, check);
  const ub = client.onUpdate("counters:get", { name: "b" }, check);
  for (let i = 0; i < 20; i++) await http.mutation("counters:bump_pair", {});
  await client.mutation("counters:bump_pair", {});
  out.pairFinal = [
    client.client.localQueryResult("counters:get", { name: "a" }),
    client.client.localQueryResult("counters:get", { name: "b" }),
  ];
  out.mixed = mixed;
  out.pairUpdates = updates;
  ua();
  ub();
  await client.close();
}

main()
  .then(() => {
    console.log(JSON.stringify(out));
    process.exit(0);
  })
  .catch((e) => {
    console.log(JSON.stringify({ ...out, error: String(e && e.stack ? e.stack : e) }));
    process.exit(1);
  });
