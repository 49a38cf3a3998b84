/* Catalogue product page: Split, Merge and Move-to-group call the REST API with the session's
   CSRF token, then reload. Plain JS, no dependencies; CSP: no inline script. */
"use strict";

(function () {
  const $ = (sel, root) => (root || document).querySelector(sel);
  const $$ = (sel, root) => Array.from((root || document).querySelectorAll(sel));

  function flash(message) {
    const box = $("#flash");
    if (!box) return;
    box.textContent = message;
    box.classList.add("error");
    box.hidden = false;
  }

  async function call(url, body) {
    const meta = $('meta[name="csrf-token"]');
    const resp = await fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: { "Accept": "application/json", "Content-Type": "application/json",
                 "X-CSRF-Token": meta ? meta.getAttribute("content") : "" },
      body: JSON.stringify(body || {}),
    });
    let data = null;
    try { data = await resp.json(); } catch (e) { data = null; }
    if (!resp.ok) throw new Error((data && (data.message || data.detail)) || String(resp.status));
    return data;
  }

  async function act(button, what, url, body, next) {
    button.disabled = true;
    try {
      const out = await call(url, body);
      sessionStorage.setItem("flash", what + " done.");
      window.location.href = next(out);
    } catch (err) {
      flash(what + " failed: " + err.message);
      button.disabled = false;
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    const root = $("#entry");
    if (!root) return;
    const id = root.dataset.entryId;
    $$("button.split", root).forEach((b) => b.addEventListener("click", () =>
      act(b, "Split", "/api/v1/catalogue/observations/" + b.dataset.observationId + "/split", {},
          (out) => "/catalogue/" + out.entry_id)));
    const merge = $("#merge", root);
    if (merge) merge.addEventListener("click", () => {
      const into = Number($("#merge-into", root).value);
      act(merge, "Merge", "/api/v1/catalogue/" + id + "/merge", { into: into },
          (out) => "/catalogue/" + out.entry_id);
    });
    const regroup = $("#regroup", root);
    if (regroup) regroup.addEventListener("click", () => {
      const v = $("#group-to", root).value;
      act(regroup, "Move", "/api/v1/catalogue/" + id + "/group", { group_id: v ? Number(v) : null },
          (out) => "/products/" + out.group_id);
    });
  });
})();
