// Live pagination with the official npm `convex` client's onPaginatedUpdate_experimental,
// against the chat example (messages:list, newest first) served by pyconvex.
// Usage: node paginated.mjs <deployment url>. Prints one JSON line per scenario; before
// the reconnect scenario's restart it prints {"restart": true} and waits for a line on
// stdin (the test restarts the server on the same port, then writes one).
import { ConvexClient, ConvexHttpClient } from "convex/browser";
import readline from "node:readline";

const url = process.argv[2];
const http = new ConvexHttpClient(url);
const client = new ConvexClient(url);
const stdin = readline.createInterface({ input: process.stdin });
const lines = stdin[Symbol.asyncIterator]();
const print = (o) => console.log(JSON.stringify(o));

// A paginated subscription whose latest result can be awaited until it says something.
function live(channelId, initialNumItems) {
  const state = { result: undefined, waiters: [], errors: [] };
  const notify = () => {
    state.waiters = state.waiters.filter(({ pred, resolve }) => {
      if (state.result && pred(state.result)) {
        resolve(state.result);
        return false;
      }
      return true;
    });
  };
  state.unsubscribe = client.onPaginatedUpdate_experimental(
    "messages:list",
    { channelId },
    { initialNumItems },
    (result) => {
      state.result = result;
      notify();
    },
    (e) => state.errors.push(String(e)),
  );
  // Wait (up to 10 s, a failure detector only) for a result that satisfies pred.
  state.until = (pred, what) =>
    new Promise((resolve, reject) => {
      state.waiters.push({ pred, resolve });
      notify();
      setTimeout(() => reject(new Error(`timed out waiting for ${what}: ` +
        JSON.stringify(state.result && bodies(state.result))) ), 10000);
    });
  return state;
}

const bodies = (r) => r.results.map((m) => m.body);
const sameAs = (want) => (r) => JSON.stringify(bodies(r)) === JSON.stringify(want) && r.status !== "LoadingMore";
// The page subscriptions behind one paginated query (the client's own bookkeeping).
const pageCount = () => [...client.paginatedClient.paginatedQuerySet.values()][0].pageKeys.length;

async function channel(name, n) {
  const id = await http.mutation("channels:create", { name });
  const ids = [];
  for (let i = 0; i < n; i++) {
    ids.push(await http.mutation("messages:send", { channelId: id, author: "t", body: `r${i}` }));
  }
  return { id, ids };
}
const send = (id, body) => http.mutation("messages:send", { channelId: id, author: "t", body });

// [r4,r3] then loadMore(3) gives [r4,r3,r2,r1,r0].
async function twoPages(name) {
  const c = await channel(name, 5);
  const q = live(c.id, 2);
  await q.until(sameAs(["r4", "r3"]), "the first page");
  q.result.loadMore(3);
  await q.until(sameAs(["r4", "r3", "r2", "r1", "r0"]), "two pages");
  return { c, q };
}

async function main() {
  {
    // 1. Two pages loaded, then one insert: nothing slides out.
    const { c, q } = await twoPages("insert");
    await send(c.id, "NEW");
    const r = await q.until((r) => bodies(r).includes("NEW"), "the insert");
    print({ case: "insert", results: bodies(r), status: r.status, errors: q.errors });
    q.unsubscribe();
  }
  {
    // 2. A fully loaded list, three inserts: the oldest row stays, no "load more".
    const c = await channel("full", 3);
    const q = live(c.id, 2);
    await q.until(sameAs(["r2", "r1"]), "the first page");
    q.result.loadMore(2);
    const full = await q.until((r) => r.status === "Exhausted" && r.results.length === 3, "everything");
    const before = bodies(full);
    for (const body of ["N1", "N2", "N3"]) await send(c.id, body);
    const r = await q.until((r) => bodies(r).includes("N3") && r.status !== "LoadingMore", "three inserts");
    print({ case: "full", before, results: bodies(r), status: r.status, errors: q.errors });
    q.unsubscribe();
  }
  {
    // 3. A delete inside the first page: no row of the second page shows twice.
    const { c, q } = await twoPages("delete");
    await http.mutation("messages:remove", { id: c.ids[3] });
    const r = await q.until((r) => !bodies(r).includes("r3"), "the delete");
    print({ case: "delete", results: bodies(r), status: r.status, errors: q.errors });
    q.unsubscribe();
  }
  {
    // 4. A page that grows past twice initialNumItems is split by the client.
    const { c, q } = await twoPages("split");
    const pagesBefore = pageCount();
    for (const body of ["N1", "N2", "N3"]) await send(c.id, body);
    const r = await q.until(
      (r) => bodies(r).includes("N3") && r.status !== "LoadingMore" && pageCount() > pagesBefore,
      "the split",
    );
    print({ case: "split", results: bodies(r), status: r.status, pagesBefore, pagesAfter: pageCount(), errors: q.errors });
    q.unsubscribe();
  }
  {
    // 5. A reconnect in the middle: pages re-subscribe with their journals.
    const { c, q } = await twoPages("reconnect");
    await send(c.id, "NEW");
    const grown = await q.until((r) => bodies(r).includes("NEW"), "the insert");
    print({ restart: true });
    await lines.next(); // the server was restarted on the same port
    await send(c.id, "AFTER");
    const r = await q.until((r) => bodies(r).includes("AFTER") && r.status !== "LoadingMore", "after the restart");
    print({ case: "reconnect", before: bodies(grown), results: bodies(r), status: r.status, errors: q.errors });
    q.unsubscribe();
  }
}

main()
  .then(() => {
    print({ done: true });
    process.exit(0);
  })
  .catch((e) => {
    print({ error: String(e && e.stack ? e.stack : e) });
    process.exit(1);
  });
