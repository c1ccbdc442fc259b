// Chart 3: tasks finished, failed and aborted per agent over the window, one page of agents at a time.
(function () {
  "use strict";
  const h = WK.h;
  const el = document.getElementById("processed-chart");
  const pager = document.getElementById("processed-pager");
  const body = document.querySelector("#processed-table tbody");
  const rows = Number(el.dataset.rows);
  const offset = WK.offset();

  function fill(items) {
    body.replaceChildren(...items.map(function (r) {
      const total = r.finished + r.failed + r.aborted;
      return h("tr", {},
        h("td", {}, h("a", { href: "/agents/" + encodeURIComponent(r.agent) }, r.agent)),
        h("td", { class: "num" }, r.finished),
        h("td", { class: "num" }, r.failed),
        h("td", { class: "num" }, r.aborted),
        h("td", { class: "num" }, total),
        h("td", { class: "num" }, total ? (100 * (r.failed + r.aborted) / total).toFixed(1) + " %" : "—"));
    }));
    if (!items.length) body.append(h("tr", {}, h("td", { colspan: 6, class: "muted" }, "No task ended in this window.")));
  }

  async function load() {
    const params = WK.windowParams(["since", "until"]);
    params.set("sort", el.dataset.sort);
    params.set("limit", rows);
    if (offset) params.set("offset", offset);
    try {
      const { data, total } = await WK.fetch("/api/v1/charts/processed-per-agent", params);
      fill(data);
      const agents = data.map((r) => "agent " + r.agent);
      const bar = (name, key) => ({
        type: "bar", orientation: "h", name: name, y: agents, x: data.map((r) => r[key]),
        marker: { color: WK.colour("status", name) },
        customdata: data.map((r) => r.agent),
        hovertemplate: "%{customdata}: %{x} " + name + "<extra></extra>",
      });
      el.style.height = WK.laneHeight(data.length) + "px";
      await WK.plot(el, [bar("finished", "finished"), bar("failed", "failed"), bar("aborted", "aborted")], {
        barmode: "stack",
        xaxis: WK.countAxis(Math.max(0, ...data.map((r) => r.finished + r.failed + r.aborted))),
        yaxis: { type: "category", categoryorder: "array", categoryarray: agents, autorange: "reversed", automargin: true },
      }, { bars: data.length * 3, lanes: data.length });
      WK.pager(pager, offset, rows, total, "agents");
    } catch (error) {
      WK.failed(el, error);
    }
  }

  load().then(function () {
    el.on("plotly_click", function (event) {
      const point = event.points && event.points[0];
      if (point) location.assign("/agents/" + encodeURIComponent(point.customdata));
    });
  });
  WK.live(["task.status"], WK.throttle(load, 3000));
})();
