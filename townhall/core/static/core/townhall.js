// Small enhancements of the staff pages. Everything works without this file; it only makes
// the live conversation view pleasant: it keeps the scroll position and opened status
// histories when htmx refreshes the history, and adds a character counter and Ctrl+Enter.
(function () {
  "use strict";

  // Polling elements (hx-trigger="every …" with data-poll-when-visible) skip their request
  // while the tab is hidden. An event handler instead of an hx-trigger filter: filters are
  // evaluated with eval, which the Content-Security-Policy forbids.
  document.addEventListener("htmx:beforeRequest", function (event) {
    var element = event.detail && event.detail.elt;
    if (
      document.visibilityState !== "visible" &&
      element &&
      element.hasAttribute &&
      element.hasAttribute("data-poll-when-visible")
    ) {
      event.preventDefault();
    }
  });

  var BOTTOM_TOLERANCE_PX = 48;
  var savedHistoryState = null;

  function historyElement() {
    return document.getElementById("history");
  }

  function isNearBottom(element) {
    return element.scrollHeight - element.scrollTop - element.clientHeight < BOTTOM_TOLERANCE_PX;
  }

  function saveHistoryState(forceBottom) {
    var history = historyElement();
    if (!history) {
      return;
    }
    var openKeys = [];
    history.querySelectorAll("details[open][data-details-key]").forEach(function (details) {
      openKeys.push(details.getAttribute("data-details-key"));
    });
    var pending = savedHistoryState;
    // A state no swap restored within a moment (a poll answered without content) is stale.
    if (pending && Date.now() - pending.savedAt < 2000) {
      // A second swap before the first one's content was restored (a poll and a reply
      // crossing): the page still shows the first swap's fresh, closed details, so keep
      // what the staff member had open and where they were before the first swap.
      savedHistoryState = {
        openKeys: pending.openKeys.concat(openKeys),
        stickToBottom: forceBottom || pending.stickToBottom,
        scrollTop: pending.scrollTop,
        savedAt: pending.savedAt,
      };
      return;
    }
    savedHistoryState = {
      openKeys: openKeys,
      stickToBottom: forceBottom || isNearBottom(history),
      scrollTop: history.scrollTop,
      savedAt: Date.now(),
    };
  }

  function restoreHistoryState() {
    var history = historyElement();
    if (!history) {
      return;
    }
    var state = savedHistoryState;
    savedHistoryState = null;
    if (!state) {
      history.scrollTop = history.scrollHeight;
      return;
    }
    state.openKeys.forEach(function (key) {
      var details = history.querySelector('details[data-details-key="' + CSS.escape(key) + '"]');
      if (details) {
        details.open = true;
      }
    });
    history.scrollTop = state.stickToBottom ? history.scrollHeight : state.scrollTop;
  }

  // Counts what the recipient gets: with data-counter-fill (placeholders and their values,
  // JSON) and data-counter-suffix (e.g. the signature) the text is completed the way the
  // server does it (inbox.actions.render_reply). Code points, like Python's len().
  function countedLength(textarea) {
    var text = textarea.value.trim();
    if (!text) {
      return 0;
    }
    var fill = textarea.getAttribute("data-counter-fill");
    if (fill) {
      var values = JSON.parse(fill);
      Object.keys(values).forEach(function (placeholder) {
        text = text.split(placeholder).join(values[placeholder]);
      });
    }
    var suffix = textarea.getAttribute("data-counter-suffix");
    if (suffix) {
      text = text.trimEnd() + suffix;
    }
    return Array.from(text).length;
  }

  function updateCounter(textarea) {
    var counter = document.getElementById(textarea.getAttribute("data-character-counter"));
    if (!counter) {
      return;
    }
    var maxLength = parseInt(
      textarea.getAttribute("data-counter-limit") || textarea.getAttribute("maxlength"),
      10
    );
    var length = countedLength(textarea);
    var isOver = length > maxLength;
    var text = length ? length + " / " + maxLength : "";
    var overText = counter.getAttribute("data-over-text");
    if (isOver && overText) {
      text += " – " + overText.replace("{over}", String(length - maxLength));
    }
    counter.textContent = text;
    counter.classList.toggle("is-over", isOver);
    if (textarea.hasAttribute("data-counter-limit")) {
      if (isOver) {
        textarea.setAttribute("aria-invalid", "true");
      } else {
        textarea.removeAttribute("aria-invalid");
      }
    }
  }

  function initialize(root) {
    root.querySelectorAll("textarea[data-character-counter]").forEach(updateCounter);
    if (root === document.body) {
      restoreHistoryState();
    }
  }

  // The poll replaces the whole history element; the reply form replaces it out of band.
  document.addEventListener("htmx:beforeSwap", function (event) {
    if (event.detail.target && event.detail.target.id === "history") {
      saveHistoryState(false);
    }
  });
  document.addEventListener("htmx:oobBeforeSwap", function (event) {
    if (event.detail.target && event.detail.target.id === "history") {
      // The staff member just sent a reply: show it.
      saveHistoryState(true);
    }
  });
  // Restored right after the swap, in the same task: htmx announces new content ("load")
  // only when it settles, 20 ms later, and until then the page showed the fresh history
  // with every status history closed and scrolled to the top.
  document.addEventListener("htmx:afterSwap", function (event) {
    if (event.target && event.target.id === "history") {
      restoreHistoryState();
    }
  });

  document.addEventListener("input", function (event) {
    if (event.target.matches && event.target.matches("textarea[data-character-counter]")) {
      updateCounter(event.target);
    }
  });

  document.addEventListener("keydown", function (event) {
    var target = event.target;
    if (
      event.key === "Enter" &&
      (event.ctrlKey || event.metaKey) &&
      target.matches &&
      target.matches("textarea[data-submit-on-ctrl-enter]") &&
      target.form
    ) {
      event.preventDefault();
      target.form.requestSubmit();
    }
  });

  // Sticky side panels keep --topbar-height from the top. The stylesheet assumes one row of
  // navigation; a staff member with many roles, a narrow window or a larger font wraps it,
  // so the bar's real height replaces the assumption (a CSSOM property, which the
  // Content-Security-Policy allows, unlike a style attribute).
  function trackTopbarHeight() {
    var topbar = document.querySelector(".topbar");
    if (!topbar || !window.ResizeObserver) {
      return;
    }
    new ResizeObserver(function () {
      document.body.style.setProperty("--topbar-height", topbar.offsetHeight + "px");
    }).observe(topbar);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", trackTopbarHeight);
  } else {
    trackTopbarHeight();
  }

  if (window.htmx) {
    window.htmx.onLoad(initialize);
  } else {
    document.addEventListener("DOMContentLoaded", function () {
      initialize(document.body);
    });
  }
})();
