/* Keeps render-job progress bars up to date by polling /jobs/progress every 1.5 s.
   Without JavaScript the page still shows each job's state when it is loaded. */
(function () {
  "use strict";
  var boxes = Array.prototype.slice.call(document.querySelectorAll("[data-job]"));
  var delay = 1500;

  function active() {
    return boxes.filter(function (box) { return box.getAttribute("data-finished") !== "1"; });
  }

  function part(box, role) { return box.querySelector('[data-role="' + role + '"]'); }

  function show(box, job) {
    var bar = box.querySelector("progress");
    if (bar) { bar.value = job.progress; bar.textContent = job.progress + "%"; }
    part(box, "status").textContent = job.status_text;
    part(box, "stage").textContent = job.stage_text;
    part(box, "stage-part").hidden = job.stage_text === job.status_text;
    part(box, "percent").textContent = job.progress;
    var error = part(box, "error");
    error.textContent = job.error || "";
    error.hidden = !job.error;
    var done = part(box, "done");
    if (done) { done.hidden = job.status !== "done"; }
    box.className = "job job-" + job.status;
    if (job.finished) {
      box.setAttribute("data-finished", "1");
      // The item page shows the player once the audio exists.
      if (box.getAttribute("data-reload") === "1" && job.status === "done") { window.location.reload(); }
    }
  }

  function poll() {
    var waiting = active();
    if (!waiting.length) { return; }
    var ids = waiting.map(function (box) { return box.getAttribute("data-job"); });
    fetch("/jobs/progress?ids=" + ids.join(","), {
      credentials: "same-origin",
      headers: { "Accept": "application/json" }
    }).then(function (response) {
      if (!response.ok) { throw new Error(String(response.status)); }
      return response.json();
    }).then(function (data) {
      delay = 1500;
      data.jobs.forEach(function (job) {
        waiting.forEach(function (box) {
          if (box.getAttribute("data-job") === String(job.id)) { show(box, job); }
        });
      });
      window.setTimeout(poll, delay);
    }).catch(function () {
      delay = Math.min(delay * 2, 30000);  // offline or logged out: ask less often
      window.setTimeout(poll, delay);
    });
  }

  if (active().length && window.fetch) { window.setTimeout(poll, delay); }
})();
