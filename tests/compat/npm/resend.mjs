// Keeps mutations in flight through the official npm ConvexClient while the server is
// killed and restarted under it. Usage: node resend.mjs <deployment url> <in flight>.
// Prints "sent <tag>" when a mutation is issued and "ack <tag>" when its promise
// resolves; on the line "stop" (stdin) it issues no more, waits for every pending one
// and prints "done".
import { ConvexClient } from "convex/browser";
import readline from "node:readline";

const url = process.argv[2];
const inFlight = Number(process.argv[3] ?? 4);
const client = new ConvexClient(url, { verbose: !!process.env.RESEND_VERBOSE });
let next = 0;
let stopping = false;
const pending = new Set();

function issue() {
  while (!stopping && pending.size < inFlight) {
    const tag = `t${next++}`;
    console.log(`sent ${tag}`);
    const p = client
      .mutation("pairs:insert_pair", { tag })
      .then(
        () => console.log(`ack ${tag}`),
        (e) => console.log(`err ${tag} ${String(e).split("\n")[0]}`),
      )
      .finally(() => {
        pending.delete(p);
        issue();
      });
    pending.add(p);
  }
}

readline.createInterface({ input: process.stdin }).on("line", async (line) => {
  if (line.trim() !== "stop") return;
  stopping = true;
  while (pending.size) await Promise.all([...pending]);
  console.log("done");
  await client.close();
  process.exit(0);
});

issue();
