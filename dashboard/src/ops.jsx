// Scheduled functions (by state, cancel), cron jobs (schedule, last and next run, recent
// results), files (upload, preview, download, delete) and environment variables.
import { useRef, useState } from "preact/hooks";
import { api, errorText, failure, post } from "./api.js";
import { ErrorLine, Loading, useLoad } from "./ui.jsx";
import { cellText, fmtTime } from "./values.js";

const stateText = (s) => (s ? s.kind + (s.error ? ": " + s.error : "") : "");
const STATES = ["pending", "inProgress", "success", "failed", "canceled"];

export function SchedulesPage() {
  const [state, setState] = useState("");
  const [selected, setSelected] = useState(() => new Set());
  const [error, setError] = useState(null);
  const jobs = useLoad(() => {
    const filters = state ? [{ field: "state.kind", op: "eq", value: state }] : [];
    const p = new URLSearchParams({ table: "_scheduled_functions", numItems: "500", order: "desc", filters: JSON.stringify(filters) });
    return api("/api/pyconvex/dashboard/documents?" + p);
  }, [state]);
  const cancel = async (ids) => {
    try {
      await post("/api/pyconvex/dashboard/cancel", { ids });
      setSelected(new Set());
      setError(null);
      await jobs.reload();
    } catch (e) { setError(e); }
  };
  const toggle = (id, on) => setSelected((s) => { const n = new Set(s); on ? n.add(id) : n.delete(id); return n; });
  return (
    <>
      <h2>Scheduled functions</h2>
      <div class="toolbar">
        <label>State <select aria-label="Filter by state" value={state} onChange={(e) => setState(e.currentTarget.value)}>
          <option value="">all</option>{STATES.map((s) => <option key={s}>{s}</option>)}
        </select></label>
        <button class="danger" disabled={!selected.size} onClick={() => cancel(Array.from(selected))}>Cancel selected ({selected.size})</button>
        <span class="error">{error ? errorText(error) : ""}</span>
      </div>
      <div class="scroll-x">
        <table data-testid="schedules">
          <thead><tr><th /><th>Function</th><th>Scheduled for</th><th>State</th><th>Arguments</th><th>Id</th><th /></tr></thead>
          <tbody>
            {jobs.error && <tr><td colspan={7} class="error">{errorText(jobs.error)}</td></tr>}
            {jobs.data && jobs.data.page.length === 0 && <tr><td colspan={7} class="muted">No scheduled functions{state ? " in state " + state : ""}.</td></tr>}
            {jobs.data && jobs.data.page.map((j) => {
              const pending = j.state.kind === "pending";
              return (
                <tr key={j._id} data-job={j._id} data-state={j.state.kind}>
                  <td>{pending && <input type="checkbox" aria-label={`Select ${j._id}`} checked={selected.has(j._id)}
                    onChange={(e) => toggle(j._id, e.currentTarget.checked)} />}</td>
                  <td>{j.name}</td><td>{fmtTime(j.scheduledTime)}</td><td class="state">{stateText(j.state)}</td>
                  <td class="wrap">{cellText(j.args && j.args[0])}</td><td>{j._id}</td>
                  <td>{pending && <button onClick={() => cancel([j._id])}>Cancel</button>}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
    </>
  );
}

export function CronsPage() {
  const state = useLoad(() => api("/api/pyconvex/dashboard/crons"), []);
  return (
    <>
      <h2>Cron jobs</h2>
      <Loading state={state}>{({ crons, recent }) => (
        <div class="scroll-x"><table data-testid="crons">
          <thead><tr><th>Name</th><th>Function</th><th>Schedule</th><th>Last run</th><th>Next run</th><th>Recent results</th></tr></thead>
          <tbody>
            {crons.length === 0 && <tr><td colspan={6} class="muted">No cron jobs (convex/crons.py).</td></tr>}
            {crons.map((c) => (
              <tr key={c.name}><td>{c.name}</td><td>{c.path}</td><td>{cellText(c.schedule)}</td>
                <td>{c.lastRun ? fmtTime(c.lastRun) : "never"}</td><td>{fmtTime(c.nextRun)}</td>
                <td>{recent.filter((j) => j.name === c.path).slice(0, 5).map((j) => stateText(j.state)).join(", ")}</td></tr>
            ))}
          </tbody>
        </table></div>
      )}</Loading>
    </>
  );
}

export function FilesPage() {
  const input = useRef(null);
  const [error, setError] = useState(null);
  const files = useLoad(() => api("/api/pyconvex/dashboard/documents?" + new URLSearchParams({ table: "_storage", numItems: "500", order: "desc" })), []);
  const upload = async () => {
    const file = input.current.files[0];
    if (!file) { setError(new Error("Choose a file first.")); return; }
    try {
      const { url } = await post("/api/pyconvex/dashboard/upload_url", {});
      const res = await fetch(url, { method: "POST", body: file, headers: { "Content-Type": file.type || "application/octet-stream" } });
      if (!res.ok) throw await failure(res);
      setError(null);
      input.current.value = "";
      await files.reload();
    } catch (e) { setError(e); }
  };
  const remove = async (id) => {
    try { await post("/api/pyconvex/dashboard/delete_files", { ids: [id] }); await files.reload(); } catch (e) { setError(e); }
  };
  return (
    <>
      <h2>Files</h2>
      <div class="toolbar">
        <input type="file" ref={input} aria-label="File to upload" />
        <button onClick={upload}>Upload</button>
        <ErrorLine error={error || files.error} testid="files-error" />
      </div>
      <div class="scroll-x"><table data-testid="files">
        <thead><tr><th>Preview</th><th>Id</th><th>Size</th><th>Content type</th><th>Uploaded</th><th /></tr></thead>
        <tbody>
          {files.data && files.data.page.length === 0 && <tr><td colspan={6} class="muted">No files yet.</td></tr>}
          {files.data && files.data.page.map((f) => {
            const url = "/api/storage/" + encodeURIComponent(f._id);
            return (
              <tr key={f._id} data-file={f._id}>
                <td>{(f.contentType || "").startsWith("image/") && <img class="preview" alt={`preview of ${f._id}`} src={url} />}</td>
                <td>{f._id}</td><td>{Number(f.size).toLocaleString()} B</td><td>{f.contentType || ""}</td><td>{fmtTime(f._creationTime)}</td>
                <td><a href={url} download>Download</a> <button class="danger" onClick={() => remove(f._id)}>Delete</button></td>
              </tr>
            );
          })}
        </tbody>
      </table></div>
    </>
  );
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const BAD_NAME = "A name is letters, digits and underscores, not starting with a digit.";

export function EnvPage() {
  const vars = useLoad(() => api("/api/pyconvex/env"), []);
  const [name, setName] = useState("");
  const [value, setValue] = useState("");
  const [error, setError] = useState("");
  const valueInput = useRef(null);
  const change = async (changes) => {
    try { await post("/api/pyconvex/env", { changes }); setError(""); await vars.reload(); } catch (e) { setError(errorText(e)); }
  };
  const set = () => {
    if (!ENV_NAME.test(name)) { setError(BAD_NAME); return; }
    change({ [name]: value });
  };
  const variables = vars.data ? vars.data.variables : {};
  return (
    <>
      <h2>Environment variables</h2>
      <div class="scroll-x"><table data-testid="env">
        <thead><tr><th>Name</th><th>Value</th><th /></tr></thead>
        <tbody>
          {vars.error && <tr><td colspan={3} class="error">{errorText(vars.error)}</td></tr>}
          {Object.entries(variables).map(([k, v]) => (
            <tr key={k}><td>{k}</td><td class="wrap">{v}</td><td>
              <button onClick={() => { setName(k); setValue(v); valueInput.current.focus(); }}>edit</button>{" "}
              <button class="danger" onClick={() => change({ [k]: null })}>remove</button></td></tr>
          ))}
        </tbody>
      </table></div>
      <p class="toolbar">
        <input id="env-name" placeholder="NAME" aria-label="Variable name" value={name} aria-invalid={!!name && !ENV_NAME.test(name)}
          onInput={(e) => { const n = e.currentTarget.value; setName(n); setError(n && !ENV_NAME.test(n) ? BAD_NAME : ""); }} />
        <input id="env-value" placeholder="value" aria-label="Variable value" size={40} value={value} ref={valueInput}
          onInput={(e) => setValue(e.currentTarget.value)} onKeyDown={(e) => { if (e.key === "Enter") set(); }} />
        <button id="env-set" onClick={set}>Set</button>
      </p>
      <div class="error" data-testid="env-error" role={error ? "alert" : undefined}>{error}</div>
    </>
  );
}
