// Charts: per-minute bars as SVG (each bar titled with its value, so it reads without a
// mouse), and time series through uPlot (axes, a cursor with values, small and fast).
import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";

export function BarChart({ values, testid, label }) {
  const max = Math.max(1, ...values);
  const n = values.length;
  return (
    <>
      <svg data-testid={testid} viewBox={`0 0 ${n * 10} 80`} width="100%" height="80" preserveAspectRatio="none"
        role="img" aria-label={`${label}, peak ${max}`} class="bars">
        {values.map((v, i) => (
          <rect key={i} x={i * 10} y={80 - (v / max) * 76} width="8" height={(v / max) * 76} fill="#3b6fd8">
            <title>{`${n - 1 - i} min ago: ${v}`}</title>
          </rect>
        ))}
        <line x1="0" y1="80" x2={n * 10} y2="80" stroke="#999" />
      </svg>
      <div class="muted">peak {max} per minute</div>
    </>
  );
}

const COLORS = ["#3b6fd8", "#c0392b", "#27ae60", "#8e44ad"];

// xs: seconds since the epoch; series: [{label, values}]
export function TimeChart({ xs, series, title, testid, unit = "" }) {
  const box = useRef(null);
  const plot = useRef(null);
  useEffect(() => {
    const row = box.current.closest(".charts") || box.current.parentElement;
    const width = Math.round(Math.max(260, Math.min(440, (row.clientWidth - 24) / 3)));
    const opts = {
      width, height: 150, title,
      scales: { x: { time: true } },
      axes: [{}, { values: (_u, ticks) => ticks.map((t) => t + unit), size: 56 }],
      series: [{}, ...series.map((s, i) => ({ label: s.label, stroke: COLORS[i % COLORS.length], width: 1.5,
        // a minute without calls has no duration: show each minute that has one as a point
        ...(s.values.some((v) => v === null) ? { points: { show: true, size: 5 } } : {}) }))],
    };
    plot.current = new uPlot(opts, [xs, ...series.map((s) => s.values)], box.current);
    return () => { plot.current.destroy(); plot.current = null; };
  }, [title, series.length]);  // eslint-disable-line react-hooks/exhaustive-deps
  useEffect(() => { if (plot.current) plot.current.setData([xs, ...series.map((s) => s.values)]); }, [xs, series]);
  const summary = series.map((s) => `${s.label}: peak ${Math.max(0, ...s.values.filter((v) => v !== null)).toLocaleString()}${unit}`).join(", ");
  return <figure class="chart" data-testid={testid} aria-label={`${title} over the last hour; ${summary}`}><div ref={box} /><figcaption class="muted">{summary}</figcaption></figure>;
}
