// The documents grid: a table whose rows are virtualized (@tanstack/virtual-core), so 100,000
// loaded documents cost the DOM only the rows in view. Rows take the keyboard: arrows move,
// Enter opens, Space selects.
import { Virtualizer, elementScroll, observeElementOffset, observeElementRect } from "@tanstack/virtual-core";
import { useEffect, useLayoutEffect, useReducer, useRef, useState } from "preact/hooks";
import { cellText, fmtTime } from "./values.js";

const ROW_HEIGHT = 29;  // fixed by the stylesheet (.grid td): one line, no wrapping

function useVirtualizer(options) {
  const [, rerender] = useReducer((n) => n + 1, 0);
  const full = {
    scrollToFn: elementScroll, observeElementRect, observeElementOffset,
    estimateSize: () => ROW_HEIGHT, overscan: 25, onChange: () => rerender(), ...options,
  };
  const [v] = useState(() => new Virtualizer(full));
  v.setOptions(full);
  useLayoutEffect(() => v._didMount(), []);  // eslint-disable-line react-hooks/exhaustive-deps
  useLayoutEffect(() => { v._willUpdate(); });
  return v;
}

export function columnsOf(fields, rows) {
  const cols = ["_id", ...fields];
  for (const d of rows.slice(0, 500)) for (const k of Object.keys(d)) if (!cols.includes(k) && k !== "_creationTime") cols.push(k);
  cols.push("_creationTime");
  return cols;
}

export function Grid({ rows, columns, selected, onToggle, onToggleAll, onOpen, onNearEnd, scrollKey }) {
  const scrollRef = useRef(null);
  const focusAfter = useRef(null);
  const v = useVirtualizer({ count: rows.length, getScrollElement: () => scrollRef.current });
  const items = v.getVirtualItems();
  const last = items.length ? items[items.length - 1].index : -1;
  useEffect(() => { if (last >= rows.length - 60) onNearEnd(); }, [last, rows.length, onNearEnd]);
  useLayoutEffect(() => { if (scrollRef.current) scrollRef.current.scrollTop = 0; }, [scrollKey]);
  useLayoutEffect(() => {  // after the keyboard moved past the rendered rows
    if (focusAfter.current === null) return;
    const tr = scrollRef.current.querySelector(`tr.row[data-row="${focusAfter.current}"]`);
    if (tr) { tr.focus(); focusAfter.current = null; }
  });
  const move = (at, to) => {
    if (to < 0 || to >= rows.length) return;
    const tr = scrollRef.current.querySelector(`tr.row[data-row="${to}"]`);
    if (tr) tr.focus(); else { focusAfter.current = to; v.scrollToIndex(to); }
  };
  const onKeyDown = (e) => {
    const at = e.target.dataset && e.target.dataset.row;
    if (at === undefined) return;
    const i = +at;
    if (e.key === "Enter") onOpen(rows[i]);
    else if (e.key === " ") { e.preventDefault(); onToggle(rows[i]._id); }
    else if (e.key === "ArrowDown" || e.key === "ArrowUp") { e.preventDefault(); move(i, i + (e.key === "ArrowDown" ? 1 : -1)); }
    else if (e.key === "Home" || e.key === "End") { e.preventDefault(); move(i, e.key === "Home" ? 0 : rows.length - 1); }
  };
  const top = items.length ? items[0].start : 0;
  const bottom = items.length ? v.getTotalSize() - items[items.length - 1].end : 0;
  const allChecked = rows.length > 0 && rows.every((d) => selected.has(d._id));
  return (
    <div class="grid" id="grid" ref={scrollRef} tabindex={-1} aria-label="Documents" onKeyDown={onKeyDown}>
      <table data-testid="documents" aria-rowcount={rows.length}>
        <thead><tr>
          <th class="check"><input type="checkbox" aria-label="Select all loaded" checked={allChecked}
            onChange={(e) => onToggleAll(e.currentTarget.checked)} /></th>
          {columns.map((c) => <th key={c} scope="col">{c}</th>)}
        </tr></thead>
        <tbody>
          <tr class="spacer" style={{ height: top + "px" }} aria-hidden="true" />
          {items.map((item) => {
            const d = rows[item.index];
            const on = selected.has(d._id);
            return (
              <tr key={d._id} class={"row" + (on ? " selected" : "")} tabindex={0} data-row={item.index} data-index={item.index} data-id={d._id}
                ref={v.measureElement}
                aria-selected={on} onClick={() => onOpen(d)}>
                <td class="check"><input type="checkbox" aria-label={`Select ${d._id}`} checked={on}
                  onClick={(e) => { e.stopPropagation(); onToggle(d._id); }} /></td>
                {columns.map((c) => {
                  const t = c === "_creationTime" && d[c] ? fmtTime(d[c]) : cellText(d[c]);
                  return <td key={c} title={t}>{t}</td>;
                })}
              </tr>
            );
          })}
          <tr class="spacer" style={{ height: bottom + "px" }} aria-hidden="true" />
        </tbody>
      </table>
    </div>
  );
}
