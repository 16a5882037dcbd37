// A function's last hour, minute by minute (calls and errors, p50 and p99 duration, documents
// read and written), from the server's in-memory figures; read again every 10 seconds.
import { api } from "./api.js";
import { TimeChart } from "./charts.jsx";
import { Loading, useEvery, useLoad } from "./ui.jsx";

const REFRESH_MS = 10_000;

const sum = (buckets, key) => buckets.reduce((n, b) => n + (b[key] || 0), 0);
const ms = (v) => (v === null || v === undefined ? "–" : `${v.toFixed(1)} ms`);

export function FunctionMetrics({ path }) {
  const state = useLoad(async () => {
    const q = new URLSearchParams({ path });
    const [metrics, insights] = await Promise.all([
      api("/api/pyconvex/dashboard/function_metrics?" + q), api("/api/pyconvex/dashboard/insights")]);
    return { metrics, hour: insights.functions.find((f) => f.path === path) || null };
  }, [path]);
  useEvery(REFRESH_MS, state.reload);
  return (
    <section data-testid="fn-metrics" aria-label={`Metrics of ${path}, last hour`}>
      <h3>{path}: the last hour</h3>
      <Loading state={state}>{({ metrics, hour }) => {
        const f = metrics.functions[path];
        if (!f) return <p class="muted">No calls in the last hour.</p>;
        const b = f.buckets;
        const xs = b.map((_, i) => (metrics.fromMs + i * metrics.bucketMs) / 1000);
        const pick = (key) => b.map((x) => x[key]);
        return (
          <>
            <table class="totals" data-testid="fn-totals"><thead><tr>
              <th>Calls</th><th>Errors</th><th>p50</th><th>p99</th><th>Documents read</th><th>Documents written</th><th>Read without an index</th>
            </tr></thead><tbody><tr>
              <td>{sum(b, "calls").toLocaleString()}</td><td>{sum(b, "errors").toLocaleString()}</td>
              <td>{ms(hour && hour.p50Ms)}</td><td>{ms(hour && hour.p99Ms)}</td>
              <td>{sum(b, "documentsRead").toLocaleString()}</td><td>{sum(b, "documentsWritten").toLocaleString()}</td>
              <td>{sum(b, "unindexedDocumentsRead").toLocaleString()}</td>
            </tr></tbody></table>
            <div class="charts">
              <TimeChart testid="chart-calls" title="Calls per minute" xs={xs}
                series={[{ label: "calls", values: pick("calls") }, { label: "errors", values: pick("errors") }]} />
              <TimeChart testid="chart-latency" title="Duration" unit=" ms" xs={xs}
                series={[{ label: "p50", values: pick("p50Ms") }, { label: "p99", values: pick("p99Ms") }]} />
              <TimeChart testid="chart-documents" title="Documents per minute" xs={xs}
                series={[{ label: "read", values: pick("documentsRead") }, { label: "written", values: pick("documentsWritten") }]} />
            </div>
          </>
        );
      }}</Loading>
    </section>
  );
}
