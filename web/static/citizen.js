// The citizen's page: follow the ticket live; when called, a sound and a vibration where the phone allows.
(function () {
  "use strict";
  var main = document.getElementById("ticket");
  if (!main || !window.EventSource) return;
  var status = main.dataset.status, calls = +main.dataset.calls || 0, audio = null;
  var btn = document.getElementById("sound");
  var AC = window.AudioContext || window.webkitAudioContext;
  // Browsers play sound only after a touch: offer the button while waiting.
  if (AC && status === "waiting") {
    btn.hidden = false;
    btn.onclick = function () { audio = audio || new AC(); audio.resume(); btn.hidden = true; };
  }
  function chime() {
    if (navigator.vibrate) navigator.vibrate([400, 200, 400, 200, 400]);
    if (!audio) return;
    [0, 0.45].forEach(function (t, i) {
      var o = audio.createOscillator(), g = audio.createGain(), at = audio.currentTime + t;
      o.frequency.value = i ? 660 : 880; o.connect(g); g.connect(audio.destination);
      g.gain.setValueAtTime(0.3, at); g.gain.exponentialRampToValueAtTime(0.001, at + 0.4);
      o.start(at); o.stop(at + 0.4);
    });
  }
  function show(s) {
    ["area", "number", "title", "line", "detail"].forEach(function (k) {
      document.getElementById(k).textContent = s[k] || "";
    });
    document.getElementById("note").textContent = s.note || "";
    document.body.className = "citizen st-" + s.status;
    document.title = "Số " + s.number + " · " + s.title;
    if (s.status === "called" && (status !== "called" || (s.call_count || 0) > calls)) chime();
    status = s.status; calls = s.call_count || 0;
    if (status !== "waiting") btn.hidden = true;
  }
  var es = new EventSource(main.dataset.events);
  es.addEventListener("state", function (ev) { show(JSON.parse(ev.data)); });
  es.addEventListener("end", function () { es.close(); });
})();
