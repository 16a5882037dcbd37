// Pieces every page uses: the status bar's store, a loader hook that shows its error where
// the data would be, a JSON editor, the confirmation panel, and the escape-to-close key.
import { useCallback, useEffect, useLayoutEffect, useRef, useState } from "preact/hooks";
import { errorText, isAuthError } from "./api.js";

// The status bar (one message, an error unless ok): any page may set it.
const listeners = new Set();
let current = { message: "", ok: false };
export function showStatus(message, ok = false) {
  current = { message, ok };
  for (const l of listeners) l(current);
}
export function useStatus() {
  const [s, set] = useState(current);
  useEffect(() => { listeners.add(set); return () => listeners.delete(set); }, []);
  return s;
}

// A rejected admin key: the app shows the key prompt.
let authFailed = () => {};
export const onAuthFailure = (fn) => { authFailed = fn; };
export function reportError(e) {
  if (isAuthError(e)) authFailed(e);
  showStatus(errorText(e));
}

// load() runs on mount and whenever deps change; reload() runs it again on demand.
export function useLoad(load, deps) {
  const [state, setState] = useState({ data: null, error: null, loading: true });
  const gen = useRef(0);
  const run = useCallback(async () => {
    const mine = ++gen.current;
    try {
      const data = await load();
      if (mine === gen.current) setState({ data, error: null, loading: false });
    } catch (e) {
      if (isAuthError(e)) authFailed(e);
      if (mine === gen.current) setState((s) => ({ data: s.data, error: e, loading: false }));
    }
  }, deps);  // eslint-disable-line react-hooks/exhaustive-deps
  useEffect(() => { run(); }, [run]);
  return { ...state, reload: run };
}

// fn every ms milliseconds while the component is shown (figures that move on their own).
export function useEvery(ms, fn) {
  useEffect(() => {
    const timer = setInterval(fn, ms);
    return () => clearInterval(timer);
  }, [ms, fn]);
}

export const ErrorLine = ({ error, testid }) => (
  <div class="error" data-testid={testid} role={error ? "alert" : undefined}>{error ? errorText(error) : ""}</div>
);

export function Loading({ state, children }) {
  if (state.error && !state.data) return <p class="error" role="alert">{errorText(state.error)}</p>;
  if (!state.data) return <p class="muted">loading…</p>;
  return children(state.data);
}

// A textarea whose initial text is also its text content (what a reader of the DOM sees);
// `resetKey` puts the text back after the thing it edits changes.
export function JsonEditor({ text, resetKey, label, testid, readOnly, rows = 10, onSubmit, editorRef }) {
  const ref = useRef(null);
  useLayoutEffect(() => {
    ref.current.textContent = text;
    ref.current.value = text;
  }, [resetKey]);  // eslint-disable-line react-hooks/exhaustive-deps
  useEffect(() => { if (editorRef) editorRef.current = ref.current; });
  return (
    <textarea ref={ref} rows={rows} aria-label={label} data-testid={testid} readOnly={readOnly} spellcheck={false}
      onKeyDown={(e) => { if (onSubmit && e.key === "Enter" && (e.ctrlKey || e.metaKey)) { e.preventDefault(); onSubmit(); } }} />
  );
}

// Escape closes the innermost open panel; listening from the moment the panel is in the
// page (a layout effect), so an Escape pressed right after it shows is not missed.
export function useEscape(close) {
  useLayoutEffect(() => {
    const onKey = (e) => { if (e.key === "Escape") close(); };
    document.addEventListener("keydown", onKey);
    return () => document.removeEventListener("keydown", onKey);
  }, [close]);
}

export function Panel({ testid, children, onClose, label }) {
  const ref = useRef(null);
  useEscape(onClose || (() => {}));
  return <section class="panel" data-testid={testid} ref={ref} aria-label={label}>{children}</section>;
}

export function Card({ label, value, testid }) {
  return <div class="card" data-testid={testid}>{label}<b>{value}</b></div>;
}
