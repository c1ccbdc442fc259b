// The live state page. The tree of the document (or of ?path=) is drawn from the snapshot of
// /api/v1/state/stream and kept up to date by applying its JSON merge patches (RFC 7386: null
// deletes a key), changing only the nodes a patch touches. Counters show their per-source
// breakdown on hover (from /api/v1/state/counters). The intents and the error report are
// server-rendered and fetched again as shards arrive.
(function () {
  "use strict";
  const h = WK.h;
  const tree = document.getElementById("state-tree");
  const tables = document.getElementById("state-tables");
  const status = document.getElementById("live-status");
  const base = tree.dataset.pointer; // "" for the whole document
  const totalsKey = tree.dataset.totals;
  const OPEN_DEPTH = 2; // objects this deep or deeper start collapsed
  const PAGE = 100; // children drawn per object before "N more…"
  const BUDGET = 2000; // nodes drawn open by default in one rendering; the rest start collapsed

  let doc; // the document as last received (undefined until the snapshot)
  let counters = new Map(); // pointer -> {total, sources}
  const toggled = new Map(); // pointer -> open or not: the reader's choice beats the default
  const limits = new Map(); // pointer -> how many children are drawn
  let budget = BUDGET;

  // --- paths (JSON Pointers, as the server writes them) --------------------------------------
  function join(pointer, key) {
    return pointer + "/" + key.replace(/~/g, "~0").replace(/\//g, "~1");
  }
  function split(pointer) {
    return pointer === "" ? [] : pointer.slice(1).split("/").map((s) => s.replace(/~1/g, "/").replace(/~0/g, "~"));
  }
  function at(pointer) {
    let node = doc;
    for (const key of split(pointer.slice(base.length))) {
      if (node === null || typeof node !== "object" || !(key in node)) return undefined;
      node = node[key];
    }
    return node;
  }
  const isObject = (v) => v !== null && typeof v === "object" && !Array.isArray(v);
  const isBranch = (v) => v !== null && typeof v === "object";
  const collator = new Intl.Collator("en", { numeric: true });
  const keysOf = (v) => (Array.isArray(v) ? v.map((_, i) => String(i)) : Object.keys(v).sort(collator.compare));

  function mergePatch(target, patch) {
    if (!isObject(patch)) return patch;
    const out = isObject(target) ? target : {};
    for (const [key, value] of Object.entries(patch)) {
      if (value === null) delete out[key];
      else out[key] = mergePatch(out[key], value);
    }
    return out;
  }

  // --- drawing ------------------------------------------------------------------------------
  function counterTitle(entry) {
    const names = Object.keys(entry.sources);
    const lines = names.map(function (name) {
      const s = entry.sources[name];
      return name + ": " + s.value + " (+" + s.p + " −" + s.n + ")";
    });
    return "counter: " + entry.total + " from " + names.length + " source" + (names.length === 1 ? "" : "s") + "\n" + lines.join("\n");
  }
  function counterOf(pointer, key) {
    // A folded total that also holds other totals is shown under "$total" (see docs/state.md).
    return counters.get(pointer) || (key === "$total" ? counters.get(pointer.slice(0, pointer.lastIndexOf("/"))) : undefined);
  }
  function leafValue(value, pointer, key) {
    const type = value === null ? "null" : typeof value;
    let text = JSON.stringify(value);
    if (text.length > 1000) text = text.slice(0, 999) + "…";
    const span = h("span", { class: "value " + type }, text);
    const entry = typeof value === "number" ? counterOf(pointer, key) : undefined;
    if (entry) {
      span.classList.add("counter");
      span.title = counterTitle(entry);
    }
    return span;
  }
  function summary(value) {
    const n = keysOf(value).length;
    return Array.isArray(value) ? "[" + n + " item" + (n === 1 ? "" : "s") + "]" : "{" + n + " key" + (n === 1 ? "" : "s") + "}";
  }
  function isOpen(pointer, depth) {
    if (toggled.has(pointer)) return toggled.get(pointer);
    return depth < OPEN_DEPTH && budget > 0;
  }
  function node(key, value, pointer, depth) {
    const li = h("li", { class: "node", "data-key": key, "data-pointer": pointer, "data-depth": depth });
    fill(li, key, value);
    return li;
  }
  function fill(li, key, value) {
    const pointer = li.dataset.pointer, depth = Number(li.dataset.depth);
    budget -= 1;
    const keyClass = depth === 0 && pointer === join("", totalsKey) ? "key totals" : "key";
    const label = h("span", { class: keyClass }, key);
    if (isBranch(value)) {
      const open = isOpen(pointer, depth);
      li.className = "node branch" + (Array.isArray(value) ? " array" : "") + (keysOf(value).length ? "" : " empty");
      li.replaceChildren(
        h("button", { type: "button", class: "toggle", "aria-expanded": String(open), "aria-label": (open ? "Collapse " : "Expand ") + key }),
        label, h("span", { class: "summary" }, summary(value)));
      if (open) li.append(children(value, pointer, depth + 1));
    } else {
      li.className = "node leaf";
      li.replaceChildren(label, leafValue(value, pointer, key));
    }
  }
  function children(value, pointer, depth) {
    const ul = h("ul", { class: "children" });
    const keys = keysOf(value);
    const limit = limits.get(pointer) || PAGE;
    for (const key of keys.slice(0, limit)) ul.append(node(key, value[key], join(pointer, key), depth));
    if (keys.length > limit) ul.append(more(keys.length - limit, pointer));
    return ul;
  }
  function more(count, pointer) {
    return h("li", { class: "more" }, h("button", { type: "button", class: "link", "data-more": pointer }, count + " more…"));
  }
  function draw() {
    budget = BUDGET;
    if (doc === null || doc === undefined) {
      tree.replaceChildren(h("p", { class: "muted" }, base ? "This key is not in the state (yet)." : "The state is empty."));
    } else if (isBranch(doc)) {
      const root = children(doc, base, 0);
      root.classList.add("root");
      tree.replaceChildren(root);
      if (!root.children.length) tree.append(h("p", { class: "muted" }, "The state is empty."));
    } else {
      const parts = split(base);
      const li = node(parts[parts.length - 1], doc, base, 0);
      tree.replaceChildren(h("ul", { class: "children root" }, li));
    }
  }
  function flash(el) {
    el.classList.remove("changed");
    void el.offsetWidth; // restart the animation
    el.classList.add("changed");
  }

  // --- applying a patch to what is drawn --------------------------------------------------------
  function childItem(ul, key) {
    for (const li of ul.children) if (li.dataset.key === key) return li;
    return null;
  }
  function syncMore(ul, value, pointer) {
    const drawn = ul.querySelectorAll(":scope > li.node").length;
    const hidden = keysOf(value).length - drawn;
    const old = ul.querySelector(":scope > li.more");
    if (old) old.remove();
    if (hidden > 0) ul.append(more(hidden, pointer));
  }
  // ``ul`` lists the children of the object at ``pointer`` (now ``value``), changed by ``patch``.
  function patchList(ul, value, patch, pointer, depth) {
    const hasMore = ul.querySelector(":scope > li.more") !== null;
    for (const key of Object.keys(patch)) {
      const change = patch[key];
      const li = childItem(ul, key);
      if (change === null) {
        if (li) li.remove();
        continue;
      }
      const now = value[key];
      if (li && isObject(change) && isObject(now) && li.classList.contains("branch") && !li.classList.contains("array")) {
        patchBranch(li, now, change);
        continue;
      }
      const fresh = node(key, now, join(pointer, key), depth);
      if (li) {
        li.replaceWith(fresh);
      } else {
        const after = [...ul.querySelectorAll(":scope > li.node")].find((x) => collator.compare(x.dataset.key, key) > 0);
        if (after) ul.insertBefore(fresh, after);
        else if (!hasMore) ul.insertBefore(fresh, ul.querySelector(":scope > li.more"));
        else continue; // it sorts among the children not drawn: "N more…" counts it
      }
      flash(fresh);
    }
    syncMore(ul, value, pointer);
  }
  function patchBranch(li, value, patch) {
    li.querySelector(":scope > .summary").textContent = summary(value);
    li.classList.toggle("empty", keysOf(value).length === 0);
    const ul = li.querySelector(":scope > ul.children");
    if (ul) patchList(ul, value, patch, li.dataset.pointer, Number(li.dataset.depth) + 1);
    else flash(li.querySelector(":scope > .summary"));
  }
  function applyPatch(patch) {
    const before = doc;
    doc = mergePatch(before, patch);
    const root = tree.querySelector(":scope > ul.root");
    if (root && isObject(before) && isObject(patch) && isObject(doc)) {
      budget = BUDGET;
      patchList(root, doc, patch, base, 0);
      if (!root.querySelector(":scope > li.node")) draw();
    } else {
      draw();
    }
  }

  // --- counters -------------------------------------------------------------------------------
  async function loadCounters() {
    if (doc === null || doc === undefined) {
      counters = new Map();
      return;
    }
    const params = new URLSearchParams(base ? { path: base } : {});
    let data;
    try {
      data = (await WK.fetch("/api/v1/state/counters", params)).data;
    } catch (e) {
      return; // the key went away meanwhile: the next patch says so
    }
    counters = new Map(data.counters.map((c) => [c.pointer, c]));
    for (const li of tree.querySelectorAll("li.leaf")) {
      const old = li.querySelector(":scope > .value");
      const value = at(li.dataset.pointer);
      if (value !== undefined && !isBranch(value)) old.replaceWith(leafValue(value, li.dataset.pointer, li.dataset.key));
    }
    tree.dataset.counters = String(counters.size);
  }
  const refreshCounters = WK.throttle(loadCounters, 1000);

  const refreshTables = WK.throttle(async function () {
    let response;
    try {
      response = await fetch(tables.dataset.src);
    } catch (e) {
      return; // the server is away: the stream reconnects and the next change tries again
    }
    if (response.ok) tables.innerHTML = await response.text(); // our own server-rendered HTML
  }, 1000);

  // --- the reader's clicks --------------------------------------------------------------------
  tree.addEventListener("click", function (event) {
    const toggle = event.target.closest("button.toggle");
    if (toggle) {
      const li = toggle.closest("li.node");
      toggled.set(li.dataset.pointer, toggle.getAttribute("aria-expanded") !== "true");
      budget = BUDGET;
      fill(li, li.dataset.key, at(li.dataset.pointer));
      return;
    }
    const button = event.target.closest("button[data-more]");
    if (button) {
      const pointer = button.dataset.more;
      limits.set(pointer, (limits.get(pointer) || PAGE) + PAGE);
      const ul = button.closest("ul.children");
      budget = BUDGET;
      const list = children(at(pointer), pointer, Number(ul.closest("li.node") ? ul.closest("li.node").dataset.depth : -1) + 1);
      if (ul.classList.contains("root")) list.classList.add("root");
      ul.replaceWith(list);
    }
  });
  // Open (or close) every branch drawn: "expand" goes one level deeper each time.
  function setAll(open) {
    for (const li of tree.querySelectorAll("li.branch")) toggled.set(li.dataset.pointer, open);
    draw();
  }
  document.getElementById("tree-expand").addEventListener("click", function () { setAll(true); });
  document.getElementById("tree-collapse").addEventListener("click", function () { setAll(false); });

  // --- the stream -----------------------------------------------------------------------------
  const stream = new EventSource("/api/v1/state/stream" + (base ? "?path=" + encodeURIComponent(base) : ""));
  stream.onopen = function () { status.dataset.state = "on"; };
  stream.onerror = function () { status.dataset.state = "retrying"; };
  stream.addEventListener("snapshot", function (message) {
    doc = JSON.parse(message.data).state;
    draw();
    tree.dataset.seq = message.lastEventId;
    tree.dataset.state = "ready";
    loadCounters();
  });
  stream.addEventListener("patch", function (message) {
    applyPatch(JSON.parse(message.data));
    tree.dataset.seq = message.lastEventId;
    const missing = document.getElementById("state-missing");
    if (missing && doc !== null) missing.remove();
    refreshCounters();
    refreshTables();
  });
  // A repeated error changes the report but not always the document: follow the shards too.
  WK.live(["state.shard"], refreshTables);
})();
