/* Dashboard charts (Chart.js, vendored from npm): data comes from a data-* attribute, no inline script. */
(function () {
  "use strict";
  const COLOURS = ["#2563eb", "#16a34a", "#d97706", "#9333ea", "#dc2626", "#0891b2", "#4b5563"];
  document.addEventListener("DOMContentLoaded", function () {
    const holder = document.getElementById("chart-data");
    if (!holder || !window.Chart) return;
    const data = JSON.parse(holder.dataset.chart);
    const common = { responsive: true, maintainAspectRatio: false, animation: false };
    new window.Chart(document.getElementById("chart-kinds"), {
      type: "bar",
      data: {
        labels: data.weeks,
        datasets: Object.keys(data.by_kind).map(function (kind, i) {
          return { label: kind, data: data.by_kind[kind], backgroundColor: COLOURS[i % COLOURS.length] };
        }),
      },
      options: Object.assign({ scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true } } }, common),
    });
    new window.Chart(document.getElementById("chart-campaigns"), {
      type: "bar",
      data: {
        labels: data.campaigns.map(function (c) { return c.name; }),
        datasets: [{ label: "indicators", data: data.campaigns.map(function (c) { return c.count; }), backgroundColor: COLOURS[3] }],
      },
      options: Object.assign({ indexAxis: "y", plugins: { legend: { display: false } } }, common),
    });
    new window.Chart(document.getElementById("chart-lab"), {
      type: "line",
      data: {
        labels: data.weeks,
        datasets: [
          { label: "reports", data: data.mine, borderColor: COLOURS[0], backgroundColor: COLOURS[0] },
          { label: "matches", data: data.matches, borderColor: COLOURS[2], backgroundColor: COLOURS[2] },
        ],
      },
      options: Object.assign({ scales: { y: { beginAtZero: true } } }, common),
    });
  });
})();
