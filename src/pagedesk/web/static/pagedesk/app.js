// pagedesk: keyboard navigation of the inbox list, auto-submitting pickers, the
// composer's note toggle. Everything works without it; this only saves clicks.
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  function typing(target) {
    return target.closest("input, textarea, select, [contenteditable]") !== null;
  }

  function rows() {
    return Array.from(document.querySelectorAll("[data-keynav] .row"));
  }

  function focusRow(row) {
    rows().forEach(function (r) { r.classList.toggle("focused", r === row); });
    if (row) {
      row.scrollIntoView({ block: "nearest" });
      row.querySelector("a").focus({ preventScroll: true });
    }
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) {
      return;
    }
    var all = rows();
    if (!all.length) { return; }
    var current = document.querySelector("[data-keynav] .row.focused") ||
      document.querySelector("[data-keynav] .row.selected");
    var index = all.indexOf(current);
    if (event.key === "j") {
      focusRow(all[Math.min(index + 1, all.length - 1)]);
      event.preventDefault();
    } else if (event.key === "k") {
      focusRow(all[Math.max(index - 1, 0)]);
      event.preventDefault();
    } else if (event.key === "Enter" && current && !event.target.closest("a, button")) {
      current.querySelector("a").click();
      event.preventDefault();
    }
  });

  // Opening a row: mark it selected and read at once (the server marks it read).
  document.addEventListener("click", function (event) {
    var link = event.target.closest("[data-keynav] .row-link");
    if (!link) { return; }
    var row = link.closest(".row");
    rows().forEach(function (r) { r.classList.toggle("selected", r === row); });
    row.classList.remove("unread");
    var badge = row.querySelector(".unread-badge");
    if (badge) { badge.remove(); }
  });

  // Pickers and switchers submit as soon as a choice is made.
  document.addEventListener("change", function (event) {
    var form = event.target.closest("form[data-autosubmit]");
    var select = event.target.matches("select[data-autosubmit]") ? event.target.form : null;
    (form || select) && (form || select).requestSubmit();
  });

  // The composer: note mode changes colour and button; Ctrl+Enter sends.
  document.addEventListener("change", function (event) {
    if (!event.target.matches("#composer [name=note]")) { return; }
    var form = event.target.form;
    var button = form.querySelector("button[type=submit]");
    form.classList.toggle("as-note", event.target.checked);
    button.textContent = event.target.checked ? button.dataset.note : button.dataset.send;
  });
  document.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey) &&
        event.target.matches("#composer textarea")) {
      event.preventDefault();
      event.target.form.requestSubmit();
    }
  });

  // htmx does not swap error answers: say that something went wrong.
  function failed(event) {
    var status = event.detail.xhr ? " (" + event.detail.xhr.status + ")" : "";
    var flash = document.querySelector(".flash") || document.createElement("ul");
    flash.className = "flash";
    flash.setAttribute("role", "alert");
    var item = document.createElement("li");
    item.className = "error";
    item.textContent = document.body.dataset.requestFailed + status;
    flash.replaceChildren(item);
    if (!flash.parentNode) {
      document.querySelector("header.top").after(flash);
    }
  }
  document.addEventListener("htmx:responseError", failed);
  document.addEventListener("htmx:sendError", failed);

  // Keep the newest message in view after the pane is loaded or swapped.
  function scrollThread() {
    var thread = document.getElementById("thread");
    if (thread) { thread.scrollTop = thread.scrollHeight; }
  }
  document.addEventListener("DOMContentLoaded", scrollThread);
  function syncSelected() {
    var open = document.querySelector("#pane [data-conversation]");
    rows().forEach(function (r) {
      r.classList.toggle("selected", !!open && r.dataset.id === open.dataset.conversation);
    });
  }
  document.addEventListener("htmx:afterSettle", function (event) {
    var target = event.detail.target;
    if (target && target.id === "pane") { scrollThread(); }
    syncSelected();
  });

  // Live updates: the workspace's event stream (server-sent events). The browser
  // reconnects by itself and sends Last-Event-ID, so nothing is missed. Any change
  // refreshes the list; a change in the open conversation refreshes its thread only,
  // so a reply being typed is never lost.
  var inbox = document.querySelector("[data-live-stream]");
  if (inbox && window.EventSource && window.htmx) {
    var stream = new EventSource(inbox.getAttribute("data-live-stream"));
    var pending = null;
    var refreshThread = false;
    var onEvent = function (event) {
      var data = {};
      try { data = JSON.parse(event.data || "{}"); } catch (e) { return; }
      var open = document.querySelector(".conversation[data-conversation]");
      // "reset": the stream could not resume where it stopped, so refresh everything.
      if (event.type === "reset" ||
          (open && String(data.conversation_id) === open.getAttribute("data-conversation"))) {
        refreshThread = true;
      }
      if (pending) { return; }
      // Coalesce bursts: one refresh for everything that arrived within 150 ms.
      pending = setTimeout(function () {
        pending = null;
        htmx.trigger(document.body, "inbox-changed");
        var current = document.querySelector(".conversation[data-conversation]");
        if (refreshThread && current) {
          var url = "/inbox/c/" + current.getAttribute("data-conversation") + "/";
          htmx.ajax("GET", url, { target: "#thread", select: "#thread", swap: "outerHTML" });
        }
        refreshThread = false;
      }, 150);
    };
    ["message.created", "message.updated", "conversation.created",
      "conversation.updated", "note.created", "reset"].forEach(function (kind) {
      stream.addEventListener(kind, onEvent);
    });
    inbox.setAttribute("data-live", "connecting");
    stream.onopen = function () { inbox.setAttribute("data-live", "on"); };
    stream.onerror = function () { inbox.setAttribute("data-live", "reconnecting"); };
  }
})();
