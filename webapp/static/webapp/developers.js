/* The Developers pages: Copy buttons for a secret shown once, confirmations, and forms sent once.
   Without this script the pages still work: the secret sits selected-ready in a read-only input, and actions
   go through without the question. */
(function () {
  "use strict";

  function selectForCopy(input, status) {
    input.focus();
    input.select();
    status.textContent = "Selected: press Ctrl+C (⌘C on a Mac) to copy it.";
  }

  document.querySelectorAll("button[data-copy]").forEach(function (button) {
    var input = document.getElementById(button.dataset.copy);
    var status = document.getElementById(button.dataset.status);
    if (!input || !status) { return; }
    button.hidden = false;
    button.addEventListener("click", function () {
      if (!navigator.clipboard || !window.isSecureContext) { selectForCopy(input, status); return; }
      navigator.clipboard.writeText(input.value).then(
        function () { status.textContent = "Copied."; },
        function () { selectForCopy(input, status); });
    });
  });

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.dataset.sending) { event.preventDefault(); return; }  // a second click while the first is on its way
    if (form.dataset.confirm && !window.confirm(form.dataset.confirm)) { event.preventDefault(); return; }
    form.dataset.sending = "1";
  });

  // Coming back with the Back button shows the page as it was left: let its forms be sent again.
  window.addEventListener("pageshow", function () {
    document.querySelectorAll("form[data-sending]").forEach(function (form) { delete form.dataset.sending; });
  });
})();
