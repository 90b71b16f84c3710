/* Records the announcement from the microphone with MediaRecorder, plays it back, and puts
   it in the form's file field, so the form sends it like a chosen file. Without a
   microphone or MediaRecorder the page is the plain file form. */
(function () {
  "use strict";
  var box = document.getElementById("recorder");
  var input = document.getElementById("file");
  if (!box || !input || !window.MediaRecorder || !navigator.mediaDevices ||
      !navigator.mediaDevices.getUserMedia || typeof DataTransfer === "undefined") {
    return;
  }
  var start = document.getElementById("record-start");
  var stop = document.getElementById("record-stop");
  var state = document.getElementById("record-state");
  var playback = document.getElementById("record-playback");
  var recorder = null;
  var chunks = [];
  var began = 0;
  var ticker = null;
  box.hidden = false;

  function kind() {
    var types = ["audio/webm;codecs=opus", "audio/ogg;codecs=opus", "audio/webm", "audio/mp4"];
    for (var i = 0; i < types.length; i++) {
      if (MediaRecorder.isTypeSupported(types[i])) { return types[i]; }
    }
    return "";
  }

  function seconds() { return Math.round((Date.now() - began) / 1000); }

  start.addEventListener("click", function () {
    navigator.mediaDevices.getUserMedia({ audio: true }).then(function (stream) {
      var type = kind();
      recorder = type ? new MediaRecorder(stream, { mimeType: type }) : new MediaRecorder(stream);
      chunks = [];
      recorder.ondataavailable = function (event) { if (event.data.size) { chunks.push(event.data); } };
      recorder.onstop = function () {
        stream.getTracks().forEach(function (track) { track.stop(); });
        clearInterval(ticker);
        var mime = recorder.mimeType || type || "audio/webm";
        var blob = new Blob(chunks, { type: mime });
        var ext = mime.indexOf("ogg") >= 0 ? "ogg" : mime.indexOf("mp4") >= 0 ? "m4a" : "webm";
        var transfer = new DataTransfer();
        transfer.items.add(new File([blob], "ghi-am." + ext, { type: mime }));
        input.files = transfer.files;
        playback.src = URL.createObjectURL(blob);
        playback.hidden = false;
        state.textContent = "Đã ghi " + seconds() + " giây. Nghe lại, rồi bấm «Gửi thông báo» (hoặc ghi lại).";
        start.disabled = false;
        start.textContent = "Ghi lại";
        stop.disabled = true;
      };
      began = Date.now();
      recorder.start(250);
      start.disabled = true;
      stop.disabled = false;
      state.textContent = "Đang ghi âm… 0 giây";
      ticker = setInterval(function () { state.textContent = "Đang ghi âm… " + seconds() + " giây"; }, 500);
    }).catch(function () {
      state.textContent = "Không mở được micrô. Hãy cho phép dùng micrô, hoặc chọn tệp âm thanh có sẵn bên dưới.";
    });
  });

  stop.addEventListener("click", function () {
    if (recorder && recorder.state !== "inactive") { recorder.stop(); }
  });
})();
