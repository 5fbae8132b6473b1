// The composer: tells the preview whether a file is chosen (files are not uploaded for the
// preview and the autosave, only when a button saves the post).
(function () {
  "use strict";
  document.addEventListener("change", function (event) {
    var input = event.target;
    if (!input.matches || !input.matches('#composer input[type="file"][name="attachment"]')) {
      return;
    }
    var name = document.getElementById("attachment-name");
    if (name) {
      name.value = input.files && input.files.length ? input.files[0].name : "";
    }
  });
})();
