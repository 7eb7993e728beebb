// The console's live part: sections redrawn from Server-Sent Events, durations ticking.
(function () {
  "use strict";
  var csrf = (document.querySelector('meta[name="csrf"]') || {}).content || "";
  var live = document.getElementById("live");
  function pad(n) { return (n < 10 ? "0" : "") + n; }
  function tick() {
    var now = Date.now();
    document.querySelectorAll(".since[data-since]").forEach(function (el) {
      var s = Math.max(0, Math.floor((now - Date.parse(el.dataset.since)) / 1000));
      var h = Math.floor(s / 3600), m = Math.floor(s / 60) % 60;
      el.textContent = (h ? h + ":" + pad(m) : m) + ":" + pad(s % 60);
    });
  }
  // Forms redrawn from a live update carry no token: add this session's before sending.
  document.addEventListener("submit", function (ev) {
    var f = ev.target;
    if (f.method.toLowerCase() === "post" && !f.querySelector('input[name="csrf"]')) {
      var i = document.createElement("input");
      i.type = "hidden"; i.name = "csrf"; i.value = csrf; f.appendChild(i);
    }
  });
  if (window.EventSource && document.getElementById("s-counters")) {
    var es = new EventSource("/console/events");
    es.addEventListener("section", function (ev) {
      var d = JSON.parse(ev.data), el = document.getElementById("s-" + d.s);
      if (el && !el.contains(document.activeElement)) { el.innerHTML = d.html; tick(); }
      else if (el) { el.dataset.stale = d.html; }
    });
    es.onopen = function () { live.classList.add("on"); };
    es.onerror = function () { live.classList.remove("on"); };
    // a section held back while someone typed in it is redrawn when they leave it
    document.addEventListener("focusout", function (ev) {
      setTimeout(function () {
        document.querySelectorAll("section[data-stale]").forEach(function (el) {
          if (!el.contains(document.activeElement)) { el.innerHTML = el.dataset.stale; delete el.dataset.stale; tick(); }
        });
      }, 0);
    });
  }
  tick();
  setInterval(tick, 1000);
})();
