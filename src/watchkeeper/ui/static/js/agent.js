// One agent: pings per state, and its recent state spans.
(function () {
  "use strict";
  const agent = JSON.parse(document.getElementById("agent-data").textContent);
  const pingsEl = document.getElementById("pings-chart");
  const statesEl = document.getElementById("states-chart");

  const states = Object.keys(agent.pings).sort();
  WK.plot(pingsEl, [{
    type: "bar", x: states, y: states.map((s) => agent.pings[s]),
    marker: { color: states.map((s) => WK.colour("state", s)) },
    hovertemplate: "%{x}: %{y} pings<extra></extra>",
  }], { xaxis: { type: "category" }, yaxis: WK.countAxis(Math.max(0, ...states.map((s) => agent.pings[s]))), showlegend: false },
  { bars: states.length });

  const history = agent.history;
  const byState = new Map();
  // The current state lasts until now while the agent is online; for a silent agent, only
  // until it was last heard from (after that nobody knows).
  const now = agent.liveness === "online" ? Date.now() : WK.ms(agent.last_seen);
  for (const span of history) {
    if (!byState.has(span.state)) byState.set(span.state, []);
    byState.get(span.state).push({
      lane: "agent " + agent.id, start: WK.ms(span.start), end: span.end ? WK.ms(span.end) : now,
      data: [WK.when(span.start), span.end ? WK.when(span.end) : agent.liveness === "online" ? "now" : "last seen " + WK.when(agent.last_seen)],
    });
  }
  const traces = [...byState.keys()].sort().map((state) => WK.spanTrace(state,
    WK.colour("state", state), byState.get(state),
    { hovertemplate: state + "<br>%{customdata[0]} → %{customdata[1]}<extra></extra>" }));
  WK.plot(statesEl, traces, { barmode: "overlay", xaxis: { type: "date" },
    yaxis: { type: "category", automargin: true }, showlegend: true },
    { bars: history.length, lanes: history.length ? 1 : 0 });
})();
