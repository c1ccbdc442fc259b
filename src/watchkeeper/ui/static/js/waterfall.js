// Chart 1: one row per task, one bar per status span, newest task at the top.
(function () {
  "use strict";
  const el = document.getElementById("waterfall-chart");
  const pager = document.getElementById("waterfall-pager");
  const rows = Number(el.dataset.rows);
  const offset = WK.offset();

  function draw(spans, range) {
    const order = [];
    const seen = new Set();
    for (const s of spans) if (!seen.has(s.task)) { seen.add(s.task); order.push(s.task); }
    // A zero-length span (a terminal status) still gets a visible sliver.
    const sliver = (range[1] - range[0]) * 0.004;
    const byStatus = new Map();
    for (const s of spans) {
      const start = WK.ms(s.start);
      const end = s.end ? WK.ms(s.end) : range[1] > Date.now() ? range[1] : Date.now();
      if (!byStatus.has(s.status)) byStatus.set(s.status, []);
      byStatus.get(s.status).push({
        lane: "task " + s.task, start: start, end: end, min: sliver,
        data: [s.task, s.agent || "—", WK.when(s.start), s.end ? WK.when(s.end) : "now"],
      });
    }
    const families = ["waiting", "running", "finished", "aborted"];
    const statuses = [...byStatus.keys()].sort(
      (a, b) => families.indexOf(WK.family(a)) - families.indexOf(WK.family(b)) || a.localeCompare(b));
    const traces = statuses.map((status) => WK.spanTrace(status, WK.colour("status", status),
      byStatus.get(status), {
        hovertemplate: "task %{customdata[0]} · " + status +
          "<br>agent %{customdata[1]}<br>%{customdata[2]} → %{customdata[3]}<extra></extra>",
      }));
    el.style.height = WK.laneHeight(order.length) + "px";
    return WK.plot(el, traces, {
      barmode: "overlay",
      bargap: 0.25,
      xaxis: { type: "date", range: range.map(WK.plotTime) },
      yaxis: { type: "category", categoryorder: "array", categoryarray: order.map((t) => "task " + t),
               autorange: "reversed", automargin: true },
      showlegend: true,
    }, { bars: spans.length, lanes: order.length });
  }

  async function load() {
    const params = WK.windowParams(["since", "until", "agent", "producer"]);
    params.set("rows", rows);
    if (offset) params.set("offset", offset);
    try {
      const range = WK.range();
      const { data, total } = await WK.fetch("/api/v1/charts/waterfall", params);
      const open = WK.openEnd();
      const times = data.flatMap((s) => [WK.ms(s.start), s.end ? WK.ms(s.end) : open]);
      await draw(data, WK.fit(times, range));
      WK.pager(pager, offset, rows, total, "tasks");
    } catch (error) {
      WK.failed(el, error);
    }
  }

  load().then(function () {
    el.on("plotly_click", function (event) {
      const point = event.points && event.points[0];
      if (point) location.assign("/tasks/" + encodeURIComponent(point.customdata[0]));
    });
    // Zooming in on time narrows the window itself, so the URL (and a bookmark) keeps it.
    el.on("plotly_relayout", function (change) {
      const from = change["xaxis.range[0]"], to = change["xaxis.range[1]"];
      if (from === undefined || to === undefined) return;
      const iso = (t) => new Date(t.replace(" ", "T") + "Z").toISOString();
      location.assign(WK.urlWith({ since: iso(from), until: iso(to), offset: null }));
    });
  });
  WK.live(["task.status"], WK.throttle(load, 2000));
})();
