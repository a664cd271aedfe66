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

  // --- composer extras ------------------------------------------------------------

  function composer() { return document.getElementById("composer"); }

  function insertAtCursor(textarea, text, from, to) {
    var start = from === undefined ? textarea.selectionStart : from;
    var end = to === undefined ? textarea.selectionEnd : to;
    textarea.setRangeText(text, start, end, "end");
    textarea.focus();
    textarea.dispatchEvent(new Event("input", { bubbles: true }));
  }

  // Countdowns of the reply windows, every second. When one ends while the page is
  // open, the composer is fetched again (it then offers what is still allowed); the
  // text being typed is kept.
  function formatLeft(ms, daysFormat) {
    var total = Math.max(0, Math.floor(ms / 1000));
    var days = Math.floor(total / 86400);
    var hours = Math.floor(total % 86400 / 3600);
    var minutes = Math.floor(total % 3600 / 60);
    var seconds = total % 60;
    var two = function (n) { return (n < 10 ? "0" : "") + n; };
    if (days) {
      var clock = two(hours) + ":" + two(minutes) + ":" + two(seconds);
      return (daysFormat || "%(days)s d %(time)s")
        .replace("%(days)s", days).replace("%(time)s", clock);
    }
    return hours + ":" + two(minutes) + ":" + two(seconds);
  }
  var refreshing = false;
  var refreshedFor = {};
  function refreshComposer(form) {
    if (refreshing || !window.htmx) { return; }
    refreshing = true;
    var textarea = form.querySelector("textarea");
    var kept = textarea ? textarea.value : "";
    htmx.ajax("GET", form.dataset.refreshUrl, { target: "#composer", select: "#composer", swap: "outerHTML" })
      .then(function () {
        var fresh = composer();
        var box = fresh && fresh.querySelector("textarea");
        if (box && kept && !box.value) { box.value = kept; }
      })
      .finally(function () { refreshing = false; });
  }
  function tick() {
    var form = composer();
    if (!form) { return; }
    var ended = false;
    form.querySelectorAll("[data-countdown]").forEach(function (node) {
      var end = node.dataset.countdown;
      var left = Date.parse(end) - Date.now();
      if (isNaN(left)) { return; }
      node.textContent = formatLeft(left, form.dataset.daysFormat);
      // Once per end time: a browser clock ahead of the server's must not loop.
      if (left <= 0 && !refreshedFor[end]) { refreshedFor[end] = true; ended = true; }
    });
    if (ended) { refreshComposer(form); }
  }
  setInterval(tick, 1000);

  // Canned replies: "/shortcut" then Tab, Enter or a click inserts the text.
  function cannedReplies() {
    var data = document.getElementById("canned-replies");
    try { return data ? JSON.parse(data.textContent) : []; } catch (e) { return []; }
  }
  function slashWord(textarea) {
    var before = textarea.value.slice(0, textarea.selectionStart);
    var match = /(^|\s)\/([\w-]*)$/.exec(before);
    return match ? { word: match[2], start: before.length - match[2].length - 1 } : null;
  }
  function suggestionBox() { return document.getElementById("canned-suggestions"); }
  function hideSuggestions() {
    var box = suggestionBox();
    if (box) { box.hidden = true; box.replaceChildren(); }
  }
  function showSuggestions(textarea) {
    var box = suggestionBox();
    var found = slashWord(textarea);
    if (!box || !found) { hideSuggestions(); return; }
    var word = found.word.toLowerCase();
    var matches = cannedReplies().filter(function (reply) {
      return reply.shortcut.indexOf(word) === 0;
    }).slice(0, 8);
    if (!matches.length) { hideSuggestions(); return; }
    box.replaceChildren.apply(box, matches.map(function (reply, index) {
      var item = document.createElement("li");
      item.setAttribute("role", "option");
      item.dataset.shortcut = reply.shortcut;
      item.className = index === 0 ? "active" : "";
      var code = document.createElement("code");
      code.textContent = "/" + reply.shortcut;
      var text = document.createElement("span");
      text.textContent = reply.text.length > 60 ? reply.text.slice(0, 60) + "…" : reply.text;
      item.append(code, " ", text);
      return item;
    }));
    box.hidden = false;
  }
  function expand(textarea, shortcut) {
    var found = slashWord(textarea);
    var reply = cannedReplies().find(function (r) { return r.shortcut === shortcut; });
    if (!found || !reply) { return false; }
    hideSuggestions();
    insertAtCursor(textarea, reply.text, found.start, textarea.selectionStart);
    return true;
  }
  document.addEventListener("input", function (event) {
    if (event.target.matches("#composer textarea")) { showSuggestions(event.target); }
  });
  document.addEventListener("keydown", function (event) {
    if (!event.target.matches("#composer textarea")) { return; }
    var box = suggestionBox();
    if (!box || box.hidden) { return; }
    var items = Array.from(box.children);
    var active = box.querySelector(".active") || items[0];
    var index = items.indexOf(active);
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      var next = items[(index + (event.key === "ArrowDown" ? 1 : items.length - 1)) % items.length];
      items.forEach(function (item) { item.classList.toggle("active", item === next); });
      event.preventDefault();
    } else if ((event.key === "Tab" || event.key === "Enter") && !event.ctrlKey && !event.metaKey) {
      if (expand(event.target, active.dataset.shortcut)) { event.preventDefault(); }
    } else if (event.key === "Escape") {
      hideSuggestions();
    }
  });
  document.addEventListener("mousedown", function (event) {
    var item = event.target.closest("#canned-suggestions li");
    if (!item) { return; }
    event.preventDefault();  // keep the textarea's cursor
    expand(document.getElementById("composer-text"), item.dataset.shortcut);
  });

  // Emoji picker: inserts at the cursor.
  document.addEventListener("click", function (event) {
    var toggle = event.target.closest("#composer .emoji-toggle");
    var grid = document.getElementById("emoji-grid");
    if (toggle && grid) {
      grid.hidden = !grid.hidden;
      toggle.setAttribute("aria-expanded", String(!grid.hidden));
      return;
    }
    var choice = event.target.closest("#emoji-grid [data-emoji]");
    if (choice) {
      insertAtCursor(document.getElementById("composer-text"), choice.dataset.emoji);
      return;
    }
    if (grid && !grid.hidden && !event.target.closest("#emoji-grid")) {
      grid.hidden = true;
    }
  });

  // Typing indicator: tell the server at most every 10 s while a reply is typed.
  var lastTyping = 0;
  document.addEventListener("input", function (event) {
    if (!event.target.matches("#composer textarea")) { return; }
    var form = event.target.form;
    var note = form.querySelector("[name=note]");
    if (!form.dataset.typingUrl || (note && note.checked) || !window.fetch) { return; }
    if (Date.now() - lastTyping < 10000) { return; }
    lastTyping = Date.now();
    var token = form.querySelector("[name=csrfmiddlewaretoken]");
    fetch(form.dataset.typingUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRFToken": token ? token.value : "" },
    }).catch(function () { /* only a nicety */ });
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
