// notification.js keeps the notification page's progress current while a
// campaign sends. Without it the page shows a Refresh link and nothing
// moves by itself (no meta refresh: it takes control away from the reader
// and screen readers restart the page). With it, every data-interval
// seconds the page is fetched again, its progress section swapped in, and
// the new counts said once in a polite live region.
"use strict";

(function () {
  var live = document.getElementById("notification-live");
  if (!live) {
    return;
  }
  var seconds = parseInt(live.getAttribute("data-interval"), 10);
  if (!(seconds >= 5)) {
    return;
  }

  function summary(section) {
    var parts = [];
    section.querySelectorAll(".stats .stat").forEach(function (stat) {
      var dt = stat.querySelector("dt");
      var dd = stat.querySelector("dd");
      if (dt && dd) {
        parts.push(dt.textContent.trim() + " " + dd.textContent.trim());
      }
    });
    return parts.join(", ");
  }

  function update() {
    fetch(window.location.href, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (res) {
        if (!res.ok) {
          throw new Error("status " + res.status);
        }
        return res.text();
      })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        var fresh = doc.getElementById("notification-progress-section");
        var old = document.getElementById("notification-progress-section");
        if (fresh && old) {
          old.replaceWith(document.importNode(fresh, true));
          live.textContent = (live.getAttribute("data-updated") || "") + " " + summary(fresh);
        }
        var state = doc.querySelector(".state");
        var oldState = document.querySelector(".state");
        if (state && oldState) {
          oldState.textContent = state.textContent;
        }
        // The campaign ended (or was paused): no more updates.
        if (doc.getElementById("notification-live")) {
          window.setTimeout(update, seconds * 1000);
        }
      })
      .catch(function () {
        // Try again later; the Refresh link still works.
        window.setTimeout(update, seconds * 1000);
      });
  }

  window.setTimeout(update, seconds * 1000);
})();
