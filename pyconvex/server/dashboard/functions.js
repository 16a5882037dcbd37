// Functions: every function by module with its kind, visibility and argument validator;
// run one with a form generated from the validator (or raw JSON), optionally as a user.
views.functions = async function () {
  const { functions } = await api("/api/pyconvex/functions");
  const specs = Object.fromEntries(functions.map((f) => [f.identifier, f]));
  const modules = {};
  for (const f of functions) (modules[f.identifier.split(":")[0]] ||= []).push(f);
  $("#view").innerHTML = `<h2>Run a function</h2>
    <div data-testid="function-list">${Object.entries(modules).map(([m, fs]) => `<div class="fn-module"><b>${esc(m)}</b><br>${fs.map((f) =>
      `<button data-fn="${esc(f.identifier)}" title="${esc(validatorText(f.args))}">${esc(f.identifier.split(":")[1])} <span class="muted">${esc(f.functionType.toLowerCase())}${f.visibility.kind === "internal" ? ", internal" : ""}</span></button>`).join("")}</div>`).join("") || "<p class=muted>No functions deployed.</p>"}</div>
    <p><input id="fn" list="fn-list" placeholder="messages:list" size="40" data-testid="function" aria-label="Function">
      <datalist id="fn-list">${functions.map((f) => `<option value="${esc(f.identifier)}">${esc(f.functionType + (f.visibility.kind === "internal" ? " (internal)" : ""))}</option>`).join("")}</datalist>
      <span id="fn-info" class="muted" data-testid="fn-info"></span></p>
    <div id="arg-form" data-testid="arg-form"></div>
    <p><label>Arguments (JSON)<br><textarea id="args" rows="4" cols="60" aria-label="Arguments JSON">{}</textarea></label></p>
    <p><label>Act as user (identity JSON, optional) <input id="identity" size="50" placeholder='{"subject": "user1", "name": "Ada"}' aria-label="Act as identity"></label></p>
    <button id="run">Run</button> <span id="run-time" class="muted" data-testid="run-time"></span>
    <div id="run-logs" data-testid="run-logs"></div><pre id="result" data-testid="result"></pre>`;
  const pick = () => {
    const spec = specs[$("#fn").value];
    $("#fn-info").textContent = spec ? `${spec.functionType}, ${spec.visibility.kind}, args: ${validatorText(spec.args)}` : "";
    buildForm(spec);
  };
  $("#fn").oninput = pick;
  for (const b of $$("[data-fn]")) b.onclick = () => { $("#fn").value = b.dataset.fn; pick(); };
  $("#run").onclick = () => runFunction(specs);
};

const FORM_TYPES = { string: "text", number: "number", float64: "number", int64: "number", bigint: "number", boolean: "checkbox", id: "text" };
function buildForm(spec) {
  const form = $("#arg-form");
  form.innerHTML = "";
  if (!spec || !spec.args || spec.args.type !== "object") return;
  const fields = Object.entries(spec.args.value);
  for (const [name, f] of fields) {
    const t = f.fieldType.type;
    const row = document.createElement("label");
    row.className = "form-field";
    const kind = FORM_TYPES[t] || "json";
    row.innerHTML = `<span>${esc(name)}${f.optional ? "?" : ""} <span class="muted">${esc(validatorText(f.fieldType))}</span></span>` +
      (kind === "checkbox" ? `<input type="checkbox" data-arg="${esc(name)}" data-kind="checkbox">`
        : `<input data-arg="${esc(name)}" data-kind="${kind}" ${kind === "number" ? 'type="number" step="any"' : ""} placeholder="${kind === "json" ? "JSON" : ""}">`);
    form.appendChild(row);
  }
  const sync = () => {
    const args = {};
    const errors = [];
    for (const input of $$("[data-arg]", form)) {
      const name = input.dataset.arg;
      if (input.dataset.kind === "checkbox") { args[name] = input.checked; continue; }
      if (input.value === "") { if (!spec.args.value[name].optional) errors.push(`${name} is required`); continue; }
      if (input.dataset.kind === "number") args[name] = Number(input.value);
      else if (input.dataset.kind === "json") { try { args[name] = JSON.parse(input.value); } catch (e) { errors.push(`${name}: not JSON`); } }
      else args[name] = input.value;
    }
    $("#args").value = JSON.stringify(args, null, 2);
    $("#fn-info").dataset.errors = errors.join("; ");
  };
  for (const input of $$("[data-arg]", form)) input.oninput = sync;
  sync();
}

async function runFunction(specs) {
  const name = $("#fn").value.includes(":") ? $("#fn").value : $("#fn").value + ":default";
  const i = name.lastIndexOf(":");
  $("#run-logs").innerHTML = ""; $("#run-time").textContent = "";
  try {
    const args = int64WhereExpected(specs[name] && specs[name].args, JSON.parse($("#args").value || "{}"));
    const headers = {};
    const who = $("#identity").value.trim();
    if (who) { JSON.parse(who); headers.Authorization = "Convex " + key + ":" + btoa(unescape(encodeURIComponent(who))); }
    const started = performance.now();
    const out = await api(`/api/run/${name.slice(0, i)}/${name.slice(i + 1)}`, { method: "POST", body: JSON.stringify({ args, format: "json" }), headers });
    $("#run-time").textContent = `${(performance.now() - started).toFixed(1)} ms round trip`;
    $("#run-logs").innerHTML = (out.logLines || []).map((l) => `<div class="log-entry">${esc(l)}</div>`).join("");
    $("#result").textContent = (out.logLines || []).join("\n") + "\n" + (out.status === "success"
      ? JSON.stringify(readable(out.value), (k, v) => typeof v === "bigint" ? v.toString() : v, 2)
      : "Error: " + out.errorMessage + (out.errorData !== undefined ? "\n" + JSON.stringify(out.errorData, null, 2) : ""));
  } catch (e) { $("#result").textContent = errorText(e); }
}
