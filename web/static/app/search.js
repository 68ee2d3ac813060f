/* Location search: radius (click, long press, coordinates, near me), drawn rectangle or
 * polygon, district, text; the results list synced with the map (hover and click both
 * ways), paged beyond 200, the map fitted to what was found, the printable map link and
 * the export of every match of the search (not only the listed page). */

import { openFile } from "./assetfile.js";
import { $, fill, h, toast } from "./dom.js";
import { RequestError, csrfToken, errorText, request } from "./http.js";
import { I18n, t } from "./i18n.js";
import { App, activeFilters, choiceLabel, geoJSON, layerToGeometry, passesFilters, setPlaceLayer, toMap, writeHash } from "./state.js";

const RESULT_STYLE = { color: "#1f4e79", weight: 2, fillColor: "#fff", fillOpacity: 0.3 };
const HIGHLIGHT_STYLE = { color: "#f9a825", weight: 4, fillColor: "#f9a825", fillOpacity: 0.6 };
const idOf = (f) => f.id || f.properties.id;

/** Search parameters with the visible layers and the chosen layer's filters (the search
 * then keeps to that layer), without paging. */
function searchParams(p) {
  const q = new URLSearchParams(p);
  q.delete("limit");
  q.delete("offset");
  const filters = activeFilters();
  const filtered = App.filters.layer && Object.keys(filters).length;
  const layers = filtered ? [...App.visible].filter((n) => n === App.filters.layer) : [...App.visible];
  if (layers.length || filtered) q.set("layers", layers.join(",") || App.filters.layer);
  if (filtered) for (const [k, v] of Object.entries(filters)) q.set(k, v);
  return q;
}
/** The same, for the listed page. */
function commonParams(p) {
  const q = searchParams(p);
  q.set("limit", String(App.page.limit));
  if (App.page.offset) q.set("offset", String(App.page.offset));
  return q;
}

const isPhone = () => window.matchMedia("(max-width: 760px)").matches;

/** Fit the map to the search's results, its circle or area and the place found. */
export function fitResults() {
  let bounds = null;
  const add = (b) => { if (b && b.isValid()) bounds = bounds ? bounds.extend(b) : L.latLngBounds(b.getSouthWest(), b.getNorthEast()); };
  if (App.resultLayer && App.results.length) add(App.resultLayer.getBounds());
  if (App.shapeLayer) add(App.shapeLayer.getBounds());
  if (App.placeLayer) add(App.placeLayer.getBounds());
  if (!bounds) return;
  App.map.fitBounds(bounds, { padding: [24, 24], maxZoom: 17, animate: false });
}

/** Run a search ({kind, method, params, body}), then draw and list what it found, and
 * fit the map to it (``opts.fit === false``: keep the view, e.g. a link's own view;
 * ``opts.offset``: the page to list). */
export async function runSearch(search, opts = {}) {
  App.lastSearch = search;
  App.page.offset = opts.offset || 0;
  writeHash();
  // on a phone the side menu gives the map back once a search runs
  if (isPhone() && $("#sidebar").classList.contains("open")) {
    $("#sidebar").classList.remove("open");
    $("#menu-btn").setAttribute("aria-expanded", "false");
  }
  $("#results-count").textContent = t("loading");
  try {
    const url = "/api/search?" + commonParams(search.params || {});
    const { data } = search.method === "POST" ? await request(url, { method: "POST", body: search.body }) : await request(url);
    App.results = (data.features || []).filter((f) => {
      const spec = App.layers[f.properties.layer];
      return spec ? passesFilters(spec, f.properties) : true;
    });
    App.numberMatched = data.numberMatched;
  } catch (err) {
    App.results = [];
    App.numberMatched = null;
    toast(errorText(err), 5000);
  }
  drawResults();
  listResults();
  if (opts.fit !== false) fitResults();
  document.body.dataset.searched = String(Number(document.body.dataset.searched || 0) + 1);
}
export function rerunSearch() {
  if (App.lastSearch) return runSearch(App.lastSearch, { fit: false });
}

export function radiusSearch(lonlat, opts) {
  const radius = Number($("#radius").value) || 200;
  App.searchShape = { type: "circle", center: lonlat, radius };
  // the map then fits the circle and what it holds (opts.fly: from a typed place)
  return runSearch({ kind: "radius", params: { lon: lonlat[0].toFixed(7), lat: lonlat[1].toFixed(7), radius, coord_sys: "wgs84" } }, opts);
}

export function polygonSearch(geometry) {
  App.searchShape = { type: "polygon", geometry };
  return runSearch({ kind: "polygon", method: "POST", body: { geometry }, params: {} });
}

/** A rectangle or polygon drawn on the map, then searched. */
export function drawSearch(shape) {
  App.map.pm.enableDraw(shape, { snappable: false, pathOptions: { color: "#1f4e79" } });
  App.map.once("pm:create", (e) => {
    if (App.drawingParking) return;
    const geometry = layerToGeometry(e.layer);
    App.map.removeLayer(e.layer);
    polygonSearch(geometry);
  });
}

export function clearResults() {
  App.results = [];
  App.lastSearch = null;
  App.searchShape = null;
  App.numberMatched = null;
  setPlaceLayer(null);
  const hint = $("#place-hint");
  if (hint) hint.remove();
  drawResults();
  listResults();
  writeHash();
}

function drawSearchShape() {
  if (App.shapeLayer) App.map.removeLayer(App.shapeLayer);
  App.shapeLayer = null;
  const s = App.searchShape;
  if (!s) return;
  const style = { pane: "results", color: "#1f4e79", weight: 2, fillOpacity: 0.06, dashArray: "6 4", interactive: false };
  if (s.type === "circle") App.shapeLayer = L.circle(toMap(s.center[0], s.center[1]), { radius: s.radius, ...style });
  else if (s.type === "polygon") App.shapeLayer = geoJSON(s.geometry, { style: () => style, pane: "results" });
  if (App.shapeLayer) App.shapeLayer.addTo(App.map);
}

/** The search shape and the results, on the map. */
export function drawResults() {
  drawSearchShape();
  if (App.resultLayer) App.map.removeLayer(App.resultLayer);
  App.resultMarkers = {};
  App.resultLayer = geoJSON({ type: "FeatureCollection", features: App.results }, {
    pane: "results",
    pointToLayer: (f, ll) => L.circleMarker(ll, { pane: "results", radius: 8, ...RESULT_STYLE }),
    style: () => ({ color: "#1f4e79", weight: 3, fillOpacity: 0.1 }),
    onEachFeature: (f, layer) => {
      const id = idOf(f);
      App.resultMarkers[id] = layer;
      layer.on("mouseover", () => highlight(id, true));
      layer.on("mouseout", () => highlight(id, false));
      layer.on("click", (e) => { L.DomEvent.stop(e); openFile(f.properties.layer, id); });
    },
  }).addTo(App.map);
}

function highlight(id, on) {
  const layer = App.resultMarkers[id];
  if (layer && layer.setStyle) layer.setStyle(on ? HIGHLIGHT_STYLE : RESULT_STYLE);
  const li = $(`#result-list li[data-id="${CSS.escape(id)}"]`);
  if (li) li.classList.toggle("hl", on);
}

function focusResult(f) {
  const layer = App.resultMarkers[idOf(f)];
  if (layer) {
    if (layer.getLatLng) App.map.flyTo(layer.getLatLng(), Math.max(App.map.getZoom(), 18), { duration: 0.4 });
    else App.map.flyToBounds(layer.getBounds(), { maxZoom: 19, duration: 0.4 });
  }
  openFile(f.properties.layer, idOf(f));
}

/** The results list (and its count, export and print-map tools). */
export function listResults() {
  const n = App.results.length;
  const total = App.numberMatched !== undefined && App.numberMatched !== null ? App.numberMatched : n;
  $("#results-count").textContent = n ? t("results_count", { n: total }) : t("results_none");
  $("#results-tools").hidden = !n;
  pager(total);
  fill($("#result-list"), ...App.results.map((f) => {
    const p = f.properties;
    const id = idOf(f);
    const spec = App.layers[p.layer];
    const name = p.name || p.compound_name || p.road_name || "";
    const open = () => focusResult(f);
    return h("li", {
      "data-id": id, tabindex: "0", role: "button",
      onmouseenter: () => highlight(id, true), onmouseleave: () => highlight(id, false),
      onfocus: () => highlight(id, true), onblur: () => highlight(id, false),
      onclick: open, onkeydown: (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); open(); } },
    },
    h("span", { class: "code", text: p.code }),
    h("span", { class: "dist", text: p.distance_m !== undefined && p.distance_m !== null ? Math.round(p.distance_m) + " m" : "" }),
    h("span", { class: "meta", text: [spec ? I18n.label(spec) : p.layer, spec ? choiceLabel(spec, "status", p.status) : p.status, name].filter(Boolean).join(" · ") }));
  }));
  const printable = App.lastSearch && App.lastSearch.method !== "POST";
  const pm = $("#print-map");
  pm.href = printable ? "/api/search/map.html?" + commonParams(App.lastSearch.params) + "&lang=" + I18n.lang : "#";
  pm.hidden = !printable;
}

/** Page buttons under the list when there are more matches than one page holds. */
function pager(total) {
  let el = $("#result-pager");
  if (!el) {
    el = h("div", { id: "result-pager", class: "row pager" });
    $("#result-list").after(el);
  }
  const { offset, limit } = App.page;
  const pages = Math.ceil((total || 0) / limit);
  if (!App.results.length || pages <= 1) { fill(el); el.hidden = true; return; }
  el.hidden = false;
  const current = Math.floor(offset / limit) + 1;
  const go = (n) => runSearch(App.lastSearch, { offset: (n - 1) * limit });
  fill(el,
    h("button", { type: "button", id: "page-prev", text: I18n.pick("上一页", "Previous"), disabled: current <= 1 ? "disabled" : null, onclick: () => go(current - 1) }),
    h("span", { id: "page-info", text: I18n.pick(`第 ${current} / ${pages} 页（第 ${offset + 1}–${offset + App.results.length} 条）`,
      `Page ${current} of ${pages} (${offset + 1}–${offset + App.results.length})`) }),
    h("button", { type: "button", id: "page-next", text: I18n.pick("下一页", "Next"), disabled: current >= pages ? "disabled" : null, onclick: () => go(current + 1) }));
}

/** Export every match of the search (all pages): the same search parameters go to
 * /api/export (a drawn polygon with POST), which writes one file (a table or sheet per
 * layer where the format has them) or says why not (e.g. too many matches). */
export async function exportResults(format) {
  if (!format || !App.lastSearch) return;
  const search = searchParams(App.lastSearch.params || {}).toString();
  const ext = { csv: "csv", xlsx: "xlsx", geojson: "geojson", gpkg: "gpkg" }[format];
  const post = App.lastSearch.method === "POST";
  toast(I18n.pick(`正在导出全部 ${App.numberMatched ?? ""} 条结果…`, `Exporting all ${App.numberMatched ?? ""} results…`), 4000);
  let res;
  try {
    res = post
      ? await fetch("/api/export", { method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRF-Token": csrfToken() },
        body: JSON.stringify({ format, search, geometry: App.lastSearch.body.geometry }) })
      : await fetch("/api/export?" + new URLSearchParams({ format, search }), { credentials: "same-origin" });
  } catch (err) {
    return toast(errorText(new RequestError(err.message)), 6000);
  }
  if (!res.ok) {
    let data = null;
    try { data = await res.json(); } catch { data = null; }
    return toast(errorText(new RequestError((data && data.detail) || res.statusText, { status: res.status, data })), 8000);
  }
  const name = (res.headers.get("content-disposition") || "").match(/filename\*?=(?:UTF-8'')?"?([^";]+)/i);
  const url = URL.createObjectURL(await res.blob());
  const a = h("a", { href: url, download: name ? decodeURIComponent(name[1]) : `search.${ext}` });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60000);
}

/** The text search's suggestions (codes, names, roads; ``extra``: places) for the datalist. */
export async function suggest(q, extra = []) {
  const { data } = await request("/api/search?" + new URLSearchParams({ q, limit: 8 }));
  const seen = new Set(extra);
  for (const f of data.features || []) {
    const p = f.properties;
    for (const v of [p.code, p.name, p.road_name, p.compound_name]) if (v && !seen.has(v) && String(v).includes(q)) seen.add(v);
  }
  fill($("#q-suggest"), ...[...seen].map((v) => h("option", { value: v })));
}
