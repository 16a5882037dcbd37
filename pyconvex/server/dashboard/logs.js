// Logs: the server's recent history (up to 1,000 executions), then live entries, filtered
// by function, kind, level, status, request id and text (log lines, errors, request ids); tracebacks expand.
const logState = { entries: [] };

views.logs = async function () {
  $("#view").innerHTML = `<h2>Logs</h2><div class="toolbar">
      <input id="log-fn" placeholder="function" aria-label="Filter by function" list="log-fns"><datalist id="log-fns"></datalist>
      <select id="log-kind" aria-label="Filter by kind"><option value="">all kinds</option><option>query</option><option>mutation</option><option>action</option><option>http</option></select>
      <select id="log-level" aria-label="Filter by level"><option value="">all levels</option>${["LOG", "DEBUG", "INFO", "WARN", "ERROR"].map((l) => `<option>${l}</option>`).join("")}</select>
      <select id="log-status" aria-label="Filter by status"><option value="">all</option><option value="success">success</option><option value="failure">failure</option></select>
      <input id="log-request" placeholder="request id" aria-label="Filter by request id" size="18">
      <input id="log-text" placeholder="text or request id" aria-label="Filter by text" size="30">
      <button id="log-clear">Clear view</button> <span id="log-count" class="muted"></span></div>
    <div id="loglines" data-testid="logs"></div>`;
  logState.entries = [];
  for (const id of ["#log-fn", "#log-kind", "#log-level", "#log-status", "#log-request", "#log-text"]) $(id).oninput = renderLogs;
  $("#log-clear").onclick = () => { logState.entries = []; renderLogs(); };
  const ctl = new AbortController();
  stopView.push(() => ctl.abort());
  let { last } = await api("/api/pyconvex/logs?after=-1");
  last = Math.max(0, last - 1000);  // the recent history first, then live
  while (!ctl.signal.aborted) {
    try {
      const body = await api(`/api/pyconvex/logs?after=${last}&wait=25`, { signal: ctl.signal });
      if (ctl.signal.aborted) return;
      if (body.entries.length) {
        logState.entries.push(...body.entries);
        if (logState.entries.length > 5000) logState.entries.splice(0, logState.entries.length - 5000);
        renderLogs();
      }
      last = body.last;
    } catch (e) { if (!ctl.signal.aborted) await new Promise((r) => setTimeout(r, 1000)); }
  }
};

function logMatches(e) {
  const fn = $("#log-fn").value.trim(), kind = $("#log-kind").value, status = $("#log-status").value;
  const text = $("#log-text").value.trim().toLowerCase();
  if (fn && !e.path.includes(fn)) return false;
  if (kind && e.kind !== kind) return false;
  if (status === "success" && e.error) return false;
  if (status === "failure" && !e.error) return false;
  const request = $("#log-request").value.trim();
  if (request && e.requestId !== request) return false;
  const level = $("#log-level").value;
  if (level && !e.logLines.some((l) => l.startsWith(`[${level}]`)) && !(level === "ERROR" && e.error)) return false;
  if (text && ![e.path, e.requestId, e.error || "", ...e.logLines].some((s) => String(s).toLowerCase().includes(text))) return false;
  return true;
}

function renderLogs() {
  const box = $("#loglines");
  if (!box) return;
  const shown = logState.entries.filter(logMatches);
  $("#log-count").textContent = `${shown.length} of ${logState.entries.length}`;
  $("#log-fns").innerHTML = Array.from(new Set(logState.entries.map((e) => e.path))).map((p) => `<option value="${esc(p)}">`).join("");
  box.innerHTML = shown.slice(-1000).map((e) => {
    const head = `${new Date(e.timestamp).toLocaleTimeString()} [${e.kind[0].toUpperCase()}] ${e.path}`;
    const took = ` (${e.durationMs.toFixed(1)} ms)`;
    const lines = e.logLines.map((l) => `${esc(head)} ${esc(l)}\n`).join("");
    const usage = e.usage ? ` read ${e.usage.documentsRead} docs, wrote ${e.usage.documentsWritten}` : "";
    if (e.error) {
      return `<div class="log-entry failed" data-request-id="${esc(e.requestId)}">${lines}${esc(head)} ${esc(e.error)} [Request ID: ${esc(e.requestId)}]${esc(took)}` +
        (e.traceback ? `<details><summary>traceback</summary><pre>${esc(e.traceback)}</pre></details>` : "") + "</div>";
    }
    return `<div class="log-entry" data-request-id="${esc(e.requestId)}">${lines}${e.logLines.length ? "" : esc(head) + " ok"}<span class="muted">${esc(took + usage)} [Request ID: ${esc(e.requestId)}]</span></div>`;
  }).join("");
}
