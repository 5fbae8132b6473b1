// The shared inbox's small enhancements; every page works without them. Ctrl+Enter to send,
// the character counter and keeping the history's scroll position come from core/townhall.js
// (textarea[data-submit-on-ctrl-enter], textarea[data-character-counter], #history).
(function () {
  "use strict";

  // The last canned response put into a textarea, so that choosing another one (e.g. with
  // the arrow keys, which change a closed <select> at once) replaces it instead of piling up.
  var lastInsert = null;

  function insertCannedResponse(select) {
    var textarea = document.getElementById(select.getAttribute("data-canned-target"));
    var option = select.options[select.selectedIndex];
    if (!textarea || !option) {
      return;
    }
    var body = option.getAttribute("data-body") || "";
    var value = textarea.value;
    var start;
    var end;
    if (lastInsert && lastInsert.textarea === textarea && lastInsert.valueAfter === value) {
      start = lastInsert.start;
      end = lastInsert.end;
    } else if (textarea.getAttribute("data-touched")) {
      start = textarea.selectionStart;
      end = textarea.selectionEnd;
    } else {
      // Never focused: the caret position means nothing, add to the end.
      start = end = value.length;
      if (value && body) {
        body = (/\s$/.test(value) ? "" : "\n") + body;
      }
    }
    textarea.value = value.slice(0, start) + body + value.slice(end);
    lastInsert = {
      textarea: textarea,
      start: start,
      end: start + body.length,
      valueAfter: textarea.value,
    };
    textarea.setAttribute("data-touched", "1");
    textarea.setSelectionRange(start + body.length, start + body.length);
    // The preview and the character counter listen for input.
    textarea.dispatchEvent(new Event("input", { bubbles: true }));
  }

  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target.matches && target.matches("select[data-canned-target]")) {
      insertCannedResponse(target);
    }
  });

  // Enter in the picker (or picking with the mouse, which closes it) moves on to the text.
  document.addEventListener("keydown", function (event) {
    var target = event.target;
    if (event.key === "Enter" && target.matches && target.matches("select[data-canned-target]")) {
      var textarea = document.getElementById(target.getAttribute("data-canned-target"));
      if (textarea) {
        event.preventDefault();
        textarea.focus();
      }
    }
  });

  document.addEventListener("focusin", function (event) {
    var target = event.target;
    if (target.matches && target.matches("#reply-text")) {
      target.setAttribute("data-touched", "1");
    }
  });

  // The preview below the text box grows and shrinks while staff type; a history scrolled
  // to its end stays there, as in any chat app.
  var BOTTOM_TOLERANCE_PX = 48;
  var historyWasAtEnd = false;

  document.addEventListener("htmx:beforeSwap", function (event) {
    var history = document.getElementById("history");
    if (history && event.detail.target && event.detail.target.id === "reply-preview") {
      historyWasAtEnd =
        history.scrollHeight - history.scrollTop - history.clientHeight < BOTTOM_TOLERANCE_PX;
    }
  });

  document.addEventListener("htmx:afterSettle", function (event) {
    var history = document.getElementById("history");
    if (history && historyWasAtEnd && event.detail.target.id === "reply-preview") {
      history.scrollTop = history.scrollHeight;
      historyWasAtEnd = false;
    }
  });

  function isTyping() {
    var active = document.activeElement;
    return Boolean(
      active && (active.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(active.tagName))
    );
  }

  function hasModifier(event) {
    return event.ctrlKey || event.metaKey || event.altKey;
  }

  // "/" jumps to the search field of the list, as in many mail and chat tools.
  document.addEventListener("keydown", function (event) {
    if (event.key !== "/" || hasModifier(event) || isTyping()) {
      return;
    }
    var search = document.getElementById("inbox-search");
    if (search) {
      event.preventDefault();
      search.focus();
      search.select();
    }
  });

  // "j" and "k" move through the conversations (Enter opens one), as in mail clients.
  document.addEventListener("keydown", function (event) {
    if ((event.key !== "j" && event.key !== "k") || hasModifier(event) || isTyping()) {
      return;
    }
    var links = Array.prototype.slice.call(
      document.querySelectorAll("#inbox-list .inbox-row__link")
    );
    if (!links.length) {
      return;
    }
    var index = links.indexOf(document.activeElement);
    var next;
    if (index === -1) {
      next = event.key === "j" ? 0 : links.length - 1;
    } else {
      next = Math.max(0, Math.min(links.length - 1, index + (event.key === "j" ? 1 : -1)));
    }
    event.preventDefault();
    links[next].focus();
  });

  // The tab's title starts with the unread count, like mail clients, so that staff see new
  // messages while working in another tab. The count comes from the navigation badge, which
  // every live update of the list or conversation refreshes.
  var baseTitle = document.title.replace(/^\(\d+\) /, "");

  function showUnreadInTitle() {
    var badge = document.querySelector("#inbox-nav-unread .badge");
    var count = badge ? parseInt(badge.textContent, 10) : 0;
    document.title = count > 0 ? "(" + count + ") " + baseTitle : baseTitle;
  }

  document.addEventListener("htmx:afterSettle", showUnreadInTitle);
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", showUnreadInTitle);
  } else {
    showUnreadInTitle();
  }

  // A live update of the list keeps the focus on the same row: htmx refocuses the element
  // with the same id (conversation-link-<id>) after the swap.
})();
