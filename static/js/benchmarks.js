/* Benchmark dashboard: draw the server-built figures; a click on a point opens its record (customdata[0]). */
(function () {
  var source = document.getElementById("benchmark-figures");
  if (!source || !window.Plotly) { return; }
  var figures = JSON.parse(source.textContent);
  Object.keys(figures).forEach(function (name) {
    var div = document.querySelector('[data-benchmark-figure="' + name + '"]');
    if (!div) { return; }
    var fig = JSON.parse(figures[name]);
    window.Plotly.newPlot(div, fig.data, fig.layout, { responsive: true, displaylogo: false }).then(function (gd) {
      gd.on("plotly_click", function (event) {
        var point = event.points && event.points[0];
        var url = point && point.customdata && point.customdata[0];
        if (url) { window.location.href = url; }
      });
    });
  });
})();
