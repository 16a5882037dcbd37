// The filter builder (field, operator, value) and the sort / time-travel toolbar. A value is
// JSON when it parses as JSON, else text; an integral number goes as an int64 where the
// schema expects one.
import { useRef } from "preact/hooks";
import { int64WhereExpected } from "./values.js";

export const OPS = { eq: "==", neq: "!=", lt: "<", lte: "<=", gt: ">", gte: ">=" };

export function parseFilters(rows, specOf) {
  const out = [];
  for (const f of rows) {
    const field = f.field.trim();
    if (!field) throw new Error("A filter needs a field name.");
    let value;
    try { value = JSON.parse(f.value); } catch { value = f.value; }
    out.push({ field, op: f.op, value: int64WhereExpected(specOf(field), value) });
  }
  return out;
}

export function FilterBuilder({ rows, setRows, fields, onApply }) {
  const list = useRef("fields-" + Math.random().toString(36).slice(2));
  const update = (i, change) => setRows(rows.map((r, j) => (j === i ? { ...r, ...change } : r)));
  return (
    <div>
      <div class="filters" id="filters">
        {rows.map((f, i) => (
          <div class="filter" key={f.key}>
            <input class="f-field" list={list.current} placeholder="field" aria-label="Filter field" value={f.field}
              ref={(el) => { if (el && f.focus) { el.focus(); f.focus = false; } }}
              onInput={(e) => update(i, { field: e.currentTarget.value })} />
            <select class="f-op" aria-label="Filter operator" value={f.op} onChange={(e) => update(i, { op: e.currentTarget.value })}>
              {Object.entries(OPS).map(([op, text]) => <option key={op} value={op}>{text}</option>)}
            </select>
            <input class="f-value" placeholder="value (JSON, or text)" aria-label="Filter value" value={f.value}
              onInput={(e) => update(i, { value: e.currentTarget.value })}
              onKeyDown={(e) => { if (e.key === "Enter") onApply(); }} />
            <button class="f-remove" aria-label="Remove filter" onClick={() => setRows(rows.filter((_, j) => j !== i))}>×</button>
          </div>
        ))}
      </div>
      <div class="toolbar">
        <button onClick={() => setRows([...rows, { key: Math.random(), field: "", op: "eq", value: "", focus: true }])}>+ Filter</button>
        <button onClick={onApply}>Apply</button>
        <datalist id={list.current}>{fields.map((f) => <option key={f} value={f} />)}</datalist>
      </div>
    </div>
  );
}

const pad = (n) => String(n).padStart(2, "0");
const localInput = (ms) => {
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
};

export function SortAndTime({ indexes, index, setIndex, order, setOrder, at, setAt, retainedFromMs }) {
  return (
    <>
      <label>Sort <select aria-label="Sort by index" value={index} onChange={(e) => setIndex(e.currentTarget.value)}>
        <option value="">auto (by filter) / _creationTime</option>
        {indexes.map((i) => (
          <option key={i.name} value={i.name} disabled={i.state !== "enabled"}>
            {i.name} ({i.fields.join(", ")}){i.state !== "enabled" ? " – " + i.state : ""}
          </option>
        ))}
      </select></label>
      <select aria-label="Order" value={order} onChange={(e) => setOrder(e.currentTarget.value)}>
        <option value="desc">newest / descending</option><option value="asc">ascending</option>
      </select>
      <label>As of <input type="datetime-local" step="1" aria-label="As of" value={at ? localInput(at) : ""}
        min={retainedFromMs ? localInput(retainedFromMs) : undefined}
        title={retainedFromMs ? `within retention: from ${new Date(retainedFromMs).toLocaleString()}` : "any time since the deployment began"}
        onChange={(e) => { const v = e.currentTarget.value; setAt(v ? Date.parse(v) : null); }} /></label>
      <button onClick={() => setAt(null)}>Now</button>
    </>
  );
}
