/* Goes live from the microphone: opens the session, records with MediaRecorder in quarter-
   second slices and sends each slice as its own POST, one after another (Chromium streams
   a request body only over HTTP/2, and the server speaks HTTP/1.1), then ends it. The
   slices put together are one WebM (or Ogg) stream, which the server cuts for the
   loudspeakers. Without a microphone or MediaRecorder the page says so and stays idle. */
(function () {
  "use strict";
  var form = document.getElementById("live-form");
  var start = document.getElementById("live-start");
  var stop = document.getElementById("live-stop");
  var state = document.getElementById("live-state");
  if (!form || !window.MediaRecorder || !navigator.mediaDevices ||
      !navigator.mediaDevices.getUserMedia || !window.fetch) {
    return;
  }
  var csrf = form.querySelector("input[name=csrf_token]").value;
  var session = null;
  var recorder = null;
  var queue = [];
  var sending = false;
  var stopping = false;
  var onAir = false;
  var failed = false;
  var began = 0;
  var ticker = null;
  start.disabled = false;
  state.textContent = "Bấm «Bắt đầu phát trực tiếp» rồi nói vào micrô.";

  function kind() {
    var types = ["audio/webm;codecs=opus", "audio/ogg;codecs=opus", "audio/webm"];
    for (var i = 0; i < types.length; i++) {
      if (MediaRecorder.isTypeSupported(types[i])) { return types[i]; }
    }
    return "";
  }

  function seconds() { return Math.round((Date.now() - began) / 1000); }

  function say(text) { state.textContent = text; }

  function fail(text) {
    failed = true;
    if (recorder && recorder.state !== "inactive") { recorder.stop(); }
    clearInterval(ticker);
    say(text);
    start.disabled = false;
    stop.disabled = true;
  }

  function post(url, body) {
    return fetch(url, {
      method: "POST",
      body: body,
      credentials: "same-origin",
      headers: { "X-CSRF-Token": csrf, "Content-Type": "application/octet-stream" }
    }).then(function (response) {
      return response.json().then(function (data) {
        if (!response.ok) { throw new Error(data.detail || "Máy chủ từ chối."); }
        return data;
      });
    });
  }

  function finish() {
    post(session.end, new Blob([])).then(function (data) {
      clearInterval(ticker);
      say(data.failed ? "Không lên sóng được: " + data.failed
        : "Đã kết thúc phát trực tiếp sau " + seconds() + " giây. Bài nói đã được lưu.");
      start.disabled = false;
      start.textContent = "Phát trực tiếp lần nữa";
    }).catch(function (error) { fail("Chưa kết thúc được: " + error.message); });
  }

  function pump() {
    if (sending || failed) { return; }
    if (!queue.length) {
      if (stopping && recorder.state === "inactive") { stopping = false; finish(); }
      return;
    }
    sending = true;
    post(session.chunks, queue.shift()).then(function (data) {
      sending = false;
      if (data.on_air && !onAir) { onAir = true; }
      pump();
    }).catch(function (error) { sending = false; fail("Mất kết nối phát trực tiếp: " + error.message); });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    start.disabled = true;
    failed = false;
    onAir = false;
    say("Đang mở micrô…");
    navigator.mediaDevices.getUserMedia({ audio: true }).then(function (stream) {
      return fetch("/live/new", { method: "POST", body: new FormData(form), credentials: "same-origin" })
        .then(function (response) {
          return response.json().then(function (data) {
            if (!response.ok) { throw new Error(data.detail || "Máy chủ từ chối."); }
            return data;
          });
        })
        .then(function (data) {
          session = data;
          form.dataset.live = data.id;
          var type = kind();
          recorder = type ? new MediaRecorder(stream, { mimeType: type }) : new MediaRecorder(stream);
          queue = [];
          recorder.ondataavailable = function (e) { if (e.data.size) { queue.push(e.data); pump(); } };
          recorder.onstop = function () {
            stream.getTracks().forEach(function (track) { track.stop(); });
            pump();
          };
          began = Date.now();
          recorder.start(250);
          stop.disabled = false;
          ticker = setInterval(function () {
            say((onAir ? "Đang phát trực tiếp «" : "Đang lên sóng «") + session.title + "»… " + seconds() + " giây");
          }, 500);
        })
        .catch(function (error) {
          stream.getTracks().forEach(function (track) { track.stop(); });
          throw error;
        });
    }).catch(function (error) {
      fail(error && error.name === "NotAllowedError"
        ? "Không mở được micrô. Hãy cho phép dùng micrô rồi thử lại."
        : "Chưa phát được: " + (error && error.message ? error.message : error));
    });
  });

  stop.addEventListener("click", function () {
    stop.disabled = true;
    stopping = true;
    say("Đang kết thúc…");
    if (recorder && recorder.state !== "inactive") { recorder.stop(); } else { pump(); }
  });
})();
