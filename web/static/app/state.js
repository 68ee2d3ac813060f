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
  tileLayers: {}, // name -> VectorGrid
  visible: new Set(),
  filters: { status: "", grade: "", kind: "" },
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
/** Does an asset pass the status/grade/kind filters? */
export function passesFilters(spec, props) {
  const f = App.filters;
  if (f.status && props.status !== undefined && props.status !== f.status) return false;
  if (f.grade && props.risk_grade !== undefined && props.risk_grade !== f.grade) return false;
  if (f.kind && props.kind !== undefined && props.kind !== f.kind) return false;
  // a filter on an attribute this layer lacks hides the layer's features
  if (f.grade && !spec.attrs.some((a) => a.name === "risk_grade")) return false;
  if (f.kind && !spec.attrs.some((a) => a.name === "kind")) return false;
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
  if (App.basemapIndex) q.set("basemap", App.basemapIndex);
  for (const k of ["status", "grade", "kind"]) if (App.filters[k]) q.set(k, App.filters[k]);
  if (App.lastSearch && App.lastSearch.method !== "POST") q.set("search", new URLSearchParams(App.lastSearch.params).toString());
  if (App.openAsset) q.set("asset", App.openAsset.layer + "/" + App.openAsset.id);
  history.replaceState(null, "", "#" + q.toString());
}
