// Health: the database, sessions and subscriptions, commits per second, sizes, function calls
// per minute over the last hour, and each function's figures over the hour; read every 5 s.
import { api } from "./api.js";
import { BarChart } from "./charts.jsx";
import { Card, Loading, useEvery, useLoad } from "./ui.jsx";
import { bytesText, fmtTime } from "./values.js";

const ms = (v) => (v === null || v === undefined ? "–" : `${v.toFixed(1)} ms`);

export function HealthPage() {
  const state = useLoad(() => api("/api/pyconvex/dashboard/health"), []);
  useEvery(5000, state.reload);  // the figures move on their own: read again every 5 seconds
  return (
    <>
      <h2>Health <button class="small" onClick={state.reload}>Refresh</button></h2>
      <Loading state={state}>{(h) => <Health h={h} />}</Loading>
    </>
  );
}

function Health({ h }) {
  const reads = h.functions.filter((f) => f.maxDocumentsRead > 0).sort((a, b) => b.maxDocumentsRead - a.maxDocumentsRead).slice(0, 5);
  return (
    <>
      <div class="cards" data-testid="health">
        <Card label="Documents" value={h.documents.toLocaleString()} />
        <Card label="Tables" value={Object.keys(h.tables).length} />
        <Card label="Files" value={h.files.toLocaleString()} />
        <Card label="Live sessions" value={h.sessions} />
        <Card label="Live subscriptions" value={h.subscriptions.toLocaleString()} />
        <Card label="Commits/s (last minute)" value={h.commitsPerSecond.toFixed(2)} />
        <Card label="Function latency p50 / p99 (last hour)" value={h.latency && h.latency.calls
          ? `${h.latency.p50Ms.toFixed(1)} / ${h.latency.p99Ms.toFixed(1)} ms` : "no calls"} />
        <Card label="Commits" value={h.commits === undefined ? "n/a" : h.commits.toLocaleString()} />
        <Card label="OCC retries" value={h.occRetries.toLocaleString()} />
        <Card label="Database size" value={bytesText(h.databaseBytes)} />
        <Card label="File storage" value={bytesText(h.fileBytes)} />
        <Card label="Latest commit" value={fmtTime(h.latestCommitMs)} />
      </div>
      <h3>Function calls per minute, last hour</h3>
      <BarChart values={h.callsPerMinute} testid="calls-chart" label="Function calls per minute" />
      <h3>Functions (the last hour)</h3>
      <div class="scroll-x"><table data-testid="function-metrics">
        <thead><tr><th>Function</th><th>Calls</th><th>Errors</th><th>p50</th><th>p99</th><th>Documents read (total / most in one call)</th><th>Documents written</th></tr></thead>
        <tbody>
          {h.functions.length === 0 && <tr><td colspan={7} class="muted">No executions yet.</td></tr>}
          {h.functions.map((f) => (
            <tr key={f.path}><td>{f.path}</td><td>{f.calls}</td><td>{f.errors}</td><td>{ms(f.p50Ms)}</td><td>{ms(f.p99Ms)}</td>
              <td>{f.documentsRead.toLocaleString()} / {f.maxDocumentsRead.toLocaleString()}</td><td>{f.documentsWritten.toLocaleString()}</td></tr>
          ))}
        </tbody>
      </table></div>
      <h3>Reading the most documents in one call <span class="muted small-text">more under Insights</span></h3>
      <ol data-testid="insights">
        {reads.length === 0 && <li class="muted">No reads yet.</li>}
        {reads.map((f) => <li key={f.path}>{f.path}: {f.maxDocumentsRead.toLocaleString()} documents{f.maxDocumentsRead >= 1000 ? " — consider an index or pagination" : ""}</li>)}
      </ol>
      <h3>Tables</h3>
      <table><tbody>{Object.entries(h.tables).map(([t, n]) => <tr key={t}><td>{t}</td><td>{n.toLocaleString()}</td></tr>)}</tbody></table>
    </>
  );
}
