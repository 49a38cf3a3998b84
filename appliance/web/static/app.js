/* Supplier mail appliance dashboard: keyboard navigation, evidence highlighting, the review
   form (corrections, approve, reject) and retries. Plain JS, no dependencies; every change goes
   to the REST API with the session's CSRF token (X-CSRF-Token). CSP: no inline script. */
"use strict";

(function () {
  const $ = (sel, root) => (root || document).querySelector(sel);
  const $$ = (sel, root) => Array.from((root || document).querySelectorAll(sel));

  function csrfToken() {
    const meta = $('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  let flashTimer = null;
  function flash(message, isError) {
    const box = $("#flash");
    if (!box) return;
    box.textContent = message;
    box.classList.toggle("error", !!isError);
    box.hidden = false;
    clearTimeout(flashTimer);
    flashTimer = setTimeout(() => { box.hidden = true; }, isError ? 8000 : 3000);
  }

  // Show a message left by the previous page (after a save that reloads).
  const pending = sessionStorage.getItem("flash");
  if (pending) {
    sessionStorage.removeItem("flash");
    document.addEventListener("DOMContentLoaded", () => flash(pending, false));
  }

  async function api(method, url, body) {
    const headers = { "Accept": "application/json", "X-CSRF-Token": csrfToken() };
    const init = { method: method, headers: headers, credentials: "same-origin" };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const resp = await fetch(url, init);
    let data = null;
    try { data = await resp.json(); } catch (e) { data = null; }
    if (!resp.ok) {
      const msg = (data && (data.message || data.detail)) || resp.status + " " + resp.statusText;
      throw new Error(msg);
    }
    return data;
  }

  function typing(ev) {
    const t = ev.target;
    return t && (t.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(t.tagName));
  }

  // ---- lists: j/k move, Enter/o open, row click opens ------------------------------------
  function setupList(table) {
    const rows = $$("tbody tr[data-href]", table);
    let cursor = -1;
    function move(to) {
      if (!rows.length) return;
      cursor = Math.max(0, Math.min(rows.length - 1, to));
      rows.forEach((r, i) => r.classList.toggle("cursor", i === cursor));
      rows[cursor].scrollIntoView({ block: "nearest" });
    }
    rows.forEach((row) => {
      row.addEventListener("click", (ev) => {
        if (ev.target.closest("a, button, input, select")) return;
        window.location.href = row.dataset.href;
      });
    });
    return {
      next: () => move(cursor + 1),
      prev: () => move(cursor - 1),
      open: () => { if (cursor >= 0) window.location.href = rows[cursor].dataset.href; },
      first: () => rows.length ? rows[0].dataset.href : null,
    };
  }

  // ---- offer page ------------------------------------------------------------------------
  function setupOffer(root) {
    const offerId = root.dataset.offerId;
    const nextUrl = root.dataset.nextUrl;
    const fieldRows = $$("tr.field[data-key]", root).filter((r) => r.dataset.key);
    let cursor = -1;

    function marksOf(key) {
      return $$("mark[data-keys]", root).filter((m) => m.dataset.keys.split(" ").includes(key));
    }
    function highlight(key, on) {
      marksOf(key).forEach((m) => m.classList.toggle("hl", on));
    }
    function showSpan(key) {
      const marks = marksOf(key);
      if (!marks.length) { flash("This value is not marked in the mails shown.", false); return; }
      $$("mark.hl", root).forEach((m) => m.classList.remove("hl"));
      marks.forEach((m) => m.classList.add("hl"));
      marks[0].scrollIntoView({ block: "center", behavior: "smooth" });
    }
    fieldRows.forEach((row) => {
      row.addEventListener("mouseenter", () => highlight(row.dataset.key, true));
      row.addEventListener("mouseleave", () => highlight(row.dataset.key, false));
    });
    $$("button.show-span", root).forEach((b) => b.addEventListener("click", () => showSpan(b.dataset.key)));
    $$("mark[data-keys]", root).forEach((m) => {
      const keys = m.dataset.keys.split(" ");
      const rowsOf = () => fieldRows.filter((r) => keys.includes(r.dataset.key));
      m.addEventListener("mouseenter", () => rowsOf().forEach((r) => r.classList.add("hl")));
      m.addEventListener("mouseleave", () => rowsOf().forEach((r) => r.classList.remove("hl")));
      m.addEventListener("click", () => { const r = rowsOf()[0]; if (r) r.scrollIntoView({ block: "center" }); });
    });
    function moveField(to) {
      if (!fieldRows.length) return;
      cursor = Math.max(0, Math.min(fieldRows.length - 1, to));
      fieldRows.forEach((r, i) => r.classList.toggle("cursor", i === cursor));
      fieldRows[cursor].scrollIntoView({ block: "nearest" });
      $$("mark.hl", root).forEach((m) => m.classList.remove("hl"));
      highlight(fieldRows[cursor].dataset.key, true);
    }

    // -- editing --
    const form = $("#edit-form", root);
    const btn = { edit: $("#edit", root), save: $("#save", root), cancel: $("#cancel", root),
                  approve: $("#approve", root), reject: $("#reject", root) };
    const editing = () => root.classList.contains("editing");
    function setEditing(on) {
      if (!btn.edit) return;
      root.classList.toggle("editing", on);
      btn.edit.hidden = on;
      btn.save.hidden = !on;
      btn.cancel.hidden = !on;
      if (on) {
        const first = $("input.edit", form);
        if (first) first.focus();
      }
    }

    function parseValue(input) {
      const raw = input.value.trim();
      if (raw === "") return null;
      if (input.type === "number") {
        const n = Number(raw);
        return Number.isFinite(n) ? n : raw;
      }
      return raw;
    }
    function same(a, b) {
      if (a === null || a === undefined) return b === null || b === undefined;
      if (b === null || b === undefined) return false;
      if (typeof a === "number" || typeof b === "number") return Number(a) === Number(b);
      if (typeof a === "object" && typeof b === "object") {
        const keys = new Set(Object.keys(a).concat(Object.keys(b)));
        for (const k of keys) if (!same(a[k], b[k])) return false;
        return true;
      }
      return a === b;
    }
    function partsValue(span) {
      const out = {};
      let any = false;
      $$("[data-part]", span).forEach((el) => {
        const v = el.tagName === "SELECT" ? (el.value || null) : parseValue(el);
        out[el.dataset.part] = v;
        if (v !== null && el.tagName !== "SELECT") any = true;
      });
      return any ? out : null;
    }

    function collect() {
      const body = { fields: {}, items: {}, add_items: [], remove_items: [] };
      let n = 0;
      $$("input.edit[data-field]", form).forEach((input) => {
        const orig = JSON.parse(input.dataset.orig);
        const value = parseValue(input);
        const changed = !same(orig, value);
        input.classList.toggle("changed", changed);
        if (!changed) return;
        n++;
        if (input.dataset.item === undefined) body.fields[input.dataset.field] = value;
        else (body.items[input.dataset.item] = body.items[input.dataset.item] || {})[input.dataset.field] = value;
      });
      $$("span.parts[data-field]", form).forEach((span) => {
        const orig = JSON.parse(span.dataset.orig);
        const value = partsValue(span);
        const changed = !same(orig, value);
        $$("[data-part]", span).forEach((el) => el.classList.toggle("changed", changed));
        if (!changed) return;
        n++;
        (body.items[span.dataset.item] = body.items[span.dataset.item] || {})[span.dataset.field] = value;
      });
      $$("input.remove-item:checked", form).forEach((box) => { body.remove_items.push(Number(box.dataset.item)); n++; });
      $$("fieldset.new-item", form).forEach((fs) => {
        const item = {};
        $$("input[data-field]", fs).forEach((input) => {
          const v = parseValue(input);
          if (v !== null) item[input.dataset.field] = v;
        });
        if (Object.keys(item).length) { body.add_items.push(item); n++; }
      });
      const comment = $("#comment", root);
      if (comment && comment.value.trim()) body.comment = comment.value.trim();
      for (const k of ["fields", "items"]) if (!Object.keys(body[k]).length) delete body[k];
      for (const k of ["add_items", "remove_items"]) if (!body[k].length) delete body[k];
      return { body: body, changes: n };
    }

    let busy = false;
    async function run(what, fn) {
      if (busy) return false;
      busy = true;
      Object.values(btn).forEach((b) => { if (b) b.disabled = true; });
      try {
        await fn();
        return true;
      } catch (err) {
        flash(what + " failed: " + err.message, true);
        return false;
      } finally {
        busy = false;
        Object.values(btn).forEach((b) => { if (b) b.disabled = false; });
      }
    }

    async function save(reload) {
      const c = collect();
      if (!c.changes) { flash("Nothing changed.", false); return true; }
      return run("Saving", async () => {
        const out = await api("POST", "/api/v1/offers/" + offerId + "/corrections", c.body);
        const n = (out.applied || []).length;
        const msg = n ? "Saved " + n + " correction" + (n === 1 ? "" : "s") + "." : "No value changed.";
        if (reload) { sessionStorage.setItem("flash", msg); window.location.reload(); }
        else flash(msg, false);
      });
    }

    async function approve() {
      if (editing() && collect().changes) {
        if (!(await save(false))) return;
      }
      await run("Approving", async () => {
        await api("POST", "/api/v1/offers/" + offerId + "/approve", {});
        sessionStorage.setItem("flash", "Offer " + offerId + " approved.");
        window.location.href = nextUrl;
      });
    }

    async function reject() {
      const reasonBox = $("#reject-reason", root);
      const reason = reasonBox ? reasonBox.value.trim() : "";
      if (!reason) { flash("Give a reason to reject.", true); if (reasonBox) reasonBox.focus(); return; }
      await run("Rejecting", async () => {
        await api("POST", "/api/v1/offers/" + offerId + "/reject", { reason: reason });
        sessionStorage.setItem("flash", "Offer " + offerId + " rejected.");
        window.location.href = nextUrl;
      });
    }

    if (btn.edit) {
      btn.edit.addEventListener("click", () => setEditing(true));
      btn.cancel.addEventListener("click", () => { form.reset(); $("#new-items").textContent = ""; setEditing(false); });
      btn.save.addEventListener("click", () => save(true));
      btn.approve.addEventListener("click", approve);
      btn.reject.addEventListener("click", reject);
      form.addEventListener("input", () => collect());
      form.addEventListener("change", (ev) => {
        if (ev.target.classList.contains("remove-item")) {
          const pos = ev.target.dataset.item;
          $$('tr.field[data-path^="items[' + pos + ']."]', form).forEach((r) => r.classList.toggle("removed", ev.target.checked));
        }
      });
      form.addEventListener("submit", (ev) => { ev.preventDefault(); save(true); });
      const tpl = $("#new-item-template");
      $("#add-item", root).addEventListener("click", () => {
        const node = tpl.content.firstElementChild.cloneNode(true);
        $("button.drop-new", node).addEventListener("click", () => node.remove());
        $("#new-items", root).appendChild(node);
        const first = $("input", node);
        if (first) first.focus();
      });
    }

    return {
      key(ev) {
        if (ev.key === "Escape" && editing()) { btn.cancel.click(); return true; }
        if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) { if (editing()) save(true); return true; }
        if (typing(ev)) return false;
        switch (ev.key) {
          case "e": if (btn.edit) setEditing(true); return true;
          case "s": if (editing()) save(true); return true;
          case "a": if (btn.approve) approve(); return true;
          case "n": window.location.href = nextUrl; return true;
          case "j": moveField(cursor + 1); return true;
          case "k": moveField(cursor - 1); return true;
          case "Enter": case "o": if (cursor >= 0) showSpan(fieldRows[cursor].dataset.key); return true;
          default: return false;
        }
      },
    };
  }

  // ---- failed mails: retry ---------------------------------------------------------------
  function setupRetry() {
    $$("button.retry[data-mail-id]").forEach((b) => {
      b.addEventListener("click", async () => {
        b.disabled = true;
        try {
          await api("POST", "/api/v1/mails/" + b.dataset.mailId + "/retry");
          sessionStorage.setItem("flash", "Mail " + b.dataset.mailId + " queued for extraction again.");
          window.location.reload();
        } catch (err) {
          flash("Retry failed: " + err.message, true);
          b.disabled = false;
        }
      });
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    const page = document.body.dataset.page;
    const table = $("table.nav-list");
    const list = table ? setupList(table) : null;
    const offerRoot = $("#offer");
    const offer = offerRoot ? setupOffer(offerRoot) : null;
    setupRetry();

    document.addEventListener("keydown", (ev) => {
      if (ev.altKey) return;
      if (offer) { if (offer.key(ev)) ev.preventDefault(); return; }
      if (typing(ev) || ev.ctrlKey || ev.metaKey) return;
      if (!list) return;
      let handled = true;
      switch (ev.key) {
        case "j": list.next(); break;
        case "k": list.prev(); break;
        case "Enter": case "o": list.open(); break;
        case "n": {
          if (page === "review") { const first = list.first(); if (first) window.location.href = first; }
          else handled = false;
          break;
        }
        case "/": { const q = $('input[type="search"]'); if (q) q.focus(); else handled = false; break; }
        default: handled = false;
      }
      if (handled) ev.preventDefault();
    });
  });
})();
