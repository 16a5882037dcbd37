// The dashboard's live data with the official npm `convex` client (Node): an admin
// ConvexClient subscribes to `_system/frontend/*` queries and sees commits land; a client
// without the admin key is refused. Usage: node system_queries.mjs <url> <admin key>.
// Prints one JSON object.
import { ConvexClient, ConvexHttpClient } from "convex/browser";

const [url, adminKey] = process.argv.slice(2);
const out = {};
const names = (r) => r.page.map((d) => d.name).sort();
const b64 = (o) => Buffer.from(JSON.stringify(o)).toString("base64");

// The latest value of a subscription, awaited until it satisfies pred (10 s: a failure
// detector only).
function live(client, path, args) {
  const s = { value: undefined, error: undefined, waiters: [], updates: 0 };
  const notify = () => {
    s.waiters = s.waiters.filter(({ pred, resolve }) => {
      if (s.value !== undefined && pred(s.value)) { resolve(s.value); return false; }
      return true;
    });
  };
  s.unsubscribe = client.onUpdate(path, args, (v) => { s.value = v; s.updates += 1; notify(); },
    (e) => { s.error = String(e); });
  s.until = (pred, what) => new Promise((resolve, reject) => {
    s.waiters.push({ pred, resolve });
    notify();
    setTimeout(() => reject(new Error(`timed out waiting for ${what}: ${JSON.stringify(s.value)}`)), 10000);
  });
  return s;
}

async function main() {
  const http = new ConvexHttpClient(url);
  for (const name of ["a", "b", "c"]) await http.mutation("channels:create", { name });

  const admin = new ConvexClient(url);
  admin.setAdminAuth(adminKey);
  const pageArgs = { table: "channels", paginationOpts: { numItems: 10, cursor: null }, filters: null };
  const grid = live(admin, "_system/frontend/paginatedTableDocuments", pageArgs);
  out.before = names(await grid.until((r) => r.page.length === 3, "the first page"));
  const size = live(admin, "_system/frontend/tableSize", { tableName: "channels" });
  out.sizeBefore = await size.until((n) => n === 3, "the size");
  const filtered = live(admin, "_system/frontend/paginatedTableDocuments", {
    ...pageArgs, filters: b64({ clauses: [{ field: "name", op: "eq", value: "d", enabled: true, id: "1" }] }),
  });
  const empty = await filtered.until((r) => r.isDone, "the filtered page");
  out.filteredBefore = names(empty);
  out.plan = empty.plan;
  const indexes = await admin.query("_system/frontend/indexes", { tableName: "channels", tableNamespace: null });
  out.indexes = indexes;
  const beforeInsert = Date.now();
  await new Promise((r) => setTimeout(r, 20));

  await http.mutation("channels:create", { name: "d" });  // another client's commit
  out.after = names(await grid.until((r) => r.page.length === 4, "the insert"));
  out.sizeAfter = await size.until((n) => n === 4, "the new size");
  out.filteredAfter = names(await filtered.until((r) => r.page.length === 1, "the filtered insert"));
  const past = await admin.query("_system/frontend/paginatedTableDocuments", { ...pageArgs, at: beforeInsert });
  out.asOf = names(past);
  // A change to a document already on the page (through the dashboard's replace).
  const a = grid.value.page.find((d) => d.name === "a");
  const replaced = await fetch(`${url}/api/pyconvex/dashboard/replace`, {
    method: "POST", headers: { Authorization: `Convex ${adminKey}`, "Content-Type": "application/json" },
    body: JSON.stringify({ id: a._id, value: { name: "z" } }),
  });
  out.replaceStatus = replaced.status;
  out.changed = names(await grid.until((r) => r.page.some((d) => d.name === "z"), "the change"));
  out.errors = [grid.error, size.error, filtered.error].filter(Boolean);

  const anonymous = new ConvexClient(url);
  const refused = live(anonymous, "_system/frontend/paginatedTableDocuments", pageArgs);
  await new Promise((resolve, reject) => {
    const t = setInterval(() => { if (refused.error) { clearInterval(t); resolve(); } }, 20);
    setTimeout(() => { clearInterval(t); reject(new Error("the anonymous client was not refused")); }, 10000);
  });
  out.anonymousError = refused.error;
  out.anonymousValue = refused.value ?? null;
  try {
    await anonymous.query("_system/frontend/tableSize", { tableName: "channels" });
    out.anonymousQuery = "answered";
  } catch (e) {
    out.anonymousQuery = String(e);
  }
  await admin.close();
  await anonymous.close();
}

main().then(
  () => { console.log(JSON.stringify(out)); process.exit(0); },
  (e) => { console.log(JSON.stringify({ ...out, failure: String(e) })); process.exit(1); },
);
