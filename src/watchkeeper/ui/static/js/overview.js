// The overview: the latest events scroll in live, and the counters follow them.
(function () {
  "use strict";
  const h = WK.h;
  const feed = document.getElementById("event-feed");
  const KEEP = 100;

  function describe(e) {
    const a = e.attrs || {};
    if (e.kind === "task.status") {
      return [h("a", { href: "/tasks/" + encodeURIComponent(a.task) }, "task " + a.task), " ",
        WK.badge("status", a.status), a.agent ? " on agent " + a.agent : "",
        a.producer !== null && a.producer !== undefined && !a.agent ? " by producer " + a.producer : ""];
    }
    if (e.kind === "component.state") {
      const who = a.type === "agent"
        ? h("a", { href: "/agents/" + encodeURIComponent(a.id) }, "agent " + a.id) : a.type + " " + a.id;
      return [who, " ", WK.badge("state", a.state), a.message ? " " + a.message : ""];
    }
    if (e.kind === "incident") {
      return [h("a", { href: "/agents/" + encodeURIComponent(a.agent) }, "agent " + a.agent), ": ",
        a.message || "incident", a.task ? " (task " + a.task + ")" : ""];
    }
    return [e.subject || e.source || "", " ", JSON.stringify(a).slice(0, 160)];
  }

  function item(e, fresh) {
    return h("li", { class: "event level-" + e.level + (fresh ? " fresh" : ""), "data-seq": e.seq },
      h("time", { datetime: e.ts }, WK.when(e.ts)),
      h("span", { class: "kind" }, e.kind),
      h("span", { class: "what" }, describe(e)));
  }

  const initial = JSON.parse(document.getElementById("initial-events").textContent);
  feed.replaceChildren(...initial.map((e) => item(e, false)));
  if (!initial.length) feed.append(h("li", { class: "muted empty" }, "No event yet."));

  // The counters are rendered by the server and follow every event (see WK.liveParts).
  WK.liveParts(document.querySelector("[data-live-src]"), null);

  WK.live(null, function (e) {
    const empty = feed.querySelector(".empty");
    if (empty) empty.remove();
    feed.prepend(item(e, true));
    while (feed.children.length > KEEP) feed.lastElementChild.remove();
  });
})();
