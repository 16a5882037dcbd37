// A table's schema and indexes: each index with its state, and a backfill's progress while
// the index is being built.
import { validatorText } from "./values.js";

function Backfill({ index }) {
  const b = index.backfill;
  if (!b) return index.state;
  const label = b.total ? `${b.done.toLocaleString()} of ${b.total.toLocaleString()}` : `${b.done.toLocaleString()} documents`;
  return (
    <span class="backfill">
      {index.state} <progress max={b.total || undefined} value={b.total ? b.done : undefined}
        aria-label={`Backfill of ${index.name}: ${label}`} /> {label}
    </span>
  );
}

export function SchemaView({ info }) {
  return (
    <details data-testid="schema" open={info.indexes.some((i) => i.backfill)}>
      <summary>Schema and indexes</summary>
      <table>
        <thead><tr><th>Index</th><th>Fields</th><th>State</th></tr></thead>
        <tbody>
          {info.indexes.map((i) => (
            <tr key={i.name}><td>{i.name}</td><td>{i.fields.join(", ")}</td>
              <td data-index-state={i.name}><Backfill index={i} /></td></tr>
          ))}
          {(info.searchIndexes || []).map((i) => (
            <tr key={"s:" + i.indexDescriptor}><td>{i.indexDescriptor}</td><td>search: {i.searchField}</td>
              <td data-index-state={i.indexDescriptor}>{i.state ? <Backfill index={{ ...i, name: i.indexDescriptor }} /> : "enabled"}</td></tr>
          ))}
        </tbody>
      </table>
      <pre>{info.documentType ? validatorText(info.documentType) : "No schema for this table: any document is accepted."}</pre>
    </details>
  );
}
