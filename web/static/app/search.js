/* Location search: radius (click, long press, coordinates, near me), drawn rectangle or
 * polygon, district, text; the results list synced with the map (hover and click both
 * ways), the printable map link and the export of exactly the listed results. */

import { openFile } from "./assetfile.js";
import { $, fill, h, toast } from "./dom.js";
import { errorText, request } from "./http.js";
import { I18n, t } from "./i18n.js";
import { App, choiceLabel, geoJSON, layerToGeometry, passesFilters, toMap, writeHash } from "./state.js";

const RESULT_STYLE = { color: "#1f4e79", weight: 2, fillColor: "#fff", fillOpacity: 0.3 };
const HIGHLIGHT_STYLE = { color: "#f9a825", weight: 4, fillColor: "#f9a825", fillOpacity: 0.6 };
const idOf = (f) => f.id || f.properties.id;

/** Search parameters with the visible layers, the status filter and a page size. */
function commonParams(p) {
  const q = new URLSearchParams(p);
  const layers = [...App.visible].join(",");
  if (layers) q.set("layers", layers);
  if (App.filters.status) q.set("status", App.filters.status);
  if (!q.has("limit")) q.set("limit", "200");
  return q;
}

/** Run a search ({kind, method, params, body}), then draw and list what it found. */
export async function runSearch(search) {
  App.lastSearch = search;
  writeHash();
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
}
export function rerunSearch() {
  if (App.lastSearch) return runSearch(App.lastSearch);
}

export function radiusSearch(lonlat, opts) {
  const radius = Number($("#radius").value) || 200;
  App.searchShape = { type: "circle", center: lonlat, radius };
  const done = runSearch({ kind: "radius", params: { lon: lonlat[0].toFixed(7), lat: lonlat[1].toFixed(7), radius, coord_sys: "wgs84" } });
  if (opts && opts.fly) App.map.flyTo(toMap(lonlat[0], lonlat[1]), Math.max(App.map.getZoom(), 16), { duration: 0.5 });
  return done;
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
  pm.href = printable ? "/api/search/map.html?" + commonParams(App.lastSearch.params) : "#";
  pm.hidden = !printable;
}

/** Export exactly the listed results: their ids go to /api/export, which writes one
 * file (a table or sheet per layer where the format has them) or names any id it
 * could not find. */
export function exportResults(format) {
  if (!format || !App.results.length) return;
  const ids = App.results.map(idOf);
  const layers = [...new Set(App.results.map((f) => f.properties.layer))];
  const q = new URLSearchParams({ format, ids: ids.join(",") });
  if (layers.length === 1) q.set("layer", layers[0]);
  const ext = { csv: "csv", xlsx: "xlsx", geojson: "geojson", gpkg: "gpkg" }[format];
  const a = h("a", { href: "/api/export?" + q, download: `${layers.length === 1 ? layers[0] : "search"}.${ext}` });
  document.body.append(a);
  a.click();
  a.remove();
}

/** The text search's suggestions (codes, names, roads) for the datalist. */
export async function suggest(q) {
  const { data } = await request("/api/search?" + new URLSearchParams({ q, limit: 8 }));
  const seen = new Set();
  for (const f of data.features || []) {
    const p = f.properties;
    for (const v of [p.code, p.name, p.road_name, p.compound_name]) if (v && !seen.has(v) && String(v).includes(q)) seen.add(v);
  }
  fill($("#q-suggest"), ...[...seen].map((v) => h("option", { value: v })));
}
