/* The registry map: layers from vector tiles, districts, basemaps (shifted when GCJ-02),
 * location search and a results list synced with the map. Everything the page knows
 * about layers comes from /api/layers (the server's catalogue). */
(function () {
  "use strict";
  const t = (k, v) => I18n.t(k, v);
  const CFG = window.REGISTRY_CONFIG || { basemaps: [] };
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
  const $ = (sel) => document.querySelector(sel);
  const h = (tag, attrs, ...kids) => {
    const el = document.createElement(tag);
    for (const k in attrs || {}) {
      if (k === "text") el.textContent = attrs[k];
      // through the DOM: the CSP refuses style attributes set as markup (style-src)
      else if (k === "style") el.style.cssText = attrs[k];
      else if (k.startsWith("on")) el.addEventListener(k.slice(2), attrs[k]);
      else if (attrs[k] !== undefined && attrs[k] !== null && attrs[k] !== false) el.setAttribute(k, attrs[k]);
    }
    for (const kid of kids.flat()) if (kid !== null && kid !== undefined) el.append(kid.nodeType ? kid : String(kid));
    return el;
  };

  // ---------------------------------------------------------------- state
  const App = {
    catalog: null, // {layers: [...]} from the server
    layers: {}, // name -> spec
    map: null,
    crs: "wgs84", // datum of the active basemap: "gcj02" shifts what we draw
    tileLayers: {}, // name -> VectorGrid
    visible: new Set(),
    filters: { status: "", grade: "", kind: "" },
    lastSearch: null, // {method, params|body}
    results: [],
    h, $, t,
  };
  window.App = App;

  // ---------------------------------------------------------------- helpers
  App.toast = function (msg, ms) {
    const el = $("#toast");
    el.textContent = msg;
    el.classList.add("show");
    clearTimeout(App._toastTimer);
    App._toastTimer = setTimeout(() => el.classList.remove("show"), ms || 3000);
  };
  /** The session's CSRF token (cookie ``registry_csrf``), echoed on every state change. */
  App.csrf = () => Auth.csrf();
  /** May the signed-in role do ``action`` on ``layer``? Only decides which controls show. */
  App.can = (action, layer) => Auth.can(action, layer);
  App.fetchJSON = async function (url, opts) {
    opts = Object.assign({ headers: {} }, opts || {});
    opts.headers = Object.assign({ Accept: "application/json" }, opts.headers);
    if (opts.method && opts.method !== "GET") {
      opts.headers["X-CSRF-Token"] = App.csrf();
      if (opts.body && typeof opts.body !== "string" && !(opts.body instanceof FormData)) {
        opts.body = JSON.stringify(opts.body);
        opts.headers["Content-Type"] = opts.headers["Content-Type"] || "application/json";
      }
    }
    opts.credentials = "same-origin";
    const res = await fetch(url, opts);
    let data = null;
    const text = await res.text();
    try { data = text ? JSON.parse(text) : null; } catch (e) { data = { detail: text }; }
    if (!res.ok) {
      // the session ended (expired or signed out elsewhere): ask to sign in again
      if (res.status === 401 && Auth.user) Auth.expired();
      const err = new Error((data && (data.detail || data.message)) || res.statusText);
      err.status = res.status; err.data = data; err.response = res;
      throw err;
    }
    return { data, res };
  };
  App.errorText = function (err) {
    const d0 = err && err.data;
    if (err && err.status === 403) return t("forbidden") + "：" + ((d0 && d0.detail) || "");
    if (err && err.status === 401) return t("session_expired");
    if (err && err.status === 404) return t("not_available") + " (" + (err.response ? new URL(err.response.url).pathname : "") + ")";
    const d = err && err.data;
    if (d && Array.isArray(d.errors) && d.errors.length) return d.errors.map((e) => (e.field ? e.field + ": " : "") + (e.message || e.msg)).join("; ");
    if (d && typeof d.detail === "string") return d.detail;
    if (d && Array.isArray(d.detail)) return d.detail.map((e) => (e.loc || []).join(".") + ": " + e.msg).join("; ");
    return (err && err.message) || t("error");
  };
  App.choiceLabel = function (spec, attrName, code) {
    if (code === null || code === undefined || code === "") return "";
    const attr = attrName === "status" ? { choices: spec.statuses } : spec.attrs.find((a) => a.name === attrName);
    const c = attr && attr.choices && attr.choices.find((c) => c.code === String(code));
    return c ? I18n.label(c) : String(code);
  };
  App.formatValue = function (spec, attr, v) {
    if (v === null || v === undefined || v === "") return "—";
    if (attr.choices && attr.choices.length) return App.choiceLabel(spec, attr.name, v);
    if (attr.type === "boolean") return v ? (I18n.lang === "en" ? "Yes" : "是") : (I18n.lang === "en" ? "No" : "否");
    return String(v) + (attr.unit ? " " + attr.unit : "");
  };

  // WGS84 <-> what the map displays. On a GCJ-02 basemap everything is shifted.
  App.toMap = function (lon, lat) {
    const p = App.crs === "gcj02" ? Coords.wgs84ToGcj02(lon, lat) : [lon, lat];
    return L.latLng(p[1], p[0]);
  };
  App.fromMap = function (latlng) {
    return App.crs === "gcj02" ? Coords.gcj02ToWgs84(latlng.lng, latlng.lat) : [latlng.lng, latlng.lat];
  };
  /** GeoJSON (WGS84) → Leaflet layer in map coordinates. */
  App.geoJSON = function (data, options) {
    // Display layers are not edited and not snapped to unless a caller says so.
    return L.geoJSON(data, Object.assign({ coordsToLatLng: (c) => App.toMap(c[0], c[1]), pmIgnore: true, snapIgnore: true }, options || {}));
  };
  /** A Leaflet polygon/point layer → GeoJSON geometry in WGS84. */
  App.layerToGeometry = function (layer) {
    const gj = layer.toGeoJSON(12).geometry;
    const un = (c) => App.fromMap(L.latLng(c[1], c[0]));
    const walk = (coords) => (typeof coords[0] === "number" ? un(coords) : coords.map(walk));
    return { type: gj.type, coordinates: walk(gj.coordinates) };
  };
  /** Area on the sphere (m²) of a WGS84 ring, for the live figure while drawing. */
  App.ringArea = function (ring) {
    const R = 6378137, rad = Math.PI / 180;
    let s = 0;
    for (let i = 0; i < ring.length; i++) {
      const [x1, y1] = ring[i], [x2, y2] = ring[(i + 1) % ring.length];
      s += (x2 - x1) * rad * (2 + Math.sin(y1 * rad) + Math.sin(y2 * rad));
    }
    return Math.abs((s * R * R) / 2);
  };

  // ---------------------------------------------------------------- map
  function buildMap() {
    const map = L.map("map", { zoomControl: true, keyboard: true, preferCanvas: false, fullscreenControl: false }).setView(JIAOZUO, 11);
    App.map = map;
    map.attributionControl.setPrefix(false);
    map.createPane("districts").style.zIndex = 350;
    map.createPane("assets").style.zIndex = 420;
    map.createPane("results").style.zIndex = 640;
    if (L.control.fullscreen) L.control.fullscreen({ position: "topleft", title: "全屏 / Full screen" }).addTo(map);
    else if (L.Control.FullScreen) new L.Control.FullScreen({ position: "topleft" }).addTo(map);
    if (L.control.locate) {
      App.locate = L.control.locate({ position: "topleft", setView: "once", strings: { title: t("near_me") } }).addTo(map);
    }
    if (L.control.polylineMeasure) L.control.polylineMeasure({ position: "topleft", unit: "metres", showBearings: false }).addTo(map);
    L.control.scale({ imperial: false }).addTo(map);
    map.pm.setLang(I18n.lang === "en" ? "en" : "zh");
    map.pm.addControls({ position: "topleft", drawMarker: false, drawCircleMarker: false, drawPolyline: false, drawText: false,
      drawCircle: false, drawRectangle: false, drawPolygon: false, editMode: false, dragMode: false, cutPolygon: false,
      removalMode: false, rotateMode: false });
    map.on("moveend zoomend", () => { shiftAssetPane(); writeHash(); });
    map.on("click", (e) => {
      if (App.clickHandler) return App.clickHandler(e);
      if (map.pm.globalDrawModeEnabled()) return;
      radiusSearch(App.fromMap(e.latlng));
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
    // Long press (touch) = click for the radius search.
    let pressTimer = null;
    map.on("contextmenu", (e) => { clearTimeout(pressTimer); if (!App.clickHandler) radiusSearch(App.fromMap(e.latlng)); });
    map.getContainer().addEventListener("touchend", () => clearTimeout(pressTimer));
  }

  function buildBasemaps() {
    const box = $("#basemaps");
    box.innerHTML = "";
    const choices = [{ name: t("no_basemap"), url: null, crs: "wgs84" }].concat(CFG.basemaps || []);
    const sel = h("select", { id: "basemap", "aria-label": t("basemap") },
      choices.map((b, i) => h("option", { value: i, text: b.name })));
    box.append(h("label", {}, h("span", { text: t("basemap") + " " }), sel));
    let tile = null;
    const use = (i) => {
      const b = choices[i];
      if (tile) { App.map.removeLayer(tile); tile = null; }
      if (b.url) {
        tile = L.tileLayer(b.url, { attribution: b.attribution || "", maxZoom: b.max_zoom || 19, subdomains: b.subdomains || "abc" }).addTo(App.map);
        tile.bringToBack();
      }
      const before = App.crs;
      App.crs = b.crs || "wgs84";
      App.basemapIndex = i;
      if (before !== App.crs) App.redrawVectors();
      writeHash();
    };
    sel.addEventListener("change", () => use(Number(sel.value)));
    const start = Math.min(Number(App.hashState.basemap || (choices.length > 1 ? 1 : 0)), choices.length - 1);
    sel.value = start;
    use(start);
  }

  /** Vector tiles are cut on the WGS84 grid; on a GCJ-02 basemap the whole asset pane is
   * moved by the local offset (it varies by metres across the city, far below a pixel
   * at the zooms where it matters). */
  function shiftAssetPane() {
    const pane = App.map.getPane("assets");
    if (App.crs !== "gcj02") { pane.style.transform = ""; return; }
    const c = App.map.getCenter();
    const w = Coords.gcj02ToWgs84(c.lng, c.lat);
    const a = App.map.latLngToLayerPoint(L.latLng(w[1], w[0]));
    const b = App.map.latLngToLayerPoint(c);
    pane.style.transform = `translate(${b.x - a.x}px, ${b.y - a.y}px)`;
  }
  App.redrawVectors = function () {
    shiftAssetPane();
    drawDistricts();
    drawResults();
    if (App.onCrsChange) App.onCrsChange();
  };

  // ---------------------------------------------------------------- districts
  async function loadDistricts() {
    const { data } = await App.fetchJSON("/api/districts");
    App.districts = data;
    const sel = $("#district");
    for (const f of data.features) sel.append(h("option", { value: f.properties.code, text: districtName(f.properties) }));
    drawDistricts();
  }
  const districtName = (p) => (I18n.lang === "en" ? p.name_en : p.name_zh);
  function drawDistricts() {
    if (!App.districts) return;
    if (App.districtLayer) App.map.removeLayer(App.districtLayer);
    App.districtLayer = App.geoJSON(App.districts, {
      pane: "districts", interactive: false,
      style: { color: "#546e7a", weight: 1.5, fillColor: "#cfd8dc", fillOpacity: 0.25, dashArray: "4 3" },
      onEachFeature: (f, layer) => layer.bindTooltip(districtName(f.properties), { permanent: true, direction: "center", className: "district-label" }),
    }).addTo(App.map);
  }

  // ---------------------------------------------------------------- layers + legend
  function styleValue(spec, props) {
    const v = props[spec.style.by];
    return v === null || v === undefined ? "" : String(v);
  }
  const TODAY = new Date().toISOString().slice(0, 10);
  // past the layer's due date (a water test): an outline over the last-state fill
  App.isOverdue = (spec, props) => {
    const due = spec.style.due && props[spec.style.due];
    return !!due && String(due).slice(0, 10) < TODAY;
  };
  function passesFilters(spec, props) {
    const f = App.filters;
    if (f.status && props.status !== undefined && props.status !== f.status) return false;
    if (f.grade && props.risk_grade !== undefined && props.risk_grade !== f.grade) return false;
    if (f.kind && props.kind !== undefined && props.kind !== f.kind) return false;
    // a filter on an attribute this layer lacks hides the layer's features
    if (f.grade && !spec.attrs.some((a) => a.name === "risk_grade")) return false;
    if (f.kind && !spec.attrs.some((a) => a.name === "kind")) return false;
    return true;
  }
  App.featureStyle = function (spec, props) {
    if (!passesFilters(spec, props)) return [];
    const color = spec.style.colors[styleValue(spec, props)] || spec.style.default;
    const poly = spec.geometry_types.includes("Polygon");
    // a point standing for several nearby assets (city zooms) grows with their number
    const n = props.point_count || 1;
    const radius = n > 1 ? Math.min(spec.style.radius + 2 * Math.log2(n), spec.style.radius + 12) : spec.style.radius;
    const overdue = App.isOverdue(spec, props);
    return { radius, weight: overdue ? 3 : poly ? 1.5 : 1, color: overdue ? spec.style.due_color : poly ? color : "#333",
      opacity: 0.9, fill: true, fillColor: color, fillOpacity: poly ? 0.45 : 0.9 };
  };
  function tileLayerFor(spec) {
    const styles = {};
    styles[spec.name] = (props) => App.featureStyle(spec, props);
    const layer = L.vectorGrid.protobuf(`/ogc/collections/${spec.name}/tiles/WebMercatorQuad/{z}/{x}/{y}`, {
      pane: "assets", interactive: true, maxNativeZoom: 18, maxZoom: 20, rendererFactory: L.canvas.tile,
      vectorTileLayerStyles: styles, getFeatureId: (f) => f.properties.id,
    });
    layer.on("click", (e) => {
      L.DomEvent.stop(e);
      App.featureClicked = true;
      const p = e.layer.properties;
      if (p && p.id && App.openFile) App.openFile(spec.name, p.id);
      // several assets merged into one point: zoom in towards them
      else if (p && p.point_count > 1) App.map.setView(e.latlng, Math.min(App.map.getZoom() + 2, 17));
    });
    // a long press (right click) on an asset searches around it, as it does elsewhere
    layer.on("contextmenu", (e) => {
      L.DomEvent.stop(e);
      App.featureClicked = true;
      if (!App.clickHandler) radiusSearch(App.fromMap(e.latlng));
    });
    return layer;
  }
  function buildLayerList() {
    const box = $("#layer-list");
    box.innerHTML = "";
    for (const spec of App.catalog.layers) {
      const id = "lyr-" + spec.name;
      const cb = h("input", { type: "checkbox", id, checked: App.visible.has(spec.name) ? "checked" : null });
      cb.addEventListener("change", () => { setLayerVisible(spec.name, cb.checked); writeHash(); });
      const attr = spec.style.by === "status" ? { choices: spec.statuses } : spec.attrs.find((a) => a.name === spec.style.by);
      const poly = spec.geometry_types.includes("Polygon");
      const entries = Object.entries(spec.style.colors).map(([code, color]) => {
        const choice = attr && attr.choices && attr.choices.find((c) => c.code === code);
        let label = choice ? I18n.label(choice) : code;
        if (attr && attr.type === "boolean") label = code === "true" ? (I18n.lang === "en" ? "Passed" : "合格") : (I18n.lang === "en" ? "Failed" : "不合格");
        return h("li", {}, h("span", { class: "swatch" + (poly ? " poly" : ""), style: `background:${color}` }), label);
      });
      entries.push(h("li", {}, h("span", { class: "swatch" + (poly ? " poly" : ""), style: `background:${spec.style.default}` }), I18n.lang === "en" ? "Other / unknown" : "其他/未知"));
      if (spec.style.due) {
        const dueAttr = spec.attrs.find((a) => a.name === spec.style.due);
        entries.push(h("li", {}, h("span", { class: "swatch ring" + (poly ? " poly" : ""), style: `border-color:${spec.style.due_color}` }),
          t("overdue") + (dueAttr ? `（${I18n.label(dueAttr)} < ${t("today")}）` : "")));
      }
      const byLabel = attr ? (spec.style.by === "status" ? t("status") : I18n.label(attr)) : spec.style.by;
      box.append(h("div", { class: "layer" },
        h("label", { for: id }, cb, " ", I18n.label(spec)),
        h("div", { class: "hint", text: t("legend") + "：" + byLabel }),
        h("ul", { class: "legend", "aria-label": I18n.label(spec) + " " + t("legend") }, entries)));
    }
  }
  function setLayerVisible(name, on) {
    const spec = App.layers[name];
    if (on) {
      App.visible.add(name);
      if (!App.tileLayers[name]) App.tileLayers[name] = tileLayerFor(spec);
      App.tileLayers[name].addTo(App.map);
    } else {
      App.visible.delete(name);
      if (App.tileLayers[name]) App.map.removeLayer(App.tileLayers[name]);
    }
  }
  App.refreshTiles = function (name) {
    for (const n of name ? [name] : Object.keys(App.tileLayers)) {
      const l = App.tileLayers[n];
      if (l && App.map.hasLayer(l)) l.redraw();
    }
  };

  function buildFilters() {
    const box = $("#filters");
    box.innerHTML = "";
    const union = (getter) => {
      const seen = new Map();
      for (const spec of App.catalog.layers) for (const c of getter(spec) || []) if (!seen.has(c.code)) seen.set(c.code, c);
      return [...seen.values()];
    };
    const make = (key, label, choices) => {
      const sel = h("select", { id: "filter-" + key, "aria-label": label },
        h("option", { value: "", text: t("all") }), choices.map((c) => h("option", { value: c.code, text: I18n.label(c) })));
      sel.value = App.filters[key] || "";
      sel.addEventListener("change", () => { App.filters[key] = sel.value; App.refreshTiles(); drawResults(); rerunSearch(); });
      box.append(h("div", { class: "row" }, h("label", {}, h("span", { text: label + " " }), sel)));
    };
    make("status", t("status"), union((s) => s.statuses));
    make("grade", t("grade"), union((s) => (s.attrs.find((a) => a.name === "risk_grade") || {}).choices));
    make("kind", t("kind"), union((s) => (s.attrs.find((a) => a.name === "kind") || {}).choices));
  }

  // ---------------------------------------------------------------- search
  function searchLayers() {
    return [...App.visible].join(",");
  }
  function commonParams(p) {
    const q = new URLSearchParams(p);
    const layers = searchLayers();
    if (layers) q.set("layers", layers);
    if (App.filters.status) q.set("status", App.filters.status);
    if (!q.has("limit")) q.set("limit", "200");
    return q;
  }
  async function runSearch(search) {
    App.lastSearch = search;
    writeHash();
    $("#results-count").textContent = t("loading");
    try {
      let data;
      if (search.method === "POST") ({ data } = await App.fetchJSON("/api/search?" + commonParams(search.params || {}), { method: "POST", body: search.body }));
      else ({ data } = await App.fetchJSON("/api/search?" + commonParams(search.params)));
      App.results = (data.features || []).filter((f) => {
        const spec = App.layers[f.properties.layer];
        return spec ? passesFilters(spec, f.properties) : true;
      });
      App.numberMatched = data.numberMatched;
    } catch (err) {
      App.results = [];
      App.toast(App.errorText(err), 5000);
    }
    drawResults();
    listResults();
  }
  App.runSearch = runSearch;
  function rerunSearch() { if (App.lastSearch) runSearch(App.lastSearch); }

  function radiusSearch(lonlat, opts) {
    const radius = Number($("#radius").value) || 200;
    App.searchShape = { type: "circle", center: lonlat, radius };
    runSearch({ kind: "radius", params: { lon: lonlat[0].toFixed(7), lat: lonlat[1].toFixed(7), radius, coord_sys: "wgs84" } });
    if (opts && opts.fly) App.map.flyTo(App.toMap(lonlat[0], lonlat[1]), Math.max(App.map.getZoom(), 16), { duration: 0.5 });
  }
  App.radiusSearch = radiusSearch;

  function polygonSearch(geometry) {
    App.searchShape = { type: "polygon", geometry };
    runSearch({ kind: "polygon", method: "POST", body: { geometry }, params: {} });
  }
  App.polygonSearch = polygonSearch;

  function drawSearchShape() {
    if (App.shapeLayer) App.map.removeLayer(App.shapeLayer);
    App.shapeLayer = null;
    const s = App.searchShape;
    if (!s) return;
    const style = { pane: "results", color: "#1f4e79", weight: 2, fillOpacity: 0.06, dashArray: "6 4", interactive: false };
    if (s.type === "circle") App.shapeLayer = L.circle(App.toMap(s.center[0], s.center[1]), Object.assign({ radius: s.radius }, style));
    else if (s.type === "polygon") App.shapeLayer = App.geoJSON(s.geometry, { style: () => style, pane: "results" });
    if (App.shapeLayer) App.shapeLayer.addTo(App.map);
  }

  function drawResults() {
    drawSearchShape();
    if (App.resultLayer) App.map.removeLayer(App.resultLayer);
    App.resultMarkers = {};
    App.resultLayer = App.geoJSON({ type: "FeatureCollection", features: App.results }, {
      pane: "results",
      pointToLayer: (f, ll) => L.circleMarker(ll, { pane: "results", radius: 8, color: "#1f4e79", weight: 2, fillColor: "#fff", fillOpacity: 0.3 }),
      style: () => ({ color: "#1f4e79", weight: 3, fillOpacity: 0.1 }),
      onEachFeature: (f, layer) => {
        App.resultMarkers[f.id || f.properties.id] = layer;
        layer.on("mouseover", () => highlight(f.id || f.properties.id, true));
        layer.on("mouseout", () => highlight(f.id || f.properties.id, false));
        layer.on("click", (e) => { L.DomEvent.stop(e); App.openFile(f.properties.layer, f.id || f.properties.id); });
      },
    }).addTo(App.map);
  }
  function highlight(id, on) {
    const layer = App.resultMarkers && App.resultMarkers[id];
    if (layer && layer.setStyle) layer.setStyle(on ? { color: "#f9a825", weight: 4, fillColor: "#f9a825", fillOpacity: 0.6 } : { color: "#1f4e79", weight: 2, fillColor: "#fff", fillOpacity: 0.3 });
    const li = document.querySelector(`#result-list li[data-id="${id}"]`);
    if (li) li.classList.toggle("hl", on);
  }
  function focusResult(f) {
    const layer = App.resultMarkers[f.id || f.properties.id];
    if (layer) {
      if (layer.getLatLng) App.map.flyTo(layer.getLatLng(), Math.max(App.map.getZoom(), 18), { duration: 0.4 });
      else App.map.flyToBounds(layer.getBounds(), { maxZoom: 19, duration: 0.4 });
    }
    App.openFile(f.properties.layer, f.id || f.properties.id);
  }
  function listResults() {
    const ol = $("#result-list");
    ol.innerHTML = "";
    const n = App.results.length;
    const total = App.numberMatched !== undefined && App.numberMatched !== null ? App.numberMatched : n;
    $("#results-count").textContent = n ? t("results_count", { n: total }) : t("results_none");
    $("#results-tools").hidden = !n;
    for (const f of App.results) {
      const p = f.properties;
      const id = f.id || p.id;
      const spec = App.layers[p.layer];
      const name = p.name || p.compound_name || p.road_name || "";
      const li = h("li", { "data-id": id, tabindex: "0", role: "button" },
        h("span", { class: "code", text: p.code }),
        h("span", { class: "dist", text: p.distance_m !== undefined && p.distance_m !== null ? Math.round(p.distance_m) + " m" : "" }),
        h("span", { class: "meta", text: [spec ? I18n.label(spec) : p.layer, spec ? App.choiceLabel(spec, "status", p.status) : p.status, name].filter(Boolean).join(" · ") }));
      li.addEventListener("mouseenter", () => highlight(id, true));
      li.addEventListener("mouseleave", () => highlight(id, false));
      li.addEventListener("focus", () => highlight(id, true));
      li.addEventListener("blur", () => highlight(id, false));
      li.addEventListener("click", () => focusResult(f));
      li.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); focusResult(f); } });
      ol.append(li);
    }
    const pm = $("#print-map");
    pm.href = App.lastSearch && App.lastSearch.method !== "POST" ? "/api/search/map.html?" + commonParams(App.lastSearch.params) : "#";
    pm.hidden = !(App.lastSearch && App.lastSearch.method !== "POST");
  }

  /** Export exactly the listed results: their ids go to /api/export, which writes one
   * file (a table or sheet per layer where the format has them) or names any id it
   * could not find. */
  function exportResults(format) {
    if (!format || !App.results.length) return;
    const ids = App.results.map((f) => f.id || f.properties.id);
    const layers = [...new Set(App.results.map((f) => f.properties.layer))];
    const q = new URLSearchParams({ format, ids: ids.join(",") });
    if (layers.length === 1) q.set("layer", layers[0]);
    const ext = { csv: "csv", xlsx: "xlsx", geojson: "geojson", gpkg: "gpkg" }[format];
    download("/api/export?" + q, `${layers.length === 1 ? layers[0] : "search"}.${ext}`);
  }
  function download(href, name) {
    const a = h("a", { href, download: name });
    document.body.append(a); a.click(); a.remove();
  }

  // ---------------------------------------------------------------- drawing searches
  function drawSearch(shape) {
    App.map.pm.enableDraw(shape, { snappable: false, pathOptions: { color: "#1f4e79" } });
    App.map.once("pm:create", (e) => {
      if (App.drawingParking) return;
      const geometry = App.layerToGeometry(e.layer);
      App.map.removeLayer(e.layer);
      polygonSearch(geometry);
    });
  }

  // ---------------------------------------------------------------- URL hash (shareable view)
  function readHash() {
    const q = new URLSearchParams(location.hash.replace(/^#/, ""));
    const st = {};
    for (const [k, v] of q) st[k] = v;
    return st;
  }
  function writeHash() {
    if (!App.map || App._restoring) return;
    const c = App.map.getCenter();
    const w = App.fromMap(c);
    const q = new URLSearchParams();
    q.set("map", `${App.map.getZoom()}/${w[1].toFixed(5)}/${w[0].toFixed(5)}`);
    q.set("layers", [...App.visible].join(","));
    if (App.basemapIndex) q.set("basemap", App.basemapIndex);
    for (const k of ["status", "grade", "kind"]) if (App.filters[k]) q.set(k, App.filters[k]);
    if (App.lastSearch && App.lastSearch.method !== "POST") q.set("search", new URLSearchParams(App.lastSearch.params).toString());
    if (App.openAsset) q.set("asset", App.openAsset.layer + "/" + App.openAsset.id);
    history.replaceState(null, "", "#" + q.toString());
  }
  App.writeHash = writeHash;

  // ---------------------------------------------------------------- wiring
  function wireUI() {
    $("#lang-btn").addEventListener("click", () => { I18n.set(I18n.lang === "zh" ? "en" : "zh"); relabel(); });
    $("#menu-btn").addEventListener("click", () => {
      const open = $("#sidebar").classList.toggle("open");
      $("#menu-btn").setAttribute("aria-expanded", open);
    });
    $("#coord-form").addEventListener("submit", (e) => {
      e.preventDefault();
      const p = Coords.parseCoordinates($("#coord").value);
      if (!p) return App.toast(t("coord_bad"));
      const w = Coords.toWgs84(p[0], p[1], $("#coord-sys").value);
      radiusSearch(w, { fly: true });
    });
    $("#near-me").addEventListener("click", () => {
      if (!navigator.geolocation) return App.toast(t("error"));
      navigator.geolocation.getCurrentPosition(
        (pos) => radiusSearch([pos.coords.longitude, pos.coords.latitude], { fly: true }),
        (err) => App.toast(err.message), { enableHighAccuracy: true, timeout: 10000 });
    });
    $("#draw-rect").addEventListener("click", () => drawSearch("Rectangle"));
    $("#draw-poly").addEventListener("click", () => drawSearch("Polygon"));
    $("#district").addEventListener("change", (e) => {
      const code = e.target.value;
      if (!code) return;
      const f = App.districts.features.find((d) => d.properties.code === code);
      App.searchShape = f ? { type: "polygon", geometry: f.geometry } : null;
      if (f) App.map.fitBounds(App.geoJSON(f).getBounds());
      runSearch({ kind: "district", params: { district: code } });
    });
    $("#text-search").addEventListener("submit", (e) => {
      e.preventDefault();
      const q = $("#q").value.trim();
      if (!q) return;
      App.searchShape = null;
      runSearch({ kind: "text", params: { q } }).then(() => {
        if (App.resultLayer && App.results.length) App.map.fitBounds(App.resultLayer.getBounds(), { maxZoom: 17 });
      });
    });
    let suggestTimer = null;
    $("#q").addEventListener("input", () => {
      clearTimeout(suggestTimer);
      const q = $("#q").value.trim();
      if (q.length < 2) return;
      suggestTimer = setTimeout(async () => {
        try {
          const { data } = await App.fetchJSON("/api/search?" + new URLSearchParams({ q, limit: 8 }));
          const dl = $("#q-suggest");
          dl.innerHTML = "";
          const seen = new Set();
          for (const f of data.features || []) {
            const p = f.properties;
            for (const v of [p.code, p.name, p.road_name, p.compound_name]) if (v && !seen.has(v) && String(v).includes(q)) { seen.add(v); dl.append(h("option", { value: v })); }
          }
        } catch (e) { /* suggestions are optional */ }
      }, 250);
    });
    $("#clear-results").addEventListener("click", () => { App.results = []; App.lastSearch = null; App.searchShape = null; drawResults(); listResults(); writeHash(); });
    $("#export-format").addEventListener("change", (e) => { exportResults(e.target.value); e.target.value = ""; });
  }

  /** Show only what the role may do; the server still checks every request. */
  function applyPermissions() {
    const dp = $("#draw-parking");
    if (dp) dp.closest("section").hidden = !(App.layers.parking && App.can("create", "parking"));
    const up = document.querySelector('a[href="/upload"]');
    if (up) up.hidden = !Auth.canAny("import");
    if (App.openAsset && App.layers[App.openAsset.layer] && App.onRelabel) App.onRelabel();
  }
  App.applyPermissions = applyPermissions;

  function relabel() {
    I18n.apply();
    Auth.relabel();
    buildLayerList();
    buildFilters();
    buildBasemaps();
    const sel = $("#district");
    [...sel.options].forEach((o) => {
      const f = App.districts && App.districts.features.find((d) => d.properties.code === o.value);
      if (f) o.textContent = districtName(f.properties);
    });
    drawDistricts();
    listResults();
    App.map.pm.setLang(I18n.lang === "en" ? "en" : "zh");
    if (App.onRelabel) App.onRelabel();
  }

  async function start() {
    I18n.apply();
    App.hashState = readHash();
    buildMap();
    wireUI();
    Auth.onLang = () => (App.catalog ? relabel() : I18n.apply());
    // Nothing but the page and the catalogue is public: sign in first (unless reading is open).
    await Auth.ensure();
    Auth.onChange(() => { applyPermissions(); App.refreshTiles(); if (!App.districts) loadDistricts(); rerunSearch(); });
    // Districts first (in parallel with the catalogue): they are the map's context and
    // must not queue behind dozens of tile requests.
    const districtsLoaded = loadDistricts();
    const { data } = await App.fetchJSON("/api/layers");
    App.catalog = data;
    for (const spec of data.layers) App.layers[spec.name] = spec;
    const wanted = App.hashState.layers !== undefined ? App.hashState.layers.split(",").filter((n) => App.layers[n]) : Object.keys(App.layers);
    for (const k of ["status", "grade", "kind"]) if (App.hashState[k]) App.filters[k] = App.hashState[k];
    App._restoring = true;
    if (App.hashState.map) {
      const [z, lat, lon] = App.hashState.map.split("/").map(Number);
      if (!Number.isNaN(z)) App.map.setView(L.latLng(lat, lon), z, { animate: false });
    }
    buildBasemaps();
    await districtsLoaded;
    if (App.hashState.map) {
      const [z, lat, lon] = App.hashState.map.split("/").map(Number);
      App.map.setView(App.toMap(lon, lat), z, { animate: false });
    }
    for (const n of wanted) setLayerVisible(n, true);
    buildLayerList();
    buildFilters();
    applyPermissions();
    App._restoring = false;
    if (App.hashState.search) {
      const params = Object.fromEntries(new URLSearchParams(App.hashState.search));
      if (params.lon && params.lat) App.searchShape = { type: "circle", center: [Number(params.lon), Number(params.lat)], radius: Number(params.radius || 200) };
      runSearch({ kind: "restored", params });
    }
    if (App.hashState.asset && App.openFile) {
      const [layer, id] = App.hashState.asset.split("/");
      App.openFile(layer, id);
    }
    writeHash();
    document.body.dataset.ready = "1";
    if (App.onReady) App.onReady();
  }
  document.addEventListener("DOMContentLoaded", () => start().catch((e) => { App.toast(App.errorText(e), 8000); console.error(e); }));
})();
