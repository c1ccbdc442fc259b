// The Metrics page: a series name picked with search (the names answer as one types), drawn
// over the window as its average per bucket with the min–max band, one line per agent and tag
// set; the server chooses the step from the window. Live: redrawn as new samples arrive.
(function () {
  "use strict";
  const h = WK.h;
  const el = document.getElementById("series-chart");
  const input = document.getElementById("series-name");
  const names = document.getElementById("series-names");
  const stepNote = document.getElementById("series-step");
  const name = el.dataset.name;

  async function suggest() {
    const params = new URLSearchParams({ limit: 50 });
    if (input.value) params.set("q", input.value);
    try {
      const { data } = await WK.fetch("/api/v1/metrics/names", params);
      names.replaceChildren(...data.names.map((n) => h("option", { value: n.name })));
    } catch (error) { /* suggestions are a convenience */ }
  }

  function label(series) {
    const tags = Object.entries(series.tags).map(([k, v]) => k + ":" + v).join(",");
    return [series.agent || "server", tags].filter(Boolean).join(" ");
  }

  async function load() {
    if (!name) {
      el.dataset.state = "ready";
      el.replaceChildren(h("p", { class: "muted" }, "Pick a series to see it over time."));
      return;
    }
    const params = WK.windowParams(["since", "until"]);
    params.set("name", name);
    try {
      const { data } = await WK.fetch("/api/v1/metrics/series", params);
      stepNote.textContent = "step " + data.step + " s" + (data.truncated ? " (first " + data.series.length + " series)" : "");
      const traces = [];
      let points = 0;
      for (const series of data.series) {
        const x = series.points.map((p) => WK.plotTime(p.ts * 1000));
        points += series.points.length;
        traces.push({ type: "scatter", mode: "lines", x: x, y: series.points.map((p) => p.max),
          line: { width: 0 }, hoverinfo: "skip", showlegend: false });
        traces.push({ type: "scatter", mode: "lines", x: x, y: series.points.map((p) => p.min),
          line: { width: 0 }, fill: "tonexty", hoverinfo: "skip", showlegend: false, opacity: 0.2 });
        traces.push({ type: "scatter", mode: "lines+markers", name: label(series), x: x,
          y: series.points.map((p) => p.avg), marker: { size: 4 },
          customdata: series.points.map((p) => [p.min, p.max, p.count]),
          hovertemplate: "%{y} (min %{customdata[0]}, max %{customdata[1]}, %{customdata[2]} samples)<extra>%{fullData.name}</extra>" });
      }
      const range = WK.range();
      await WK.plot(el, traces, {
        height: 420,
        xaxis: { type: "date", range: range && range.map((t) => WK.plotTime(t)) },
        yaxis: { title: { text: name }, automargin: true },
      }, { bars: points, lanes: data.series.length });
      if (!data.series.length) el.append(h("p", { class: "muted" }, "No sample of " + name + " in this window."));
    } catch (error) {
      WK.failed(el, error);
    }
  }

  input.addEventListener("input", WK.throttle(suggest, 300));
  suggest();
  load();
  WK.live(["metric.series"], WK.throttle(load, 3000));
})();
