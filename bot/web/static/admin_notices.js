/* Linli staff desk: a notice's delivery progress, kept up to date without reloading the page.
   Loaded by templates/admin/notice.html (the CSP allows no inline script). Every 2 s it asks
   /admin/notices/{id}/progress and updates the <progress> bar, the counts and the status text
   (role="status", aria-live="polite": a screen reader hears a change, not every poll). It stops
   once the delivery is finished, and after a few failed polls (the page's link reloads it). */
(function () {
  "use strict";

  var box = document.querySelector("[data-progress-url]");
  if (!box || !window.fetch || !window.JSON) {
    return;
  }
  var url = box.getAttribute("data-progress-url");
  var seconds = Number(box.getAttribute("data-poll-seconds")) || 2;
  var bar = box.querySelector("progress");
  var live = box.querySelector("[data-live]");
  var status = document.querySelector("[data-status]");
  var failures = 0;
  var MAX_FAILURES = 5;

  function setText(element, text) {
    if (element && element.textContent !== text) {
      element.textContent = text;
    }
  }

  function show(data) {
    if (bar) {
      bar.max = Math.max(Number(data.total) || 0, 1);
      bar.value = Number(data.done) || 0;
      bar.textContent = String(data.done) + " / " + String(data.total);
    }
    var counts = data.counts || {};
    Object.keys(counts).forEach(function (name) {
      setText(box.querySelector('[data-count="' + name + '"]'), String(counts[name]));
    });
    setText(live, String(data.text || ""));
    setText(status, String(data.status_text || ""));
  }

  function schedule() {
    window.setTimeout(poll, seconds * 1000);
  }

  function poll() {
    fetch(url, {
      credentials: "same-origin",
      cache: "no-store",
      redirect: "error",
      headers: { Accept: "application/json" }
    })
      .then(function (response) {
        if (!response.ok) {
          throw new Error("HTTP " + response.status);
        }
        return response.json();
      })
      .then(function (data) {
        failures = 0;
        show(data);
        if (!data.finished) {
          schedule();
        }
      })
      .catch(function () {
        failures += 1;
        if (failures < MAX_FAILURES) {
          schedule();
        }
      });
  }

  if (box.getAttribute("data-finished") !== "true") {
    schedule();
  }
})();
