// Live data over the sync protocol, as any Convex client gets it: the official `convex`
// browser client (ConvexClient) with the admin key (setAdminAuth, as Convex's own dashboard
// does) subscribes to the system queries _system/frontend/paginatedTableDocuments (the grid's
// first rows) and _system/frontend/tableSize (the count). Each commit that changes them
// pushes the new result over the page's one WebSocket.
import { ConvexClient } from "convex/browser";
import { convexToJson } from "convex/values";
import { getKey } from "./api.js";

let client = null;
let clientKey = null;

function sync() {
  if (!client || clientKey !== getKey()) {
    if (client) client.close();
    client = new ConvexClient(location.origin, { skipConvexDeploymentUrlCheck: true, unsavedChangesWarning: false });
    clientKey = getKey();
    client.setAdminAuth(clientKey);
  }
  return client;
}

const base64Json = (obj) => {
  const bytes = new TextEncoder().encode(JSON.stringify(obj));
  let text = "";
  for (const b of bytes) text += String.fromCharCode(b);
  return btoa(text);
};

// The grid's view as the system query's arguments (Convex's FilterExpression, base64 JSON).
export function pageArgs(view, numItems) {
  const filters = {
    clauses: view.filters.map((f, i) => ({ ...f, enabled: true, id: String(i) })),
    order: view.order,
    ...(view.index ? { index: { name: view.index } } : {}),
  };
  return { table: view.table, paginationOpts: { numItems, cursor: null }, filters: base64Json(filters) };
}

// Subscribes to the table's count and its first `numItems` rows; returns the unsubscribe.
export function watchTable(view, numItems, { onCount, onPage, onError }) {
  const c = sync();
  const stops = [
    c.onUpdate("_system/frontend/tableSize", { tableName: view.table }, (n) => onCount(n), onError),
    c.onUpdate("_system/frontend/paginatedTableDocuments", pageArgs(view, numItems),
      (r) => onPage({ ...r, page: r.page.map((d) => convexToJson(d)) }), onError),
  ];
  return () => { for (const stop of stops) stop(); };
}

// The table's indexes as Convex's dashboard reads them: each with its backfill state, live
// (the flip from backfilling to done arrives with the commit that finishes it).
export function watchIndexes(table, onIndexes, onError) {
  return sync().onUpdate("_system/frontend/indexes", { tableName: table, tableNamespace: null }, onIndexes, onError);
}
