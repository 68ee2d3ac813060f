/* The map page's shared state, and the helpers that read it: map ↔ WGS84 coordinates
 * (shifted on a GCJ-02 basemap), labels from the catalogue, the filters, the tiles and
 * the URL hash that keeps the view shareable. Modules import what they use from here;
 * nothing is put on window. */

import { gcj02ToWgs84, wgs84ToGcj02 } from "./coords.js";
import { I18n } from "./i18n.js";

export const App = {
  catalog: null, // {layers: [...]} from /api/layers
  layers: {}, // name -> spec
  districts: null, // GeoJSON of the ten districts
  districtLayer: null,
  map: null,
  crs: "wgs84", // datum of the active basemap: "gcj02" shifts what we draw
  basemapIndex: 0,
  basemapKey: undefined, // id of the basemap in use ("" none; undefined: from the hash)
  tileLayers: {}, // name -> VectorGrid
  visible: new Set(),
  // the filters follow one chosen layer (its statuses and declared value filters):
  // {layer: "road_voids", status: "found", risk_grade: "I"}; they apply to that layer only
  filters: { layer: "" },
  page: { offset: 0, limit: 200 }, // the listed page of the results
  placeLayer: null, // the place found by the search box (a road, a crossing)
  lastSearch: null, // {kind, method, params, body}
  searchShape: null, // {type: "circle", center, radius} | {type: "polygon", geometry}
  shapeLayer: null,
  results: [],
  numberMatched: null,
  resultLayer: null,
  resultMarkers: {},
  openAsset: null, // {layer, id, feature, etag}
  fileLayer: null,
  conflictLayer: null,
  hashState: {}, // the URL hash read at start
  restoring: false, // while the hash is applied, the hash is not rewritten
  clickHandler: null, // a tool (moving an asset) takes the next map click
  featureClicked: false, // the click hit an asset drawn in a tile
  drawingParking: false,
  splittingParking: false,
};

// ------------------------------------------------------------------ coordinates
/** WGS84 → what the map displays (a Leaflet LatLng). On a GCJ-02 basemap everything is shifted. */
export function toMap(lon, lat) {
  const p = App.crs === "gcj02" ? wgs84ToGcj02(lon, lat) : [lon, lat];
  return L.latLng(p[1], p[0]);
}
/** A map position → WGS84 [lon, lat]. */
export function fromMap(latlng) {
  return App.crs === "gcj02" ? gcj02ToWgs84(latlng.lng, latlng.lat) : [latlng.lng, latlng.lat];
}
/** GeoJSON (WGS84) → Leaflet layer in map coordinates. */
export function geoJSON(data, options) {
  // Display layers are not edited and not snapped to unless a caller says so.
  return L.geoJSON(data, { coordsToLatLng: (c) => toMap(c[0], c[1]), pmIgnore: true, snapIgnore: true, ...options });
}
/** A Leaflet polygon/line/point layer → GeoJSON geometry in WGS84. */
export function layerToGeometry(layer) {
  const gj = layer.toGeoJSON(12).geometry;
  const un = (c) => fromMap(L.latLng(c[1], c[0]));
  const walk = (coords) => (typeof coords[0] === "number" ? un(coords) : coords.map(walk));
  return { type: gj.type, coordinates: walk(gj.coordinates) };
}
/** Area on the sphere (m²) of a WGS84 ring, for the live figure while drawing. */
export function ringArea(ring) {
  const R = 6378137, rad = Math.PI / 180;
  let s = 0;
  for (let i = 0; i < ring.length; i++) {
    const [x1, y1] = ring[i], [x2, y2] = ring[(i + 1) % ring.length];
    s += (x2 - x1) * rad * (2 + Math.sin(y1 * rad) + Math.sin(y2 * rad));
  }
  return Math.abs((s * R * R) / 2);
}

// ------------------------------------------------------------------ labels
export function choiceLabel(spec, attrName, code) {
  if (code === null || code === undefined || code === "") return "";
  const attr = attrName === "status" ? { choices: spec.statuses } : spec.attrs.find((a) => a.name === attrName);
  const c = attr && attr.choices && attr.choices.find((x) => x.code === String(code));
  return c ? I18n.label(c) : String(code);
}
export function formatValue(spec, attr, v) {
  if (v === null || v === undefined || v === "") return "—";
  if (attr.choices && attr.choices.length) return choiceLabel(spec, attr.name, v);
  if (attr.type === "boolean") return v ? I18n.pick("是", "Yes") : I18n.pick("否", "No");
  return String(v) + (attr.unit ? " " + attr.unit : "");
}
export const districtName = (p) => (I18n.lang === "en" ? p.name_en : p.name_zh);
/** The name of a district by its code (the code itself when unknown). */
export function districtLabel(code) {
  const f = App.districts && App.districts.features.find((d) => d.properties.code === code);
  return f ? districtName(f.properties) : code;
}

// ------------------------------------------------------------------ filters and tiles
/** The filter values set for the chosen filter layer: {attr: value}. */
export function activeFilters() {
  const out = {};
  if (!App.filters.layer) return out;
  for (const [k, v] of Object.entries(App.filters)) if (k !== "layer" && v) out[k] = v;
  return out;
}
/** Does an asset pass the filters? They apply to the chosen layer only (a value its
 * vector tile does not carry is not judged here; the search checks it on the server). */
export function passesFilters(spec, props) {
  if (!App.filters.layer || spec.name !== App.filters.layer) return true;
  for (const [k, v] of Object.entries(activeFilters())) if (props[k] !== undefined && props[k] !== null && String(props[k]) !== v) return false;
  return true;
}
/** Redraw the tiles of one layer (after a change to it), or of all. */
export function refreshTiles(name) {
  for (const n of name ? [name] : Object.keys(App.tileLayers)) {
    const l = App.tileLayers[n];
    if (l && App.map.hasLayer(l)) l.redraw();
  }
}

// ------------------------------------------------------------------ URL hash (shareable view)
export function readHash() {
  return Object.fromEntries(new URLSearchParams(location.hash.replace(/^#/, "")));
}
export function writeHash() {
  if (!App.map || App.restoring) return;
  const w = fromMap(App.map.getCenter());
  const q = new URLSearchParams();
  q.set("map", `${App.map.getZoom()}/${w[1].toFixed(5)}/${w[0].toFixed(5)}`);
  q.set("layers", [...App.visible].join(","));
  if (App.basemapKey) q.set("basemap", App.basemapKey);
  else if (App.basemapKey === "") q.set("basemap", "none");
  if (App.filters.layer) q.set("filter", App.filters.layer);
  for (const [k, v] of Object.entries(activeFilters())) q.set("f_" + k, v);
  if (App.lastSearch && App.lastSearch.method !== "POST") q.set("search", new URLSearchParams(App.lastSearch.params).toString());
  if (App.openAsset) q.set("asset", App.openAsset.layer + "/" + App.openAsset.id);
  history.replaceState(null, "", "#" + q.toString());
}

/** Show ``layer`` as the place found by the search box (null: none). Every place layer
 * ever shown is removed, not only the last one referenced: two searches in flight at
 * once must never leave an older place (and its permanent label) on the map. */
const shownPlaces = new Set();
export function setPlaceLayer(layer) {
  for (const old of shownPlaces) App.map.removeLayer(old);
  shownPlaces.clear();
  App.placeLayer = layer;
  if (layer) {
    shownPlaces.add(layer);
    layer.addTo(App.map);
  }
}
