// The dashboard's shell: the admin key prompt, the page list (buttons, keyboard reachable, the
// current one marked), the status bar, and the page shown.
import { render } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { getKey, setKey } from "./api.js";
import { DataPage } from "./data.jsx";
import { FunctionsPage } from "./functions.jsx";
import { HealthPage } from "./health.jsx";
import { InsightsPage } from "./insights.jsx";
import { LogsPage } from "./logs.jsx";
import { CronsPage, EnvPage, FilesPage, SchedulesPage } from "./ops.jsx";
import { SnapshotsPage } from "./snapshots.jsx";
import { onAuthFailure, showStatus, useStatus } from "./ui.jsx";
import "./style.css";

const PAGES = [
  ["data", "Data", DataPage],
  ["functions", "Run a function", FunctionsPage],
  ["logs", "Logs", LogsPage],
  ["schedules", "Schedules", SchedulesPage],
  ["crons", "Cron jobs", CronsPage],
  ["files", "Files", FilesPage],
  ["env", "Environment", EnvPage],
  ["snapshots", "Snapshots", SnapshotsPage],
  ["health", "Health", HealthPage],
  ["insights", "Insights", InsightsPage],
];

function Login({ onKey }) {
  const [value, setValue] = useState("");
  const open = () => onKey(value.trim());
  return (
    <div id="login">
      <p>Admin key (printed by <code>pyconvex dev</code> / <code>serve</code>):</p>
      <input id="key" size={60} data-testid="admin-key" aria-label="Admin key" value={value} type="password"
        ref={(el) => el && !value && el.focus()}
        onInput={(e) => setValue(e.currentTarget.value)} onKeyDown={(e) => { if (e.key === "Enter") open(); }} />{" "}
      <button id="save-key" onClick={open}>Open</button>
    </div>
  );
}

function StatusBar() {
  const s = useStatus();
  return <div id="status" role="alert" data-testid="status" class={s.ok ? "ok" : ""} hidden={!s.message}>{s.message}</div>;
}

function App() {
  const [key, setKeyState] = useState(getKey());
  const [page, setPage] = useState("data");
  const [session, setSession] = useState(0);  // a new key remounts the page
  const main = useRef(null);
  useEffect(() => onAuthFailure(() => { setKey(""); setKeyState(""); }), []);
  const [visit, setVisit] = useState(0);  // choosing a page, even the shown one, loads it afresh
  const go = (name) => { showStatus(""); setPage(name); setVisit((n) => n + 1); };
  const Page = PAGES.find(([name]) => name === page)[2];
  return (
    <>
      <a class="skip" href="#main" onClick={(e) => { e.preventDefault(); main.current.focus(); }}>Skip to the page</a>
      <nav aria-label="Dashboard pages" class="pages">
        <h1>pyconvex</h1>
        {PAGES.map(([name, label]) => (
          <button key={name} data-view={name} class={name === page ? "active" : ""} aria-current={name === page ? "page" : undefined}
            onClick={() => go(name)}>{label}</button>
        ))}
      </nav>
      <main id="main" ref={main} tabindex={-1}>
        {!key && <Login onKey={(k) => { setKey(k); setKeyState(k); setSession((n) => n + 1); go("data"); }} />}
        <StatusBar />
        {key && <Page key={`${page}:${session}:${visit}`} />}
      </main>
    </>
  );
}

render(<App />, document.getElementById("app"));
