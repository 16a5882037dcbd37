// Navigation and the admin key prompt.
async function show(view) {
  for (const stop of stopView) stop();
  stopView = [];
  showStatus("");
  for (const b of $$("nav button")) { b.classList.toggle("active", b.dataset.view === view); b.setAttribute("aria-current", b.dataset.view === view ? "page" : "false"); }
  try { await views[view](); } catch (e) {
    if (e instanceof ApiError && (e.code === "BadAdminKey" || e.code === "Unauthorized")) { sessionStorage.removeItem("pyconvexAdminKey"); $("#login").hidden = false; }
    $("#view").innerHTML = `<p class="error">${esc(errorText(e))}</p>`;
  }
}
for (const b of $$("nav button")) b.onclick = () => show(b.dataset.view);
$("#save-key").onclick = () => { key = $("#key").value.trim(); sessionStorage.setItem("pyconvexAdminKey", key); $("#login").hidden = true; show("data"); };
$("#key").onkeydown = (e) => { if (e.key === "Enter") $("#save-key").click(); };
if (!key) $("#login").hidden = false; else show("data");
