// Tongban 通办 — progressive enhancement for every page (loaded with `defer`, after htmx).
// Every page already works as plain HTML forms; nothing here is required for that.
// No inline handlers and no eval: the Content-Security-Policy allows neither.
(function () {
  "use strict";

  // Lets the stylesheet tell "scripts ran" apart from "no JavaScript" (html[data-js="on"]).
  document.documentElement.dataset.js = "on";

  // The service worker makes the shell installable and gives an offline page (see sw.js).
  // Registered after the load event so it does not compete with the first page's own requests.
  function registerServiceWorker() {
    navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch(function () {
      // Not fatal: private windows and some embedded browsers refuse workers; the site still works.
    });
  }

  if ("serviceWorker" in navigator) {
    if (document.readyState === "complete") {
      registerServiceWorker();
    } else {
      window.addEventListener("load", registerServiceWorker, { once: true });
    }
  }

  // When an htmx request fails, the server retargets its error fragment into #messages
  // (HX-Retarget, see app/core/errors.py). Moving focus there makes screen readers read it and
  // scrolls it into view, instead of leaving the user on a button that seemingly did nothing
  // (WCAG 3.3.1 Error Identification, 4.1.3 Status Messages).
  // Only errors take focus: a success note should not pull the user away from where they are.
  function focusMessages(event) {
    var detail = event.detail || {};
    var target = detail.target;
    if (!target || target.id !== "messages") {
      return;
    }
    if (!detail.failed && !target.querySelector(".flash-error, [role='alert']")) {
      return;
    }
    if (!target.hasAttribute("tabindex")) {
      target.setAttribute("tabindex", "-1"); // focusable by script, not in the tab order
    }
    target.focus();
  }

  // "Print" buttons exist only where scripts run (the browser's own print works without them).
  document.querySelectorAll("[data-print]").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () {
      window.print();
    });
  });

  document.addEventListener("htmx:afterSwap", focusMessages);
  document.addEventListener("htmx:oobAfterSwap", focusMessages);
})();
