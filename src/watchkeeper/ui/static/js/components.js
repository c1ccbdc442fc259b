// Chart 4: a state timeline with one lane per component instance.
(function () {
  "use strict";
  const el = document.getElementById("components-chart");
  const pager = document.getElementById("components-pager");
  const lanes = Number(el.dataset.lanes);
  const offset = WK.offset();

  function draw(spans, range) {
    const order = [];
    const seen = new Set();
    const byState = new Map();
    for (const s of spans) {
      const lane = s.type + " " + s.component;
      if (!seen.has(lane)) { seen.add(lane); order.push(lane); }
      if (!byState.has(s.state)) byState.set(s.state, []);
      byState.get(s.state).push({
        lane: lane, start: WK.ms(s.start), end: s.end ? WK.ms(s.end) : Math.max(range[1], Date.now()),
        data: [s.type, s.component, WK.when(s.start), s.end ? WK.when(s.end) : "now",
               s.merged ? " (" + s.merged + " short spans merged)" : ""],
      });
    }
    const traces = [...byState.keys()].sort().map((state) => WK.spanTrace(state, WK.colour("state", state),
      byState.get(state), {
        hovertemplate: "%{customdata[0]} %{customdata[1]} · " + state +
          "%{customdata[4]}<br>%{customdata[2]} → %{customdata[3]}<extra></extra>",
      }));
    el.style.height = WK.laneHeight(order.length) + "px";
    return WK.plot(el, traces, {
      barmode: "overlay",
      bargap: 0.2,
      xaxis: { type: "date", range: range.map(WK.plotTime) },
      yaxis: { type: "category", categoryorder: "array", categoryarray: order, autorange: "reversed", automargin: true },
    }, { bars: spans.length, lanes: order.length });
  }

  // Spans narrower than about 4 pixels of ``range`` are merged on the server: finer detail
  // would not show, and thousands of SVG bars would make the page slow.
  function spans(params, range) {
    params.set("resolution", ((range[1] - range[0]) / 1000 / Math.max(200, el.clientWidth / 4)).toFixed(3));
    return WK.fetch("/api/v1/charts/component-status", params);
  }

  function times(data) {
    const open = WK.openEnd();
    return data.flatMap((s) => [WK.ms(s.start), s.end ? WK.ms(s.end) : open]);
  }

  async function load() {
    const params = WK.windowParams(["since", "until", "type"]);
    const range = WK.range();
    params.set("lanes", lanes);
    if (offset) params.set("offset", offset);
    try {
      let { data, total } = await spans(params, range);
      let shown = WK.fit(times(data), range);
      // Fitted to much less than the window asked for: ask again at the finer resolution
      // the narrower axis can show.
      if (shown[1] - shown[0] < (range[1] - range[0]) / 2) {
        ({ data, total } = await spans(params, shown));
        shown = WK.fit(times(data), range);
      }
      await draw(data, shown);
      WK.pager(pager, offset, lanes, total, "instances");
    } catch (error) {
      WK.failed(el, error);
    }
  }

  load().then(function () {
    el.on("plotly_click", function (event) {
      const point = event.points && event.points[0];
      if (point && point.customdata[0] === "agent") location.assign("/agents/" + encodeURIComponent(point.customdata[1]));
    });
    el.on("plotly_relayout", function (change) {
      const from = change["xaxis.range[0]"], to = change["xaxis.range[1]"];
      if (from === undefined || to === undefined) return;
      const iso = (t) => new Date(t.replace(" ", "T") + "Z").toISOString();
      location.assign(WK.urlWith({ since: iso(from), until: iso(to), offset: null }));
    });
  });
  WK.live(["component.state"], WK.throttle(load, 3000));
})();
