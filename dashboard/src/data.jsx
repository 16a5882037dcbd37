// Data: every table with its count; the chosen table's documents in a virtualized grid paged
// by cursor, filters planned onto an index, sort, time travel ("as of"), a document panel,
// add / delete / clear, and live updates (live.js); the schema and each index's state.
import { useCallback, useEffect, useMemo, useRef, useState } from "preact/hooks";
import { api, errorText } from "./api.js";
import { FilterBuilder, SortAndTime, parseFilters } from "./filters.jsx";
import { Grid, columnsOf } from "./grid.jsx";
import { watchTable } from "./live.js";
import { AddPanel, ClearPanel, DeletePanel, DocPanel } from "./panels.jsx";
import { SchemaView } from "./schema.jsx";
import { reportError, showStatus, useLoad } from "./ui.jsx";
import { fmtNum, fmtTime } from "./values.js";

const PAGE = 200;
const LIVE_MAX = 1000;
const COUNT_DELAY_MS = 1000;
// Timestamps are 64-bit integers as decimal strings (past what a JS number holds exactly).
const newer = (a, b) => a !== undefined && b !== undefined && BigInt(a || "0") > BigInt(b || "0");
let lastTable = null;  // the table shown when the Data page opens again

const fieldNames = (info) => {
  const t = info && info.documentType;
  return t && t.type === "object" ? Object.keys(t.value) : [];
};

export function DataPage() {
  const [tables, setTables] = useState(null);
  const [retainedFromMs, setRetained] = useState(null);
  const [table, setTable] = useState(lastTable);
  const load = useLoad(async () => {
    const body = await api("/api/pyconvex/dashboard/tables?counts=cached");
    setTables(body.tables);
    setRetained(body.retainedFromMs);
    const names = body.tables.map((t) => t.name);
    setTable((t) => (t && names.includes(t) ? t : names[0] || null));
    if (body.tables.some((t) => t.count === null)) {
      // A table is counted once (a scan of its keys), then kept from commits: ask for the
      // counts once the first table's rows had time to arrive, so the scan does not delay them.
      setTimeout(() => api("/api/pyconvex/dashboard/tables").then((all) => setTables(all.tables)).catch(reportError),
        COUNT_DELAY_MS);
    }
    return body;
  }, []);
  useEffect(() => { lastTable = table; }, [table]);
  const setCount = useCallback((name, count) =>
    setTables((ts) => ts && ts.map((t) => (t.name === name ? { ...t, count } : t))), []);
  if (load.error && !tables) return <><h2>Data</h2><p class="error" role="alert">{errorText(load.error)}</p></>;
  if (!tables) return <><h2>Data</h2><p class="muted">loading…</p></>;
  const info = tables.find((t) => t.name === table);
  return (
    <>
      <h2>Data</h2>
      <div class="data-layout">
        <nav class="tables" data-testid="tables" aria-label="Tables">
          {tables.length === 0 && <p class="muted">No tables yet.</p>}
          {tables.map((t) => (
            <button key={t.name} data-table={t.name} class={t.name === table ? "active" : ""}
              aria-current={t.name === table ? "true" : undefined} onClick={() => setTable(t.name)}>
              <span>{t.name}</span><span class="count" data-count={t.name}>{fmtNum(t.count)}</span>
            </button>
          ))}
        </nav>
        <div id="table-pane">
          {info && <TablePane key={info.name} info={info} retainedFromMs={retainedFromMs} setCount={setCount} />}
        </div>
      </div>
    </>
  );
}

function pageUrl(view, cursor, numItems) {
  const p = new URLSearchParams({ table: view.table, numItems: String(numItems), order: view.order });
  if (cursor) p.set("cursor", cursor);
  if (view.index) p.set("index", view.index);
  if (view.filters.length) p.set("filters", JSON.stringify(view.filters));
  if (view.at) p.set("at", String(view.at));
  return "/api/pyconvex/dashboard/documents?" + p;
}

function TablePane({ info, retainedFromMs, setCount }) {
  const table = info.name;
  const [view, setView] = useState({ table, filters: [], index: "", order: "desc", at: null });
  const [filterRows, setFilterRows] = useState([]);
  const [grid, setGrid] = useState({ rows: [], cursor: null, isDone: true, ts: "0", plan: null, view: null });
  const [selected, setSelected] = useState(() => new Set());
  const [doc, setDoc] = useState(null);
  const [action, setAction] = useState(null);  // "add" | "delete" | "clear"
  const [live, setLive] = useState("");
  const busy = useRef(false);  // a page is being read: one at a time
  const gridRef = useRef(grid);
  gridRef.current = grid;
  const fields = useMemo(() => fieldNames(info), [info]);
  const specOf = (field) => {
    const t = info.documentType;
    const f = t && t.type === "object" && t.value[field];
    return f ? f.fieldType : null;
  };

  // The first page by HTTP (the quickest first rows), then the live window over sync.
  const reload = useCallback(async () => {
    busy.current = true;
    try {
      const body = await api(pageUrl(view, null, PAGE));
      setGrid((cur) => (cur.view === view && newer(cur.ts, body.ts) ? cur
        : { rows: body.page, cursor: body.continueCursor, isDone: body.isDone, ts: body.ts, plan: body.plan, view }));
    } catch (e) {
      setGrid({ rows: [], cursor: null, isDone: true, ts: "0", plan: null, view });
      reportError(e);
    } finally { busy.current = false; }
  }, [view]);

  const loadMore = useCallback(async () => {
    const g = gridRef.current;
    if (busy.current || g.isDone || g.view !== view) return;
    busy.current = true;
    try {
      const body = await api(pageUrl(view, g.cursor, PAGE));
      setGrid((cur) => (cur.view === view && cur.cursor === g.cursor
        ? { ...cur, rows: [...cur.rows, ...body.page], cursor: body.continueCursor, isDone: body.isDone } : cur));
    } catch (e) { reportError(e); } finally { busy.current = false; }
  }, [view]);

  const [firstRead, setFirstRead] = useState(null);  // the view whose first page has been read
  useEffect(() => {
    setSelected(new Set());
    reload().then(() => setFirstRead(view));
  }, [reload, view]);

  // Live: the first `span` rows (whole pages, up to LIVE_MAX) and the count, pushed over the
  // sync protocol on every commit that changes them. Rows loaded past LIVE_MAX stay as read.
  const loaded = grid.view === view ? grid.rows.length : 0;
  const span = Math.min(LIVE_MAX, Math.max(PAGE, Math.ceil(loaded / PAGE) * PAGE));
  useEffect(() => {
    if (view.at) { setLive("time travel: not live"); return undefined; }
    if (firstRead !== view) return undefined;  // the first rows by HTTP first, then the subscriptions
    setLive("connecting…");
    return watchTable(view, span, {
      onCount: (n) => setCount(table, n),
      onPage: (r) => {
        setLive("● live");
        setGrid((cur) => {
          if (cur.view === view && newer(cur.ts, r.ts)) return cur;
          const rest = cur.view === view && cur.rows.length > span ? cur.rows.slice(span) : [];
          return rest.length ? { ...cur, rows: [...r.page, ...rest], ts: r.ts, plan: r.plan }
            : { rows: r.page, cursor: r.continueCursor, isDone: r.isDone, ts: r.ts, plan: r.plan, view };
        });
      },
      onError: (e) => { setLive("not live"); reportError(e); },
    });
  }, [view, span, table, setCount, firstRead]);

  const apply = () => {
    try {
      const filters = parseFilters(filterRows, specOf);
      showStatus("");
      setView((v) => ({ ...v, filters }));
    } catch (e) { showStatus(e.message); }
  };
  const toggle = (id) => setSelected((s) => { const n = new Set(s); n.has(id) ? n.delete(id) : n.add(id); return n; });
  const toggleAll = (on) => setSelected(on ? new Set(grid.rows.map((d) => d._id)) : new Set());
  const closeAction = useCallback(() => setAction(null), []);
  const closeDoc = useCallback(() => setDoc(null), []);
  const columns = useMemo(() => columnsOf(fields, grid.rows), [fields, grid.rows]);
  const plan = grid.plan;
  return (
    <>
      <div class="toolbar">
        <h3 data-testid="table-title">{table}</h3>
        <span class="muted" id="doc-count" data-testid="doc-count">{info.count === null ? "counting…" : `${fmtNum(info.count)} documents`}</span>
        <span id="live" class="muted" aria-live="polite">{live}</span>
      </div>
      <div class="toolbar">
        <button onClick={() => setAction("add")} disabled={!!view.at}>Add documents</button>
        <button class="danger" disabled={!selected.size || !!view.at} onClick={() => setAction("delete")}>Delete selected ({selected.size})</button>
        <button class="danger" onClick={() => setAction("clear")} disabled={!!view.at}>Clear table</button>
        <SortAndTime indexes={info.indexes.filter((i) => i.name !== "by_id")} index={view.index} order={view.order} at={view.at}
          retainedFromMs={retainedFromMs}
          setIndex={(index) => setView((v) => ({ ...v, index }))} setOrder={(order) => setView((v) => ({ ...v, order }))}
          setAt={(at) => setView((v) => ({ ...v, at }))} />
      </div>
      <FilterBuilder rows={filterRows} setRows={setFilterRows} fields={["_id", "_creationTime", ...fields]} onApply={apply} />
      <div class={"plan" + (plan && view.filters.length && !plan.usesIndex ? " noindex" : "")} data-testid="plan">{plan ? plan.message : ""}</div>
      {action === "add" && <AddPanel table={table} documentType={info.documentType} onClose={closeAction} />}
      {action === "delete" && <DeletePanel table={table} ids={Array.from(selected)} onClose={closeAction}
        onDone={() => { setSelected(new Set()); setAction(null); }} />}
      {action === "clear" && <ClearPanel table={table} onClose={closeAction} />}
      <div class={doc ? "grid-and-doc" : ""}>
        <div class="grid-col">
          <Grid rows={grid.rows} columns={columns} selected={selected} onToggle={toggle} onToggleAll={toggleAll}
            onOpen={setDoc} onNearEnd={loadMore} scrollKey={view} />
          <div id="grid-foot" class="muted" data-testid="grid-foot">
            {`${grid.rows.length.toLocaleString()} loaded${grid.isDone ? " (all)" : ", scroll for more"}${view.at ? " — as of " + fmtTime(view.at) : ""}`}
          </div>
        </div>
        {doc && <DocPanel key={doc._id} doc={doc} documentType={info.documentType} editable={!view.at} onClose={closeDoc} />}
      </div>
      <SchemaView info={info} />
    </>
  );
}
