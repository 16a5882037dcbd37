// The dashboard talks only to this deployment's admin API (/api/pyconvex/...) with the admin
// key, which stays in this tab (sessionStorage) and is sent only to this origin. Errors are
// shown on the page (the status bar or next to what failed); the page never uses alert().

const STORAGE_KEY = "pyconvexAdminKey";

function initialKey() {
  let key = sessionStorage.getItem(STORAGE_KEY) || "";
  if (location.hash.startsWith("#key=")) {
    key = decodeURIComponent(location.hash.slice(5));
    history.replaceState(null, "", location.pathname);  // the key leaves the address bar
    sessionStorage.setItem(STORAGE_KEY, key);
  }
  return key;
}

let adminKey = initialKey();
export const getKey = () => adminKey;
export function setKey(key) {
  adminKey = key;
  if (key) sessionStorage.setItem(STORAGE_KEY, key);
  else sessionStorage.removeItem(STORAGE_KEY);
}

export class ApiError extends Error {
  constructor(code, message) {
    super(code + ": " + message);
    this.code = code;
    this.detail = message;
  }
}
export const isAuthError = (e) => e instanceof ApiError && (e.code === "BadAdminKey" || e.code === "Unauthorized");

export async function failure(res) {
  const text = await res.text();
  let body;
  try { body = JSON.parse(text); } catch { body = { code: res.status, message: text }; }
  return new ApiError(body.code || res.status, body.message || "");
}

export async function api(path, options = {}) {
  const headers = { Authorization: "Convex " + adminKey, ...(options.headers || {}) };
  if (options.body !== undefined && typeof options.body === "string" && !headers["Content-Type"]) {
    headers["Content-Type"] = "application/json";
  }
  const res = await fetch(path, { ...options, headers });
  if (!res.ok) throw await failure(res);
  return res.json();
}
export const post = (path, body) => api(path, { method: "POST", body: JSON.stringify(body) });
export const errorText = (e) => (e instanceof ApiError ? e.message : String((e && e.message) || e));
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
