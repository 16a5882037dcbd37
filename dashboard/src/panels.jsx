// The data page's panels: a document to view and edit as JSON (the schema's error shows
// under it), documents to add, the selection to delete, the table to clear (confirmed by
// typing its name). Writes go through the admin API as ordinary transactions; the grid
// shows them through its live subscription, like any client's.
import { useRef, useState } from "preact/hooks";
import { errorText, post } from "./api.js";
import { ErrorLine, JsonEditor, Panel, showStatus } from "./ui.jsx";
import { fmtTime, int64WhereExpected } from "./values.js";

function parseJson(text) {
  try { return [JSON.parse(text), null]; } catch (e) { return [null, new Error("Not valid JSON: " + e.message)]; }
}

export function DocPanel({ doc, documentType, editable, onClose }) {
  const [error, setError] = useState(null);
  const editor = useRef(null);
  const value = Object.fromEntries(Object.entries(doc).filter(([k]) => k !== "_id" && k !== "_creationTime"));
  const save = async () => {
    const [parsed, bad] = parseJson(editor.current.value);
    if (bad) { setError(bad); return; }
    try {
      await post("/api/pyconvex/dashboard/replace", { id: doc._id, value: int64WhereExpected(documentType, parsed) });
      setError(null);
      showStatus("Saved " + doc._id, true);
    } catch (e) { setError(e); }
  };
  const remove = async () => {
    try {
      await post("/api/pyconvex/dashboard/delete", { ids: [doc._id] });
      onClose();
      showStatus("Deleted " + doc._id, true);
    } catch (e) { setError(e); }
  };
  return (
    <Panel testid="doc-panel" onClose={onClose} label={`Document ${doc._id}`}>
      <div class="toolbar"><b>{doc._id}</b><span class="muted">created {fmtTime(doc._creationTime)}</span>
        {!editable && <span class="muted">(as of an earlier time: read only)</span>}</div>
      <JsonEditor text={JSON.stringify(value, null, 2)} resetKey={doc._id} label="Document JSON" testid="doc-editor"
        readOnly={!editable} rows={12} onSubmit={save} editorRef={editor} />
      <ErrorLine error={error} testid="doc-error" />
      <div class="toolbar">
        {editable && <><button onClick={save}>Save</button><button class="danger" onClick={remove}>Delete document</button></>}
        <button onClick={onClose}>Close</button>
        {editable && <span class="muted">Ctrl+Enter saves, Escape closes</span>}
      </div>
    </Panel>
  );
}

function templateDoc(documentType) {
  if (!documentType || documentType.type !== "object") return {};
  const sample = { string: "", number: 0, boolean: false, array: [], object: {} };
  return Object.fromEntries(Object.entries(documentType.value).filter(([, f]) => !f.optional)
    .map(([k, f]) => [k, sample[f.fieldType.type] ?? null]));
}

export function AddPanel({ table, documentType, onClose }) {
  const [error, setError] = useState(null);
  const editor = useRef(null);
  const insert = async () => {
    const [parsed, bad] = parseJson(editor.current.value);
    if (bad) { setError(bad); return; }
    const docs = (Array.isArray(parsed) ? parsed : [parsed]).map((x) => int64WhereExpected(documentType, x));
    try {
      const { ids } = await post("/api/pyconvex/dashboard/insert", { table, documents: docs });
      onClose();
      showStatus(`Inserted ${ids.length} document${ids.length === 1 ? "" : "s"}.`, true);
    } catch (e) { setError(e); }
  };
  return (
    <Panel testid="add-panel" onClose={onClose} label={`Add to ${table}`}>
      <b>Add to {table}</b> <span class="muted">one JSON object, or an array of them</span>
      <JsonEditor text={JSON.stringify(templateDoc(documentType), null, 2)} resetKey={table} label="New documents JSON"
        rows={8} onSubmit={insert} editorRef={editor} />
      <ErrorLine error={error} testid="add-error" />
      <div class="toolbar"><button onClick={insert}>Insert</button><button onClick={onClose}>Cancel</button></div>
    </Panel>
  );
}

export function DeletePanel({ table, ids, onDone, onClose }) {
  const [error, setError] = useState(null);
  const n = ids.length;
  const confirm = async () => {
    try {
      await post("/api/pyconvex/dashboard/delete", { ids });
      onDone();
      showStatus(`Deleted ${n} document${n === 1 ? "" : "s"}.`, true);
    } catch (e) { setError(e); }
  };
  return (
    <Panel testid="delete-panel" onClose={onClose} label="Delete documents">
      Delete {n} document{n === 1 ? "" : "s"} from <b>{table}</b>?{" "}
      <button class="danger" onClick={confirm} ref={(el) => el && el.focus()}>Delete {n}</button>{" "}
      <button onClick={onClose}>Cancel</button>
      <div class="error">{error ? errorText(error) : ""}</div>
    </Panel>
  );
}

export function ClearPanel({ table, onClose }) {
  const [typed, setTyped] = useState("");
  const [error, setError] = useState(null);
  const confirm = async () => {
    try {
      const { deleted } = await post("/api/pyconvex/dashboard/clear", { table, confirm: typed });
      onClose();
      showStatus(`Cleared ${table}: ${deleted} documents deleted.`, true);
    } catch (e) { setError(e); }
  };
  return (
    <Panel testid="clear-panel" onClose={onClose} label={`Clear ${table}`}>
      This deletes every document of <b>{table}</b>. Type <code>{table}</code> to confirm:{" "}
      <input aria-label="Table name to confirm" value={typed} ref={(el) => el && !typed && el.focus()}
        onInput={(e) => setTyped(e.currentTarget.value)}
        onKeyDown={(e) => { if (e.key === "Enter" && typed === table) confirm(); }} />{" "}
      <button class="danger" disabled={typed !== table} onClick={confirm}>Clear {table}</button>{" "}
      <button onClick={onClose}>Cancel</button>
      <div class="error">{error ? errorText(error) : ""}</div>
    </Panel>
  );
}
