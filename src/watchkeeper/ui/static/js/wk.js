// Shared helpers of the dashboard's pages: colours, API fetches, Plotly drawing with the
// current theme, the live event stream, pagers and tiny DOM building (text only, never HTML).
(function () {
  "use strict";
  const config = JSON.parse(document.getElementById("wk-config").textContent);
  const palette = config.palette;
  const WK = (window.WK = { config: config });

  // --- colours: the same rule as watchkeeper/ui/palette.py --------------------------------
  WK.hash = function (name) {
    let value = 0;
    for (const ch of name) value = (Math.imul(value, 31) + ch.codePointAt(0)) >>> 0;
    return value;
  };
  WK.family = function (status) {
    if (palette.waiting.includes(status)) return "waiting";
    if (palette.finished.includes(status)) return "finished";
    if (palette.aborted.includes(status)) return "aborted";
    return "running";
  };
  WK.colour = function (kind, name) {
    if (!name) return palette.family.waiting;
    if (kind === "class") {
      return palette.event_class[name.toUpperCase()] || palette.extra[WK.hash(name) % palette.extra.length];
    }
    if (kind === "status") return palette.status[name] || palette.family[WK.family(name)];
    if (kind === "liveness") return palette.liveness[name] || palette.family.waiting;
    if (kind === "resolution") return palette.resolution[name] || palette.family.waiting;
    return palette.state[name] || palette.extra[WK.hash(name) % palette.extra.length];
  };

  // --- DOM ----------------------------------------------------------------------------------
  WK.h = function (tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "style") el.style.cssText = value;
      else el.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      el.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return el;
  };
  WK.badge = function (kind, name) {
    if (!name) return WK.h("span", { class: "muted" }, "—");
    return WK.h("span", { class: "badge", style: "--c: " + WK.colour(kind, name) }, name);
  };
  WK.when = function (iso) {
    return iso ? iso.replace("T", " ").replace(/\.\d+Z$|Z$/, "") : "—";
  };

  // --- time ---------------------------------------------------------------------------------
  // Plotly draws zone-less times as they are; every time here is UTC, as on the server.
  WK.plotTime = function (value) {
    const iso = typeof value === "number" ? new Date(value).toISOString() : value;
    return iso.replace("T", " ").replace("Z", "");
  };
  WK.ms = function (iso) { return Date.parse(iso); };
  // A chart page opened without a window in its URL fits its time axis to its data: it asks
  // for the lookback the server chose before the latest activity (see render.py's Window),
  // then draws the span the data covers. The latest activity moves on with the events that
  // arrive live. Presets, a custom range and zooming are explicit windows, drawn as they are.
  WK.fitted = function () { return Boolean(config.window && config.window.latest !== null); };
  let latest = WK.fitted() ? config.window.latest * 1000 : null;
  function saw(event) {
    const ts = Date.parse(event.ts);
    if (latest !== null && ts > latest) latest = ts;
  }
  // The URL's parameters ``names`` for an API request; when fitted, the window it looks in.
  WK.windowParams = function (names) {
    const params = WK.query(names);
    if (WK.fitted()) {
      params.set("since", new Date(config.window.start * 1000).toISOString());
      params.set("until", new Date(latest).toISOString());
    }
    return params;
  };
  const FIT_MIN = 60 * 1000, FIT_PAD = 0.04;
  // The range a chart draws: ``range`` (WK.range()) as it is, or when fitted, the span of the
  // ``times`` (ms) its data starts, changes or ends at within it, at least a minute wide and
  // padded on both sides. Times before the window are left out: a span that began long before
  // it runs off the left edge rather than stretching the axis. With no time in the window the
  // fitted range is the whole window.
  WK.fit = function (times, range) {
    if (!WK.fitted()) return range;
    let lo = Infinity, hi = -Infinity;
    for (const t of times) {
      if (!Number.isFinite(t) || t < range[0]) continue;
      lo = Math.min(lo, t);
      hi = Math.max(hi, t);
    }
    if (lo === Infinity) [lo, hi] = range;
    if (hi - lo < FIT_MIN) {
      const mid = (lo + hi) / 2;
      lo = mid - FIT_MIN / 2;
      hi = mid + FIT_MIN / 2;
    }
    const pad = (hi - lo) * FIT_PAD;
    const fitted = [lo - pad, hi + pad];
    // The custom range shows what is drawn, so applying it keeps this view.
    fitted.forEach(function (t, i) {
      const field = document.querySelector(".custom-window input[name=" + ["since", "until"][i] + "]");
      if (field) field.value = new Date(t).toISOString().slice(0, 19);
    });
    return fitted;
  };
  // How long an open span (no end yet) is known to have lasted: up to the latest activity when
  // fitted, else up to now.
  WK.openEnd = function () { return WK.fitted() ? latest : Date.now(); };
  // The page's window in epoch ms; a window that ends "now" follows the clock.
  WK.range = function () {
    const w = config.window;
    if (!w) return null;
    if (WK.fitted()) return [w.start * 1000, latest];
    if (w.live) {
      const end = Date.now();
      return [end - (w.end - w.start) * 1000, end];
    }
    return [w.start * 1000, w.end * 1000];
  };

  // --- URL and API --------------------------------------------------------------------------
  WK.query = function (names) {
    const here = new URLSearchParams(location.search);
    const out = new URLSearchParams();
    for (const name of names) if (here.get(name)) out.set(name, here.get(name));
    return out;
  };
  WK.urlWith = function (changes) {
    const params = new URLSearchParams(location.search);
    for (const [key, value] of Object.entries(changes)) {
      if (value === null || value === undefined || value === "") params.delete(key);
      else params.set(key, value);
    }
    const text = params.toString();
    return location.pathname + (text ? "?" + text : "");
  };
  WK.fetch = async function (path, params) {
    const url = path + (params && params.toString() ? "?" + params : "");
    const response = await fetch(url, { headers: { Accept: "application/json" } });
    if (!response.ok) {
      let message = response.status + " " + response.statusText;
      try { message = (await response.json()).error.message; } catch (e) { /* not JSON */ }
      throw new Error(message);
    }
    const total = response.headers.get("X-Total-Count");
    return { data: await response.json(), total: total === null ? null : Number(total) };
  };

  // --- charts -------------------------------------------------------------------------------
  const charts = new Map(); // element -> last [traces, layout]
  function css(name) {
    return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  }
  function themed(layout) {
    const fg = css("--fg"), muted = css("--muted"), grid = css("--grid");
    const axis = { gridcolor: grid, zerolinecolor: grid, linecolor: grid, tickfont: { color: muted } };
    return Object.assign({
      paper_bgcolor: "rgba(0,0,0,0)",
      plot_bgcolor: "rgba(0,0,0,0)",
      font: { family: css("--font"), color: fg, size: 12 },
      margin: { l: 70, r: 16, t: 28, b: 36 },
      hoverlabel: { bgcolor: css("--card"), bordercolor: grid, font: { color: fg } },
    }, layout, {
      xaxis: Object.assign({}, axis, layout.xaxis || {}),
      yaxis: Object.assign({}, axis, layout.yaxis || {}),
      // Stacked bars would list their legend backwards.
      legend: Object.assign({ orientation: "h", x: 0, y: 1, yanchor: "bottom",
        traceorder: "normal", font: { color: muted } }, layout.legend || {}),
    });
  }
  // plotly.js is deferred (see base.html): pages fetch their data meanwhile, and draw once
  // both have arrived.
  WK.plotly = new Promise(function (resolve, reject) {
    const script = document.getElementById("plotly-js");
    if (window.Plotly || !script) { resolve(); return; }
    script.addEventListener("load", function () { resolve(); });
    script.addEventListener("error", function () { reject(new Error("plotly.js did not load")); });
  });
  WK.plot = async function (el, traces, layout, counts) {
    await WK.plotly;
    charts.set(el, [traces, layout]);
    const options = { displaylogo: false, responsive: true,
      modeBarButtonsToRemove: ["select2d", "lasso2d", "autoScale2d"] };
    return Plotly.react(el, traces, themed(layout), options).then(function () {
      el.dataset.bars = counts && counts.bars !== undefined ? counts.bars : "";
      el.dataset.lanes = counts && counts.lanes !== undefined ? counts.lanes : "";
      el.dataset.state = "ready";
    });
  };
  WK.failed = function (el, error) {
    el.dataset.state = "error";
    el.replaceChildren(WK.h("p", { class: "error" }, "Could not load the chart: " + error.message));
  };
  document.addEventListener("wk-theme", function () {
    for (const [el, [traces, layout]] of charts) Plotly.react(el, traces, themed(layout));
  });
  // Horizontal bars from start to end (a Gantt row per category).
  WK.spanTrace = function (name, colour, spans, extra) {
    return Object.assign({
      type: "bar", orientation: "h", name: name,
      marker: { color: colour, line: { width: 0 } },
      y: spans.map((s) => s.lane),
      base: spans.map((s) => WK.plotTime(s.start)),
      x: spans.map((s) => Math.max(s.end - s.start, s.min || 0)),
      customdata: spans.map((s) => s.data),
    }, extra || {});
  };
  WK.laneHeight = function (lanes) { return Math.max(160, 80 + lanes * 22); };
  // A y axis of whole counts: no "0, 1, 1, 2, 2" ticks when the counts are small.
  WK.countAxis = function (max) {
    return Object.assign({ rangemode: "tozero", tickformat: ",d" }, max <= 6 ? { dtick: 1 } : {});
  };

  // --- pagers -------------------------------------------------------------------------------
  WK.pager = function (nav, offset, size, total, what) {
    nav.replaceChildren();
    if (total === null || total <= size && offset === 0) {
      if (total !== null) nav.append(WK.h("span", { class: "muted" }, total + " " + what));
      return;
    }
    const last = Math.min(offset + size, total);
    const link = (label, to, rel) =>
      to === null ? WK.h("span", { class: "button disabled" }, label)
        : WK.h("a", { class: "button", href: WK.urlWith({ offset: to || null }), rel: rel }, label);
    nav.append(
      link("← Previous", offset > 0 ? Math.max(0, offset - size) : null, "prev"),
      WK.h("span", { class: "muted" }, (total ? offset + 1 : 0) + "–" + last + " of " + total + " " + what),
      link("Next →", last < total ? offset + size : null, "next"),
    );
  };
  WK.offset = function () { return Math.max(0, Number(new URLSearchParams(location.search).get("offset")) || 0); };

  // --- live updates ---------------------------------------------------------------------------
  const listeners = [];
  let source = null;
  WK.live = function (kinds, callback) {
    listeners.push({ kinds: kinds, callback: callback });
    if (source) return;
    const status = document.getElementById("live-status");
    source = new EventSource("/api/v1/events/stream");
    source.onopen = function () { status.dataset.state = "on"; };
    source.onerror = function () { status.dataset.state = "retrying"; };
    source.onmessage = function (message) {
      const event = JSON.parse(message.data);
      saw(event);
      for (const listener of listeners) {
        if (!listener.kinds || listener.kinds.includes(event.kind)) listener.callback(event);
      }
    };
  };
  // Run ``fn`` at most once per ``wait`` ms, and once more after the last call.
  WK.throttle = function (fn, wait) {
    let timer = null, again = false;
    return function () {
      if (timer) { again = true; return; }
      fn();
      timer = setTimeout(function tick() {
        timer = null;
        if (again) { again = false; fn(); timer = setTimeout(tick, wait); }
      }, wait);
    };
  };

  // --- live parts ------------------------------------------------------------------------------
  // Parts of a page rendered by the server and kept live: ``root`` names their partial route in
  // ``data-live-src``. On events of ``kinds`` (throttled; ``accept`` may refuse an event) the
  // page fetches that route with its own query string, so its filters and window hold, and swaps
  // each ``[data-live]`` element for its fresh copy of the same id. Table rows keyed by
  // ``data-row`` that are new or changed (by ``data-row-version`` when given, else their text)
  // are marked ``fresh``. ``every`` (seconds) also refreshes on a timer, for what ages by itself.
  function rowVersions(el) {
    const out = new Map();
    for (const row of el.querySelectorAll("[data-row]")) {
      out.set(row.dataset.row, row.dataset.rowVersion !== undefined ? row.dataset.rowVersion : row.textContent);
    }
    return out;
  }
  WK.liveParts = function (root, kinds, options) {
    const opts = options || {};
    let refreshes = 0;
    async function refresh() {
      const response = await fetch(root.dataset.liveSrc + location.search, { headers: { Accept: "text/html" } });
      if (response.status === 404 && opts.missing) { opts.missing(); return; }
      if (!response.ok) return;
      const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
      for (const part of fresh.querySelectorAll("[data-live]")) {
        const old = document.getElementById(part.id);
        if (!old) continue;
        const before = rowVersions(old);
        for (const [key, version] of rowVersions(part)) {
          if (before.get(key) !== version) part.querySelector('[data-row="' + CSS.escape(key) + '"]').classList.add("fresh");
        }
        old.replaceWith(document.adoptNode(part));
      }
      root.dataset.refreshed = String(++refreshes);
      if (opts.after) opts.after();
    }
    const later = WK.throttle(function () {
      refresh().catch(function () { /* the next event tries again */ });
    }, opts.wait || 3000);
    WK.live(kinds, function (event) { if (!opts.accept || opts.accept(event)) later(); });
    if (opts.every) setInterval(later, opts.every * 1000);
  };
  // Pages whose live parts need nothing else say so in their markup alone.
  for (const root of document.querySelectorAll("[data-live-src][data-live-kinds]")) {
    WK.liveParts(root, root.dataset.liveKinds.split(","), { every: Number(root.dataset.liveEvery) || 0 });
  }

  // --- page chrome ------------------------------------------------------------------------------
  document.getElementById("theme-toggle").addEventListener("click", function () {
    const next = document.documentElement.dataset.theme === "dark" ? "light" : "dark";
    document.documentElement.dataset.theme = next;
    try { localStorage.setItem("wk-theme", next); } catch (e) { /* private mode */ }
    document.dispatchEvent(new Event("wk-theme"));
  });
  const toggle = document.querySelector(".nav-toggle");
  toggle.addEventListener("click", function () {
    const open = document.body.classList.toggle("nav-open");
    toggle.setAttribute("aria-expanded", String(open));
  });
  // Filters that apply as soon as they change (the URL changes with them).
  for (const form of document.querySelectorAll("form[data-autosubmit]")) {
    for (const select of form.querySelectorAll("select")) {
      select.addEventListener("change", function () { form.requestSubmit(); });
    }
  }
  // Empty fields would only clutter the URL.
  for (const form of document.querySelectorAll("form[method=get]")) {
    form.addEventListener("submit", function () {
      for (const field of form.elements) if (field.name && field.value === "") field.disabled = true;
    });
  }
})();
