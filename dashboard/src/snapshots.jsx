// Snapshots: export downloads a ZIP (Convex's snapshot format); import uploads one and shows
// the server's progress lines (import?progress=1) as they arrive.
import { useRef, useState } from "preact/hooks";
import { ApiError, errorText, failure, getKey } from "./api.js";

async function* lines(res) {
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
      if (line) yield JSON.parse(line);
    }
  }
}

export function SnapshotsPage() {
  const [withFiles, setWithFiles] = useState(true);
  const [replace, setReplace] = useState(false);
  const [exported, setExported] = useState({ text: "", error: false });
  const [imported, setImported] = useState({ text: "", error: false, progress: null });
  const file = useRef(null);
  const doExport = async () => {
    setExported({ text: "exporting…", error: false });
    try {
      const res = await fetch(`/api/pyconvex/export?includeStorage=${withFiles ? 1 : 0}`, { headers: { Authorization: "Convex " + getKey() } });
      if (!res.ok) throw await failure(res);
      const blob = await res.blob();
      const a = document.createElement("a");
      a.href = URL.createObjectURL(blob);
      a.download = `snapshot-${new Date().toISOString().replace(/[:.]/g, "-")}.zip`;
      document.body.appendChild(a); a.click(); a.remove();
      setExported({ text: `exported ${blob.size.toLocaleString()} bytes`, error: false });
    } catch (e) { setExported({ text: errorText(e), error: true }); }
  };
  const doImport = async () => {
    const zip = file.current.files[0];
    if (!zip) { setImported({ text: "Choose a snapshot ZIP first.", error: true, progress: null }); return; }
    setImported({ text: "uploading…", error: false, progress: { done: 0, total: 0 } });
    try {
      const res = await fetch(`/api/pyconvex/import?progress=1&replace=${replace ? 1 : 0}`, {
        method: "POST", body: zip, headers: { Authorization: "Convex " + getKey(), "Content-Type": "application/zip" } });
      if (!res.ok) throw await failure(res);
      for await (const msg of lines(res)) {
        if (msg.progress) {
          const p = msg.progress;
          setImported({ text: `${p.table}: ${p.done.toLocaleString()} of ${p.total.toLocaleString()}`, error: false, progress: p });
        } else if (msg.phase) setImported((s) => ({ ...s, text: `${msg.phase} ${msg.documents.toLocaleString()} documents…` }));
        else if (msg.error) throw new ApiError(msg.error.code, msg.error.message);
        else if (msg.result) {
          setImported({ text: "Imported: " + Object.entries(msg.result.tables || {}).map(([t, n]) => `${t} (${n})`).join(", "), error: false, progress: null });
        }
      }
    } catch (e) { setImported({ text: errorText(e), error: true, progress: null }); }
  };
  const p = imported.progress;
  return (
    <>
      <h2>Snapshots</h2>
      <h3>Export</h3>
      <p class="toolbar"><label><input type="checkbox" checked={withFiles} onChange={(e) => setWithFiles(e.currentTarget.checked)} /> include files</label>
        <button onClick={doExport}>Export</button>
        <span class={exported.error ? "error" : "muted"} data-testid="export-status">{exported.text}</span></p>
      <h3>Import</h3>
      <p class="toolbar"><input type="file" ref={file} accept=".zip" aria-label="Snapshot to import" />
        <label><input type="checkbox" checked={replace} onChange={(e) => setReplace(e.currentTarget.checked)} /> replace existing tables</label>
        <button onClick={doImport}>Import</button></p>
      {p && <progress max={p.total || 1} value={p.total ? p.done : undefined} aria-label="Import progress" />}{" "}
      <span class={imported.error ? "error" : ""} data-testid="import-status" aria-live="polite">{imported.text}</span>
    </>
  );
}
