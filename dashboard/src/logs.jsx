// Logs: the server's recent history (up to 1,000 executions), then a live tail; filtered by
// function, kind, level, status, request id and text; tracebacks fold out. System functions
// (_system/..., what the dashboard itself subscribes to) are hidden unless asked for.
import { useEffect, useMemo, useState } from "preact/hooks";
import { api, sleep } from "./api.js";
import { reportError } from "./ui.jsx";

const LEVELS = ["LOG", "DEBUG", "INFO", "WARN", "ERROR"];
const KEEP = 5000;

function matches(e, f) {
  const text = f.text.trim().toLowerCase();
  if (!f.system && e.path.startsWith("_system/")) return false;
  if (f.fn.trim() && !e.path.includes(f.fn.trim())) return false;
  if (f.kind && e.kind !== f.kind) return false;
  if (f.status === "success" && e.error) return false;
  if (f.status === "failure" && !e.error) return false;
  if (f.request.trim() && e.requestId !== f.request.trim()) return false;
  if (f.level && !e.logLines.some((l) => l.startsWith(`[${f.level}]`)) && !(f.level === "ERROR" && e.error)) return false;
  if (text && ![e.path, e.requestId, e.error || "", ...e.logLines].some((s) => String(s).toLowerCase().includes(text))) return false;
  return true;
}

function Entry({ e }) {
  const head = `${new Date(e.timestamp).toLocaleTimeString()} [${e.kind[0].toUpperCase()}] ${e.path}`;
  const took = ` (${e.durationMs.toFixed(1)} ms)`;
  const lines = e.logLines.map((l) => `${head} ${l}\n`).join("");
  if (e.error) {
    return (
      <div class="log-entry failed" data-request-id={e.requestId}>
        {lines}{`${head} ${e.error} [Request ID: ${e.requestId}]${took}`}
        {e.traceback && <details><summary>traceback</summary><pre>{e.traceback}</pre></details>}
      </div>
    );
  }
  const usage = e.usage ? ` read ${e.usage.documentsRead} docs, wrote ${e.usage.documentsWritten}` : "";
  return (
    <div class="log-entry" data-request-id={e.requestId}>
      {lines}{e.logLines.length ? "" : head + " ok"}<span class="muted">{`${took}${usage} [Request ID: ${e.requestId}]`}</span>
    </div>
  );
}

export function LogsPage() {
  const [entries, setEntries] = useState([]);
  const [f, setF] = useState({ fn: "", kind: "", level: "", status: "", request: "", text: "", system: false });
  useEffect(() => {
    const ctl = new AbortController();
    (async () => {
      let last;
      try {
        last = (await api("/api/pyconvex/logs?after=-1", { signal: ctl.signal })).last;
      } catch (e) { if (!ctl.signal.aborted) reportError(e); return; }
      last = Math.max(0, last - 1000);  // the recent history first, then live
      while (!ctl.signal.aborted) {
        try {
          const body = await api(`/api/pyconvex/logs?after=${last}&wait=25`, { signal: ctl.signal });
          if (ctl.signal.aborted) return;
          if (body.entries.length) setEntries((cur) => [...cur, ...body.entries].slice(-KEEP));
          last = body.last;
        } catch { if (!ctl.signal.aborted) await sleep(1000); }
      }
    })();
    return () => ctl.abort();
  }, []);
  const shown = useMemo(() => entries.filter((e) => matches(e, f)), [entries, f]);
  const paths = useMemo(() => Array.from(new Set(entries.map((e) => e.path))), [entries]);
  const set = (k) => (e) => setF({ ...f, [k]: e.currentTarget.value });
  return (
    <>
      <h2>Logs</h2>
      <div class="toolbar">
        <input placeholder="function" aria-label="Filter by function" list="log-fns" value={f.fn} onInput={set("fn")} />
        <datalist id="log-fns">{paths.map((p) => <option key={p} value={p} />)}</datalist>
        <select aria-label="Filter by kind" value={f.kind} onChange={set("kind")}>
          <option value="">all kinds</option>{["query", "mutation", "action", "http"].map((k) => <option key={k}>{k}</option>)}
        </select>
        <select aria-label="Filter by level" value={f.level} onChange={set("level")}>
          <option value="">all levels</option>{LEVELS.map((l) => <option key={l}>{l}</option>)}
        </select>
        <select aria-label="Filter by status" value={f.status} onChange={set("status")}>
          <option value="">all</option><option value="success">success</option><option value="failure">failure</option>
        </select>
        <input placeholder="request id" aria-label="Filter by request id" size={18} value={f.request} onInput={set("request")} />
        <input placeholder="text or request id" aria-label="Filter by text" size={30} value={f.text} onInput={set("text")} />
        <label title="the queries this dashboard and other admin clients subscribe to (_system/...)">
          <input type="checkbox" checked={f.system} onChange={(e) => setF({ ...f, system: e.currentTarget.checked })} /> system functions
        </label>
        <button onClick={() => setEntries([])}>Clear view</button>
        <span class="muted" aria-live="polite">{`${shown.length} of ${entries.length}`}</span>
      </div>
      <div id="loglines" data-testid="logs">{shown.slice(-1000).map((e) => <Entry key={e.seq} e={e} />)}</div>
    </>
  );
}
