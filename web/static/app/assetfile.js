/* The asset's file (一患一档): attributes with the catalogue's labels, photos, lifecycle
 * timeline, child records (e.g. water-quality tests), change history; edit and move with
 * optimistic locking (ETag / If-Match; a 412 shows what changed meanwhile). Every
 * request that fails says why, where its part of the file would be. */

import { Auth } from "./auth.js";
import { $, fill, h, toast } from "./dom.js";
import { attrForm, itemUrl, readForm, showConflict } from "./forms.js";
import { errorText, request } from "./http.js";
import { I18n, t } from "./i18n.js";
import { editParkingShape } from "./parking.js";
import { App, choiceLabel, districtLabel, formatValue, fromMap, geoJSON, refreshTiles, writeHash } from "./state.js";
import { inspectionSection } from "./inspections.js";
import { workflowSection } from "./workflow.js";

const problem = (err, prefix = "") => h("p", { class: "problems", role: "alert", text: prefix + errorText(err) });

/** Open the file of an asset in the drawer (and ring it on the map). */
export async function openFile(layer, id) {
  const spec = App.layers[layer];
  const panel = $("#file");
  const body = $("#file-body");
  panel.hidden = false;
  $("#file-title").textContent = "";
  if (!spec) {
    fill(body, h("p", { class: "problems", role: "alert", text: `${t("not_found")}：${layer}` }));
    return;
  }
  fill(body, h("p", { text: t("loading") }));
  let feature, etag;
  try {
    const { data, res } = await request(itemUrl(layer, id), { headers: { Accept: "application/geo+json" } });
    feature = data;
    etag = res.headers.get("ETag");
  } catch (err) {
    fill(body, problem(err));
    return;
  }
  App.openAsset = { layer, id, feature, etag };
  showOnMap(feature);
  writeHash();
  render(spec, feature);
  panel.scrollIntoView({ block: "nearest" });
}

/** Close the drawer's file. */
export function closeFile() {
  $("#file").hidden = true;
  App.openAsset = null;
  writeHash();
  if (App.fileLayer) { App.map.removeLayer(App.fileLayer); App.fileLayer = null; }
}

/** Draw the open file again (another language, other permissions). */
export function rerenderFile() {
  const open = App.openAsset;
  if (open && App.layers[open.layer]) render(App.layers[open.layer], open.feature);
}

/** Ring the open asset, and bring it into view when it is off-screen or too small. */
function showOnMap(feature) {
  if (App.fileLayer) App.map.removeLayer(App.fileLayer);
  App.fileLayer = null;
  if (!feature.geometry) return;
  App.fileLayer = geoJSON(feature, {
    pane: "results", interactive: false,
    pointToLayer: (f, ll) => L.circleMarker(ll, { pane: "results", radius: 12, color: "#f9a825", weight: 3, fill: false }),
    style: { color: "#f9a825", weight: 3, fill: false },
  }).addTo(App.map);
  const b = App.fileLayer.getBounds();
  if (!App.map.getBounds().contains(b) || App.map.getZoom() < 14) App.map.fitBounds(b, { maxZoom: 17, animate: false });
}

function render(spec, feature) {
  const p = feature.properties || {};
  $("#file-title").textContent = `${I18n.label(spec)} ${p.code || ""}`;
  const rows = spec.attrs.map((a) => h("tr", {}, h("th", { scope: "row", text: I18n.label(a) }), h("td", { "data-attr": a.name, text: formatValue(spec, a, p[a.name]) })));
  const meta = [["district_code", I18n.pick("所属区县", "District"), districtLabel(p.district_code)],
    ["version", I18n.pick("版本", "Version"), p.version],
    ["updated_at", I18n.pick("最后修改", "Last changed"), [p.updated_at && fmtTime(p.updated_at), p.updated_by].filter(Boolean).join(" · ")]];
  for (const [k, label, v] of meta) if (v !== undefined && v !== null && v !== "") rows.push(h("tr", {}, h("th", { scope: "row", text: label }), h("td", { "data-attr": k, text: v })));
  fill($("#file-body"),
    h("h3", { text: t("attributes") }), h("table", { class: "attrs" }, h("tbody", {}, rows)),
    actions(spec, feature),
    ...photos(spec, feature),
    // a layer with a campaign workflow shows its steps and the next-step action instead
    ...(spec.workflow ? workflowSection(spec, feature, () => openFile(spec.name, feature.id)) : timeline(spec, p)),
    ...spec.children.flatMap((child) => childRecords(spec, feature, child)),
    // inspections of any asset; what one may change or raise, as the layers declare it
    ...inspectionSection(spec, feature, () => openFile(spec.name, feature.id), openFile),
    ...history(spec, feature));
}

/** Only what the role may do (the server checks again). */
function actions(spec, feature) {
  const layer = spec.name;
  const canUpdate = Auth.can("update", layer);
  const canEdit = canUpdate || (Auth.can("lifecycle", layer) && (spec.lifecycle_fields || []).length);
  const isPoint = feature.geometry && feature.geometry.type === "Point";
  return h("div", { class: "row" },
    canEdit ? h("button", { type: "button", id: "file-edit", onclick: () => editForm(spec, feature) }, t("edit")) : null,
    canUpdate && spec.geometry_types.includes("Point") && isPoint
      ? h("button", { type: "button", id: "file-move", onclick: () => startMove(spec, feature) }, t("move")) : null,
    canUpdate && spec.geometry_types.includes("Polygon")
      ? h("button", { type: "button", id: "file-edit-shape", onclick: () => editParkingShape(spec, feature, App.openAsset.etag) }, t("edit_shape")) : null);
}

/** Thumbnails; the original on click. */
function photos(spec, feature) {
  const box = h("div", { class: "photos", id: "file-photos" });
  request(`/api/assets/${spec.name}/${feature.id}/photos`).then(({ data }) => {
    const list = data.photos || [];
    if (!list.length) return box.append(h("p", { class: "hint", text: "—" }));
    for (const ph of list) {
      const title = `${ph.file_name} · ${(ph.created_at || "").slice(0, 10)} · ${ph.created_by || ""}`;
      box.append(h("a", { href: ph.url, target: "_blank", title, "aria-label": t("photo_open") + "：" + ph.file_name,
        onclick: (e) => { e.preventDefault(); showPhoto(ph); } },
      h("img", { src: ph.thumb_url || ph.url, alt: ph.file_name, loading: "lazy" })));
    }
  }).catch((err) => box.append(problem(err)));
  return [h("h3", { text: t("photos") }), box];
}

/** Every status that has a "<status>_on" date attribute is a step of the lifecycle. */
function timeline(spec, p) {
  const steps = spec.statuses.filter((s) => spec.attrs.some((a) => a.name === s.code + "_on"));
  if (!steps.length) return [];
  const reached = spec.statuses.findIndex((s) => s.code === p.status);
  const out = [h("h3", { text: t("timeline") }), h("ol", { class: "timeline" }, steps.map((s, i) => {
    const on = p[s.code + "_on"], by = p[s.code + "_by"];
    return h("li", { class: i <= reached && on ? "done" : "" }, h("strong", { text: I18n.label(s) }), " ", [on, by].filter(Boolean).join(" · ") || "—");
  }))];
  const deadline = spec.attrs.find((a) => a.name === "remediation_deadline");
  if (deadline && p.remediation_deadline) out.push(h("p", { class: "hint", text: `${I18n.label(deadline)}：${p.remediation_deadline}` }));
  return out;
}

/** A table of child records (water-quality tests), failed ones marked. */
function childRecords(spec, feature, child) {
  const box = h("div", {}, h("p", { text: t("loading") }));
  request(`/api/assets/${spec.name}/${feature.id}/children/${child.name}`).then(({ data }) => {
    const cols = child.attrs;
    fill(box, h("table", { class: "grid", "data-child": child.name },
      h("thead", {}, h("tr", {}, cols.map((a) => h("th", { text: I18n.label(a) + (a.unit ? ` (${a.unit})` : "") })))),
      h("tbody", {}, data.rows.map((r) => h("tr", { class: r.passed === false ? "bad" : "" }, cols.map((a) => {
        const v = r[a.name];
        if (a.type === "boolean") return h("td", { class: v ? "pass" : "fail", text: formatValue(spec, a, v) });
        return h("td", { text: v === null || v === undefined ? "—" : String(v) });
      }))))));
  }).catch((err) => fill(box, problem(err)));
  return [h("h3", { text: I18n.label(child) }), box];
}

function history(spec, feature) {
  const box = h("div", { id: "file-history" }, h("p", { text: t("loading") }));
  request(`/api/assets/${spec.name}/${feature.id}/history`).then(({ data }) => {
    const entries = (data.entries || []).slice().reverse(); // newest first
    if (!entries.length) return fill(box, h("p", { text: t("history_none") }));
    fill(box, h("ol", { class: "history" }, entries.map((e) => historyEntry(spec, e))));
  }).catch((err) => fill(box, problem(err, t("history_unavailable") + "：")));
  return [h("h3", { text: t("history") }), box];
}

function showPhoto(ph) {
  const close = () => { box.remove(); document.removeEventListener("keydown", onKey); };
  const onKey = (e) => { if (e.key === "Escape") close(); };
  const box = h("div", { class: "photo-full", id: "photo-full", role: "dialog", "aria-label": ph.file_name, tabindex: "-1", onclick: close },
    h("img", { src: ph.url, alt: ph.file_name }));
  document.addEventListener("keydown", onKey);
  document.body.append(box);
  box.focus();
}

// Bookkeeping every write touches: not "what changed".
const BOOKKEEPING = new Set(["version", "updated_at", "updated_by", "created_at", "created_by", "id", "layer", "is_demo"]);
const fmtTime = (iso) => {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d.toLocaleString(I18n.pick("zh-CN", "en-GB"), { timeZone: "Asia/Shanghai", hour12: false,
    year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit" });
};

// The channel a change came through (the history's ``via``: api, cli, import:<id>,
// undo:<id>, field:<batch>, demo, sql), in words; the API, the usual one, is not said.
const VIA = {
  cli: ["命令行", "command line"], import: ["文件导入", "file import"], undo: ["撤销导入", "import undone"],
  field: ["外业采集", "field capture"], demo: ["演示数据", "demo data"], sql: ["数据库", "database"],
};
const viaText = (via) => {
  const [kind, ref] = String(via).split(/:(.*)/s);
  const words = VIA[kind];
  return words ? I18n.pick(...words) + (ref ? ` ${ref.slice(0, 8)}` : "") : via;
};
// No value: nothing, an empty text, an empty object (an import's other columns, ``extra``).
const empty = (v) => v === null || v === undefined || v === "" || (typeof v === "object" && !Object.keys(v).length);

/** One entry of GET /api/assets/{layer}/{id}/history (web/routes/history.py):
 * {action, actor, via, at, comment, child_table, changes: [{field, before, after}]}. */
function historyEntry(spec, e) {
  const child = e.child_table && spec.children.find((c) => c.name === e.child_table);
  const attrs = child ? child.attrs : spec.attrs;
  const actionText = t("action_" + e.action) !== "action_" + e.action ? t("action_" + e.action) : e.action;
  const what = child ? `${actionText}${I18n.label(child)}` : actionText;
  const changes = (e.changes || []).filter((c) => !BOOKKEEPING.has(c.field) && !(child && c.field.endsWith("_id"))
    && !(empty(c.before) && empty(c.after)));
  const fmt = (k, v) => {
    if (empty(v)) return "—";
    if (k === "status") return choiceLabel(spec, "status", v);
    if (k === "district_code") return districtLabel(v);
    const attr = attrs.find((x) => x.name === k);
    return attr ? formatValue(spec, attr, v) : typeof v === "object" ? JSON.stringify(v).slice(0, 60) : String(v);
  };
  const label = (k) => {
    if (k === "geom") return t("geometry");
    if (k === "status") return t("status");
    if (k === "deleted_at") return t("deleted_flag");
    if (k === "district_code") return I18n.pick("所属区县", "District");
    if (k === "extra") return I18n.pick("其他列", "Other columns");
    const a = attrs.find((x) => x.name === k);
    return a ? I18n.label(a) : k;
  };
  const line = (c) => (c.field === "geom" ? `${label(c.field)}: ${c.before ? I18n.pick("已改变", "changed") : I18n.pick("已设定", "set")}`
    : `${label(c.field)}: ${fmt(c.field, c.before)} → ${fmt(c.field, c.after)}`);
  const shown = e.action === "create" ? changes.filter((c) => c.after !== null && c.after !== undefined && c.field !== "geom") : changes;
  return h("li", { "data-action": e.action },
    h("strong", { text: [fmtTime(e.at), e.actor, what].filter(Boolean).join(" · ") }),
    e.via && e.via !== "api" ? h("span", { class: "hint", text: ` (${viaText(e.via)})` }) : null,
    shown.length ? h("ul", {}, shown.slice(0, 40).map((c) => h("li", { "data-field": c.field, text: line(c) }))) : null,
    e.comment ? h("div", { class: "hint", text: e.comment }) : null);
}

function editForm(spec, feature) {
  // a role that may only move a hazard through its lifecycle gets only those fields
  let only = Auth.can("update", spec.name) ? null : spec.lifecycle_fields;
  // the status of a layer with a workflow moves by its steps (the next-step action), not here
  if (spec.workflow) only = (only || spec.attrs.map((a) => a.name)).filter((n) => n !== "status");
  const form = attrForm(spec, feature.properties || {}, { id: "edit-form", only });
  const msg = h("div", { class: "problems", role: "alert" });
  form.append(h("div", { class: "row" }, h("button", { type: "submit" }, t("save")),
    h("button", { type: "button", onclick: () => render(spec, feature) }, t("cancel"))), msg);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    // send only what the user changed (a merge patch), so the server judges just that
    const all = readForm(spec, form);
    const before = feature.properties || {};
    const props = {};
    for (const k in all) if (JSON.stringify(all[k] ?? null) !== JSON.stringify(before[k] ?? null)) props[k] = all[k];
    if (!Object.keys(props).length) return render(spec, feature);
    await save(spec, feature, { type: "Feature", properties: props }, msg);
  });
  fill($("#file-body"), form);
}

async function save(spec, feature, patch, msg) {
  fill(msg);
  let data, res;
  try {
    ({ data, res } = await request(itemUrl(spec.name, feature.id), {
      method: "PATCH", body: patch, headers: { "If-Match": App.openAsset.etag || "*", "Content-Type": "application/merge-patch+json" },
    }));
  } catch (err) {
    if (err.status === 412) await showConflict(spec, spec.name, feature.id, { ...feature, ...patch }, msg);
    else msg.textContent = errorText(err);
    return;
  }
  toast(t("saved"));
  App.openAsset.etag = res.headers.get("ETag");
  refreshTiles(spec.name);
  openFile(spec.name, (data && data.id) || feature.id);
}

function startMove(spec, feature) {
  toast(t("move_hint"), 5000);
  App.map.getContainer().style.cursor = "crosshair";
  App.clickHandler = async (e) => {
    App.clickHandler = null;
    App.map.getContainer().style.cursor = "";
    const [lon, lat] = fromMap(e.latlng);
    const msg = h("div", { class: "problems", role: "alert" });
    $("#file-body").append(msg);
    await save(spec, feature, { type: "Feature", geometry: { type: "Point", coordinates: [lon, lat] } }, msg);
  };
}
