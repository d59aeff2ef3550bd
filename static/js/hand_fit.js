/* Fitting by hand on the spectrum page: preview a fit (POST the form to its preview URL, draw the figures and
   the parameter table), let the user start from or fix values, then save through the form's own submit. */
(function () {
  "use strict";

  var PLOT_CONFIG = { responsive: true, displaylogo: false };

  function parsePairs(text) {
    var pairs = {};
    (text || "").split(/[,;\n]/).forEach(function (item) {
      var parts = item.split("=");
      if (parts.length === 2 && parts[0].trim()) { pairs[parts[0].trim()] = parts[1].trim(); }
    });
    return pairs;
  }

  function writePairs(input, pairs) {
    input.value = Object.keys(pairs).map(function (k) { return k + "=" + pairs[k]; }).join(", ");
  }

  function showErrors(form, box, payload) {
    form.querySelectorAll(".preview-field-error").forEach(function (el) { el.remove(); });
    box.textContent = payload.error || "The preview failed.";
    box.hidden = false;
    Object.keys(payload.fields || {}).forEach(function (name) {
      var input = form.querySelector('[name="' + name + '"]');
      var messages = payload.fields[name];
      if (!input || !messages.length) { return; }
      var list = document.createElement("ul");
      list.className = "errorlist preview-field-error";
      messages.forEach(function (m) { var li = document.createElement("li"); li.textContent = m.message || m; list.appendChild(li); });
      input.insertAdjacentElement("afterend", list);
    });
  }

  function syncValues(form, table) {
    var initial = {};
    var fixed = {};
    table.querySelectorAll("tbody tr").forEach(function (row) {
      var name = row.dataset.name;
      var start = row.querySelector("input[type=text]").value.trim();
      if (row.querySelector("input[type=checkbox]").checked) {
        fixed[name] = start || row.dataset.value;
      } else if (start) {
        initial[name] = start;
      }
    });
    writePairs(form.querySelector('[name="initial_values"]'), initial);
    writePairs(form.querySelector('[name="fixed"]'), fixed);
  }

  function fillTable(form, table, parameters) {
    var initial = parsePairs(form.querySelector('[name="initial_values"]').value);
    var fixed = parsePairs(form.querySelector('[name="fixed"]').value);
    var body = table.querySelector("tbody");
    body.innerHTML = "";
    parameters.forEach(function (p) {
      var row = document.createElement("tr");
      row.dataset.name = p.name;
      row.dataset.value = String(p.value);
      var cells = [p.name, p.text];
      cells.forEach(function (text, i) {
        var td = document.createElement("td");
        td.textContent = text;
        if (i === 1) { td.className = "num"; }
        row.appendChild(td);
      });
      var start = document.createElement("input");
      start.type = "text";
      start.size = 10;
      start.placeholder = String(Number(p.value.toPrecision(4)));
      start.value = fixed[p.name] || initial[p.name] || "";
      start.setAttribute("aria-label", "Start " + p.name + " from");
      var fix = document.createElement("input");
      fix.type = "checkbox";
      fix.checked = p.name in fixed;
      fix.setAttribute("aria-label", "Fix " + p.name);
      [start, fix].forEach(function (input) {
        var td = document.createElement("td");
        td.appendChild(input);
        row.appendChild(td);
        input.addEventListener("change", function () { syncValues(form, table); });
      });
      body.appendChild(row);
    });
  }

  function setup(form) {
    var button = form.querySelector("[data-preview-button]");
    var errorBox = form.querySelector("[data-preview-error]");
    var tableBox = form.querySelector("[data-preview-parameters]");
    var table = tableBox.querySelector("table");
    var summary = tableBox.querySelector("[data-preview-summary]");
    var figures = document.querySelector("[data-preview-figures]");
    button.addEventListener("click", function () {
      button.disabled = true;
      button.textContent = "Fitting…";
      errorBox.hidden = true;
      fetch(form.dataset.previewUrl, { method: "POST", body: new FormData(form), credentials: "same-origin" })
        .then(function (r) { return r.json().then(function (payload) { return { ok: r.ok, payload: payload }; }); })
        .then(function (answer) {
          if (!answer.ok) { showErrors(form, errorBox, answer.payload); return; }
          form.querySelectorAll(".preview-field-error").forEach(function (el) { el.remove(); });
          var p = answer.payload;
          fillTable(form, table, p.parameters);
          summary.textContent = p.summary;
          tableBox.hidden = false;
          figures.hidden = false;
          Object.keys(p.figures).forEach(function (name) {
            var div = figures.querySelector('[data-figure="' + name + '"]');
            var fig = JSON.parse(p.figures[name]);
            if (div && window.Plotly) { window.Plotly.react(div, fig.data, fig.layout, PLOT_CONFIG); }
          });
        })
        .catch(function () { showErrors(form, errorBox, { error: "The preview could not be reached; try again." }); })
        .then(function () { button.disabled = false; button.textContent = "Preview fit"; });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-hand-fit]").forEach(setup);
  });
})();
