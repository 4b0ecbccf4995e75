// Progressive enhancement: the page is complete without this. With it, every [data-refresh] element is
// re-fetched from its fragment URL and replaced when it changed; polling pauses while the tab is hidden.
(function () {
  "use strict";
  var every = parseInt(document.body.getAttribute("data-refresh-ms"), 10) || 2000;
  var busy = false;
  function stamp() {
    var el = document.getElementById("updated");
    if (el) { el.textContent = "live, as of " + new Date().toLocaleTimeString(); }
  }
  function refresh() {
    if (busy || document.hidden) { return; }
    var targets = Array.prototype.slice.call(document.querySelectorAll("[data-refresh]"));
    busy = true;
    Promise.all(targets.map(function (el) {
      return fetch(el.getAttribute("data-refresh"), {credentials: "same-origin", cache: "no-store"})
        .then(function (r) { return r.ok ? r.text() : null; })
        .then(function (html) {
          if (html !== null && el.getAttribute("data-html") !== html) {
            var log = el.querySelector("pre.log");
            var atEnd = !log || log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
            el.innerHTML = html;
            el.setAttribute("data-html", html);
            var fresh = el.querySelector("pre.log");
            if (fresh && atEnd) { fresh.scrollTop = fresh.scrollHeight; }
            if (el.querySelector("[data-stop-refresh]")) { el.removeAttribute("data-refresh"); }
          }
        })
        .catch(function () { /* the server went away: keep what is shown, try again next time */ });
    })).then(function () { busy = false; stamp(); });
  }
  var log = document.querySelector("pre.log");
  if (log) { log.scrollTop = log.scrollHeight; }
  setInterval(refresh, every);
})();
