// The inspector page's script: token form, controls and live upload progress.
// Every control calls the admin API route the CLI calls, with a JSON body (application/zip for a
// restore): the admin listener refuses form posts and other "simple" cross-site content types.
"use strict";

(function () {
  const body = document.body;
  const canister = body.dataset.canister;

  function flash(text, isError) {
    const box = document.getElementById("flash");
    box.textContent = text;
    box.className = isError ? "error" : "ok";
    box.hidden = false;
  }

  function showTokenPanel(message) {
    const panel = document.getElementById("token-panel");
    if (!document.querySelector("[data-login-page]")) panel.hidden = false;
    if (message) {
      const error = document.getElementById("token-error");
      error.textContent = message;
      error.hidden = false;
    }
    const input = document.getElementById("token-input");
    if (input) input.focus();
  }

  async function api(method, path, payload, contentType) {
    const init = { method: method, credentials: "same-origin", headers: {} };
    if (method !== "GET") {
      init.headers["Content-Type"] = contentType || "application/json";
      init.body = contentType ? payload : JSON.stringify(payload || {});
    }
    let response;
    try {
      response = await fetch(path, init);
    } catch (err) {
      flash("The emulator did not answer: " + err, true);
      throw err;
    }
    let data = null;
    const type = response.headers.get("Content-Type") || "";
    if (type.startsWith("application/json")) data = await response.json();
    if (response.status === 401) {
      showTokenPanel("The admin API asks for the token.");
      flash("Refused: " + ((data && data.error) || "admin token required"), true);
      throw new Error("unauthorised");
    }
    if (!response.ok) {
      flash(method + " " + path + " failed (" + response.status + "): " + ((data && data.error) || response.statusText), true);
      throw new Error("failed");
    }
    return data;
  }

  // -- token ----------------------------------------------------------------------------------------
  document.addEventListener("click", async function (event) {
    const target = event.target.closest("button, a");
    if (!target) return;
    if (target.id === "token-submit") {
      event.preventDefault();
      const token = document.getElementById("token-input").value;
      const error = document.getElementById("token-error");
      const response = await fetch("/inspector/session", {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ token: token }),
      });
      if (response.ok) {
        location.reload();
      } else {
        const data = await response.json().catch(function () { return {}; });
        error.textContent = data.error || "refused";
        error.hidden = false;
      }
    } else if (target.id === "forget-token") {
      await fetch("/inspector/session", {
        method: "DELETE",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json" },
        body: "{}",
      });
      location.reload();
    } else if (target.dataset.action) {
      event.preventDefault();
      try {
        await control(target);
      } catch (err) {
        /* already reported in #flash */
      }
    }
  });
  const tokenInput = document.getElementById("token-input");
  if (tokenInput) {
    tokenInput.addEventListener("keydown", function (event) {
      if (event.key === "Enter") document.getElementById("token-submit").click();
    });
  }

  // -- controls ---------------------------------------------------------------------------------------
  function parseSeconds(text) {
    const match = /^\s*(\d+(?:\.\d+)?)\s*(s|m|min|h|d)?\s*$/.exec(text);
    if (!match) throw new Error("duration like 90s, 31m, 2h or 1d");
    const unit = { s: 1, m: 60, min: 60, h: 3600, d: 86400 }[match[2] || "s"];
    return Number(match[1]) * unit;
  }

  function sectionCanister(el) {
    const section = el.closest("[data-canister-id]");
    return section ? section.dataset.canisterId : canister;
  }

  function value(id) {
    const el = document.getElementById(id);
    return el ? el.value.trim() : "";
  }

  async function control(el) {
    const action = el.dataset.action;
    const cid = encodeURIComponent(sectionCanister(el));
    if (action === "advance-clock") {
      let seconds;
      try {
        seconds = parseSeconds(value(el.dataset.input));
      } catch (err) {
        flash("Advance by a " + err.message, true);
        return;
      }
      await api("POST", "/canisters/" + cid + "/clock/advance", { seconds: seconds });
      location.reload();
    } else if (action === "upgrade") {
      const kind = value(el.dataset.input);
      await api("POST", "/canisters/" + cid + "/upgrade", kind ? { kind: kind } : {});
      location.reload();
    } else if (action === "reset-ask") {
      el.parentElement.querySelector(".confirm").hidden = false;
    } else if (action === "reset-cancel") {
      el.closest(".confirm").hidden = true;
    } else if (action === "reset-confirm") {
      await api("POST", "/canisters/" + cid + "/reset", {});
      location.reload();
    } else if (action === "restore") {
      const input = document.getElementById("restore-file");
      if (!input.files.length) {
        flash("Choose a snapshot zip first", true);
        return;
      }
      await api("PUT", "/snapshot", input.files[0], "application/zip");
      location.reload();
    } else if (action === "delete-fault") {
      await api("DELETE", "/faults/" + encodeURIComponent(el.dataset.rule), {});
      location.reload();
    } else if (action === "clear-faults") {
      await api("DELETE", "/faults", {});
      location.reload();
    } else if (action === "add-fault") {
      const rule = {
        action: value("fault-action"),
        endpoint: value("fault-endpoint"),
        method: value("fault-method") || "*",
      };
      const numbers = {
        count: "fault-count",
        probability: "fault-probability",
        reject_code: "fault-reject-code",
        http_status: "fault-http-status",
        latency_ms: "fault-latency",
      };
      for (const [key, id] of Object.entries(numbers)) {
        if (value(id) !== "") rule[key] = Number(value(id));
      }
      if (value("fault-reject-message")) rule.reject_message = value("fault-reject-message");
      await api("POST", "/faults", rule);
      location.reload();
    }
  }

  // -- live uploads -------------------------------------------------------------------------------
  function humanBytes(n) {
    const units = ["B", "KiB", "MiB", "GiB"];
    let size = n;
    let unit = 0;
    while (Math.abs(size) >= 1024 && unit < units.length - 1) {
      size /= 1024;
      unit += 1;
    }
    return unit === 0 ? size.toFixed(0) + " B" : size.toFixed(1) + " " + units[unit];
  }

  function humanDuration(ns) {
    if (ns === null || ns === undefined) return "—";
    const s = ns / 1e9;
    if (s < 60) return s.toFixed(1) + " s";
    if (s < 3600) return (s / 60).toFixed(1) + " min";
    return (s / 3600).toFixed(1) + " h";
  }

  function setText(row, selector, text) {
    const el = row.querySelector(selector);
    if (el) el.textContent = text;
  }

  let refreshing = false;
  async function refreshSections() {
    if (refreshing) return;
    refreshing = true;
    try {
      const response = await fetch(location.href, { credentials: "same-origin" });
      if (response.status === 401) {
        showTokenPanel("The admin API asks for the token.");
        return;
      }
      const doc = new DOMParser().parseFromString(await response.text(), "text/html");
      for (const id of ["live-sessions", "finished-sessions", "canister-now"]) {
        const fresh = doc.getElementById(id);
        const current = document.getElementById(id);
        if (fresh && current) current.replaceWith(document.importNode(fresh, true));
      }
    } finally {
      refreshing = false;
    }
  }

  function onBoard(board) {
    const live = document.getElementById("live-sessions");
    const shown = new Set(Array.from(live.querySelectorAll("tr[data-session]")).map(function (r) { return r.dataset.session; }));
    const incoming = new Set(board.active.map(function (s) { return s.session_id; }));
    const finishedHead = document.querySelector("#finished-sessions tr[data-session]");
    let changed = shown.size !== incoming.size;
    for (const id of incoming) if (!shown.has(id)) changed = true;
    for (const s of board.active) {
      const row = live.querySelector('tr[data-session="' + CSS.escape(s.session_id) + '"]');
      if (!row) continue;
      if (row.dataset.status !== s.status) changed = true;
      const bar = row.querySelector("progress[data-progress]");
      bar.max = s.total_size;
      bar.value = s.bytes_received;
      setText(row, "[data-percent]", s.progress_percentage.toFixed(0) + "%");
      setText(row, "[data-chunks]", s.chunks_received + " / " + s.chunk_count);
      setText(row, "[data-bytes]", humanBytes(s.bytes_received) + " / " + humanBytes(s.total_size));
      setText(row, "[data-rate]", s.bytes_per_second ? humanBytes(s.bytes_per_second) + "/s" : "—");
      setText(row, "[data-eta]", humanDuration(s.estimated_time_remaining_ns));
    }
    const newestFinished = board.finished.length ? board.finished[0] : null;
    if (newestFinished !== (finishedHead ? finishedHead.dataset.session : null)) changed = true;
    if (changed) refreshSections();
  }

  if (body.dataset.page === "uploads" && window.EventSource) {
    const state = document.getElementById("live-state");
    const source = new EventSource("/inspector/events");
    source.addEventListener("open", function () {
      state.textContent = "live";
      state.className = "live";
    });
    source.addEventListener("error", function () {
      state.textContent = "reconnecting…";
      state.className = "stale";
    });
    source.addEventListener("uploads", function (event) {
      onBoard(JSON.parse(event.data));
    });
    window.addEventListener("beforeunload", function () { source.close(); });
  }
})();
