// Schedules (by state, cancel), cron jobs, files (upload, preview, download, delete),
// environment variables and health.
const stateText = (s) => s ? s.kind + (s.error ? ": " + s.error : "") : "";

views.schedules = async function () {
  $("#view").innerHTML = `<h2>Scheduled functions</h2><div class="toolbar">
    <label>State <select id="job-state" aria-label="Filter by state"><option value="">all</option>${["pending", "inProgress", "success", "failed", "canceled"].map((s) => `<option>${s}</option>`).join("")}</select></label>
    <button id="cancel-selected" class="danger" disabled>Cancel selected</button><span id="jobs-error" class="error"></span></div>
    <table data-testid="schedules"><thead><tr><th></th><th>Function</th><th>Scheduled for</th><th>State</th><th>Arguments</th><th>Id</th><th></th></tr></thead><tbody id="jobs"></tbody></table>`;
  const selected = new Set();
  const load = async () => {
    const state = $("#job-state").value;
    const filters = state ? [{ field: "state.kind", op: "eq", value: state }] : [];
    const p = new URLSearchParams({ table: "_scheduled_functions", numItems: "500", order: "desc", filters: JSON.stringify(filters) });
    const { page } = await api("/api/pyconvex/dashboard/documents?" + p);
    $("#jobs").innerHTML = page.map((j) => `<tr data-job="${esc(j._id)}" data-state="${esc(j.state.kind)}">
      <td>${j.state.kind === "pending" ? `<input type="checkbox" aria-label="Select ${esc(j._id)}" data-select="${esc(j._id)}">` : ""}</td>
      <td>${esc(j.name)}</td><td>${esc(fmtTime(j.scheduledTime))}</td><td class="state">${esc(stateText(j.state))}</td>
      <td>${esc(cellText(j.args && j.args[0]))}</td><td>${esc(j._id)}</td>
      <td>${j.state.kind === "pending" ? `<button data-cancel="${esc(j._id)}">Cancel</button>` : ""}</td></tr>`).join("") || `<tr><td colspan="7" class="muted">No scheduled functions${state ? " in state " + esc(state) : ""}.</td></tr>`;
    const cancel = async (ids) => {
      try { await post("/api/pyconvex/dashboard/cancel", { ids }); selected.clear(); $("#jobs-error").textContent = ""; await load(); }
      catch (e) { $("#jobs-error").textContent = errorText(e); }
    };
    for (const b of $$("[data-cancel]")) b.onclick = () => cancel([b.dataset.cancel]);
    for (const c of $$("[data-select]")) c.onchange = () => { c.checked ? selected.add(c.dataset.select) : selected.delete(c.dataset.select); $("#cancel-selected").disabled = !selected.size; };
    $("#cancel-selected").onclick = () => cancel(Array.from(selected));
  };
  $("#job-state").onchange = () => load().catch((e) => { $("#jobs-error").textContent = errorText(e); });
  await load();
};

views.crons = async function () {
  const { crons, recent } = await api("/api/pyconvex/dashboard/crons");
  $("#view").innerHTML = `<h2>Cron jobs</h2><table data-testid="crons"><thead><tr><th>Name</th><th>Function</th><th>Schedule</th><th>Last run</th><th>Next run</th><th>Recent results</th></tr></thead><tbody>${crons.map((c) => {
    const runs = recent.filter((j) => j.name === c.path).slice(0, 5);
    return `<tr><td>${esc(c.name)}</td><td>${esc(c.path)}</td><td>${esc(cellText(c.schedule))}</td><td>${c.lastRun ? esc(fmtTime(c.lastRun)) : "never"}</td><td>${esc(fmtTime(c.nextRun))}</td><td>${runs.map((j) => esc(stateText(j.state))).join(", ")}</td></tr>`;
  }).join("") || `<tr><td colspan="6" class="muted">No cron jobs (convex/crons.py).</td></tr>`}</tbody></table>`;
};

views.files = async function () {
  $("#view").innerHTML = `<h2>Files</h2><div class="toolbar"><input type="file" id="file-input" aria-label="File to upload"><button id="upload">Upload</button><span id="files-error" class="error" data-testid="files-error"></span></div>
    <table data-testid="files"><thead><tr><th>Preview</th><th>Id</th><th>Size</th><th>Content type</th><th>Uploaded</th><th></th></tr></thead><tbody id="file-rows"></tbody></table>`;
  const load = async () => {
    const { page } = await api("/api/pyconvex/dashboard/documents?" + new URLSearchParams({ table: "_storage", numItems: "500", order: "desc" }));
    $("#file-rows").innerHTML = page.map((f) => {
      const url = "/api/storage/" + encodeURIComponent(f._id);
      const image = (f.contentType || "").startsWith("image/");
      return `<tr data-file="${esc(f._id)}"><td>${image ? `<img class="preview" alt="preview of ${esc(f._id)}" src="${esc(url)}">` : ""}</td><td>${esc(f._id)}</td>
        <td>${Number(f.size).toLocaleString()} B</td><td>${esc(f.contentType || "")}</td><td>${esc(fmtTime(f._creationTime))}</td>
        <td><a href="${esc(url)}" download>Download</a> <button data-delete-file="${esc(f._id)}" class="danger">Delete</button></td></tr>`;
    }).join("") || `<tr><td colspan="6" class="muted">No files yet.</td></tr>`;
    for (const b of $$("[data-delete-file]")) b.onclick = async () => {
      try { await post("/api/pyconvex/dashboard/delete_files", { ids: [b.dataset.deleteFile] }); await load(); }
      catch (e) { $("#files-error").textContent = errorText(e); }
    };
  };
  $("#upload").onclick = async () => {
    const file = $("#file-input").files[0];
    if (!file) { $("#files-error").textContent = "Choose a file first."; return; }
    try {
      const { url } = await post("/api/pyconvex/dashboard/upload_url", {});
      const res = await fetch(url, { method: "POST", body: file, headers: { "Content-Type": file.type || "application/octet-stream" } });
      if (!res.ok) { const b = await res.json().catch(() => ({})); throw new ApiError(b.code || res.status, b.message || ""); }
      $("#files-error").textContent = ""; $("#file-input").value = "";
      await load();
    } catch (e) { $("#files-error").textContent = errorText(e); }
  };
  await load();
};

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
views.env = async function () {
  const { variables } = await api("/api/pyconvex/env");
  $("#view").innerHTML = `<h2>Environment variables</h2><table data-testid="env"><tr><th>Name</th><th>Value</th><th></th></tr>${Object.entries(variables).map(([k, v]) =>
    `<tr><td>${esc(k)}</td><td>${esc(v)}</td><td><button data-edit="${esc(k)}">edit</button> <button data-remove="${esc(k)}" class="danger">remove</button></td></tr>`).join("")}</table>
    <p><input id="env-name" placeholder="NAME" aria-label="Variable name"> <input id="env-value" placeholder="value" aria-label="Variable value" size="40"> <button id="env-set">Set</button></p>
    <div id="env-error" class="error" data-testid="env-error"></div>`;
  const change = async (changes) => {
    try { await post("/api/pyconvex/env", { changes }); await views.env(); }
    catch (e) { $("#env-error").textContent = errorText(e); }
  };
  $("#env-name").oninput = () => {
    const n = $("#env-name").value;
    $("#env-error").textContent = n && !ENV_NAME.test(n) ? "A name is letters, digits and underscores, not starting with a digit." : "";
  };
  $("#env-set").onclick = () => {
    const n = $("#env-name").value;
    if (!ENV_NAME.test(n)) { $("#env-error").textContent = "A name is letters, digits and underscores, not starting with a digit."; return; }
    change({ [n]: $("#env-value").value });
  };
  for (const b of $$("[data-remove]")) b.onclick = () => change({ [b.dataset.remove]: null });
  for (const b of $$("[data-edit]")) b.onclick = () => { $("#env-name").value = b.dataset.edit; $("#env-value").value = variables[b.dataset.edit]; $("#env-value").focus(); };
};

const bytesText = (n) => n === null || n === undefined ? "n/a" : n < 1024 ? `${n} B` : n < 1048576 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / 1048576).toFixed(1)} MiB`;
function barChart(values) {  // an inline SVG: one bar per minute, oldest on the left
  const max = Math.max(1, ...values);
  const bars = values.map((v, i) => `<rect x="${i * 10}" y="${80 - (v / max) * 76}" width="8" height="${(v / max) * 76}" fill="#3b6fd8"><title>${59 - i} min ago: ${v}</title></rect>`).join("");
  return `<svg data-testid="calls-chart" viewBox="0 0 600 80" width="600" height="80" role="img" aria-label="Function calls per minute, peak ${max}">${bars}<line x1="0" y1="80" x2="600" y2="80" stroke="#999"/></svg><div class="muted">peak ${max} per minute</div>`;
}

views.health = async function () {
  const h = await api("/api/pyconvex/dashboard/health");
  $("#view").innerHTML = `<h2>Health</h2><div class="cards" data-testid="health">
    <div class="card">Documents<b>${h.documents.toLocaleString()}</b></div>
    <div class="card">Tables<b>${Object.keys(h.tables).length}</b></div>
    <div class="card">Files<b>${h.files.toLocaleString()}</b></div>
    <div class="card">Live sessions<b>${h.sessions}</b></div>
    <div class="card">Live subscriptions<b>${h.subscriptions.toLocaleString()}</b></div>
    <div class="card">Commits/s (last minute)<b>${h.commitsPerSecond.toFixed(2)}</b></div>
    <div class="card">OCC retries<b>${h.occRetries.toLocaleString()}</b></div>
    <div class="card">Database size<b>${bytesText(h.databaseBytes)}</b></div>
    <div class="card">File storage<b>${bytesText(h.fileBytes)}</b></div>
    <div class="card">Latest commit<b>${esc(fmtTime(h.latestCommitMs))}</b></div></div>
    <h3>Function calls per minute, last hour</h3>${barChart(h.callsPerMinute)}
    <h3>Functions (the last 1,000 executions)</h3><table data-testid="function-metrics"><tr><th>Function</th><th>Calls</th><th>Errors</th><th>p50</th><th>p99</th><th>Documents read (total / most in one call)</th><th>Documents written</th></tr>${h.functions.map((f) =>
      `<tr><td>${esc(f.path)}</td><td>${f.calls}</td><td>${f.errors}</td><td>${f.p50Ms.toFixed(1)} ms</td><td>${f.p99Ms.toFixed(1)} ms</td><td>${f.documentsRead.toLocaleString()} / ${f.maxDocumentsRead.toLocaleString()}</td><td>${f.documentsWritten.toLocaleString()}</td></tr>`).join("") || `<tr><td colspan="7" class="muted">No executions yet.</td></tr>`}</table>
    <h3>Reading the most documents in one call</h3><ol data-testid="insights">${h.functions.filter((f) => f.maxDocumentsRead > 0).sort((a, b) => b.maxDocumentsRead - a.maxDocumentsRead).slice(0, 5).map((f) =>
      `<li>${esc(f.path)}: ${f.maxDocumentsRead.toLocaleString()} documents${f.maxDocumentsRead >= 1000 ? " — consider an index or pagination" : ""}</li>`).join("") || "<li class=muted>No reads yet.</li>"}</ol>
    <h3>Tables</h3><table>${Object.entries(h.tables).map(([t, n]) => `<tr><td>${esc(t)}</td><td>${n.toLocaleString()}</td></tr>`).join("")}</table>`;
};

// Snapshots: export downloads a ZIP (Convex's snapshot format); import uploads one and
// shows the server's progress lines (import?progress=1) as they come.
views.snapshots = async function () {
  $("#view").innerHTML = `<h2>Snapshots</h2>
    <h3>Export</h3><p><label><input type="checkbox" id="export-files" checked> include files</label> <button id="export">Export</button>
      <span id="export-status" class="muted" data-testid="export-status"></span></p>
    <h3>Import</h3><p><input type="file" id="import-file" accept=".zip" aria-label="Snapshot to import">
      <label><input type="checkbox" id="import-replace"> replace existing tables</label> <button id="import">Import</button></p>
    <progress id="import-progress" max="1" value="0" hidden></progress> <span id="import-status" data-testid="import-status"></span>`;
  $("#export").onclick = async () => {
    $("#export-status").textContent = "exporting…";
    try {
      const res = await fetch(`/api/pyconvex/export?includeStorage=${$("#export-files").checked ? 1 : 0}`, { headers: { Authorization: "Convex " + key } });
      if (!res.ok) { const b = await res.json().catch(() => ({})); throw new ApiError(b.code || res.status, b.message || ""); }
      const blob = await res.blob();
      const a = document.createElement("a");
      a.href = URL.createObjectURL(blob);
      a.download = `snapshot-${new Date().toISOString().replace(/[:.]/g, "-")}.zip`;
      document.body.appendChild(a); a.click(); a.remove();
      $("#export-status").textContent = `exported ${blob.size.toLocaleString()} bytes`;
    } catch (e) { $("#export-status").textContent = errorText(e); $("#export-status").className = "error"; }
  };
  $("#import").onclick = async () => {
    const file = $("#import-file").files[0];
    const status = $("#import-status");
    status.className = "";
    if (!file) { status.textContent = "Choose a snapshot ZIP first."; status.className = "error"; return; }
    const bar = $("#import-progress");
    bar.hidden = false; bar.removeAttribute("value");
    status.textContent = "uploading…";
    try {
      const res = await fetch(`/api/pyconvex/import?progress=1&replace=${$("#import-replace").checked ? 1 : 0}`, {
        method: "POST", body: file, headers: { Authorization: "Convex " + key, "Content-Type": "application/zip" } });
      if (!res.ok) { const b = await res.json().catch(() => ({})); throw new ApiError(b.code || res.status, b.message || ""); }
      const reader = res.body.getReader();
      const decoder = new TextDecoder();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        let nl;
        while ((nl = buffer.indexOf("\n")) >= 0) {
          const line = buffer.slice(0, nl).trim();
          buffer = buffer.slice(nl + 1);
          if (!line) continue;
          const msg = JSON.parse(line);
          if (msg.progress) {
            bar.max = msg.progress.total || 1; bar.value = msg.progress.done;
            status.textContent = `${msg.progress.table}: ${msg.progress.done.toLocaleString()} of ${msg.progress.total.toLocaleString()}`;
          } else if (msg.phase) status.textContent = `${msg.phase} ${msg.documents.toLocaleString()} documents…`;
          else if (msg.error) throw new ApiError(msg.error.code, msg.error.message);
          else if (msg.result) {
            bar.hidden = true;
            status.textContent = "Imported: " + Object.entries(msg.result.tables || {}).map(([t, n]) => `${t} (${n})`).join(", ");
          }
        }
      }
    } catch (e) { bar.hidden = true; status.textContent = errorText(e); status.className = "error"; }
  };
};
