/* The registry map (the page's entry module): layers from vector tiles, districts,
 * basemaps (shifted when GCJ-02), the legend and filters, and the wiring of search,
 * the asset file and the parking planner. Everything the page knows about layers comes
 * from /api/layers (the server's catalogue). Leaflet and its plugins are classic
 * scripts loaded before this module; they provide the global ``L``. */

import { closeFile, openFile, rerenderFile } from "./assetfile.js";
import { Auth } from "./auth.js";
import { buildBasemaps } from "./basemaps.js";
import { gcj02ToWgs84, parseCoordinates, toWgs84 } from "./coords.js";
import { $, fill, h, toast } from "./dom.js";
import { errorText, request } from "./http.js";
import { I18n, t } from "./i18n.js";
import { initParking } from "./parking.js";
import { findText, suggestText } from "./places.js";
import { questionKeys, questionRows } from "./questions.js";
import {
  clearResults, drawResults, drawSearch, exportResults, listResults, radiusSearch, rerunSearch, runSearch,
} from "./search.js";
import { App, districtLabel, districtName, fromMap, geoJSON, passesFilters, readHash, refreshTiles, toMap, writeHash } from "./state.js";

// Leaflet.VectorGrid's canvas renderer still calls L.DomEvent.fakeStop, removed in
// Leaflet 1.9: without it a click on an asset drawn in a tile throws.
if (!L.DomEvent.fakeStop) L.DomEvent.fakeStop = (e) => { e._stopped = true; };
// Its point symbolizer is a CircleMarker placed in tile pixels, without a latlng:
// Leaflet 1.9 takes a small circle's event position from getLatLng() and throws.
// Without getLatLng the position comes from the mouse event, which is right.
L.CircleMarker.addInitHook(function () {
  if (this._point && !this._latlng) this.getLatLng = null;
});

const JIAOZUO = [35.215, 113.24];
const TODAY = new Date().toISOString().slice(0, 10);

// ---------------------------------------------------------------- map
function buildMap() {
  const map = L.map("map", { zoomControl: false, keyboard: true, preferCanvas: false, fullscreenControl: false }).setView(JIAOZUO, 11);
  L.control.zoom({ position: "topleft", zoomInTitle: t("zoom_in"), zoomOutTitle: t("zoom_out") }).addTo(map);
  App.map = map;
  map.attributionControl.setPrefix(false);
  map.createPane("districts").style.zIndex = 350;
  map.createPane("assets").style.zIndex = 420;
  map.createPane("results").style.zIndex = 640;
  const full = { position: "topleft", title: t("full_screen"), titleCancel: t("full_screen_exit") };
  if (L.control.fullscreen) L.control.fullscreen(full).addTo(map);
  else if (L.Control.FullScreen) new L.Control.FullScreen(full).addTo(map);
  if (L.control.locate) L.control.locate({ position: "topleft", setView: "once", strings: { title: t("near_me") } }).addTo(map);
  if (L.control.polylineMeasure) {
    L.control.polylineMeasure({ position: "topleft", unit: "metres", showBearings: false,
      measureControlTitleOn: t("measure_on"), measureControlTitleOff: t("measure_off"),
      // (the plugin joins these into one tooltip; our own words, no markup)
      tooltipTextFinish: t("measure_finish") + "；", tooltipTextDelete: t("measure_delete"),
      tooltipTextMove: t("measure_move") + "；", tooltipTextResume: "；" + t("measure_resume"),
      tooltipTextAdd: t("measure_add") }).addTo(map);
  }
  L.control.scale({ imperial: false }).addTo(map);
  map.pm.setLang(I18n.lang === "en" ? "en" : "zh");
  map.pm.addControls({ position: "topleft", drawMarker: false, drawCircleMarker: false, drawPolyline: false, drawText: false,
    drawCircle: false, drawRectangle: false, drawPolygon: false, editMode: false, dragMode: false, cutPolygon: false,
    removalMode: false, rotateMode: false });
  map.on("moveend zoomend", () => { shiftAssetPane(); writeHash(); });
  map.on("click", (e) => {
    if (App.clickHandler) return App.clickHandler(e);
    if (map.pm.globalDrawModeEnabled()) return;
    radiusSearch(fromMap(e.latlng));
  });
  // VectorGrid's canvas tiles swallow map clicks (Leaflet hands a click on an
  // interactive canvas to its renderer only): a click or long press that hit no asset
  // is passed on to the map, so radius search and drawing work everywhere.
  for (const type of ["click", "contextmenu"]) {
    map.getContainer().addEventListener(type, (e) => {
      const onTile = e.target.tagName === "CANVAS" && map.getPane("assets").contains(e.target);
      if (onTile && !App.featureClicked) {
        if (type === "contextmenu") e.preventDefault();
        map.fire(type, { latlng: map.mouseEventToLatLng(e), layerPoint: map.mouseEventToLayerPoint(e),
          containerPoint: map.mouseEventToContainerPoint(e), originalEvent: e });
      }
      App.featureClicked = false;
    });
  }
  map.on("pm:globaldrawmodetoggled", (e) => {
    // while drawing, asset tiles must not take the clicks meant for vertices
    map.getPane("assets").style.pointerEvents = e.enabled ? "none" : "";
  });
  // Long press (touch) or right click = the radius search.
  map.on("contextmenu", (e) => { if (!App.clickHandler) radiusSearch(fromMap(e.latlng)); });
}

/** Vector tiles are cut on the WGS84 grid; on a GCJ-02 basemap the whole asset pane is
 * moved by the local offset (it varies by metres across the city, far below a pixel
 * at the zooms where it matters). */
function shiftAssetPane() {
  const pane = App.map.getPane("assets");
  if (App.crs !== "gcj02") { pane.style.transform = ""; return; }
  const c = App.map.getCenter();
  const w = gcj02ToWgs84(c.lng, c.lat);
  const a = App.map.latLngToLayerPoint(L.latLng(w[1], w[0]));
  const b = App.map.latLngToLayerPoint(c);
  pane.style.transform = `translate(${b.x - a.x}px, ${b.y - a.y}px)`;
}
function redrawVectors() {
  shiftAssetPane();
  drawDistricts();
  drawResults();
}

// ---------------------------------------------------------------- districts
async function loadDistricts() {
  const { data } = await request("/api/districts");
  App.districts = data;
  $("#district").append(...data.features.map((f) => h("option", { value: f.properties.code, text: districtName(f.properties) })));
  drawDistricts();
}
function drawDistricts() {
  if (!App.districts) return;
  if (App.districtLayer) App.map.removeLayer(App.districtLayer);
  App.districtLayer = geoJSON(App.districts, {
    pane: "districts", interactive: false,
    style: { color: "#546e7a", weight: 1.5, fillColor: "#cfd8dc", fillOpacity: 0.25, dashArray: "4 3" },
    // an element, not a string: Leaflet reads a string tooltip as HTML
    onEachFeature: (f, layer) => layer.bindTooltip(h("span", { text: districtName(f.properties) }),
      { permanent: true, direction: "center", className: "district-label" }),
  }).addTo(App.map);
}

// ---------------------------------------------------------------- layers + legend
/** Past the layer's due date (a water test): an outline over the last-state fill. */
const isOverdue = (spec, props) => {
  const due = spec.style.due && props[spec.style.due];
  return !!due && String(due).slice(0, 10) < TODAY;
};
function featureStyle(spec, props) {
  if (!passesFilters(spec, props)) return [];
  const v = props[spec.style.by];
  const color = spec.style.colors[v === null || v === undefined ? "" : String(v)] || spec.style.default;
  const poly = spec.geometry_types.includes("Polygon");
  // a point standing for several nearby assets (city zooms) grows with their number
  const n = props.point_count || 1;
  const radius = n > 1 ? Math.min(spec.style.radius + 2 * Math.log2(n), spec.style.radius + 12) : spec.style.radius;
  const overdue = isOverdue(spec, props);
  return { radius, weight: overdue ? 3 : poly ? 1.5 : 1, color: overdue ? spec.style.due_color : poly ? color : "#333",
    opacity: 0.9, fill: true, fillColor: color, fillOpacity: poly ? 0.45 : 0.9 };
}
function tileLayerFor(spec) {
  const layer = L.vectorGrid.protobuf(`/ogc/collections/${spec.name}/tiles/WebMercatorQuad/{z}/{x}/{y}`, {
    pane: "assets", interactive: true, maxNativeZoom: 18, maxZoom: 20, rendererFactory: L.canvas.tile,
    vectorTileLayerStyles: { [spec.name]: (props) => featureStyle(spec, props) }, getFeatureId: (f) => f.properties.id,
  });
  layer.on("click", (e) => {
    L.DomEvent.stop(e);
    App.featureClicked = true;
    const p = e.layer.properties;
    if (p && p.id) openFile(spec.name, p.id);
    // several assets merged into one point: zoom in towards them
    else if (p && p.point_count > 1) App.map.setView(e.latlng, Math.min(App.map.getZoom() + 2, 17));
  });
  // a long press (right click) on an asset searches around it, as it does elsewhere
  layer.on("contextmenu", (e) => {
    L.DomEvent.stop(e);
    App.featureClicked = true;
    if (!App.clickHandler) radiusSearch(fromMap(e.latlng));
  });
  return layer;
}
function legendEntries(spec) {
  const attr = spec.style.by === "status" ? { choices: spec.statuses } : spec.attrs.find((a) => a.name === spec.style.by);
  const swatch = (extra, style) => h("span", { class: "swatch" + extra + (spec.geometry_types.includes("Polygon") ? " poly" : ""), style });
  const entries = Object.entries(spec.style.colors).map(([code, color]) => {
    const choice = attr && attr.choices && attr.choices.find((c) => c.code === code);
    let label = choice ? I18n.label(choice) : code;
    if (attr && attr.type === "boolean") label = code === "true" ? I18n.pick("合格", "Passed") : I18n.pick("不合格", "Failed");
    return h("li", {}, swatch("", `background:${color}`), label);
  });
  entries.push(h("li", {}, swatch("", `background:${spec.style.default}`), I18n.pick("其他/未知", "Other / unknown")));
  if (spec.style.due) {
    const dueAttr = spec.attrs.find((a) => a.name === spec.style.due);
    entries.push(h("li", {}, swatch(" ring", `border-color:${spec.style.due_color}`),
      t("overdue") + (dueAttr ? `（${I18n.label(dueAttr)} < ${t("today")}）` : "")));
  }
  const byLabel = attr ? (spec.style.by === "status" ? t("status") : I18n.label(attr)) : spec.style.by;
  return [h("div", { class: "hint", text: t("legend") + "：" + byLabel }),
    h("ul", { class: "legend", "aria-label": I18n.label(spec) + " " + t("legend") }, entries)];
}
function buildLayerList() {
  fill($("#layer-list"), ...App.catalog.layers.map((spec) => {
    const id = "lyr-" + spec.name;
    const cb = h("input", { type: "checkbox", id, checked: App.visible.has(spec.name) ? "checked" : null,
      onchange: () => { setLayerVisible(spec.name, cb.checked); writeHash(); } });
    return h("div", { class: "layer" }, h("label", { for: id }, cb, " ", I18n.label(spec)), legendEntries(spec));
  }));
}
function setLayerVisible(name, on) {
  if (on) {
    App.visible.add(name);
    if (!App.tileLayers[name]) App.tileLayers[name] = tileLayerFor(App.layers[name]);
    App.tileLayers[name].addTo(App.map);
  } else {
    App.visible.delete(name);
    if (App.tileLayers[name]) App.map.removeLayer(App.tileLayers[name]);
  }
}

/** The filters follow the chosen layer: its own statuses and the value filters it
 * declares (``filters`` in /api/layers), never a merge of every layer's choices. */
function buildFilters() {
  const spec = App.layers[App.filters.layer];
  const layerSel = h("select", { id: "filter-layer", "aria-label": I18n.pick("筛选图层", "Filter layer") },
    h("option", { value: "", text: I18n.pick("请选择图层…", "Choose a layer…") }),
    App.catalog.layers.map((s) => h("option", { value: s.name, text: I18n.label(s) })));
  layerSel.value = spec ? spec.name : "";
  layerSel.addEventListener("change", () => {
    App.filters = { layer: layerSel.value };
    buildFilters();
    applyFilters();
  });
  const rows = [h("div", { class: "row" }, h("label", {}, h("span", { text: I18n.pick("图层", "Layer") + " " }), layerSel))];
  if (!spec) rows.push(h("p", { class: "hint", text: I18n.pick("先选择图层，再按其状态和类型筛选", "Choose a layer to filter by its status and kinds") }));
  for (const name of spec ? spec.filters || ["status"] : []) {
    const attr = name === "status" ? { name, choices: spec.statuses } : spec.attrs.find((a) => a.name === name);
    if (!attr || !attr.choices || !attr.choices.length) continue;
    const label = name === "status" ? (spec.workflow ? I18n.pick("状态（流程步骤）", "Status (workflow step)") : t("status")) : I18n.label(attr);
    const sel = h("select", { id: "filter-" + name, "aria-label": label },
      h("option", { value: "", text: t("all") }), attr.choices.map((c) => h("option", { value: c.code, text: I18n.label(c) })));
    sel.value = App.filters[name] || "";
    sel.addEventListener("change", () => { App.filters[name] = sel.value; applyFilters(); });
    rows.push(h("div", { class: "row" }, h("label", {}, h("span", { text: label + " " }), sel)));
  }
  // the everyday questions the layer declares (flags, overdue, deadlines, inspections)
  rows.push(...questionRows(spec, App.filters, (name, value) => { App.filters[name] = value; applyFilters(); }));
  fill($("#filters"), ...rows);
}
/** Is a question of the chosen layer asked (逾期, a flag, a date)? */
const questionAsked = () => questionKeys(App.layers[App.filters.layer]).some((k) => App.filters[k]);
function applyFilters() {
  refreshTiles();
  drawResults();
  writeHash();
  // a question is answered by the search (tiles do not carry it): with no search of
  // its own, the layer's matches are listed and drawn, and cleared with the question
  const questionsOnly = !App.lastSearch || App.lastSearch.kind === "questions";
  if (questionAsked() && questionsOnly) return runSearch({ kind: "questions", params: {} });
  if (!questionAsked() && App.lastSearch && App.lastSearch.kind === "questions") return clearResults();
  rerunSearch();
}

// ---------------------------------------------------------------- wiring
function wireUI() {
  $("#lang-btn").addEventListener("click", () => { I18n.toggle(); relabelPage(); });
  $("#menu-btn").addEventListener("click", () => {
    const open = $("#sidebar").classList.toggle("open");
    $("#menu-btn").setAttribute("aria-expanded", open);
  });
  $("#coord-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const p = parseCoordinates($("#coord").value);
    if (!p) return toast(t("coord_bad"));
    radiusSearch(toWgs84(p[0], p[1], $("#coord-sys").value), { fly: true });
  });
  $("#near-me").addEventListener("click", () => {
    if (!navigator.geolocation) return toast(t("error"));
    navigator.geolocation.getCurrentPosition(
      (pos) => radiusSearch([pos.coords.longitude, pos.coords.latitude], { fly: true }),
      (err) => toast(errorText(err)), { enableHighAccuracy: true, timeout: 10000 });
  });
  $("#draw-rect").addEventListener("click", () => drawSearch("Rectangle"));
  $("#draw-poly").addEventListener("click", () => drawSearch("Polygon"));
  $("#district").addEventListener("change", (e) => {
    const code = e.target.value;
    if (!code) return;
    const f = App.districts.features.find((d) => d.properties.code === code);
    App.searchShape = f ? { type: "polygon", geometry: f.geometry } : null;
    if (f) App.map.fitBounds(geoJSON(f).getBounds());
    runSearch({ kind: "district", params: { district: code } });
  });
  $("#text-search").addEventListener("submit", async (e) => {
    e.preventDefault();
    const q = $("#q").value.trim();
    if (!q) return;
    await findText(q);
  });
  let suggestTimer = null;
  $("#q").addEventListener("input", () => {
    clearTimeout(suggestTimer);
    const q = $("#q").value.trim();
    if (q.length < 2) return;
    suggestTimer = setTimeout(() => suggestText(q).catch((err) => toast(errorText(err), 5000)), 250);
  });
  $("#clear-results").addEventListener("click", clearResults);
  $("#export-format").addEventListener("change", (e) => { exportResults(e.target.value); e.target.value = ""; });
  $("#file-close").addEventListener("click", closeFile);
  // Esc closes the asset file (a dialog or a drawing tool that is open takes it first)
  document.addEventListener("keydown", (e) => {
    if (e.key !== "Escape" || e.defaultPrevented || $("#file").hidden) return;
    if (App.map.pm.globalDrawModeEnabled() || $("#login-dialog")) return;
    closeFile();
  });
}

/** Show only what the role may do; the server still checks every request. */
function applyPermissions() {
  $("#draw-parking").closest("section").hidden = !(App.layers.parking && Auth.can("create", "parking"));
  const up = $('a[href="/upload"]');
  if (up) up.hidden = !Auth.canAny("import");
  rerenderFile();
}

/** The page in the current language (before the catalogue is there: its static text). */
function relabelPage() {
  if (App.catalog) relabel();
  else I18n.apply();
}
function relabel() {
  I18n.apply();
  Auth.relabel();
  buildLayerList();
  buildFilters();
  buildBasemaps({ onDatumChange: redrawVectors });
  for (const o of $("#district").options) if (o.value) o.textContent = districtLabel(o.value);
  drawDistricts();
  listResults();
  App.map.pm.setLang(I18n.lang === "en" ? "en" : "zh");
  rerenderFile();
}

async function start() {
  I18n.apply();
  App.hashState = readHash();
  buildMap();
  wireUI();
  Auth.onLang = relabelPage;
  // Nothing but the page and the catalogue is public: sign in first (unless reading is open).
  await Auth.ensure();
  Auth.onChange(() => {
    applyPermissions();
    refreshTiles();
    if (!App.districts) loadDistricts().catch((err) => toast(errorText(err), 8000));
    rerunSearch();
  });
  // Districts first (in parallel with the catalogue): they are the map's context and
  // must not queue behind dozens of tile requests.
  const districtsLoaded = loadDistricts();
  const { data } = await request("/api/layers");
  App.catalog = data;
  for (const spec of data.layers) App.layers[spec.name] = spec;
  const wanted = App.hashState.layers !== undefined ? App.hashState.layers.split(",").filter((n) => App.layers[n]) : Object.keys(App.layers);
  if (App.layers[App.hashState.filter]) {
    App.filters = { layer: App.hashState.filter };
    for (const [k, v] of Object.entries(App.hashState)) if (k.startsWith("f_") && v) App.filters[k.slice(2)] = v;
  }
  App.restoring = true;
  const view = App.hashState.map ? App.hashState.map.split("/").map(Number) : null;
  if (view && !view.some(Number.isNaN)) App.map.setView(L.latLng(view[1], view[2]), view[0], { animate: false });
  buildBasemaps({ onDatumChange: redrawVectors });
  await districtsLoaded;
  // the basemap decides the datum: place the view again in its coordinates
  if (view && !view.some(Number.isNaN)) App.map.setView(toMap(view[2], view[1]), view[0], { animate: false });
  for (const n of wanted) setLayerVisible(n, true);
  buildLayerList();
  buildFilters();
  applyPermissions();
  App.restoring = false;
  if (App.hashState.search) {
    const params = Object.fromEntries(new URLSearchParams(App.hashState.search));
    if (params.lon && params.lat) App.searchShape = { type: "circle", center: [Number(params.lon), Number(params.lat)], radius: Number(params.radius || 200) };
    runSearch({ kind: "restored", params }, { fit: false });
  } else if (questionAsked()) {
    runSearch({ kind: "questions", params: {} }, { fit: false });
  }
  if (App.hashState.asset) {
    const [layer, id] = App.hashState.asset.split("/");
    openFile(layer, id);
  }
  writeHash();
  initParking();
  document.body.dataset.ready = "1";
}

start().catch((err) => {
  toast(errorText(err), 8000);
  console.error(err);
});
