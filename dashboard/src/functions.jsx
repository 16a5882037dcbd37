// Functions: every function by module with its kind, visibility and argument validator; run
// one with a form generated from its validator (or raw JSON), optionally as a given user;
// the result, log lines and duration; the function's metrics for the last hour.
import { useState } from "preact/hooks";
import { api, errorText, getKey } from "./api.js";
import { FunctionMetrics } from "./metrics.jsx";
import { Loading, useLoad } from "./ui.jsx";
import { bigintJson, int64WhereExpected, validatorText } from "./values.js";

const FORM_TYPES = { string: "text", number: "number", float64: "number", int64: "number", bigint: "number", boolean: "checkbox", id: "text" };

function formArgs(spec, values) {
  const args = {};
  const errors = [];
  if (!spec || !spec.args || spec.args.type !== "object") return [args, errors];
  for (const [name, f] of Object.entries(spec.args.value)) {
    const kind = FORM_TYPES[f.fieldType.type] || "json";
    const raw = values[name];
    if (kind === "checkbox") { args[name] = !!raw; continue; }
    if (raw === undefined || raw === "") { if (!f.optional) errors.push(`${name} is required`); continue; }
    if (kind === "number") args[name] = Number(raw);
    else if (kind === "json") { try { args[name] = JSON.parse(raw); } catch { errors.push(`${name}: not JSON`); } }
    else args[name] = raw;
  }
  return [args, errors];
}

function ArgForm({ spec, values, setValues }) {
  if (!spec || !spec.args || spec.args.type !== "object") return <div id="arg-form" data-testid="arg-form" />;
  return (
    <div id="arg-form" data-testid="arg-form">
      {Object.entries(spec.args.value).map(([name, f]) => {
        const kind = FORM_TYPES[f.fieldType.type] || "json";
        const set = (v) => setValues({ ...values, [name]: v });
        return (
          <label class="form-field" key={name}>
            <span>{name}{f.optional ? "?" : ""} <span class="muted">{validatorText(f.fieldType)}</span></span>
            {kind === "checkbox"
              ? <input type="checkbox" data-arg={name} data-kind="checkbox" checked={!!values[name]} onChange={(e) => set(e.currentTarget.checked)} />
              : <input data-arg={name} data-kind={kind} type={kind === "number" ? "number" : "text"} step={kind === "number" ? "any" : undefined}
                placeholder={kind === "json" ? "JSON" : ""} value={values[name] ?? ""} onInput={(e) => set(e.currentTarget.value)} />}
          </label>
        );
      })}
    </div>
  );
}

export function FunctionsPage() {
  const state = useLoad(() => api("/api/pyconvex/functions"), []);
  return <><h2>Run a function</h2><Loading state={state}>{(d) => <Functions functions={d.functions} />}</Loading></>;
}

function Functions({ functions }) {
  const specs = Object.fromEntries(functions.map((f) => [f.identifier, f]));
  const modules = {};
  for (const f of functions) (modules[f.identifier.split(":")[0]] ||= []).push(f);
  const [name, setName] = useState("");
  const [values, setValues] = useState({});
  const [argsText, setArgsText] = useState("{}");
  const [identity, setIdentity] = useState("");
  const [run, setRun] = useState(null);  // {took, logLines, text}
  const spec = specs[name];
  const pick = (identifier) => {
    setName(identifier);
    setValues({});
    setArgsText(JSON.stringify(formArgs(specs[identifier], {})[0], null, 2));
  };
  const changeForm = (next) => {
    setValues(next);
    setArgsText(JSON.stringify(formArgs(spec, next)[0], null, 2));
  };
  const formErrors = formArgs(spec, values)[1];
  const execute = async () => {
    const full = name.includes(":") ? name : name + ":default";
    const i = full.lastIndexOf(":");
    setRun({ took: null, logLines: [], text: "running…" });
    try {
      const args = int64WhereExpected(specs[full] && specs[full].args, JSON.parse(argsText || "{}"));
      const headers = {};
      const who = identity.trim();
      if (who) {
        JSON.parse(who);
        headers.Authorization = "Convex " + getKey() + ":" + btoa(unescape(encodeURIComponent(who)));
      }
      const started = performance.now();
      const out = await api(`/api/run/${full.slice(0, i)}/${full.slice(i + 1)}`,
        { method: "POST", body: JSON.stringify({ args, format: "json" }), headers });
      const took = performance.now() - started;
      const logLines = out.logLines || [];
      const text = logLines.map((l) => l + "\n").join("") + (out.status === "success" ? bigintJson(out.value)
        : "Error: " + out.errorMessage + (out.errorData !== undefined ? "\n" + JSON.stringify(out.errorData, null, 2) : ""));
      setRun({ took, logLines, text, failed: out.status !== "success" });
    } catch (e) { setRun({ took: null, logLines: [], text: errorText(e), failed: true }); }
  };
  return (
    <>
      <div data-testid="function-list" class="fn-list">
        {functions.length === 0 && <p class="muted">No functions deployed.</p>}
        {Object.entries(modules).map(([m, fs]) => (
          <div class="fn-module" key={m}><b>{m}</b><br />
            {fs.map((f) => (
              <button key={f.identifier} data-fn={f.identifier} title={validatorText(f.args)} aria-pressed={f.identifier === name}
                onClick={() => pick(f.identifier)}>
                {f.identifier.split(":")[1]} <span class="muted">{f.functionType.toLowerCase()}{f.visibility.kind === "internal" ? ", internal" : ""}</span>
              </button>
            ))}
          </div>
        ))}
      </div>
      <p>
        <input id="fn" list="fn-list" placeholder="messages:list" size={40} data-testid="function" aria-label="Function"
          value={name} onInput={(e) => pick(e.currentTarget.value)} />
        <datalist id="fn-list">
          {functions.map((f) => <option key={f.identifier} value={f.identifier}>{f.functionType + (f.visibility.kind === "internal" ? " (internal)" : "")}</option>)}
        </datalist>{" "}
        <span id="fn-info" class="muted" data-testid="fn-info" data-errors={formErrors.join("; ")}>
          {spec ? `${spec.functionType}, ${spec.visibility.kind}, args: ${validatorText(spec.args)}` : ""}
        </span>
      </p>
      <ArgForm spec={spec} values={values} setValues={changeForm} />
      <p><label>Arguments (JSON)<br />
        <textarea id="args" rows={4} cols={60} aria-label="Arguments JSON" value={argsText} onInput={(e) => setArgsText(e.currentTarget.value)} />
      </label></p>
      <p><label>Act as user (identity JSON, optional){" "}
        <input id="identity" size={50} placeholder='{"subject": "user1", "name": "Ada"}' aria-label="Act as identity"
          value={identity} onInput={(e) => setIdentity(e.currentTarget.value)} /></label></p>
      <button id="run" onClick={execute}>Run</button>{" "}
      <span id="run-time" class="muted" data-testid="run-time">{run && run.took !== null ? `${run.took.toFixed(1)} ms round trip` : ""}</span>
      <div id="run-logs" data-testid="run-logs">{(run ? run.logLines : []).map((l, i) => <div class="log-entry" key={i}>{l}</div>)}</div>
      <pre id="result" data-testid="result" class={run && run.failed ? "failed" : ""}>{run ? run.text : ""}</pre>
      {spec && <FunctionMetrics path={spec.identifier} />}
    </>
  );
}
