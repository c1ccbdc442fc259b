// Job groups: the list and a group's page follow Lamia's events as they arrive (WK.liveParts:
// the server renders the parts that change), and a group's page then redraws its progress
// history from the JSON that came with them.
(function () {
  "use strict";
  const root = document.querySelector("[data-live-src]");
  if (!root) return;
  const group = root.dataset.group || null;
  const chartEl = document.getElementById("history-chart");
  const KINDS = ["lamia.event", "lamia.task.created", "lamia.task.deleted"];

  function drawHistory() {
    const data = JSON.parse(document.getElementById("group-history").textContent);
    // Progress holds until it changes: every line is drawn as steps up to the group's last change.
    let end = null;
    for (const p of data.processes) {
      for (const point of p.history) end = Math.max(end === null ? -Infinity : end, WK.ms(point.ts));
    }
    let points = 0;
    const traces = data.processes.map(function (p) {
      const x = p.history.map((point) => WK.plotTime(point.ts));
      const y = p.history.map((point) => point.progress);
      points += y.length;
      if (y.length && WK.ms(p.history[y.length - 1].ts) < end) {
        x.push(WK.plotTime(end));
        y.push(y[y.length - 1]);
      }
      return {
        type: "scatter", mode: "lines", name: p.name, x: x, y: y,
        line: { shape: "hv", width: 2 },
        hovertemplate: p.name + ": %{y}%<br>%{x}<extra></extra>",
      };
    });
    const top = Math.max(100, ...traces.flatMap((t) => t.y));
    return WK.plot(chartEl, traces, {
      xaxis: { type: "date" },
      yaxis: { ticksuffix: "%", range: [0, top * 1.05], automargin: true },
      shapes: [{ type: "line", xref: "paper", x0: 0, x1: 1, y0: 100, y1: 100,
        line: { dash: "dot", width: 1, color: "#94a3b8" } }],
      showlegend: true,
    }, { bars: points, lanes: traces.length });
  }

  WK.liveParts(root, KINDS, {
    accept: (event) => !group || (event.attrs && event.attrs.task === group),
    missing: function () { document.getElementById("group-gone").hidden = false; },
    after: function () { if (chartEl) drawHistory().catch((error) => WK.failed(chartEl, error)); },
  });
  if (chartEl) drawHistory().catch((error) => WK.failed(chartEl, error));
})();
