// Data: tables with counts, a virtualized grid paged by cursor from the server, filters
// planned onto an index, sort, a document panel, add / delete / clear, live updates by
// long-polling /api/pyconvex/dashboard/watch, and time travel ("as of").
const PAGE = 200;
const grid = { table: null, info: null, rows: [], cursor: null, isDone: true, loading: false, filters: [],
  index: "", order: "desc", at: null, selected: new Set(), ts: 0, rowH: 29, gen: 0, columns: [] };

views.data = async function () {
  const { tables, retainedFromMs } = await api("/api/pyconvex/dashboard/tables?counts=cached");
  grid.tables = tables; grid.retainedFromMs = retainedFromMs;
  $("#view").innerHTML = `<h2>Data</h2><div class="data-layout">
    <div class="tables" data-testid="tables" role="list">${tables.map((t) => `<button role="listitem" data-table="${esc(t.name)}"><span>${esc(t.name)}</span><span class="count" data-count="${esc(t.name)}">${t.count === null ? "…" : t.count.toLocaleString()}</span></button>`).join("") || "<p class=muted>No tables yet.</p>"}</div>
    <div id="table-pane"></div></div>`;
  for (const b of $$("[data-table]")) b.onclick = () => openTable(b.dataset.table);
  const keep = grid.table && tables.some((t) => t.name === grid.table) ? grid.table : tables.length ? tables[0].name : null;
  if (keep) await openTable(keep);
  if (tables.some((t) => t.count === null)) {  // counted once per table, then kept: ask again
    api("/api/pyconvex/dashboard/tables").then((all) => { for (const t of all.tables) setCount(t.name, t.count); })
      .catch((e) => showStatus(errorText(e)));
  }
};

function fieldNames(info) {
  const t = info && info.documentType;
  return t && t.type === "object" ? Object.keys(t.value) : [];
}
function fieldSpec(info, field) {
  const t = info && info.documentType;
  const f = t && t.type === "object" && t.value[field];
  return f ? f.fieldType : null;
}

async function openTable(name) {
  grid.table = name; grid.info = grid.tables.find((t) => t.name === name);
  grid.filters = []; grid.index = ""; grid.order = "desc"; grid.at = null; grid.selected.clear();
  for (const b of $$("[data-table]")) b.classList.toggle("active", b.dataset.table === name);
  const info = grid.info;
  const fields = ["_id", "_creationTime", ...fieldNames(info)];
  const indexes = info.indexes.filter((i) => i.name !== "by_id");
  $("#table-pane").innerHTML = `
    <div class="toolbar"><h3 data-testid="table-title">${esc(name)}</h3>
      <span class="muted" id="doc-count" data-testid="doc-count">${info.count === null ? "counting…" : info.count.toLocaleString() + " documents"}</span>
      <span id="live" class="muted"></span></div>
    <div class="toolbar">
      <button id="add-docs">Add documents</button>
      <button id="delete-selected" class="danger" disabled>Delete selected</button>
      <button id="clear-table" class="danger">Clear table</button>
      <label>Sort <select id="sort-index" aria-label="Sort by index"><option value="">auto (by filter) / _creationTime</option>${indexes.map((i) => `<option value="${esc(i.name)}" ${i.state !== "enabled" ? "disabled" : ""}>${esc(i.name)} (${esc(i.fields.join(", "))})${i.state !== "enabled" ? " – " + esc(i.state) : ""}</option>`).join("")}</select></label>
      <select id="sort-order" aria-label="Order"><option value="desc">newest / descending</option><option value="asc">ascending</option></select>
      <label>As of <input id="as-of" type="datetime-local" step="1" aria-label="As of"></label><button id="now">Now</button>
    </div>
    <div class="filters" id="filters"></div>
    <div class="toolbar"><button id="add-filter">+ Filter</button><button id="apply-filters">Apply</button>
      <datalist id="field-list">${fields.map((f) => `<option value="${esc(f)}">`).join("")}</datalist></div>
    <div id="plan" class="plan" data-testid="plan"></div>
    <div id="action-panel"></div>
    <div class="grid" id="grid" tabindex="0" aria-label="Documents"><table data-testid="documents"><thead></thead><tbody></tbody></table></div>
    <div id="grid-foot" class="muted" data-testid="grid-foot"></div>
    <div id="doc-panel"></div>
    <details data-testid="schema"><summary>Schema and indexes</summary>
      <table><tr><th>Index</th><th>Fields</th><th>State</th></tr>${info.indexes.map((i) => `<tr><td>${esc(i.name)}</td><td>${esc(i.fields.join(", "))}</td><td data-index-state="${esc(i.name)}">${esc(i.state)}</td></tr>`).join("")}
      ${info.searchIndexes.map((i) => `<tr><td>${esc(i.indexDescriptor)}</td><td>search: ${esc(i.searchField)}</td><td>enabled</td></tr>`).join("")}</table>
      <pre>${esc(info.documentType ? validatorText(info.documentType) : "No schema for this table: any document is accepted.")}</pre></details>`;
  $("#add-filter").onclick = () => addFilterRow();
  $("#apply-filters").onclick = () => { grid.filters = readFilters(); if (grid.filters) reload(); };
  $("#sort-index").onchange = () => { grid.index = $("#sort-index").value; reload(); };
  $("#sort-order").onchange = () => { grid.order = $("#sort-order").value; reload(); };
  $("#as-of").title = grid.retainedFromMs ? `within retention: from ${fmtTime(grid.retainedFromMs)}` : "any time since the deployment began";
  $("#as-of").onchange = () => { const v = $("#as-of").value; grid.at = v ? Date.parse(v) : null; reload(); };
  $("#now").onclick = () => { $("#as-of").value = ""; grid.at = null; reload(); };
  $("#add-docs").onclick = showAddPanel;
  $("#delete-selected").onclick = showDeletePanel;
  $("#clear-table").onclick = showClearPanel;
  $("#grid").onscroll = () => { renderRows(); maybeLoadMore(); };
  $("#grid").onkeydown = (e) => {  // Enter opens the focused row, arrows move between rows
    const at = e.target.dataset.row;
    if (e.key === "Enter" && at) openDoc(grid.rows[+at]);
    if ((e.key === "ArrowDown" || e.key === "ArrowUp") && at) {
      const next = $(`tr.row[data-row="${+at + (e.key === "ArrowDown" ? 1 : -1)}"]`);
      if (next) { next.focus(); e.preventDefault(); }
    }
  };
  grid.filters = [];
  await reload();
}

function addFilterRow(f = { field: "", op: "eq", value: "" }) {
  const row = document.createElement("div");
  row.className = "filter";
  row.innerHTML = `<input class="f-field" list="field-list" placeholder="field" aria-label="Filter field" value="${esc(f.field)}">
    <select class="f-op" aria-label="Filter operator">${["eq", "neq", "lt", "lte", "gt", "gte"].map((o) => `<option ${o === f.op ? "selected" : ""} value="${o}">${{ eq: "==", neq: "!=", lt: "<", lte: "<=", gt: ">", gte: ">=" }[o]}</option>`).join("")}</select>
    <input class="f-value" placeholder='value (JSON, or text)' aria-label="Filter value" value="${esc(f.value)}">
    <button class="f-remove" aria-label="Remove filter">×</button>`;
  $(".f-remove", row).onclick = () => row.remove();
  $(".f-value", row).onkeydown = (e) => { if (e.key === "Enter") $("#apply-filters").click(); };
  $("#filters").appendChild(row);
  $(".f-field", row).focus();
}
function readFilters() {
  const out = [];
  for (const row of $$("#filters .filter")) {
    const field = $(".f-field", row).value.trim();
    const raw = $(".f-value", row).value;
    if (!field) { showStatus("A filter needs a field name."); return null; }
    let value;
    try { value = JSON.parse(raw); } catch (e) { value = raw; }
    out.push({ field, op: $(".f-op", row).value, value: int64WhereExpected(fieldSpec(grid.info, field), value) });
  }
  showStatus("");
  return out;
}

function pageUrl(cursor, numItems) {
  const p = new URLSearchParams({ table: grid.table, numItems: String(numItems), order: grid.order });
  if (cursor) p.set("cursor", cursor);
  if (grid.index) p.set("index", grid.index);
  if (grid.filters.length) p.set("filters", JSON.stringify(grid.filters));
  if (grid.at) p.set("at", String(grid.at));
  return "/api/pyconvex/dashboard/documents?" + p;
}

async function reload(keep = 0) {
  const gen = ++grid.gen;
  grid.loading = true;
  try {
    const body = await api(pageUrl(null, Math.min(1000, Math.max(PAGE, keep))));
    if (gen !== grid.gen) return;
    grid.rows = body.page; grid.cursor = body.continueCursor; grid.isDone = body.isDone; grid.ts = body.ts;
    if (!keep) { grid.selected.clear(); $("#grid").scrollTop = 0; }
    const plan = body.plan;
    $("#plan").textContent = plan.message;
    $("#plan").className = "plan" + (grid.filters.length && !plan.usesIndex ? " noindex" : "");
    renderRows(true);
    startLive();
  } catch (e) {
    $("#plan").textContent = ""; grid.rows = []; grid.isDone = true; renderRows(true);
    showStatus(errorText(e));
  } finally { if (gen === grid.gen) grid.loading = false; }
}

async function maybeLoadMore() {
  if (grid.loading || grid.isDone) return;
  const g = $("#grid");
  const last = Math.floor((g.scrollTop + g.clientHeight) / grid.rowH);
  if (last < grid.rows.length - 60) return;
  const gen = grid.gen;
  grid.loading = true;
  try {
    const body = await api(pageUrl(grid.cursor, PAGE));
    if (gen !== grid.gen) return;
    grid.rows.push(...body.page); grid.cursor = body.continueCursor; grid.isDone = body.isDone;
    renderRows(true);
  } catch (e) { showStatus(errorText(e)); } finally { if (gen === grid.gen) grid.loading = false; }
  maybeLoadMore();
}

function renderRows(changed = false) {
  const g = $("#grid");
  if (!g) return;
  if (changed) {
    const cols = ["_id", ...fieldNames(grid.info)];
    for (const d of grid.rows.slice(0, 500)) for (const k of Object.keys(d)) if (!cols.includes(k) && k !== "_creationTime") cols.push(k);
    cols.push("_creationTime");
    grid.columns = cols;
    $("thead", g).innerHTML = `<tr><th class="check"><input type="checkbox" id="select-all" aria-label="Select all loaded"></th>${cols.map((c) => `<th>${esc(c)}</th>`).join("")}</tr>`;
    $("#select-all").onchange = (e) => { for (const d of grid.rows) e.target.checked ? grid.selected.add(d._id) : grid.selected.delete(d._id); renderRows(); };
    $("#grid-foot").textContent = `${grid.rows.length.toLocaleString()} loaded${grid.isDone ? " (all)" : ", scroll for more"}${grid.at ? " — as of " + fmtTime(grid.at) : ""}`;
  }
  const cols = grid.columns;
  const rows = grid.rows;
  const start = Math.max(0, Math.floor(g.scrollTop / grid.rowH) - 20);
  const end = Math.min(rows.length, start + Math.ceil(g.clientHeight / grid.rowH) + 40);
  const body = $("tbody", g);
  body.innerHTML = `<tr class="spacer"></tr>` + rows.slice(start, end).map((d, i) =>
    `<tr class="row${grid.selected.has(d._id) ? " selected" : ""}" tabindex="0" data-row="${start + i}" data-id="${esc(d._id)}"><td class="check"><input type="checkbox" aria-label="Select ${esc(d._id)}" ${grid.selected.has(d._id) ? "checked" : ""}></td>${cols.map((c) => { const t = c === "_creationTime" && d[c] ? fmtTime(d[c]) : cellText(d[c]); return `<td title="${esc(t)}">${esc(t)}</td>`; }).join("")}</tr>`).join("") + `<tr class="spacer"></tr>`;
  const spacers = $$("tr.spacer", body);
  spacers[0].style.height = start * grid.rowH + "px";
  spacers[1].style.height = (rows.length - end) * grid.rowH + "px";
  const first = $("tr.row", body);
  if (first) { const h = first.getBoundingClientRect().height; if (h > 0 && Math.abs(h - grid.rowH) > 0.5) { grid.rowH = h; renderRows(); return; } }
  for (const tr of $$("tr.row", body)) {
    const d = rows[+tr.dataset.row];
    const box = $("input", tr);
    box.onclick = (e) => { e.stopPropagation(); box.checked ? grid.selected.add(d._id) : grid.selected.delete(d._id); tr.classList.toggle("selected", box.checked); updateSelection(); };
    tr.onclick = () => openDoc(d);
  }
  updateSelection();
}
function updateSelection() {
  const b = $("#delete-selected");
  if (b) { b.disabled = !grid.selected.size || !!grid.at; b.textContent = `Delete selected (${grid.selected.size})`; }
}

function startLive() {
  for (const stop of stopView) stop();
  stopView = [];
  if (grid.at) { $("#live").textContent = "time travel: not live"; return; }
  const ctl = new AbortController();
  stopView.push(() => ctl.abort());
  $("#live").textContent = "● live";
  const table = grid.table;
  (async () => {
    while (!ctl.signal.aborted) {
      try {
        const r = await api(`/api/pyconvex/dashboard/watch?table=${encodeURIComponent(table)}&after=${grid.ts}&wait=25`, { signal: ctl.signal });
        if (ctl.signal.aborted || grid.table !== table) return;
        if (r.count !== null && r.count !== undefined) setCount(table, r.count);
        if (r.ts) { grid.ts = r.ts; await reload(grid.rows.length); return; }  // reload restarts the poll
      } catch (e) { if (ctl.signal.aborted) return; await new Promise((res) => setTimeout(res, 1000)); }
    }
  })();
}
function setCount(table, n) {
  const c = $(`[data-count="${CSS.escape(table)}"]`);
  if (c) c.textContent = n.toLocaleString();
  if (grid.table === table && $("#doc-count")) $("#doc-count").textContent = n.toLocaleString() + " documents";
  const info = grid.tables.find((t) => t.name === table);
  if (info) info.count = n;
}

function openDoc(d) {
  const editable = !grid.at;
  const value = Object.fromEntries(Object.entries(d).filter(([k]) => k !== "_id" && k !== "_creationTime"));
  $("#doc-panel").innerHTML = `<div class="panel" data-testid="doc-panel"><div class="toolbar"><b>${esc(d._id)}</b>
    <span class="muted">created ${esc(fmtTime(d._creationTime))}</span></div>
    <textarea id="doc-editor" rows="12" data-testid="doc-editor" aria-label="Document JSON" ${editable ? "" : "readonly"}>${esc(JSON.stringify(value, null, 2))}</textarea>
    <div id="doc-error" class="error" data-testid="doc-error"></div>
    <div class="toolbar">${editable ? `<button id="doc-save">Save</button><button id="doc-delete" class="danger">Delete document</button>` : ""}<button id="doc-close">Close</button></div></div>`;
  $("#doc-close").onclick = () => { $("#doc-panel").innerHTML = ""; };
  if (!editable) return;
  $("#doc-save").onclick = async () => {
    let parsed;
    try { parsed = JSON.parse($("#doc-editor").value); } catch (e) { $("#doc-error").textContent = "Not valid JSON: " + e.message; return; }
    try {
      await post("/api/pyconvex/dashboard/replace", { id: d._id, value: parsed });
      $("#doc-error").textContent = ""; showStatus("Saved " + d._id, true);
    } catch (e) { $("#doc-error").textContent = errorText(e); }
  };
  $("#doc-delete").onclick = async () => {
    try { await post("/api/pyconvex/dashboard/delete", { ids: [d._id] }); $("#doc-panel").innerHTML = ""; showStatus("Deleted " + d._id, true); }
    catch (e) { $("#doc-error").textContent = errorText(e); }
  };
  $("#doc-editor").focus();
}

function templateDoc(info) {
  const t = info.documentType;
  if (!t || t.type !== "object") return {};
  const sample = { string: "", number: 0, boolean: false, array: [], object: {} };
  return Object.fromEntries(Object.entries(t.value).filter(([, f]) => !f.optional).map(([k, f]) => [k, sample[f.fieldType.type] ?? null]));
}
function showAddPanel() {
  $("#action-panel").innerHTML = `<div class="panel" data-testid="add-panel"><b>Add to ${esc(grid.table)}</b> <span class="muted">one JSON object, or an array of them</span>
    <textarea id="add-editor" rows="8" aria-label="New documents JSON">${esc(JSON.stringify(templateDoc(grid.info), null, 2))}</textarea>
    <div id="add-error" class="error" data-testid="add-error"></div>
    <div class="toolbar"><button id="add-save">Insert</button><button id="add-cancel">Cancel</button></div></div>`;
  $("#add-cancel").onclick = () => { $("#action-panel").innerHTML = ""; };
  $("#add-save").onclick = async () => {
    let parsed;
    try { parsed = JSON.parse($("#add-editor").value); } catch (e) { $("#add-error").textContent = "Not valid JSON: " + e.message; return; }
    const docs = (Array.isArray(parsed) ? parsed : [parsed]).map((x) => int64WhereExpected(grid.info.documentType, x));
    try {
      const { ids } = await post("/api/pyconvex/dashboard/insert", { table: grid.table, documents: docs });
      $("#action-panel").innerHTML = ""; showStatus(`Inserted ${ids.length} document${ids.length === 1 ? "" : "s"}.`, true);
    } catch (e) { $("#add-error").textContent = errorText(e); }
  };
  $("#add-editor").focus();
}
function showDeletePanel() {
  const ids = Array.from(grid.selected);
  $("#action-panel").innerHTML = `<div class="panel" data-testid="delete-panel">Delete ${ids.length} document${ids.length === 1 ? "" : "s"} from <b>${esc(grid.table)}</b>?
    <button id="confirm-delete" class="danger">Delete ${ids.length}</button> <button id="cancel-delete">Cancel</button><div id="delete-error" class="error"></div></div>`;
  $("#cancel-delete").onclick = () => { $("#action-panel").innerHTML = ""; };
  $("#confirm-delete").onclick = async () => {
    try {
      await post("/api/pyconvex/dashboard/delete", { ids });
      grid.selected.clear(); $("#action-panel").innerHTML = ""; showStatus(`Deleted ${ids.length} documents.`, true);
    } catch (e) { $("#delete-error").textContent = errorText(e); }
  };
  $("#confirm-delete").focus();
}
function showClearPanel() {
  $("#action-panel").innerHTML = `<div class="panel" data-testid="clear-panel">This deletes every document of <b>${esc(grid.table)}</b>. Type <code>${esc(grid.table)}</code> to confirm:
    <input id="clear-confirm" aria-label="Table name to confirm"> <button id="confirm-clear" class="danger" disabled>Clear ${esc(grid.table)}</button> <button id="cancel-clear">Cancel</button><div id="clear-error" class="error"></div></div>`;
  $("#clear-confirm").oninput = () => { $("#confirm-clear").disabled = $("#clear-confirm").value !== grid.table; };
  $("#cancel-clear").onclick = () => { $("#action-panel").innerHTML = ""; };
  $("#confirm-clear").onclick = async () => {
    try {
      const { deleted } = await post("/api/pyconvex/dashboard/clear", { table: grid.table, confirm: $("#clear-confirm").value });
      $("#action-panel").innerHTML = ""; showStatus(`Cleared ${grid.table}: ${deleted} documents deleted.`, true);
    } catch (e) { $("#clear-error").textContent = errorText(e); }
  };
  $("#clear-confirm").focus();
}
