/* synesthesia dataset browser: plain JavaScript, no framework.
 *
 * data/index.js calls SYN.load(index): every row's key, filter codes and
 * sort values. A page of cards needs the rest of its rows (heading, media,
 * fields), which live in data/chunk-NNNNN.js files loaded on demand through
 * <script> tags (fetch() is refused on file://). The state (filters, sort,
 * page) lives in the URL's hash, so a view can be bookmarked or shared.
 * Everything from the data is written with textContent, never as HTML.
 */
(function () {
  "use strict";
  var SYN = (window.SYN = { chunks: {}, waiting: {} });
  var index = null;
  var state = { filters: {}, sort: "", page: 0, size: 48 };
  var SIZES = [24, 48, 96];

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") node.textContent = attrs[k];
      else if (attrs[k] !== null && attrs[k] !== undefined) node.setAttribute(k, attrs[k]);
    });
    (children || []).forEach(function (c) { if (c) node.appendChild(c); });
    return node;
  }

  function pad(k) { return ("00000" + k).slice(-5); }

  SYN.chunk = function (k, rows) {
    SYN.chunks[k] = rows;
    (SYN.waiting[k] || []).forEach(function (f) { f(); });
    delete SYN.waiting[k];
  };

  function withChunks(ks, done) {
    var missing = ks.filter(function (k) { return !SYN.chunks[k]; });
    if (!missing.length) return done();
    var left = missing.length;
    missing.forEach(function (k) {
      var first = !SYN.waiting[k];
      (SYN.waiting[k] = SYN.waiting[k] || []).push(function () { if (--left === 0) done(); });
      if (first) {
        var s = document.createElement("script");
        s.src = document.getElementById("app").getAttribute("data-chunks") + pad(k) + ".js";
        s.onerror = function () { showError("could not load " + s.src); };
        document.head.appendChild(s);
      }
    });
  }

  function showError(text) {
    var box = document.getElementById("error");
    if (box) { box.textContent = text; box.hidden = false; }
  }

  // --- state <-> URL hash ----------------------------------------------------------------
  function readHash() {
    var params = new URLSearchParams(location.hash.slice(1));
    state.filters = {};
    Object.keys(index.facets).forEach(function (f) { if (params.get(f)) state.filters[f] = params.get(f); });
    state.sort = params.get("sort") || "";
    state.page = Math.max(0, parseInt(params.get("page") || "1", 10) - 1) || 0;
    var size = parseInt(params.get("size") || "48", 10);
    state.size = SIZES.indexOf(size) >= 0 ? size : 48;
  }

  function writeHash() {
    var params = new URLSearchParams();
    Object.keys(state.filters).forEach(function (f) { if (state.filters[f]) params.set(f, state.filters[f]); });
    if (state.sort) params.set("sort", state.sort);
    if (state.page) params.set("page", String(state.page + 1));
    if (state.size !== 48) params.set("size", String(state.size));
    var hash = params.toString();
    if (location.hash.slice(1) !== hash) history.replaceState(null, "", hash ? "#" + hash : location.pathname + location.search);
  }

  // --- selection ----------------------------------------------------------------------------
  function selection() {
    var rows = [];
    var active = Object.keys(state.filters).filter(function (f) { return state.filters[f]; }).map(function (f) {
      return [index.facets[f].codes, index.facets[f].values.indexOf(state.filters[f])];
    });
    for (var i = 0; i < index.total; i++) {
      var ok = true;
      for (var a = 0; a < active.length && ok; a++) ok = active[a][0][i] === active[a][1];
      if (ok) rows.push(i);
    }
    if (state.sort) {
      var desc = state.sort.charAt(0) === "-";
      var values = index.sorts[state.sort.replace(/^-/, "")] || [];
      rows.sort(function (x, y) {
        var a = values[x], b = values[y];
        if (a === null || a === undefined) return b === null || b === undefined ? x - y : 1;  // missing values last
        if (b === null || b === undefined) return -1;
        return a === b ? x - y : (desc ? b - a : a - b);
      });
    }
    return rows;
  }

  function format(field, value) {
    if (value === null || value === undefined || value === "") return null;
    if (field.kind === "number" && typeof value === "number") return value.toFixed(field.digits);
    return String(value);
  }

  // --- rendering -------------------------------------------------------------------------------
  function card(i, row) {
    var key = index.keys[i];
    var attrs = { class: "card", "data-key": key };
    Object.keys(index.facets).forEach(function (f) { attrs["data-" + f] = index.facets[f].values[index.facets[f].codes[i]]; });
    Object.keys(index.sorts).forEach(function (s) { var v = index.sorts[s][i]; if (v !== null) attrs["data-" + s.replace(/_/g, "-")] = v; });
    var thumb = index.thumbs[i];
    var img = thumb !== null ? el("img", { src: index.thumb_urls[thumb], alt: row.heading, loading: "lazy" }) : null;
    var picture = el("a", { class: "picture", href: row.image, target: "_blank", title: "open the full image" }, [img]);
    var badges = el("div", { class: "badges" }, Object.keys(index.facets).map(function (f) {
      var v = index.facets[f].values[index.facets[f].codes[i]];
      return el("span", { class: "badge badge-" + f + (f === "split" ? " split-" + v : ""), text: v, title: f });
    }));
    var audio = row.audio ? el("audio", { controls: "", preload: "none", src: row.audio }) : null;
    var facts = el("dl", { class: "facts" }), longs = [];
    index.fields.forEach(function (f) {
      var text = format(f, row.values[f.column]);
      if (text === null) return;
      if (f.kind === "long") {
        longs.push(el("details", { class: "long" }, [el("summary", { text: f.label }), el("p", { text: text })]));
      } else {
        facts.appendChild(el("dt", { text: f.label }));
        facts.appendChild(el("dd", { text: text, class: "field-" + f.column + (f.kind === "wrap" ? " wrap" : "") }));
      }
    });
    var body = el("div", { class: "body" }, [el("h3", { text: row.heading, title: key }), badges, audio, facts].concat(longs));
    return el("article", attrs, [picture, body]);
  }

  var renders = 0;  // a render waiting for chunks must not overwrite a later one

  function render() {
    var mine = ++renders;
    writeHash();
    var rows = selection();
    var pages = Math.max(1, Math.ceil(rows.length / state.size));
    if (state.page >= pages) state.page = pages - 1;
    var shown = rows.slice(state.page * state.size, (state.page + 1) * state.size);
    document.getElementById("count").textContent =
      rows.length.toLocaleString("en") + " of " + index.total.toLocaleString("en") + " " + index.noun;
    document.getElementById("page").textContent = "page " + (state.page + 1) + " of " + pages;
    document.getElementById("prev").disabled = state.page === 0;
    document.getElementById("next").disabled = state.page >= pages - 1;
    var ks = [];
    shown.forEach(function (i) { var k = Math.floor(i / index.chunk_rows); if (ks.indexOf(k) < 0) ks.push(k); });
    var grid = document.getElementById("grid");
    grid.setAttribute("aria-busy", "true");
    withChunks(ks, function () {
      if (mine !== renders) return;
      var frag = document.createDocumentFragment();
      shown.forEach(function (i) { frag.appendChild(card(i, SYN.chunks[Math.floor(i / index.chunk_rows)][i % index.chunk_rows])); });
      grid.replaceChildren(frag);
      grid.setAttribute("aria-busy", "false");
      if (!shown.length) grid.appendChild(el("p", { class: "empty", text: "No " + index.noun + " match these filters." }));
    });
  }

  function select(name, label, options, value, onchange) {
    var s = el("select", { name: name, id: "select-" + name }, options.map(function (o) {
      var opt = el("option", { value: o[0], text: o[1] });
      if (o[0] === value) opt.selected = true;
      return opt;
    }));
    s.addEventListener("change", function () { onchange(s.value); state.page = 0; render(); });
    return el("label", { class: "control" }, [el("span", { text: label }), s]);
  }

  function counts(codes, n) {
    var out = new Array(n).fill(0);
    codes.forEach(function (c) { out[c]++; });
    return out;
  }

  function build() {
    var app = document.getElementById("app");
    var header = el("header", { class: "top" }, [
      el("h1", { text: index.title }),
      el("p", { class: "description", text: index.description }),
    ]);
    index.notes.forEach(function (n) { header.appendChild(el("p", { class: "note", text: n.replace(/\*\*/g, "").replace(/`/g, "") })); });
    var controls = [];
    Object.keys(index.facets).forEach(function (f) {
      var facet = index.facets[f], c = counts(facet.codes, facet.values.length);
      var options = [["", "all (" + index.total.toLocaleString("en") + ")"]].concat(facet.values.map(function (v, k) {
        return [v, v + " (" + c[k].toLocaleString("en") + ")"];
      }));
      controls.push(select(f, f, options, state.filters[f] || "", function (v) { state.filters[f] = v; }));
    });
    var sorts = [["", "key"]];
    Object.keys(index.sorts).forEach(function (s) {
      var label = s.replace(/_/g, " ");
      sorts.push(["-" + s, label + " ↓ (high first)"], [s, label + " ↑ (low first)"]);
    });
    controls.push(select("sort", "sort", sorts, state.sort, function (v) { state.sort = v; }));
    controls.push(select("size", "per page", SIZES.map(function (n) { return [String(n), String(n)]; }), String(state.size),
      function (v) { state.size = parseInt(v, 10); }));
    var prev = el("button", { id: "prev", type: "button", text: "‹ previous" });
    var next = el("button", { id: "next", type: "button", text: "next ›" });
    prev.addEventListener("click", function () { state.page--; render(); window.scrollTo(0, 0); });
    next.addEventListener("click", function () { state.page++; render(); window.scrollTo(0, 0); });
    var pager = el("div", { class: "pager" }, [prev, el("span", { id: "page" }), next]);
    var toolbar = el("nav", { class: "toolbar" }, controls.concat([el("span", { id: "count", class: "count" }), pager]));
    var error = el("p", { id: "error", class: "error" });
    error.hidden = true;
    app.replaceChildren(header, toolbar, error, el("main", { id: "grid", class: "grid" }));
    render();
  }

  SYN.load = function (data) {
    index = data;
    var start = function () {
      readHash();
      build();
      window.addEventListener("hashchange", function () { readHash(); build(); });
    };
    if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
    else start();
  };
})();
