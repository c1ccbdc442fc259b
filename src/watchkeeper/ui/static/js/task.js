// One task's waterfall, from the history embedded in the page.
(function () {
  "use strict";
  const el = document.getElementById("task-chart");
  const task = JSON.parse(document.getElementById("task-history").textContent);
  const points = task.history;
  const first = points.length ? WK.ms(points[0].ts) : Date.now();
  const last = points.length ? WK.ms(points[points.length - 1].ts) : Date.now();
  const terminal = points.length && ["finished", "aborted"].includes(WK.family(points[points.length - 1].status));
  const end = terminal ? last : Date.now();
  const sliver = Math.max(end - first, 1000) * 0.006;
  const traces = points.map(function (p, i) {
    const start = WK.ms(p.ts);
    const stop = i + 1 < points.length ? WK.ms(points[i + 1].ts) : terminal ? start : Date.now();
    return WK.spanTrace(p.status, WK.colour("status", p.status), [{
      lane: p.status, start: start, end: stop, min: sliver,
      data: [WK.when(p.ts), i + 1 < points.length ? WK.when(points[i + 1].ts) : terminal ? WK.when(p.ts) : "now"],
    }], { hovertemplate: p.status + "<br>%{customdata[0]} → %{customdata[1]}<extra></extra>", showlegend: false });
  });
  const lanes = [...new Set(points.map((p) => p.status))];
  const pad = Math.max(end - first, 1000) * 0.03;
  el.style.height = WK.laneHeight(lanes.length) + "px";
  WK.plot(el, traces, {
    barmode: "overlay",
    xaxis: { type: "date", range: [WK.plotTime(first - pad), WK.plotTime(end + pad)] },
    yaxis: { type: "category", categoryorder: "array", categoryarray: lanes, autorange: "reversed", automargin: true },
  }, { bars: points.length, lanes: lanes.length });
})();
