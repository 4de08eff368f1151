// Draws a partner scorecard's charts from the JSON the page carries (#scorecard-charts).
// The tables beside them hold the same numbers, so the page reads without the charts.
(function () {
  "use strict";

  function draw() {
    var source = document.getElementById("scorecard-charts");
    if (!source || typeof Chart === "undefined") {
      return;
    }
    var data = JSON.parse(source.textContent);
    var percent = { y: { min: 0, max: 100, ticks: { callback: function (v) { return v + "%"; } } } };
    var whole = { y: { beginAtZero: true, ticks: { precision: 0 } } };

    function chart(id, config) {
      var canvas = document.getElementById(id);
      if (canvas) {
        canvas.chart = new Chart(canvas, config);
      }
    }

    chart("chart-trend", {
      type: "line",
      data: {
        labels: data.trend.labels,
        datasets: [
          { label: "Accepted", data: data.trend.acceptance, spanGaps: true },
          { label: "Within SLA", data: data.trend.sla, spanGaps: true }
        ]
      },
      options: { scales: percent }
    });
    chart("chart-funnel", {
      type: "bar",
      data: { labels: data.funnel.labels, datasets: [{ label: "Leads", data: data.funnel.values }] },
      options: { indexAxis: "y", scales: { x: { beginAtZero: true, ticks: { precision: 0 } } }, plugins: { legend: { display: false } } }
    });
    chart("chart-response", {
      type: "bar",
      data: { labels: data.response.labels, datasets: [{ label: "Answers", data: data.response.values }] },
      options: { scales: whole, plugins: { legend: { display: false } } }
    });
    chart("chart-reasons", {
      type: "bar",
      data: { labels: data.reasons.labels, datasets: [{ label: "Rejections", data: data.reasons.values }] },
      options: { scales: whole, plugins: { legend: { display: false } } }
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
