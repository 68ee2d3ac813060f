/* Parking planner: draw a zone or bay (snapping to existing bays), edit its vertices,
 * fill the attributes from the catalogue, see area and estimated capacity live, save
 * through the server's checks (overlap → shown and refused unless "planned";
 * self-intersection → the spot marked; a concurrent change → 412 with the difference). */

import { $, fill, h, toast } from "./dom.js";
import { attrForm, readForm, showConflict } from "./forms.js";
import { errorText, request } from "./http.js";
import { t } from "./i18n.js";
import { App, fromMap, geoJSON, layerToGeometry, refreshTiles, ringArea, toMap } from "./state.js";

const LAYER = "parking";
const M2_PER_BAY = 15; // same rule of thumb as the server's estimate
const itemsUrl = `/ogc/collections/${LAYER}/items`;
let state = null; // {layer, id, etag, feature}
let snapLayer = null;
let marks = null;

function spec() { return App.layers[LAYER]; }

async function loadSnapTargets() {
  if (snapLayer) { App.map.removeLayer(snapLayer); snapLayer = null; }
  if (App.map.getZoom() < 15) return;
  const b = App.map.getBounds();
  const sw = fromMap(b.getSouthWest()), ne = fromMap(b.getNorthEast());
  try {
    const { data } = await request(`${itemsUrl}?` + new URLSearchParams({ bbox: [sw[0], sw[1], ne[0], ne[1]].map((v) => v.toFixed(6)).join(","), limit: 1000 }));
    snapLayer = geoJSON(data, { pmIgnore: false, snapIgnore: false, interactive: false,
      style: { color: "#3182bd", weight: 1, opacity: 0.6, fillOpacity: 0.05 } }).addTo(App.map);
    snapLayer.eachLayer((l) => { l.options.pmIgnore = false; });
  } catch (err) {
    // drawing works without snapping, but the planner should know it is off
    toast(errorText(err), 5000);
  }
}

function clearMarks() { if (marks) App.map.removeLayer(marks); marks = L.layerGroup().addTo(App.map); }

function ringOf(layer) {
  const g = layerToGeometry(layer);
  return g.type === "Polygon" ? g.coordinates[0] : g.type === "LineString" ? g.coordinates : [];
}
function updateFigures(layer) {
  const ring = ringOf(layer || (state && state.layer));
  const area = ring.length >= 3 ? ringArea(ring) : 0;
  const a = $("#pk-area"), c = $("#pk-capacity");
  if (a) a.textContent = area.toFixed(1) + " m²";
  if (c) c.textContent = Math.floor(area / M2_PER_BAY) + " " + t("bays");
}

function panel(props) {
  const box = $("#parking-panel");
  const form = attrForm(spec(), props, { id: "parking-form" });
  const msg = h("div", { id: "parking-msg", class: "problems", role: "alert" });
  fill(box,
    h("p", {}, h("span", { text: t("area") + "：" }), h("strong", { id: "pk-area", text: "—" }), "　",
      h("span", { text: t("capacity_est") + "：" }), h("strong", { id: "pk-capacity", text: "—" })),
    form,
    h("div", { class: "row" },
      h("button", { type: "button", id: "parking-save", onclick: () => save(false) }, t("save")),
      h("button", { type: "button", id: "parking-split", hidden: state && state.id ? null : "hidden", onclick: startSplit }, t("split")),
      h("button", { type: "button", id: "parking-delete", onclick: remove }, t("delete")),
      h("button", { type: "button", id: "parking-cancel", onclick: stop }, t("cancel"))),
    msg);
  // When the capacity is unknown, offer the estimate.
  form.addEventListener("focusin", (e) => {
    if (e.target.name === "capacity" && !e.target.value) {
      const ring = ringOf(state.layer);
      if (ring.length >= 3) e.target.value = Math.floor(ringArea(ring) / M2_PER_BAY);
    }
  });
  updateFigures();
}

function attach(layer) {
  layer.options.pmIgnore = false;
  layer.pm.enable({ snappable: true, snapDistance: 15, allowSelfIntersection: true });
  layer.on("pm:edit pm:markerdrag pm:vertexadded pm:vertexremoved pm:change", () => updateFigures(layer));
}

function startDraw() {
  if (!spec()) return;
  stop();
  App.drawingParking = true;
  loadSnapTargets();
  App.map.pm.enableDraw("Polygon", { snappable: true, snapDistance: 15, allowSelfIntersection: true,
    pathOptions: { color: "#6a51a3", fillOpacity: 0.3 } });
  fill($("#parking-panel"), h("p", { class: "hint", text: t("draw_parking") + "…" }));
}

/** Split the saved zone along a line the planner draws across it (server-side cut). */
function startSplit() {
  if (!state || !state.id) return;
  App.splittingParking = true;
  state.layer.pm.disable();
  App.map.pm.enableDraw("Line", { snappable: true, snapDistance: 15, pathOptions: { color: "#b10026", dashArray: "6 4" } });
  fill($("#parking-msg"), h("p", { class: "hint", text: t("split_hint") }));
}
async function finishSplit(line) {
  App.splittingParking = false;
  const msg = $("#parking-msg");
  const body = { line: layerToGeometry(line) };
  App.map.removeLayer(line);
  fill(msg);
  try {
    const { data, res } = await request(`/api/assets/${LAYER}/${state.id}/split`, { method: "POST", body, headers: { "If-Match": state.etag || "*" } });
    const [kept, ...made] = data.features;
    refreshTiles(LAYER);
    editParkingShape(spec(), kept, res.headers.get("ETag"));
    $("#parking-msg").append(h("p", { id: "parking-split-done", class: "pass",
      text: t("split_done", { n: data.features.length }) + data.features.map((f) => f.properties.code).join("、") }));
    geoJSON({ type: "FeatureCollection", features: made }, { pane: "results", style: { color: "#6a51a3", weight: 2, dashArray: "4 3", fillOpacity: 0.15 } }).addTo(marks || (marks = L.layerGroup().addTo(App.map)));
  } catch (err) {
    attach(state.layer);
    if (err.status === 412) await showConflict(spec(), LAYER, state.id, state.feature || {}, msg);
    else msg.append(h("p", { id: "parking-split-error", text: errorText(err) }));
  }
}

function onDrawStart(e) {
  if (!App.drawingParking || !e.workingLayer) return;
  e.workingLayer.on("pm:vertexadded", () => {
    const ring = e.workingLayer.getLatLngs().map((ll) => fromMap(ll));
    const area = ring.length >= 3 ? ringArea(ring) : 0;
    const a = $("#pk-area");
    if (a) a.textContent = area.toFixed(1) + " m²";
  });
  fill($("#parking-panel"), h("p", {}, h("span", { text: t("area") + "：" }), h("strong", { id: "pk-area", text: "—" })));
}
function onCreate(e) {
  if (App.splittingParking && e.shape === "Line") return finishSplit(e.layer);
  if (!App.drawingParking) return;
  App.drawingParking = false;
  state = { layer: e.layer, id: null, etag: null };
  attach(e.layer);
  const s = spec();
  const defaults = { status: "planned" };
  const kind = s.attrs.find((a) => a.name === "kind");
  if (kind && kind.choices.length) defaults.kind = kind.choices[0].code;
  panel(defaults);
}

/** Open an existing zone (from its file) for shape editing. */
export function editParkingShape(s, feature, etag) {
  stop();
  const layer = geoJSON(feature, { pmIgnore: false, snapIgnore: false, style: { color: "#6a51a3", fillOpacity: 0.3 } }).getLayers()[0];
  layer.addTo(App.map);
  state = { layer, id: feature.id, etag, feature };
  attach(layer);
  loadSnapTargets();
  panel(feature.properties || {});
  App.map.fitBounds(layer.getBounds(), { maxZoom: 19 });
  $("#parking-panel").scrollIntoView({ block: "nearest" });
};

async function save(asPlanned) {
  const msg = $("#parking-msg");
  fill(msg);
  if (!state || !state.layer) return (msg.textContent = t("need_polygon"));
  clearMarks();
  const form = $("#parking-form");
  if (asPlanned) form.elements.status.value = "planned";
  const props = readForm(spec(), form);
  const geometry = layerToGeometry(state.layer);
  let check;
  try {
    ({ data: check } = await request("/api/parking/check", { method: "POST", body: { geometry, exclude_id: state.id, status: props.status } }));
  } catch (err) { msg.textContent = errorText(err); return; }
  if (check.area_m2 !== undefined) {
    $("#pk-area").textContent = check.area_m2.toFixed(1) + " m²";
    $("#pk-capacity").textContent = check.capacity_estimate + " " + t("bays");
  }
  const selfX = check.problems.find((p) => p.code === "self_intersection" || p.code === "invalid_geometry");
  if (selfX) {
    msg.append(h("p", { id: "parking-selfx", text: t("self_intersection") + " " + selfX.message }));
    if (selfX.location) L.circleMarker(toMap(selfX.location[0], selfX.location[1]), { pane: "results", radius: 10, color: "#b10026", weight: 3, fillOpacity: 0.4 }).addTo(marks);
    return;
  }
  const overlap = check.problems.find((p) => p.code === "overlap");
  if (check.overlaps && check.overlaps.features.length) {
    geoJSON(check.overlaps, { pane: "results", style: { color: "#b10026", weight: 2, fillColor: "#e31a1c", fillOpacity: 0.6 } }).addTo(marks);
  }
  if (!check.ok && overlap) {
    msg.append(h("p", { id: "parking-overlap", text: t("overlap_refused") + " " + overlap.message }),
      h("button", { type: "button", id: "parking-save-planned", onclick: () => save(true) }, t("save_as_planned")));
    return;
  }
  const feature = { type: "Feature", geometry, properties: props };
  try {
    let res, data;
    if (!state.id) ({ data, res } = await request(itemsUrl, { method: "POST", body: feature, headers: { "Content-Type": "application/geo+json" } }));
    else ({ data, res } = await request(`${itemsUrl}/${state.id}`, { method: "PUT", body: feature, headers: { "If-Match": state.etag || "*", "Content-Type": "application/geo+json" } }));
    state.id = (data && (data.id || (data.properties && data.properties.id))) || state.id || idFromLocation(res);
    state.etag = res.headers.get("ETag");
    state.feature = data;
    $("#parking-split").hidden = false; // a saved zone can be split
    msg.append(h("p", { id: "parking-saved", class: "pass", text: t("saved") + (data && data.properties && data.properties.code ? " " + data.properties.code : "") }));
    refreshTiles(LAYER);
    loadSnapTargets();
  } catch (err) {
    if (err.status === 412) await showConflict(spec(), LAYER, state.id, feature, msg);
    else msg.append(h("p", { text: errorText(err) }));
  }
}
function idFromLocation(res) {
  const loc = res && res.headers.get("Location");
  return loc ? loc.split("/").pop() : null;
}

async function remove() {
  const msg = $("#parking-msg");
  if (!state) return;
  if (state.id) {
    if (!confirm(t("delete_confirm"))) return;
    try {
      await request(`${itemsUrl}/${state.id}`, { method: "DELETE", headers: { "If-Match": state.etag || "*" } });
    } catch (err) {
      if (err.status === 412) return showConflict(spec(), LAYER, state.id, state.feature || {}, msg);
      msg.textContent = errorText(err);
      return;
    }
    toast(t("deleted"));
    refreshTiles(LAYER);
  }
  stop();
}

function stop() {
  App.drawingParking = false;
  App.splittingParking = false;
  if (App.map.pm.globalDrawModeEnabled()) App.map.pm.disableDraw();
  if (state && state.layer) { state.layer.pm.disable(); App.map.removeLayer(state.layer); }
  state = null;
  if (snapLayer) { App.map.removeLayer(snapLayer); snapLayer = null; }
  if (marks) { App.map.removeLayer(marks); marks = null; }
  if (App.conflictLayer) { App.map.removeLayer(App.conflictLayer); App.conflictLayer = null; }
  fill($("#parking-panel"));
}

/** Wire the planner to the map (once the map and the catalogue are there). */
export function initParking() {
  App.map.on("pm:drawstart", onDrawStart);
  App.map.on("pm:create", onCreate);
  $("#draw-parking").addEventListener("click", startDraw);
  if (!spec()) $("#draw-parking").hidden = true;
}
