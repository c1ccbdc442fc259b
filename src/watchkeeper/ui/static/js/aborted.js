// Chart 2: aborted (or failed) tasks over time, and the latest of them grouped by the
// fingerprint of the incident shown as the cause, with why that incident is linked.
(function () {
  "use strict";
  const h = WK.h;
  const el = document.getElementById("aborted-chart");
  const table = document.getElementById("aborted-table");
  const totalNote = document.getElementById("aborted-total");

  function pings(counts) {
    if (!counts) return h("span", { class: "muted" }, "—");
    return h("span", { class: "pings" }, Object.keys(counts).sort().map(
      (state) => h("span", { class: "ping" }, WK.badge("state", state), " " + counts[state])));
  }

  function groups(rows) {
    const byPrint = new Map();
    for (const row of rows) {
      const key = row.fingerprint || "";
      if (!byPrint.has(key)) byPrint.set(key, []);
      byPrint.get(key).push(row);
    }
    return [...byPrint.entries()].sort((a, b) => b[1].length - a[1].length);
  }

  // ``query``: the window for the links to the incidents page, the one drawn.
  function fill(rows, status, query) {
    for (const body of table.querySelectorAll("tbody")) body.remove();
    if (!rows.length) {
      table.append(h("tbody", {}, h("tr", {}, h("td", { colspan: 10, class: "muted" }, "No " + status + " task in this window."))));
      return;
    }
    for (const [print, items] of groups(rows)) {
      const sample = items[0];
      const title = print
        ? [WK.badge("state", sample.last_state), " ", sample.reason || "(no message)"]
        : ["No incident reported"];
      const link = print ? h("a", { href: "/incidents?fingerprint=" + encodeURIComponent(print) + "&" + query }, "incidents →") : "";
      const body = h("tbody", { "data-fingerprint": print },
        h("tr", { class: "group-head" }, h("th", { colspan: 10 },
          h("span", { class: "count" }, items.length + " task" + (items.length === 1 ? "" : "s")), " ", title, " ", link)));
      for (const row of items) {
        body.append(h("tr", {},
          h("td", { class: "nowrap" }, WK.when(row.ts)),
          h("td", {}, h("a", { href: "/tasks/" + encodeURIComponent(row.task) }, row.task)),
          h("td", {}, row.agent ? h("a", { href: "/agents/" + encodeURIComponent(row.agent) }, row.agent) : "—"),
          h("td", {}, row.reason || row.run_reason || "—"),
          h("td", { class: "nowrap", "data-link": row.link ? row.link.reason : null }, row.link ? row.link.text : "—"),
          h("td", {}, WK.badge("state", row.last_state)),
          h("td", { class: "nowrap" }, (row.current_loc || "—") + " → " + (row.target_loc || "—")),
          h("td", { class: "nowrap" }, row.subtask === null ? "—" : row.subtask + (row.subtasks_left === null ? "" : " (" + row.subtasks_left + " left)")),
          h("td", {}, pings(row.pings)),
          h("td", { class: "num exit-code" }, row.exit_code === null || row.exit_code === undefined ? "—" : String(row.exit_code)),
        ));
      }
      table.append(body);
    }
  }

  // What a fitted axis spans: the aborts themselves, known to their bucket.
  function times(data) {
    return data.buckets.filter((b) => b.count > 0).flatMap((b) => [WK.ms(b.start), WK.ms(b.end)]);
  }

  async function load() {
    const params = WK.windowParams(["since", "until", "agent", "status"]);
    params.set("limit", "200");
    try {
      const range = WK.range();
      let { data } = await WK.fetch("/api/v1/charts/aborted", params);
      const drawn = WK.fit(times(data), range);
      if (WK.fitted()) {
        // Buckets over the fitted span, not over the whole lookback.
        params.set("since", new Date(drawn[0]).toISOString());
        params.set("until", new Date(drawn[1]).toISOString());
        ({ data } = await WK.fetch("/api/v1/charts/aborted", params));
      }
      const colour = WK.colour("status", data.status);
      const step = data.interval * 1000;
      const shown = data.tasks.length;
      totalNote.textContent = data.total + " " + data.status + (shown < data.total ? " · the latest " + shown + " below" : "");
      fill(data.tasks, data.status, WK.fitted() ? new URLSearchParams({ since: params.get("since"), until: params.get("until") })
        : WK.query(["since", "until"]));
      await WK.plot(el, [{
        type: "bar", name: data.status, marker: { color: colour },
        x: data.buckets.map((b) => WK.plotTime(WK.ms(b.start) + step / 2)),
        y: data.buckets.map((b) => b.count),
        width: data.buckets.map(() => step * 0.9),
        customdata: data.buckets.map((b) => [WK.when(b.start), WK.when(b.end)]),
        hovertemplate: "%{y} " + data.status + "<br>%{customdata[0]} → %{customdata[1]}<extra></extra>",
      }], {
        xaxis: { type: "date", range: drawn.map(WK.plotTime) },
        yaxis: WK.countAxis(Math.max(0, ...data.buckets.map((b) => b.count))),
        showlegend: false,
      }, { bars: data.buckets.length });
    } catch (error) {
      WK.failed(el, error);
    }
  }

  load();
  WK.live(["task.status", "incident"], WK.throttle(load, 3000));
})();
