/* assbdb pages: draw server-built Plotly figures, poll job progress, add formset rows, drag-and-drop upload. */
(function () {
  "use strict";

  var PLOT_CONFIG = { responsive: true, displaylogo: false };

  function drawFigures(figures) {
    Object.keys(figures).forEach(function (name) {
      var div = document.querySelector('[data-figure="' + name + '"]');
      if (!div || !window.Plotly) { return; }
      var fig = typeof figures[name] === "string" ? JSON.parse(figures[name]) : figures[name];
      window.Plotly.react(div, fig.data, fig.layout, PLOT_CONFIG);
    });
  }

  function drawEmbeddedFigures(root) {
    var script = (root || document).querySelector("#figures-data");
    if (script) { drawFigures(JSON.parse(script.textContent)); }
  }

  // Replace the sections marked data-refresh with their fresh server-rendered versions.
  function refreshSections() {
    return fetch(window.location.href, { credentials: "same-origin" })
      .then(function (r) { return r.text(); })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        document.querySelectorAll("[data-refresh]").forEach(function (old) {
          var fresh = doc.getElementById(old.id);
          if (fresh) { old.innerHTML = fresh.innerHTML; }
        });
      });
  }

  function refreshFigures(url) {
    if (!url) { return Promise.resolve(); }
    return fetch(url, { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : { figures: {} }; })
      .then(function (payload) { drawFigures(payload.figures || {}); });
  }

  function updateJobRow(job) {
    var row = document.querySelector('[data-job-id="' + job.id + '"]');
    if (!row) { return; }
    var bar = row.querySelector("progress");
    if (bar) { bar.max = job.progress_total || 1; bar.value = job.progress_done; }
    var state = row.querySelector(".job-state");
    if (state) { state.textContent = job.state_label; state.className = "job-state badge state-" + job.state; }
    var pct = row.querySelector(".job-percent");
    if (pct) { pct.textContent = job.progress_percent + " %"; }
    var err = row.querySelector(".job-error");
    if (err) { err.textContent = job.error || ""; }
  }

  function pollJobs(panel) {
    var ids = (panel.dataset.jobIds || "").split(",").filter(Boolean);
    if (!ids.length) { return; }
    var url = panel.dataset.statusUrl + "?ids=" + ids.join(",");
    var interval = parseInt(panel.dataset.interval || "1500", 10);
    var tick = function () {
      fetch(url, { credentials: "same-origin" })
        .then(function (r) { return r.json(); })
        .then(function (payload) {
          payload.jobs.forEach(updateJobRow);
          if (payload.all_finished) {
            panel.dataset.finished = "true";
            // Sections first (they may hold plot containers), then the figures from the plot-data endpoint.
            refreshSections().then(function () { return refreshFigures(panel.dataset.plotsUrl); }).then(function () {
              panel.classList.add("done");
              document.dispatchEvent(new CustomEvent("assbdb:jobs-finished"));
            });
          } else {
            window.setTimeout(tick, interval);
          }
        })
        .catch(function () { window.setTimeout(tick, interval * 2); });
    };
    window.setTimeout(tick, interval);
  }

  // Formsets: clone the empty form with a fresh index.
  function setupFormsets() {
    document.querySelectorAll("[data-formset]").forEach(function (box) {
      var prefix = box.dataset.formset;
      var total = box.querySelector('input[name="' + prefix + '-TOTAL_FORMS"]');
      var template = box.querySelector("template");
      var body = box.querySelector("[data-formset-body]");
      var button = box.querySelector("[data-add-row]");
      if (!total || !template || !body || !button) { return; }
      button.addEventListener("click", function () {
        var index = parseInt(total.value, 10);
        var html = template.innerHTML.replace(/__prefix__/g, String(index));
        body.insertAdjacentHTML("beforeend", html);
        total.value = String(index + 1);
      });
    });
  }

  // Upload: drop files on the zone to put them in the file input.
  function setupDropZones() {
    document.querySelectorAll("[data-drop-zone]").forEach(function (zone) {
      var input = zone.querySelector('input[type="file"]');
      var name = zone.querySelector("[data-file-name]");
      var show = function () {
        if (name && input.files.length) {
          name.textContent = Array.prototype.map.call(input.files, function (f) { return f.name; }).join(", ");
        }
      };
      input.addEventListener("change", show);
      ["dragenter", "dragover"].forEach(function (ev) {
        zone.addEventListener(ev, function (e) { e.preventDefault(); zone.classList.add("dragging"); });
      });
      ["dragleave", "drop"].forEach(function (ev) {
        zone.addEventListener(ev, function (e) { e.preventDefault(); zone.classList.remove("dragging"); });
      });
      zone.addEventListener("drop", function (e) {
        if (e.dataTransfer && e.dataTransfer.files.length) { input.files = e.dataTransfer.files; show(); }
      });
    });
  }

  // Compare: enable the button only for 2-6 ticked rows.
  function setupCompareForms() {
    document.querySelectorAll("[data-compare-form]").forEach(function (form) {
      var button = form.querySelector("[data-compare-button]");
      var update = function () {
        var n = form.querySelectorAll('input[name="ids"]:checked').length;
        if (button) { button.disabled = n < 2 || n > 6; button.textContent = "Compare selected (" + n + ")"; }
      };
      form.addEventListener("change", update);
      update();
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    drawEmbeddedFigures(document);
    document.querySelectorAll("[data-job-panel]").forEach(function (panel) {
      if (panel.dataset.active === "true") { pollJobs(panel); }
    });
    setupFormsets();
    setupDropZones();
    setupCompareForms();
  });
})();
