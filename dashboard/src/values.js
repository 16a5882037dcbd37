// Convex JSON as people read it, and back: int64 ({"$integer": base64}) shows as 5n, bytes as
// <n bytes>; where a validator expects an int64, an integral JSON number is sent as one
// (JSON numbers are float64 on Convex's wire).

function decodeInt64(b64) {
  const raw = atob(b64);
  const bytes = new Uint8Array(8);
  for (let i = 0; i < 8; i++) bytes[i] = raw.charCodeAt(i);
  return new DataView(bytes.buffer).getBigInt64(0, true);
}

export function readable(v) {
  if (v === null || typeof v !== "object") return v;
  if (Array.isArray(v)) return v.map(readable);
  const keys = Object.keys(v);
  if (keys.length === 1 && keys[0] === "$integer") return decodeInt64(v.$integer).toString() + "n";
  if (keys.length === 1 && keys[0] === "$bytes") return `<${atob(v.$bytes).length} bytes>`;
  return Object.fromEntries(keys.map((k) => [k, readable(v[k])]));
}

export function cellText(v) {
  if (v === undefined) return "";
  const r = readable(v);
  return typeof r === "string" ? r : JSON.stringify(r);
}

export const fmtTime = (ms) => new Date(ms).toLocaleString();
export const fmtNum = (n) => (n === null || n === undefined ? "…" : Number(n).toLocaleString());
export const bytesText = (n) => (n === null || n === undefined ? "n/a"
  : n < 1024 ? `${n} B` : n < 1048576 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / 1048576).toFixed(1)} MiB`);
export const plural = (n, word) => `${n.toLocaleString()} ${word}${n === 1 ? "" : "s"}`;

function int64Json(n) {
  const bytes = new Uint8Array(8);
  new DataView(bytes.buffer).setBigInt64(0, BigInt(n), true);
  return { $integer: btoa(String.fromCharCode(...bytes)) };
}

const isObj = (x) => x !== null && typeof x === "object" && !Array.isArray(x);

export function int64WhereExpected(spec, value) {
  if (!spec) return value;
  switch (spec.type) {
    case "bigint": case "int64": return Number.isInteger(value) ? int64Json(value) : value;
    case "object": return isObj(value) ? Object.fromEntries(Object.entries(value).map(([k, x]) =>
      [k, spec.value[k] ? int64WhereExpected(spec.value[k].fieldType, x) : x])) : value;
    case "array": return Array.isArray(value) ? value.map((x) => int64WhereExpected(spec.value, x)) : value;
    case "record": return isObj(value) ? Object.fromEntries(Object.entries(value).map(([k, x]) =>
      [k, int64WhereExpected(spec.values.fieldType, x)])) : value;
    case "union":
      if (typeof value === "number" && spec.value.some((m) => m.type === "number")) return value;
      for (const member of spec.value) {
        const out = int64WhereExpected(member, value);
        if (out !== value) return out;
      }
      return value;
    default: return value;
  }
}

// A validator as the short text a user reads: { name: string, n?: number }, Id<"t">, ...
export function validatorText(spec) {
  if (!spec) return "any";
  switch (spec.type) {
    case "object": return "{ " + Object.entries(spec.value).map(([k, f]) =>
      `${k}${f.optional ? "?" : ""}: ${validatorText(f.fieldType)}`).join(", ") + " }";
    case "array": return validatorText(spec.value) + "[]";
    case "union": return spec.value.map(validatorText).join(" | ");
    case "id": return `Id<"${spec.tableName}">`;
    case "literal": return JSON.stringify(spec.value);
    case "record": return `Record<${validatorText(spec.keys)}, ${validatorText(spec.values.fieldType)}>`;
    default: return spec.type;
  }
}

export const bigintJson = (value) =>
  JSON.stringify(readable(value), (_k, v) => (typeof v === "bigint" ? v.toString() : v), 2);
