// A table's schema and indexes: each index with its state, live over the sync protocol
// (_system/frontend/indexes), and a backfill's progress, read every second from the server's
// progress board (documents done of the table's count). A deploy backfills a new index before
// it commits the schema, so an index on the board and not yet in the list shows as one.
import { useEffect, useRef, useState } from "preact/hooks";
import { api } from "./api.js";
import { watchIndexes } from "./live.js";
import { reportError } from "./ui.jsx";
import { validatorText } from "./values.js";

const PROGRESS_MS = 1000;

function Backfill({ name, state, progress }) {
  if (!progress) return state;
  const { done, total } = progress;
  const label = total ? `${done.toLocaleString()} of ${total.toLocaleString()}` : `${done.toLocaleString()} documents`;
  return (
    <span class="backfill">
      {state} <progress max={total || undefined} value={total ? done : undefined} aria-label={`Backfill of ${name}: ${label}`} /> {label}
    </span>
  );
}

export function SchemaView({ info }) {
  const [live, setLive] = useState(null);  // name -> {state, stats} from the sync query
  const [board, setBoard] = useState({});  // name -> {done, total} from GET progress
  useEffect(() => watchIndexes(info.name, (list) => {
    setLive(Object.fromEntries(list.map((i) => [i.name, { fields: i.fields, backfill: i.backfill }])));
  }, reportError), [info.name]);
  const stateOf = (i) => {
    const l = live && live[i.name];
    if (!l) return i.state;
    return l.backfill && l.backfill.state === "backfilling" ? "backfilling" : "enabled";
  };
  useEffect(() => {
    const read = () => api("/api/pyconvex/dashboard/progress").then(({ work }) => setBoard(Object.fromEntries(
      work.filter((w) => w.kind === "index" && w.table === info.name).map((w) => [w.index, { done: w.done, total: w.total }]))))
      .catch(reportError);
    const timer = setInterval(read, PROGRESS_MS);
    return () => clearInterval(timer);
  }, [info.name]);
  const names = new Set([...info.indexes.map((i) => i.name), ...Object.keys(live || {}), ...Object.keys(board)]);
  const indexes = [...names].map((name) => info.indexes.find((i) => i.name === name)
    || { name, fields: live && live[name] ? live[name].fields : [], state: "backfilling", backfill: null });
  const progressOf = (i) => {
    if (board[i.name]) return board[i.name];
    if (stateOf(i) !== "backfilling") return null;
    const l = live && live[i.name];
    const stats = l && l.backfill && l.backfill.stats;
    return i.backfill || (stats ? { done: stats.numDocsIndexed, total: stats.totalDocs } : null);
  };
  const running = Object.keys(board).length > 0;
  const details = useRef(null);
  useEffect(() => { if (running && details.current) details.current.open = true; }, [running]);
  return (
    <details data-testid="schema" ref={details}>
      <summary>Schema and indexes</summary>
      <table>
        <thead><tr><th>Index</th><th>Fields</th><th>State</th></tr></thead>
        <tbody>
          {indexes.map((i) => (
            <tr key={i.name}><td>{i.name}</td><td>{i.fields.join(", ")}</td>
              <td data-index-state={i.name}><Backfill name={i.name} state={board[i.name] ? "backfilling" : stateOf(i)} progress={progressOf(i)} /></td></tr>
          ))}
          {(info.searchIndexes || []).map((i) => (
            <tr key={"s:" + i.indexDescriptor}><td>{i.indexDescriptor}</td><td>search: {i.searchField}</td><td>enabled</td></tr>
          ))}
        </tbody>
      </table>
      <pre>{info.documentType ? validatorText(info.documentType) : "No schema for this table: any document is accepted."}</pre>
    </details>
  );
}
