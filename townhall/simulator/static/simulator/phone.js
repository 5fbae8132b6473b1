// The simulator's phones: no inline scripts (the pages carry a strict Content-Security-Policy).
// Keep open pickers open and the chat scrolled to the newest message across htmx swaps.
(function () {
  var pending = {};
  function scrollToEnd(scroller) { scroller.scrollTop = scroller.scrollHeight; }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll(".messages").forEach(scrollToEnd);
  });
  document.addEventListener("htmx:beforeSwap", function (event) {
    var target = event.detail.target;
    if (!event.detail.shouldSwap || !target.classList || !target.classList.contains("thread")) return;
    var scroller = target.parentElement;
    var verb = event.detail.requestConfig && event.detail.requestConfig.verb;
    pending[target.id] = {
      open: Array.prototype.map.call(target.querySelectorAll("details[open]"), function (d) { return d.id; }),
      stick: verb === "post" || scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 80
    };
  });
  document.addEventListener("htmx:afterSettle", function () {
    Object.keys(pending).forEach(function (id) {
      var thread = document.getElementById(id);
      var state = pending[id];
      delete pending[id];
      if (!thread) return;
      state.open.forEach(function (detailsId) {
        var details = document.getElementById(detailsId);
        if (details) details.open = true;
      });
      if (state.stick) scrollToEnd(thread.parentElement);
    });
  });
  // After a successful send: empty the form and the attachment marker.
  document.addEventListener("htmx:afterRequest", function (event) {
    var form = event.detail.elt;
    if (!event.detail.successful || !form.matches || !form.matches("form.compose")) return;
    form.reset();
    var attach = form.querySelector(".attach");
    if (attach) attach.classList.remove("has-file");
  });
  // Mark the paper clip when a file is picked.
  document.addEventListener("change", function (event) {
    var input = event.target;
    if (!input.matches || !input.matches(".compose input[type=file]")) return;
    input.parentElement.classList.toggle("has-file", input.files.length > 0);
  });
})();
