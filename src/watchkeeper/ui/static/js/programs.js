// An agent's programs and last log lines, kept live; CPU and RSS sparklines of the last hour
// from the metrics API where the server has one (else the cells keep the last sample alone).
(function () {
  "use strict";
  const root = document.getElementById("agent-programs-live");
  if (!root) return;
  let metrics = null;

  // Asked once: a server without the metrics API answers its routes with 404s, which a page
  // should not provoke on every refresh.
  async function hasMetrics() {
    if (metrics === null) {
      try {
        const { data } = await WK.fetch("/openapi.json");
        metrics = Boolean(data.paths && data.paths["/api/v1/metrics/series"]);
      } catch (error) {
        metrics = false;
      }
    }
    return metrics;
  }

  function spark(values) {
    const width = 80, height = 18;
    const low = Math.min(...values), high = Math.max(...values);
    const span = high - low || 1;
    const points = values.map((v, i) => (i * width / (values.length - 1)).toFixed(1) + ","
      + (height - 1 - (v - low) * (height - 2) / span).toFixed(1)).join(" ");
    const ns = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(ns, "svg");
    svg.setAttribute("class", "spark");
    svg.setAttribute("width", width);
    svg.setAttribute("height", height);
    svg.setAttribute("viewBox", "0 0 " + width + " " + height);
    const line = document.createElementNS(ns, "polyline");
    line.setAttribute("points", points);
    svg.append(line);
    return svg;
  }

  async function draw() {
    if (!(await hasMetrics())) return;
    for (const cell of root.querySelectorAll("td[data-series]")) {
      const params = new URLSearchParams({ name: cell.dataset.series, agent: root.dataset.agent, since: "-1h" });
      try {
        const { data } = await WK.fetch("/api/v1/metrics/series", params);
        const points = data.series.length ? data.series[0].points.filter((p) => p.avg !== null) : [];
        if (points.length < 2 || !cell.isConnected) continue;
        cell.prepend(spark(points.map((p) => p.avg)), " ");
        cell.dataset.points = String(points.length);
      } catch (error) {
        /* the cell keeps the last sample */
      }
    }
  }

  draw();
  WK.liveParts(root, ["component.state", "task.status", "log.record"], { after: draw });
})();
