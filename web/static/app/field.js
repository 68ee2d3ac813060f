/* The field app (/field, the page's entry module): record an asset at the phone's
 * position or a point tapped on the map, with photos; find what is within 50 m and add
 * an inspection (巡查), an edit or the next workflow step to it; everything goes into
 * the offline queue first (IndexedDB, field-store.js) and is sent when there is a
 * network (field-sync.js); offline areas of tiles (field-offline.js).
 *
 * Forms come from /api/field/config (the layer declarations: labels, types, required,
 * choices, ranges) and are built by forms.js, as on the map page. The service worker
 * (/field-sw.js) keeps the page and its files for when there is no network. */

import { Auth } from "./auth.js";
import { CONFIG } from "./config.js";
import { $, fill, h, toast } from "./dom.js";
import { attrForm, readForm } from "./forms.js";
import { errorText, request } from "./http.js";
import { I18n } from "./i18n.js";
import { App, fromMap, toMap } from "./state.js";
import { CONFLICT, PENDING, REJECTED, accuracyOk, bboxOf, changedFrom, conflictRows, formatBytes, keepMine, nearby, resubmit, scaledSize } from "./field-logic.js";
import { QueueStore, all, get, put } from "./field-store.js";
import { errorWords, syncQueue } from "./field-sync.js";
import * as Offline from "./field-offline.js";

const pick = (zh, en) => I18n.pick(zh, en);
const JIAOZUO = [35.215, 113.24];
const NEARBY_M = 50;
const PHOTO_SIDE = 1600;
const DEFAULT_MAX_ACCURACY = 10;
// the inspection results of registry/inspections.py, when the field config does not list them
const RESULTS = [
  { code: "normal", zh: "正常", en: "Normal" },
  { code: "problem", zh: "发现问题", en: "Problem found" },
  { code: "hazard", zh: "发现隐患", en: "Hazard found" },
];

const F = {
  config: null, // /api/field/config
  specs: {}, // layer name -> {name, zh, en, geometry, attrs, statuses, style}
  fix: null, // the last GPS fix {lon, lat, accuracy_m, at}
  gpsError: null,
  place: null, // the record's position {lon, lat, accuracy_m, source, at}
  vertices: [], // a line or polygon being recorded: [[lon, lat], ...]
  draft: { layer: "", photos: [] }, // photos: [{id, url}]
  tab: "record",
  hereMarker: null,
  hereCircle: null,
  placeLayer: null,
  queuedLayer: null, // queued new assets on the map
  syncing: null,
  device: null,
  resend: null, // a refused record's form being corrected {seq, form}, kept while the queue redraws
};

// ------------------------------------------------------------------ small helpers
const uuid = () => (crypto.randomUUID ? crypto.randomUUID()
  : "10000000-1000-4000-8000-100000000000".replace(/[018]/g, (c) => (c ^ (crypto.getRandomValues(new Uint8Array(1))[0] & (15 >> (c / 4)))).toString(16)));
const now = () => new Date().toISOString();
const maxAccuracy = () => Number((F.config && F.config.max_accuracy_m) || DEFAULT_MAX_ACCURACY);
const specOf = (layer) => F.specs[layer] || { name: layer, zh: layer, en: layer, attrs: [], statuses: [] };
const geomKind = (spec) => (/Polygon/.test(spec.geometry || "") ? "Polygon" : /LineString/.test(spec.geometry || "") ? "LineString" : "Point");
const labelOf = (spec, props) => (props && (props.code || props.name || props.compound_name || props.road_name)) || "";
/** An instant as the phone's local date and time, "2026-11-29 09:30". */
const stamp = (iso) => {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso || "");
  const p2 = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p2(d.getMonth() + 1)}-${p2(d.getDate())} ${p2(d.getHours())}:${p2(d.getMinutes())}`;
};
const fmt = (v) => (v === null || v === undefined || v === "" ? "—" : typeof v === "object" ? JSON.stringify(v) : String(v));

function deviceId() {
  let id = localStorage.getItem("field.device");
  if (!id) {
    id = uuid();
    localStorage.setItem("field.device", id);
  }
  return id;
}

// ------------------------------------------------------------------ configuration
/** A layer of the field config in the shape forms.js builds from (the catalogue's). */
function fieldSpec(l, cat) {
  const label = (x, k) => x[k] ?? (x.label && x.label[k]) ?? (x.title && x.title[k]);
  const choice = (c) => (typeof c === "object"
    ? { code: String(c.code ?? c.value), zh: label(c, "zh") ?? String(c.code ?? c.value), en: label(c, "en") ?? String(c.code ?? c.value) }
    : { code: String(c), zh: String(c), en: String(c) });
  const attrs = (l.attrs || l.attributes || (cat && cat.attrs) || []).map((a) => ({
    ...a, zh: label(a, "zh") ?? a.name, en: label(a, "en") ?? a.name, required: !!a.required,
    choices: a.choices ? a.choices.map(choice) : null, min: a.min ?? a.minimum ?? null, max: a.max ?? a.maximum ?? null,
  }));
  const name = l.name || l.layer;
  return {
    name, zh: label(l, "zh") ?? (cat && cat.zh) ?? name, en: label(l, "en") ?? (cat && cat.en) ?? name,
    geometry: l.geometry_type || l.geometry || (l.geometry_types || (cat && cat.geometry_types) || ["Point"])[0],
    attrs, statuses: (cat && cat.statuses) || l.statuses || [], style: cat && cat.style,
    // what the caller may do in the layer (the field config says; else the session's rights)
    may: Array.isArray(l.permissions) ? l.permissions : null,
  };
}

async function loadConfig() {
  const { data: catalog } = await request("/api/layers");
  const byName = Object.fromEntries(catalog.layers.map((l) => [l.name, l]));
  try {
    ({ data: F.config } = await request("/api/field/config"));
  } catch (err) {
    if (err.status !== 404) throw err;
    F.config = { max_accuracy_m: DEFAULT_MAX_ACCURACY, layers: catalog.layers }; // a server without the field API
  }
  F.specs = {};
  for (const l of F.config.layers || []) {
    const s = fieldSpec(l, byName[l.name || l.layer]);
    F.specs[s.name] = s;
  }
  for (const l of catalog.layers) if (!F.specs[l.name]) F.specs[l.name] = fieldSpec(l, l);
}

/** The layers the user may record new assets in. */
function creatable() {
  return Object.values(F.specs).filter((s) => may(s.name, "create"));
}

/** Whether the user may ``action`` in ``layer`` (the server checks again). */
function may(layer, action) {
  const s = F.specs[layer];
  return s && s.may ? s.may.includes(action) : Auth.can(action, layer);
}

// ------------------------------------------------------------------ map and GPS
function buildMap() {
  const map = L.map("map", { zoomControl: true, attributionControl: true }).setView(JIAOZUO, 16);
  App.map = map;
  map.attributionControl.setPrefix(false);
  const basemap = (CONFIG.basemaps || [])[0];
  if (basemap && basemap.url) {
    App.crs = basemap.crs || "wgs84";
    const opts = { maxZoom: 20, maxNativeZoom: basemap.max_native_zoom || basemap.max_zoom || 18, subdomains: basemap.subdomains || "abc",
      attribution: basemap.attribution || "" };
    (basemap.vector ? L.vectorGrid.protobuf(basemap.url, { ...opts, vectorTileLayerStyles: {}, interactive: false }) : L.tileLayer(basemap.url, opts)).addTo(map);
  }
  const styles = {};
  for (const s of Object.values(F.specs)) {
    const st = s.style || {};
    styles[s.name] = (p) => {
      const v = st.by ? p[st.by] : null;
      const color = (st.colors && st.colors[v === null || v === undefined ? "" : String(v)]) || st.default || "#1f4e79";
      return { radius: st.radius || 6, weight: 1.5, color: "#333", fill: true, fillColor: color, fillOpacity: 0.8 };
    };
  }
  // not interactive: every tap reaches the map (placing a record)
  L.vectorGrid.protobuf(Offline.VECTOR_TILES, { maxNativeZoom: Offline.MAX_Z, maxZoom: 20, interactive: false,
    vectorTileLayerStyles: styles, rendererFactory: L.canvas.tile }).addTo(map);
  map.on("click", (e) => onMapTap(fromMap(e.latlng)));
}

function watchGps() {
  if (!navigator.geolocation) {
    F.gpsError = pick("此设备不支持定位", "This device cannot locate itself");
    return renderGps();
  }
  let first = true;
  navigator.geolocation.watchPosition((pos) => {
    F.fix = { lon: pos.coords.longitude, lat: pos.coords.latitude, accuracy_m: pos.coords.accuracy, at: new Date(pos.timestamp || Date.now()).toISOString() };
    F.gpsError = null;
    if (!F.place || F.place.source === "gps") F.place = { ...F.fix, source: "gps" };
    drawHere();
    renderRecordPlace();
    if (first) {
      first = false;
      App.map.setView(toMap(F.fix.lon, F.fix.lat), Math.max(App.map.getZoom(), 17), { animate: false });
    }
    renderGps();
    renderSaveState();
  }, (err) => {
    // the browser's own err.message is in its language (English in most): said here instead
    F.gpsError = err.code === 1 ? pick("未允许定位：请在地图上点选位置", "Location not allowed: tap the map to place")
      : err.code === 3 ? pick("定位超时：请到开阔处稍候，或在地图上点选位置", "No position in time: wait in the open, or tap the map to place")
        : pick("暂时无法定位：请稍候，或在地图上点选位置", "No position yet: wait, or tap the map to place");
    renderGps();
  }, { enableHighAccuracy: true, maximumAge: 5000, timeout: 30000 });
}

function drawHere() {
  if (!F.fix) return;
  const ll = toMap(F.fix.lon, F.fix.lat);
  if (!F.hereMarker) {
    F.hereCircle = L.circle(ll, { radius: F.fix.accuracy_m, color: "#1e88e5", weight: 1, fillOpacity: 0.12, interactive: false }).addTo(App.map);
    F.hereMarker = L.circleMarker(ll, { radius: 8, color: "#fff", weight: 3, fillColor: "#1e88e5", fillOpacity: 1, interactive: false }).addTo(App.map);
  } else {
    F.hereMarker.setLatLng(ll);
    F.hereCircle.setLatLng(ll).setRadius(F.fix.accuracy_m);
  }
}

function renderGps() {
  const el = $("#gps");
  const max = maxAccuracy();
  el.className = "gps";
  if (!F.fix) {
    el.classList.add("none");
    el.textContent = F.gpsError || pick("正在定位…", "Locating…");
    return;
  }
  const acc = Math.round(F.fix.accuracy_m);
  el.dataset.accuracy = String(acc);
  if (accuracyOk(F.fix.accuracy_m, max)) {
    el.textContent = pick(`GPS 精度 ±${acc} 米（上限 ${max} 米）`, `GPS accuracy ±${acc} m (limit ${max} m)`);
  } else {
    el.classList.add("bad");
    el.textContent = pick(`GPS 精度 ±${acc} 米，超过 ${max} 米：请稍候，或在地图上点选位置`,
      `GPS accuracy ±${acc} m is worse than ${max} m: wait, or tap the map to place`);
  }
}

function onMapTap(lonlat) {
  if (F.tab !== "record" || !F.draft.layer) return;
  const spec = specOf(F.draft.layer);
  if (geomKind(spec) === "Point") F.place = { lon: lonlat[0], lat: lonlat[1], accuracy_m: null, source: "map", at: now() };
  else F.vertices.push(lonlat);
  drawPlace();
  renderRecordPlace();
  renderSaveState();
}

function drawPlace() {
  if (F.placeLayer) App.map.removeLayer(F.placeLayer);
  F.placeLayer = null;
  const spec = specOf(F.draft.layer);
  const kind = geomKind(spec);
  if (kind === "Point" && F.place && F.place.source === "map") {
    F.placeLayer = L.circleMarker(toMap(F.place.lon, F.place.lat), { radius: 10, color: "#b10026", weight: 3, fillColor: "#f9a825", fillOpacity: 1 }).addTo(App.map);
  } else if (kind !== "Point" && F.vertices.length) {
    const lls = F.vertices.map((v) => toMap(v[0], v[1]));
    F.placeLayer = (kind === "Polygon" && lls.length > 2 ? L.polygon(lls, { color: "#b10026" }) : L.polyline(lls, { color: "#b10026", weight: 4 })).addTo(App.map);
  }
}

/** Scroll ``el`` (a form just opened in a list) into the panel's view, top first. */
function reveal(el) {
  if (el && el.scrollIntoView) el.scrollIntoView({ block: "start", behavior: "instant" });
  return el;
}

// ------------------------------------------------------------------ photos
/** A photo downscaled on the phone (long side PHOTO_SIDE px, JPEG), stored with the
 * position and time it was taken. */
async function takePhoto(file) {
  let blob = file;
  try {
    const bitmap = await createImageBitmap(file);
    const [w, hgt] = scaledSize(bitmap.width, bitmap.height, PHOTO_SIDE);
    const canvas = document.createElement("canvas");
    canvas.width = w;
    canvas.height = hgt;
    canvas.getContext("2d").drawImage(bitmap, 0, 0, w, hgt);
    bitmap.close();
    blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", 0.85));
  } catch {
    // (the browser's reason is in its own language, often English)
    throw new Error(pick(`无法读取照片“${file.name}”：不是图片，或手机不支持该格式`, `Cannot read the photo “${file.name}”: not an image, or a format the phone cannot decode`));
  }
  const at = F.fix || F.place || {};
  const photo = { id: uuid(), blob, name: "photo.jpg", taken_at: now(), lon: at.lon ?? null, lat: at.lat ?? null, accuracy_m: at.accuracy_m ?? null };
  await put("photos", photo);
  return { id: photo.id, url: URL.createObjectURL(blob) };
}

function photoInput(list, onChange) {
  const input = h("input", { type: "file", accept: "image/*", capture: "environment", multiple: "multiple", class: "photo-input", "aria-label": pick("拍照", "Take photo") });
  const thumbs = h("div", { class: "thumbs" });
  const redraw = () => fill(thumbs, list.map((p) => h("img", { src: p.url, alt: pick("照片", "Photo") })));
  input.addEventListener("change", async () => {
    for (const file of input.files) {
      try {
        list.push(await takePhoto(file));
      } catch (err) {
        toast(err.message, 5000);
      }
    }
    input.value = "";
    redraw();
    if (onChange) onChange();
  });
  redraw();
  // the label is the button (the input's own is the browser's, in the browser's language)
  return h("div", { class: "photos-field" }, h("span", { class: "label", text: pick("现场照片", "Photos") }),
    h("label", { class: "photo-btn" }, pick("拍照 / 选择照片", "Take or choose photos"), input), thumbs);
}

// ------------------------------------------------------------------ the queue
/** Queue ``item``; ``saved`` is what replaces its form: a note that follows the item
 * (saved → synced, or sent back), so it never says "waiting" once the server has it. */
async function enqueue(item, saved = null) {
  const key = uuid();
  await QueueStore.add({ key, state: PENDING, recorded_at: now(), ...item });
  await renderQueueCount();
  if (saved) saved.replaceWith(h("p", { class: "ok", "data-key": key, text: pick("已保存，待同步", "Saved, waiting to sync") }));
  toast(pick("已保存，待同步", "Saved, waiting to sync"));
  if (navigator.onLine) sync();
}

/** The note of a queued item, once the server answered it. */
function noteOutcome(item, outcome) {
  const note = document.querySelector(`p[data-key="${item.key}"]`);
  if (!note) return;
  const words = { sent: ["已同步", "Synced"], conflict: ["与他人的修改冲突：请在“待同步”中处理", "In conflict with a change made meanwhile: see the queue"],
    rejected: ["被拒绝：原因见“待同步”", "Refused: see the queue for why"] }[outcome];
  if (!words) return;
  note.className = outcome === "sent" ? "ok" : "problems";
  note.dataset.outcome = outcome;
  note.textContent = pick(...words);
}

/** Records still on the phone, on the map: new assets where they will be (orange). */
function drawQueued(items) {
  if (!App.map) return;
  if (F.queuedLayer) App.map.removeLayer(F.queuedLayer);
  const shapes = items.filter((i) => i.kind === "create" && i.geometry).map((i) => ({ type: "Feature", geometry: i.geometry, properties: {} }));
  F.queuedLayer = L.geoJSON({ type: "FeatureCollection", features: shapes }, {
    coordsToLatLng: (c) => toMap(c[0], c[1]), interactive: false,
    pointToLayer: (_f, ll) => L.circleMarker(ll, { radius: 9, color: "#e65100", weight: 3, dashArray: "3 3", fillColor: "#fff3e0", fillOpacity: 0.9 }),
    style: { color: "#e65100", weight: 3, dashArray: "6 4" },
  }).addTo(App.map);
}

async function renderQueueCount() {
  const items = await QueueStore.items();
  drawQueued(items);
  $("#queue-count").textContent = String(items.length);
  $("#queue-badge").dataset.n = String(items.length);
  document.body.dataset.queue = String(items.length);
  return items;
}

const api = {
  async uploadPhoto(photo) {
    const body = new FormData();
    body.append("file", photo.blob, photo.name || "photo.jpg");
    body.append("taken_at", photo.taken_at);
    if (photo.lon !== null && photo.lon !== undefined) {
      body.append("lon", String(photo.lon));
      body.append("lat", String(photo.lat));
    }
    if (photo.accuracy_m !== null && photo.accuracy_m !== undefined) body.append("accuracy_m", String(photo.accuracy_m));
    const { data } = await request("/api/field/photos", { method: "POST", body });
    return data;
  },
  async submit(key, body) {
    const { data } = await request("/api/field/submissions", { method: "POST", body,
      headers: { "Idempotency-Key": key, "X-Field-Device": F.device } });
    return data;
  },
};

/** Send the queue (one sync at a time, in this tab and across tabs). */
function sync() {
  if (F.syncing) return F.syncing;
  document.body.dataset.sync = "running";
  const run = () => syncQueue(QueueStore, api, onSent);
  F.syncing = (async () => {
    try {
      const r = navigator.locks ? await navigator.locks.request("field-sync", run) : await run();
      if (r.sent || r.conflicts || r.rejected) {
        toast([r.sent ? pick(`已同步 ${r.sent} 条`, `${r.sent} sent`) : "",
          r.conflicts ? pick(`${r.conflicts} 条冲突`, `${r.conflicts} in conflict`) : "",
          r.rejected ? pick(`${r.rejected} 条被拒绝`, `${r.rejected} refused`) : ""].filter(Boolean).join("，"), 5000);
      }
      if (r.stopped && r.stopped.status !== 0) toast(errorText(r.stopped), 6000);
      return r;
    } finally {
      F.syncing = null;
      document.body.dataset.sync = "idle";
      document.body.dataset.synced = String(Number(document.body.dataset.synced || 0) + 1);
      await renderQueue();
    }
  })();
  return F.syncing;
}

/** After an item is sent: the phone's copy of the asset takes the new version. */
async function onSent(item, outcome, answer) {
  await renderQueueCount();
  noteOutcome(item, outcome);
  if (outcome !== "sent" || !answer || !answer.asset || !item.asset_id) return;
  const key = `${item.layer}/${item.asset_id}`;
  const known = await get("assets", key);
  if (known) {
    known.feature.properties = { ...known.feature.properties, ...(item.properties || {}), version: answer.asset.version };
    await put("assets", known);
  }
}

const KIND = { create: ["新增", "New asset"], update: ["修改", "Edit"], inspection: ["巡查", "Inspection"], step: ["流程办理", "Workflow step"] };
const STATE = { [PENDING]: ["待同步", "waiting"], [CONFLICT]: ["冲突", "conflict"], [REJECTED]: ["被拒绝", "refused"] };

async function renderQueue() {
  const items = (await renderQueueCount()).sort((a, b) => a.seq - b.seq);
  const panel = $("#panel-queue");
  const syncBtn = h("button", { type: "button", id: "sync-btn", class: "primary", onclick: async () => {
    const r = await sync();
    if (r && r.stopped && r.stopped.status === 0) toast(pick("没有网络：恢复后自动同步", "No network: it syncs by itself when the network returns"), 5000);
  } }, pick("立即同步", "Sync now"));
  fill(panel,
    h("h2", {}, pick(`待同步（${items.length}）`, `Waiting to sync (${items.length})`)),
    h("div", { class: "row" }, syncBtn),
    items.length ? null : h("p", { class: "hint", id: "queue-empty", text: pick("没有待同步的记录", "Nothing waiting") }),
    h("ol", { class: "list", id: "queue-list" }, items.map(queueItem)));
}

function queueItem(item) {
  const spec = specOf(item.layer);
  const what = item.label || labelOf(spec, item.properties) || "";
  const li = h("li", { "data-seq": item.seq, "data-state": item.state, "data-kind": item.kind },
    h("div", { class: "head" }, h("span", { text: `${pick(...KIND[item.kind])} · ${I18n.label(spec)}` }),
      h("span", { class: "state " + item.state, text: pick(...STATE[item.state]) })),
    h("div", { class: "meta", text: [what, stamp(item.recorded_at),
      (item.photo_ids || []).length ? pick(`照片 ${item.photo_ids.length} 张`, `${item.photo_ids.length} photo(s)`) : ""].filter(Boolean).join(" · ") }));
  if (item.state === REJECTED) {
    // the server's answer, its fields named by the layer's labels (not found_on)
    const label = (name) => I18n.label(spec.attrs.find((a) => a.name === name)) || null;
    // a record made with a form from the layer declaration is corrected in that form
    const editable = RESENDABLE.includes(item.kind) && spec.attrs.length;
    const body = h("div", { class: "resend-body" });
    li.append(h("p", { class: "problems", role: "alert", text: item.problem ? errorWords({ data: item.problem }, label) : item.error || "" }),
      h("div", { class: "row" },
        editable ? h("button", { type: "button", class: "primary resend-edit", id: `resend-edit-${item.seq}`, onclick: () => reveal(fill(body, resendForm(item))) },
          pick("修改", "Edit")) : null,
        h("button", { type: "button", class: "danger", onclick: () => discard(item) }, pick("放弃此条", "Discard"))),
      body);
    // a form already open survives the queue being drawn again (a sync ending meanwhile)
    if (editable && F.resend && F.resend.seq === item.seq) body.append(F.resend.form);
  }
  if (item.state === CONFLICT) li.append(conflictView(item));
  return li;
}

/** Mine and theirs side by side, and the two ways out (keep mine on top of theirs, or take theirs). */
function conflictView(item) {
  const spec = specOf(item.layer);
  const c = item.conflict || {};
  const theirs = c.theirs || {};
  const mine = { ...(item.base_properties || {}), ...((c.yours && c.yours.properties) || item.properties || {}) };
  const rows = conflictRows(spec.attrs, { properties: mine }, theirs).filter((r) => r.differs || (item.properties && r.name in item.properties));
  const who = [theirs.updated_by, theirs.updated_at && stamp(theirs.updated_at)].filter(Boolean).join(" · ");
  const version = (x) => x.version ?? (x.properties && x.properties.version) ?? "?";
  const attrLabel = (name) => I18n.label(spec.attrs.find((a) => a.name === name)) || name;
  return h("div", { class: "conflict", id: `conflict-${item.seq}`, role: "alert" },
    h("p", { class: "problems", text: pick("提交时该资产已被他人修改（版本冲突）。请对照后选择：", "The asset was changed meanwhile (version conflict). Compare and choose:") }),
    h("table", { class: "diff" },
      h("thead", {}, h("tr", {}, h("th", { text: pick("字段", "Field") }),
        h("th", { text: pick(`我的（基于版本 ${item.base_version ?? "?"}）`, `Mine (on version ${item.base_version ?? "?"})`) }),
        h("th", { text: pick(`服务器上的（版本 ${version(theirs)}）`, `Theirs (version ${version(theirs)})`) }))),
      h("tbody", {}, rows.map((r) => h("tr", { class: r.differs ? "differs" : null, "data-field": r.name },
        h("th", { text: attrLabel(r.name) }), h("td", { class: "mine", text: fmt(r.mine) }), h("td", { class: "theirs", text: fmt(r.theirs) }))))),
    who ? h("p", { class: "hint", text: pick(`服务器上的版本由 ${who} 修改`, `Their version: changed by ${who}`) }) : null,
    h("div", { class: "row" },
      h("button", { type: "button", class: "primary", id: `keep-mine-${item.seq}`, onclick: async () => {
        await QueueStore.update(keepMine(item, { version: version(theirs) }, uuid()));
        await renderQueue();
        sync();
      } }, pick("保留我的", "Keep mine")),
      // taking theirs is discarding mine: one button, not a second "discard" doing the same
      h("button", { type: "button", id: `take-theirs-${item.seq}`, onclick: () => discard(item) }, pick("采用服务器的", "Take theirs"))));
}

async function discard(item) {
  if (F.resend && F.resend.seq === item.seq) F.resend = null;
  await QueueStore.remove(item);
  await renderQueue();
}

/** The kinds of record whose form forms.js generates from the layer declaration (an
 * inspection's and a step's are their own, not the layer's attributes). */
const RESENDABLE = ["create", "update"];

/** The required attributes ``properties`` leaves empty. */
const missingRequired = (spec, properties) =>
  spec.attrs.filter((a) => a.required && !a.computed && (properties[a.name] === null || properties[a.name] === undefined));

/** A refused record's form (the one it was made with, from forms.js), filled with its
 * values, the server's field errors beside their fields; saving puts it back in the queue
 * under a new key (resubmit) with its photos, position and time, and sends it. */
function resendForm(item) {
  if (F.resend && F.resend.seq === item.seq) return F.resend.form;
  const spec = specOf(item.layer);
  const base = item.kind === "update" ? item.base_properties || null : null;
  const values = { ...(base || {}), ...(item.properties || {}) };
  const form = attrForm(spec, values, { id: `resend-${item.seq}` });
  form.classList.add("resend-form");
  // the record form's inputs have the same ids (f-<layer>-<name>): these get their own
  for (const label of form.querySelectorAll("label[for]")) {
    const input = form.querySelector(`[id="${label.htmlFor}"]`);
    const id = `resend-${item.seq}-${label.htmlFor}`;
    if (input) input.id = id;
    label.htmlFor = id;
  }
  // the server's errors beside their fields; one about no field of the form, above it
  const errors = (item.problem && Array.isArray(item.problem.errors)) ? item.problem.errors : [];
  const elsewhere = [];
  errors.forEach((e, n) => {
    const words = e.message || e.reason || e.code || "";
    const input = e.field && form.elements[e.field];
    if (!input || !input.closest) {
      elsewhere.push([e.field_label || (e.field && I18n.label(spec.attrs.find((a) => a.name === e.field))) || e.field, words].filter(Boolean).join(": "));
      return;
    }
    const id = `resend-${item.seq}-error-${n}`;
    input.setAttribute("aria-invalid", "true");
    input.setAttribute("aria-describedby", id);
    input.closest("label").after(h("p", { class: "field-error", id, "data-field": e.field, text: words }));
  });
  // a field corrected loses its red frame (the server's words stay beside it until sent)
  form.addEventListener("input", (e) => {
    if (e.target.getAttribute("aria-invalid") === "true") e.target.setAttribute("aria-invalid", "false");
  });
  const msg = h("p", { class: "problems", role: "alert" });
  form.prepend(h("h3", {}, pick(`修改后重新提交 ${item.label || ""}`, `Edit and resend ${item.label || ""}`).trim()),
    h("p", { class: "hint", text: pick("按服务器的提示改正后保存；照片、位置和采集时间保持不变。", "Correct what the server refused and save; the photos, position and time recorded stay as they were.") }),
    // (prepend, unlike h(), would write a null out as text)
    ...(elsewhere.length ? [h("p", { class: "problems", text: elsewhere.join("; ") })] : []));
  const close = () => {
    F.resend = null;
    form.remove();
  };
  form.append(h("div", { class: "row" },
    h("button", { type: "submit", class: "primary resend-save" }, pick("保存并重新提交", "Save and resend")),
    h("button", { type: "button", class: "resend-cancel", onclick: close }, pick("取消", "Cancel"))), msg);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    msg.textContent = "";
    const read = readForm(spec, form);
    let properties = read;
    if (item.kind === "create") {
      const missing = missingRequired(spec, read);
      if (missing.length) {
        msg.textContent = pick("请填写：", "Please fill in: ") + missing.map((a) => I18n.label(a)).join("、");
        return;
      }
    } else {
      // an edit sends what differs from the version it was based on (as the edit form does);
      // without that version known, every value the edit had and every one changed here
      properties = base ? changedFrom(read, base) : changedFrom(read, item.properties || {}, item.properties || {});
      if (!Object.keys(properties).length) {
        msg.textContent = pick("没有修改", "Nothing changed");
        return;
      }
    }
    const next = resubmit(item, properties, uuid());
    if (item.kind === "create") next.label = labelOf(spec, properties);
    await QueueStore.update(next);
    F.resend = null;
    toast(pick("已保存，待同步", "Saved, waiting to sync"));
    await renderQueue();
    if (navigator.onLine) sync();
  });
  F.resend = { seq: item.seq, form };
  return form;
}

// ------------------------------------------------------------------ record a new asset
function renderRecord() {
  const panel = $("#panel-record");
  const layers = creatable();
  if (!layers.length) {
    fill(panel, h("p", { class: "hint", text: pick("您的角色不能新增资产；可在“附近”中巡查。", "Your role may not add assets; inspect from “Nearby”.") }));
    return;
  }
  if (!F.draft.layer || !layers.some((s) => s.name === F.draft.layer)) F.draft = { layer: layers[0].name, photos: [] };
  const spec = specOf(F.draft.layer);
  const sel = h("select", { id: "record-layer", "aria-label": pick("图层", "Layer") },
    layers.map((s) => h("option", { value: s.name, text: I18n.label(s), selected: s.name === spec.name ? "selected" : null })));
  sel.addEventListener("change", () => {
    F.draft = { layer: sel.value, photos: [] };
    F.vertices = [];
    if (F.place && F.place.source === "map") F.place = F.fix ? { ...F.fix, source: "gps" } : null;
    drawPlace();
    renderRecord();
  });
  const form = attrForm(spec, {}, { id: "record-form" });
  const msg = h("p", { class: "problems", id: "record-problems", role: "alert" });
  const save = h("button", { type: "submit", id: "record-save", class: "primary", form: "record-form" }, pick("保存（待同步）", "Save (queue)"));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    msg.textContent = "";
    const geometry = recordGeometry(spec);
    if (!geometry) return;
    const properties = readForm(spec, form);
    const missing = missingRequired(spec, properties);
    if (missing.length) {
      msg.textContent = pick("请填写：", "Please fill in: ") + missing.map((a) => I18n.label(a)).join("、");
      return;
    }
    const photos = F.draft.photos;
    await enqueue({ kind: "create", layer: spec.name, geometry, properties, position: positionOf(), photo_ids: photos.map((p) => p.id),
      label: labelOf(spec, properties) });
    F.draft = { layer: spec.name, photos: [] };
    F.vertices = [];
    if (F.place && F.place.source === "map") F.place = F.fix ? { ...F.fix, source: "gps" } : null;
    drawPlace();
    renderRecord();
    $("#panels").scrollTop = 0;
  });
  form.append(photoInput(F.draft.photos));
  fill(panel,
    h("h2", {}, pick("新增资产", "Record an asset")),
    h("label", { class: "row" }, h("span", { text: pick("图层", "Layer") }), sel),
    h("div", { id: "record-place" }),
    form, msg,
    // kept in reach at the bottom of the panel, however long the layer's form
    h("div", { class: "row save-bar" }, save));
  renderRecordPlace();
  renderSaveState();
}

/** Where the record is, and the buttons to change it. */
function renderRecordPlace() {
  const box = $("#record-place");
  if (!box) return;
  const spec = specOf(F.draft.layer);
  if (geomKind(spec) !== "Point") {
    const need = geomKind(spec) === "Polygon" ? 3 : 2;
    fill(box, h("p", { class: "hint", text: pick(`在地图上依次点选顶点（已 ${F.vertices.length} 个，至少 ${need} 个）`,
      `Tap the vertices on the map (${F.vertices.length}, at least ${need})`) }),
    h("div", { class: "row" },
      h("button", { type: "button", id: "vertex-here", disabled: F.fix ? null : "disabled", onclick: () => { if (F.fix) onMapTap([F.fix.lon, F.fix.lat]); } }, pick("加入我的位置", "Add my position")),
      h("button", { type: "button", onclick: () => { F.vertices.pop(); drawPlace(); renderRecordPlace(); renderSaveState(); } }, pick("撤销一点", "Undo"))));
    return;
  }
  const p = F.place;
  const where = !p ? pick("尚无位置：等待 GPS，或在地图上点选", "No position yet: wait for GPS, or tap the map")
    : p.source === "map" ? pick(`地图点选：${p.lon.toFixed(6)}, ${p.lat.toFixed(6)}`, `Tapped on the map: ${p.lon.toFixed(6)}, ${p.lat.toFixed(6)}`)
      : pick(`GPS 位置：${p.lon.toFixed(6)}, ${p.lat.toFixed(6)}（±${Math.round(p.accuracy_m)} 米）`, `GPS: ${p.lon.toFixed(6)}, ${p.lat.toFixed(6)} (±${Math.round(p.accuracy_m)} m)`);
  fill(box, h("p", { class: "hint", id: "record-where", "data-source": p ? p.source : "", text: where }),
    p && p.source === "map" ? h("div", { class: "row" }, h("button", { type: "button", id: "use-gps", onclick: () => {
      F.place = F.fix ? { ...F.fix, source: "gps" } : null;
      drawPlace();
      renderRecordPlace();
      renderSaveState();
    } }, pick("改用 GPS 位置", "Use the GPS position"))) : h("p", { class: "hint", text: pick("点地图可改为点选位置", "Tap the map to place it there instead") }));
}

function renderSaveState() {
  const btn = $("#record-save");
  if (!btn) return;
  const spec = specOf(F.draft.layer);
  const kind = geomKind(spec);
  let ok;
  if (kind === "Point") ok = !!F.place && (F.place.source === "map" || accuracyOk(F.place.accuracy_m, maxAccuracy()));
  else ok = F.vertices.length >= (kind === "Polygon" ? 3 : 2);
  btn.disabled = !ok;
}

function recordGeometry(spec) {
  const kind = geomKind(spec);
  if (kind === "Point") {
    if (!F.place) return null;
    return { type: "Point", coordinates: [F.place.lon, F.place.lat] };
  }
  if (kind === "LineString") return { type: "LineString", coordinates: F.vertices.slice() };
  return { type: "Polygon", coordinates: [[...F.vertices, F.vertices[0]]] };
}

/** The position a record is made at: the placed point, else the GPS fix. */
function positionOf() {
  const p = F.place && F.place.source === "map" ? F.place : F.fix ? { ...F.fix, source: "gps" } : null;
  return p ? { lon: p.lon, lat: p.lat, accuracy_m: p.accuracy_m ?? null, source: p.source, at: p.at || now() } : null;
}

// ------------------------------------------------------------------ nearby
async function renderNearby() {
  const panel = $("#panel-nearby");
  const list = h("ol", { class: "list", id: "nearby-list" });
  const status = h("p", { class: "hint", id: "nearby-status" });
  fill(panel, h("h2", {}, pick(`附近 ${NEARBY_M} 米`, `Within ${NEARBY_M} m`)),
    h("div", { class: "row" }, h("button", { type: "button", id: "nearby-refresh", class: "primary", onclick: () => renderNearby() }, pick("刷新附近", "Refresh"))),
    status, list);
  const here = F.fix ? [F.fix.lon, F.fix.lat] : fromMap(App.map.getCenter());
  status.textContent = pick("查找中…", "Searching…");
  let found;
  try {
    const q = new URLSearchParams({ lon: here[0].toFixed(7), lat: here[1].toFixed(7), radius: NEARBY_M, coord_sys: "wgs84", limit: 100 });
    const { data } = await request("/api/search?" + q);
    await Offline.rememberAssets(data.features || []);
    found = (data.features || []).map((f) => ({ feature: f, distance_m: f.properties.distance_m }));
    status.textContent = pick(`找到 ${found.length} 个`, `${found.length} found`);
  } catch (err) {
    if (err.status) {
      status.textContent = errorText(err);
      return;
    }
    // no network: what the phone knows (nearby searches before, offline areas)
    found = nearby(await all("assets"), here, NEARBY_M);
    status.textContent = pick(`离线：手机上已存的资产中找到 ${found.length} 个`, `Offline: ${found.length} found among the assets stored on the phone`);
  }
  fill(list, found.map((a) => nearbyItem(a.feature, a.distance_m)));
}

function nearbyItem(f, distance) {
  const p = f.properties;
  const spec = specOf(p.layer);
  const status = spec.statuses.find((s) => s.code === p.status);
  const body = h("div", { class: "actions" });
  const li = h("li", { "data-id": f.id, "data-code": p.code || "" },
    h("div", { class: "head" }, h("span", { text: p.code || "" }), h("span", { text: pick(`${Math.round(distance ?? 0)} 米`, `${Math.round(distance ?? 0)} m`) })),
    h("div", { class: "meta", text: [I18n.label(spec), status ? I18n.label(status) : p.status, labelOf(spec, { name: p.name, road_name: p.road_name, compound_name: p.compound_name })].filter(Boolean).join(" · ") }),
    h("div", { class: "row" },
      may(p.layer, "inspect") ? h("button", { type: "button", class: "inspect", onclick: () => reveal(fill(body, inspectionForm(f))) }, pick("巡查", "Inspect")) : null,
      may(p.layer, "update") ? h("button", { type: "button", class: "edit", onclick: () => reveal(fill(body, editForm(f))) }, pick("修改", "Edit")) : null,
      h("button", { type: "button", class: "step", onclick: () => stepForm(f, body).then(() => reveal(body)) }, pick("下一步", "Next step"))),
    body);
  return li;
}

function inspectionForm(f) {
  const p = f.properties;
  const results = (F.config && F.config.inspection_results) || RESULTS;
  const photos = [];
  let result = "";
  const buttons = results.map((r) => h("button", { type: "button", "data-result": r.code, "aria-pressed": "false", onclick: (e) => {
    result = r.code;
    for (const b of buttons) b.setAttribute("aria-pressed", String(b === e.currentTarget));
  } }, I18n.label(r)));
  const notes = h("textarea", { name: "notes", rows: "2", maxlength: "1000", class: "inspection-notes" });
  const msg = h("p", { class: "problems", role: "alert" });
  const form = h("form", { class: "attr-form inspection-form" },
    h("h3", {}, pick(`巡查 ${p.code}`, `Inspect ${p.code}`)),
    h("div", { class: "choice" }, buttons),
    h("label", {}, h("span", { text: pick("情况说明", "Notes") }), notes),
    photoInput(photos),
    h("div", { class: "row" }, h("button", { type: "submit", class: "primary inspection-save" }, pick("保存巡查（待同步）", "Save inspection (queue)"))),
    msg);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    if (!result) {
      msg.textContent = pick("请选择巡查结果", "Choose the result");
      return;
    }
    await enqueue({ kind: "inspection", layer: p.layer, asset_id: f.id, label: p.code,
      inspection: { result, notes: notes.value.trim() || null, inspected_at: now() },
      position: positionOf(), photo_ids: photos.map((x) => x.id) }, form);
  });
  return form;
}

function editForm(f) {
  const p = f.properties;
  const spec = specOf(p.layer);
  const form = attrForm(spec, p, { id: `edit-${f.id}` });
  form.classList.add("edit-form");
  const msg = h("p", { class: "problems", role: "alert" });
  form.prepend(h("h3", {}, pick(`修改 ${p.code}（版本 ${p.version ?? "?"}）`, `Edit ${p.code} (version ${p.version ?? "?"})`)));
  form.append(h("div", { class: "row" }, h("button", { type: "submit", class: "primary edit-save" }, pick("保存修改（待同步）", "Save edit (queue)"))), msg);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const values = readForm(spec, form);
    const changed = changedFrom(values, p);
    if (!Object.keys(changed).length) {
      msg.textContent = pick("没有修改", "Nothing changed");
      return;
    }
    // the values it was based on, to show the whole of mine beside theirs if it conflicts
    const base = Object.fromEntries(spec.attrs.filter((a) => !a.computed).map((a) => [a.name, p[a.name] ?? null]));
    await enqueue({ kind: "update", layer: p.layer, asset_id: f.id, base_version: p.version, properties: changed, label: p.code,
      base_properties: base, position: positionOf() }, form);
  });
  return form;
}

/** The next step the asset's workflow allows this user (read online; kept on the phone
 * for when the network is gone), as a form asking for what the step requires. */
async function stepForm(f, body) {
  const p = f.properties;
  const key = `${p.layer}/${f.id}`;
  fill(body, h("p", { class: "hint", text: pick("读取流程…", "Reading the workflow…") }));
  let wf;
  try {
    ({ data: wf } = await request(`/api/assets/${encodeURIComponent(p.layer)}/${encodeURIComponent(f.id)}/workflow`));
    const known = await get("assets", key);
    if (known) await put("assets", { ...known, workflow: wf });
  } catch (err) {
    const known = await get("assets", key);
    wf = known && known.workflow;
    if (!wf) {
      fill(body, h("p", { class: "problems", text: err.status === 404 ? pick("该图层没有流程", "This layer has no workflow") : errorText(err) }));
      return;
    }
  }
  const n = wf.next;
  if (!n) return fill(body, h("p", { class: "hint", text: pick("流程已完成", "The workflow is complete") }));
  if (!n.may_take) return fill(body, h("p", { class: "hint", text: pick(`下一步“${n.zh}”：您的角色不能办理`, `Next step “${n.en}”: your role may not take it`) }));
  const inputs = [...n.fields, ...(n.optional_fields || [])];
  const photos = [];
  const comment = h("textarea", { name: "comment", rows: "2", maxlength: "1000" });
  const msg = h("p", { class: "problems", role: "alert" });
  const form = h("form", { class: "attr-form step-form" },
    h("h3", {}, `${pick("下一步", "Next step")}：${I18n.label(n)}`),
    inputs.map((fd) => {
      const input = fd.choices
        ? h("select", { name: fd.name }, h("option", { value: "", text: "—" }), fd.choices.map((c) => h("option", { value: c.code, text: I18n.label(c), selected: String(fd.value) === c.code ? "selected" : null })))
        : h("input", { name: fd.name, type: fd.type === "date" ? "date" : fd.type === "integer" || fd.type === "numeric" ? "number" : "text", value: fd.value ?? "" });
      return h("label", {}, h("span", { text: I18n.label(fd) }), input);
    }),
    n.photos ? photoInput(photos) : null,
    h("label", {}, h("span", { text: pick("说明", "Comment") }), comment),
    h("div", { class: "row" }, h("button", { type: "submit", class: "primary step-save" }, `${pick("办理（待同步）", "Take step (queue)")}：${I18n.label(n)}`)),
    msg);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const fields = {};
    for (const fd of inputs) {
      const v = form.elements[fd.name].value.trim();
      if (v !== "") fields[fd.name] = fd.type === "integer" ? parseInt(v, 10) : fd.type === "numeric" ? Number(v) : v;
    }
    await enqueue({ kind: "step", layer: p.layer, asset_id: f.id, base_version: wf.version, label: p.code,
      step: { step: n.code, fields, comment: comment.value.trim() || null }, position: positionOf(), photo_ids: photos.map((x) => x.id) }, form);
  });
  fill(body, form);
}

// ------------------------------------------------------------------ offline areas
async function renderOffline() {
  const panel = $("#panel-offline");
  const choice = h("select", { id: "area-choice", "aria-label": pick("区域", "Area") },
    h("option", { value: "view", text: pick("当前地图范围", "The current map view") }));
  try {
    const { data } = await request("/api/districts");
    choice.append(...data.features.map((d) => h("option", { value: d.properties.code, text: I18n.pick(d.properties.name_zh, d.properties.name_en) })));
    choice.districts = data.features;
  } catch {
    choice.districts = [];
  }
  const info = h("p", { id: "area-plan", class: "hint" });
  const bar = h("progress", { id: "area-progress", max: "1", value: "0", hidden: "hidden" });
  const go = h("button", { type: "button", id: "area-download", class: "primary", disabled: "disabled" }, pick("下载", "Download"));
  const estimate = h("button", { type: "button", id: "area-estimate" }, pick("计算大小", "Estimate size"));
  const list = h("ol", { class: "list", id: "area-list" });
  const used = h("p", { class: "hint", id: "area-usage" });
  let planned = null;
  const area = () => {
    if (choice.value === "view") {
      const b = App.map.getBounds();
      const sw = fromMap(b.getSouthWest()), ne = fromMap(b.getNorthEast());
      return { id: "view-" + Date.now(), name: pick("地图范围 ", "View ") + new Date().toLocaleString(), bbox: [sw[0], sw[1], ne[0], ne[1]] };
    }
    const d = choice.districts.find((x) => x.properties.code === choice.value);
    return { id: "district-" + choice.value, name: I18n.pick(d.properties.name_zh, d.properties.name_en), bbox: bboxOf(d.geometry) };
  };
  const srcs = Offline.sources(Offline.ownBasemap(CONFIG.basemaps));
  choice.addEventListener("change", () => { planned = null; go.disabled = true; info.textContent = ""; });
  estimate.addEventListener("click", async () => {
    planned = area();
    info.textContent = pick("计算中…", "Estimating…");
    const p = await Offline.plan(planned.bbox, srcs);
    info.dataset.tiles = String(p.count);
    // the size is estimated from a few sampled tiles: none measured, or all empty, said so
    const size = p.bytes === null ? pick("大小未知（取样失败）", "size unknown (no sample)")
      : p.bytes < 1024 ? pick("不到 1 KB（取样瓦片为空）", "under 1 KB (the sampled tiles are empty)")
        : pick(`约 ${formatBytes(p.bytes)}`, `about ${formatBytes(p.bytes)}`);
    info.textContent = pick(`z${Offline.MIN_Z}–z${Offline.MAX_Z} 共 ${p.count} 个瓦片，${size}`,
      `${p.count} tiles (z${Offline.MIN_Z}–z${Offline.MAX_Z}), ${size}`);
    // a phone's storage and a day's mobile data: a larger area is split into districts
    const tooMany = p.count > Offline.MAX_TILES;
    if (tooMany) info.textContent += pick(`；超过 ${Offline.MAX_TILES} 个，请缩小范围`, `; more than ${Offline.MAX_TILES}: choose a smaller area`);
    go.disabled = tooMany;
  });
  go.addEventListener("click", async () => {
    if (!planned) return;
    go.disabled = true;
    estimate.disabled = true;
    bar.hidden = false;
    try {
      const rec = await Offline.download(planned, srcs, (done, total, bytes) => {
        bar.max = total;
        bar.value = done;
        info.textContent = pick(`下载中 ${done}/${total}（${formatBytes(bytes)}）`, `Downloading ${done}/${total} (${formatBytes(bytes)})`);
      });
      info.textContent = pick(`已下载 ${rec.tiles} 个瓦片（${formatBytes(rec.bytes)}），${rec.assets} 个资产`, `Downloaded ${rec.tiles} tiles (${formatBytes(rec.bytes)}), ${rec.assets} assets`)
        + (rec.failed ? pick(`，${rec.failed} 个失败`, `, ${rec.failed} failed`) : "");
      document.body.dataset.areas = String(Number(document.body.dataset.areas || 0) + 1);
    } catch (err) {
      info.textContent = errorText(err);
    }
    bar.hidden = true;
    estimate.disabled = false;
    planned = null;
    await listAreas(list, used);
  });
  fill(panel, h("h2", {}, pick("下载离线区域", "Offline areas")),
    h("p", { class: "hint", text: pick("下载后，无网络时地图仍可显示该区域的资产（及本系统提供的底图），“附近”也可用。", "Once downloaded, the map shows the area's assets (and the registry's own basemap) without a network, and “Nearby” works there.") }),
    h("label", { class: "row" }, choice), h("div", { class: "row" }, estimate, go), info, bar, used, list);
  await listAreas(list, used);
}

async function listAreas(list, used) {
  const areas = await Offline.areas();
  fill(list, areas.map((a) => h("li", { "data-area": a.id },
    h("div", { class: "head" }, h("span", { text: a.name }), h("span", { text: formatBytes(a.bytes) })),
    h("div", { class: "meta", text: pick(`${a.tiles} 个瓦片 · ${a.assets} 个资产 · ${stamp(a.at)}`, `${a.tiles} tiles · ${a.assets} assets · ${stamp(a.at)}`) }),
    h("div", { class: "row" }, h("button", { type: "button", class: "danger area-delete", onclick: async () => {
      await Offline.deleteArea(a);
      await listAreas(list, used);
    } }, pick("删除", "Delete"))))));
  const u = await Offline.usage();
  used.textContent = pick(`离线瓦片 ${formatBytes(u.tiles)}；本应用共占用 ${formatBytes(u.total)}`, `Offline tiles ${formatBytes(u.tiles)}; the app uses ${formatBytes(u.total)} in all`);
}

// ------------------------------------------------------------------ tabs, network, start
const RENDER = { record: renderRecord, nearby: renderNearby, queue: renderQueue, offline: renderOffline };

function showTab(name) {
  F.tab = name;
  // the panels share one scroller: a tab opens at its top, never at the last tab's offset
  // (which left a short list scrolled out of sight under the GPS line)
  $("#panels").scrollTop = 0;
  for (const t of Object.keys(RENDER)) {
    $(`#panel-${t}`).hidden = t !== name;
    $(`#tab-${t}`).setAttribute("aria-selected", String(t === name));
  }
  Promise.resolve(RENDER[name]()).catch((err) => toast(errorText(err), 6000));
}

function renderNet() {
  const el = $("#net");
  el.classList.toggle("off", !navigator.onLine);
  el.textContent = navigator.onLine ? pick("在线", "Online") : pick("离线", "Offline");
}

function relabel() {
  const words = { title: ["焦作城管外业", "Jiaozuo field"], unsent: ["待同步", "To sync"], record: ["采集", "Record"], nearby: ["附近", "Nearby"],
    queue: ["待同步", "Queue"], offline: ["离线", "Offline"] };
  document.querySelectorAll("[data-f]").forEach((el) => { el.textContent = pick(...words[el.dataset.f]); });
  $("#lang").textContent = pick("EN", "中文");
  renderNet();
  renderGps();
  Auth.relabel();
  showTab(F.tab);
}

// What the page reads at start; read again through the worker once it controls the
// page (on the first visit it did not yet), so the worker keeps a copy for offline starts.
const START_DATA = ["/auth/me", "/api/layers", "/api/field/config", "/api/districts"];

async function registerWorker() {
  if (!("serviceWorker" in navigator)) return;
  let warmed = false;
  const ready = async () => {
    if (warmed) return;
    warmed = true;
    await Promise.all(START_DATA.map((url) => fetch(url, { credentials: "same-origin" }).catch(() => null)));
    document.body.dataset.sw = "ready";
  };
  navigator.serviceWorker.addEventListener("controllerchange", ready);
  await navigator.serviceWorker.register("/field-sw.js", { scope: "/field" });
  await navigator.serviceWorker.ready;
  if (navigator.serviceWorker.controller) await ready();
}

async function start() {
  F.device = deviceId();
  for (const t of Object.keys(RENDER)) $(`#tab-${t}`).addEventListener("click", () => showTab(t));
  $("#queue-badge").addEventListener("click", () => showTab("queue"));
  $("#lang").addEventListener("click", () => { I18n.toggle(); relabel(); });
  Auth.onLang = relabel;
  window.addEventListener("online", () => { renderNet(); sync(); });
  window.addEventListener("offline", renderNet);
  registerWorker().catch((err) => toast(errorText(err), 6000));
  renderNet();
  await Auth.ensure();
  await loadConfig();
  buildMap();
  relabel();
  watchGps();
  await renderQueueCount();
  if (!creatable().length) showTab("nearby"); // an officer inspects, records no new assets
  document.body.dataset.ready = "1";
  if (navigator.onLine) sync();
}

start().catch((err) => {
  toast(errorText(err), 8000);
  console.error(err);
});
