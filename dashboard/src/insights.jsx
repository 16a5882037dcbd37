// Insights over the last hour: the functions reading the most documents, reads no index
// range narrowed (a full scan or a filter after the index), the largest single read sets,
// and the documents most often lost on in OCC conflicts, with the functions that lost.
import { api } from "./api.js";
import { Loading, useEvery, useLoad } from "./ui.jsx";
import { fmtTime } from "./values.js";

const SCAN_ADVICE = "an index range (with_index) would read only the documents it needs";

function Table({ testid, head, rows, empty }) {
  return (
    <div class="scroll-x"><table data-testid={testid}>
      <thead><tr>{head.map((h) => <th key={h}>{h}</th>)}</tr></thead>
      <tbody>
        {rows.length === 0 && <tr><td colspan={head.length} class="muted">{empty}</td></tr>}
        {rows.map((cells, i) => <tr key={i}>{cells.map((c, j) => <td key={j}>{c}</td>)}</tr>)}
      </tbody>
    </table></div>
  );
}

export function InsightsPage() {
  const state = useLoad(() => api("/api/pyconvex/dashboard/insights"), []);
  useEvery(10_000, state.reload);
  return (
    <>
      <h2>Insights <span class="muted small-text">the last hour</span></h2>
      <Loading state={state}>{(d) => <Insights d={d} />}</Loading>
    </>
  );
}

function Insights({ d }) {
  const n = (x) => (x || 0).toLocaleString();
  return (
    <>
      <h3>Reading the most documents</h3>
      <Table testid="insights-reads" empty="No reads yet."
        head={["Function", "Kind", "Calls", "Documents read", "Most in one call", "Bytes read"]}
        rows={d.functions.filter((f) => f.documentsRead > 0).slice(0, 10).map((f) =>
          [f.path, f.kind, n(f.calls), n(f.documentsRead), n(f.maxDocumentsRead), n(f.bytesRead)])} />
      <h3>Reading without an index</h3>
      <p class="muted">Documents read by queries that no index range narrowed: {SCAN_ADVICE}.</p>
      <Table testid="insights-unindexed" empty="Every read went through an index range."
        head={["Function", "Calls without an index", "Documents read without an index", "Of all read"]}
        rows={d.unindexedReads.map((f) => [f.path, n(f.unindexedCalls), n(f.unindexedDocumentsRead), n(f.documentsRead)])} />
      <h3>Largest read sets</h3>
      <Table testid="insights-largest" empty="No reads yet."
        head={["Function", "Documents read", "Bytes read", "Without an index", "Duration", "When", "Request"]}
        rows={d.largestReadSets.map((r) => [r.path, n(r.documentsRead), n(r.bytesRead), n(r.unindexedDocumentsRead),
          `${r.durationMs.toFixed(1)} ms`, fmtTime(r.timestamp), r.requestId])} />
      <h3>Documents hot with write conflicts</h3>
      <p class="muted">Mutations that lost an optimistic-concurrency race on a document, and re-ran.</p>
      <Table testid="insights-conflicts" empty="No conflicts."
        head={["Table", "Index", "Document", "Conflicts", "Functions that lost"]}
        rows={d.conflicts.map((c) => [c.table, c.index, c.documentId, n(c.conflicts),
          Object.entries(c.functions).map(([p, k]) => `${p} (${k})`).join(", ")])} />
    </>
  );
}
