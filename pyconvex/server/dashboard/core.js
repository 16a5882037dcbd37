"use strict";
// The dashboard talks only to this deployment's admin API (/api/pyconvex/...), with the
// admin key, which stays in this tab (sessionStorage) and is sent only to this origin.
// Errors show in the status bar or next to what failed; the page never uses alert().
const $ = (sel, root = document) => root.querySelector(sel);
const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));
let key = sessionStorage.getItem("pyconvexAdminKey") || "";
if (location.hash.startsWith("#key=")) {
  key = decodeURIComponent(location.hash.slice(5));
  history.replaceState(null, "", location.pathname);
  sessionStorage.setItem("pyconvexAdminKey", key);
}
const views = {};
let stopView = [];  // what the current view must stop (long polls) when another opens

class ApiError extends Error {
  constructor(code, message) { super(code + ": " + message); this.code = code; this.detail = message; }
}

async function api(path, options = {}) {
  const headers = { "Authorization": "Convex " + key, ...(options.headers || {}) };
  if (options.body !== undefined && !headers["Content-Type"]) headers["Content-Type"] = "application/json";
  const res = await fetch(path, { ...options, headers });
  const text = await res.text();
  let body;
  try { body = JSON.parse(text); } catch (e) { body = { code: res.status, message: text }; }
  if (!res.ok) throw new ApiError(body.code || res.status, body.message || "");
  return body;
}
const post = (path, body) => api(path, { method: "POST", body: JSON.stringify(body) });

const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));

function showStatus(message, ok = false) {
  const box = $("#status");
  box.textContent = message;
  box.className = ok ? "ok" : "";
  box.hidden = !message;
}
function errorText(e) { return e instanceof ApiError ? e.message : String(e && e.message || e); }

// Convex JSON -> readable text: int64 ({"$integer": base64}) as 5n, bytes as <n bytes>.
function decodeInt64(b64) {
  const raw = atob(b64);
  const bytes = new Uint8Array(8);
  for (let i = 0; i < 8; i++) bytes[i] = raw.charCodeAt(i);
  return new DataView(bytes.buffer).getBigInt64(0, true);
}
function readable(v) {
  if (v === null || typeof v !== "object") return v;
  if (Array.isArray(v)) return v.map(readable);
  const keys = Object.keys(v);
  if (keys.length === 1 && keys[0] === "$integer") return decodeInt64(v.$integer).toString() + "n";
  if (keys.length === 1 && keys[0] === "$bytes") return `<${atob(v.$bytes).length} bytes>`;
  return Object.fromEntries(keys.map((k) => [k, readable(v[k])]));
}
function cellText(v) {
  if (v === undefined) return "";
  const r = readable(v);
  return typeof r === "string" ? r : JSON.stringify(r);
}
const fmtTime = (ms) => new Date(ms).toLocaleString();

function int64Json(n) {  // Convex JSON's int64: {"$integer": base64 of 8 little-endian bytes}
  const bytes = new Uint8Array(8);
  new DataView(bytes.buffer).setBigInt64(0, BigInt(n), true);
  return { $integer: btoa(String.fromCharCode(...bytes)) };
}
// JSON numbers are float64 on Convex's wire: where a validator expects an int64, an
// integral number goes as one.
function int64WhereExpected(spec, value) {
  if (!spec) return value;
  const isObj = (x) => x !== null && typeof x === "object" && !Array.isArray(x);
  switch (spec.type) {
    case "bigint": case "int64": return Number.isInteger(value) ? int64Json(value) : value;
    case "object": return isObj(value) ? Object.fromEntries(Object.entries(value).map(([k, x]) => [k, spec.value[k] ? int64WhereExpected(spec.value[k].fieldType, x) : x])) : value;
    case "array": return Array.isArray(value) ? value.map((x) => int64WhereExpected(spec.value, x)) : value;
    case "record": return isObj(value) ? Object.fromEntries(Object.entries(value).map(([k, x]) => [k, int64WhereExpected(spec.values.fieldType, x)])) : value;
    case "union":
      if (typeof value === "number" && spec.value.some((m) => m.type === "number")) return value;
      for (const member of spec.value) { const out = int64WhereExpected(member, value); if (out !== value) return out; }
      return value;
    default: return value;
  }
}
// A validator as the short text a user reads: v.string(), v.optional(v.number()), ...
function validatorText(spec) {
  if (!spec) return "any";
  switch (spec.type) {
    case "object": return "{ " + Object.entries(spec.value).map(([k, f]) => `${k}${f.optional ? "?" : ""}: ${validatorText(f.fieldType)}`).join(", ") + " }";
    case "array": return validatorText(spec.value) + "[]";
    case "union": return spec.value.map(validatorText).join(" | ");
    case "id": return `Id<"${spec.tableName}">`;
    case "literal": return JSON.stringify(spec.value);
    case "record": return `Record<${validatorText(spec.keys)}, ${validatorText(spec.values.fieldType)}>`;
    default: return spec.type;
  }
}
