/* Surveyors' upload (the upload page's entry module): file, layer, CRS/encoding →
 * dry-run report (sortable table, bad rows highlighted on the map) → confirm → progress
 * → summary with an undo button. Talks to the importers' endpoints: POST /api/imports,
 * GET /api/imports/{id}, POST /api/imports/{id}/undo. Everything shown is built as
 * elements: names and values from the file stay text. */

import { Auth } from "./auth.js";
import { $, fill, h, toast } from "./dom.js";
import { errorText, request } from "./http.js";
import { I18n, t } from "./i18n.js";

const POLL_MS = 500; // progress of a background import
const LEVEL = { ok: { zh: "正常", en: "OK" }, warning: { zh: "警告", en: "Warning" }, error: { zh: "错误", en: "Error" } };
// the counts of an import's summary (importers/report.py ImportReport.summary)
const COUNT = {
  rows: { zh: "读取行数", en: "Rows read" }, created: { zh: "新增", en: "Created" }, updated: { zh: "更新", en: "Updated" },
  unchanged: { zh: "未变", en: "Unchanged" }, rejected: { zh: "拒绝", en: "Rejected" },
  warnings: { zh: "警告", en: "Warnings" }, photos: { zh: "照片", en: "Photos" },
};
// what the import does with a row (importers/report.py), as the report's CSV says it
const ACTION = {
  created: { zh: "新增", en: "Created" }, updated: { zh: "更新", en: "Updated" },
  unchanged: { zh: "未变", en: "Unchanged" }, rejected: { zh: "拒绝", en: "Rejected" },
};

let catalog = null, map = null, badLayer = null, lastReport = null, sortKey = "row", sortDir = 1;
let fileFeatures = null; // report row number - 1 → GeoJSON geometry, read from the file itself

function formData(dry) {
  const fd = new FormData();
  fd.append("file", $("#up-file").files[0]);
  fd.append("layer", $("#up-layer").value);
  if ($("#up-crs").value) fd.append("crs", $("#up-crs").value);
  if ($("#up-encoding").value) fd.append("encoding", $("#up-encoding").value);
  if (!$("#up-source-row").hidden && $("#up-source").value) fd.append("source_layer", $("#up-source").value);
  if ($("#up-set").value.trim()) fd.append("set", $("#up-set").value); // one attribute=value per line
  if ($("#up-swap").checked) fd.append("swap_xy", "true");
  if ($("#up-skip").checked) fd.append("skip_rejected", "true");
  fd.append("dry_run", dry ? "true" : "false");
  if (!dry) fd.append("background", "true");
  return fd;
}

/** Positions of the rows, read in the browser from GeoJSON or CSV (lon/lat or x/y
 * columns), so bad rows can be shown where they are. The report's row 1 is a GeoJSON's
 * first feature, and a CSV's line 1 its header (row 2 its first data line).
 * Other formats (or a file that does not parse) simply have no positions here: the
 * server's report still lists every row. */
async function readPositions(file) {
  fileFeatures = null;
  const name = file.name.toLowerCase();
  if (file.size > 20 * 1024 * 1024) return;
  const text = await file.text();
  if (name.endsWith(".geojson") || name.endsWith(".json")) {
    try {
      fileFeatures = JSON.parse(text).features.map((f) => f.geometry);
    } catch {
      fileFeatures = null; // not a FeatureCollection: the server's report says what is wrong
    }
  } else if (name.endsWith(".csv")) {
    const lines = text.replace(/^\uFEFF/, "").split(/\r?\n/).filter((l) => l.trim());
    if (!lines.length) return;
    const head = lines[0].split(",").map((c) => c.trim().toLowerCase());
    const xi = head.findIndex((c) => ["lon", "lng", "longitude", "x", "经度"].includes(c));
    const yi = head.findIndex((c) => ["lat", "latitude", "y", "纬度"].includes(c));
    if (xi >= 0 && yi >= 0) {
      // the report numbers CSV rows as a spreadsheet shows them (the header is line 1),
      // so index = line - 1 holds the header's empty slot first
      fileFeatures = [null, ...lines.slice(1).map((l) => {
        const c = l.split(",");
        return { type: "Point", coordinates: [Number(c[xi]), Number(c[yi])] };
      })];
    }
  }
}

const cellText = (r, k) => {
  const v = r[k];
  if (k === "level") return I18n.label(LEVEL[v]) || v;
  if (k === "action") return I18n.label(ACTION[v]) || v || "";
  if (k === "field") return r.field_label || v || ""; // the label the API rendered in the page's language
  if (v === null || v === undefined) return "";
  return typeof v === "object" ? JSON.stringify(v) : String(v);
};

function renderReport(report) {
  lastReport = report;
  const rows = (report.rows || []).slice().sort((a, b) => {
    const x = a[sortKey], y = b[sortKey];
    return (x === y ? 0 : x === null || x === undefined ? 1 : y === null || y === undefined ? -1 : x < y ? -1 : 1) * sortDir;
  });
  const s = report.summary || {};
  const cols = [["row", t("row")], ["level", t("level")], ["code", t("code")], ["field", t("field")],
    ["value", t("value")], ["reason", t("message")], ["action", t("action")]];
  const sortBy = (k) => {
    sortDir = k === sortKey ? -sortDir : 1;
    sortKey = k;
    renderReport(lastReport);
  };
  const th = ([k, label]) => h("th", {
    scope: "col", tabindex: "0", "data-key": k, "aria-sort": k === sortKey ? (sortDir > 0 ? "ascending" : "descending") : "none",
    onclick: () => sortBy(k), onkeydown: (e) => { if (e.key === "Enter") sortBy(k); },
  }, label);
  const tr = (r) => h("tr", { class: r.level === "error" ? "bad" : null, "data-row": r.row, tabindex: "0", onclick: () => zoomToRow(r.row) },
    cols.map(([k]) => h("td", { text: cellText(r, k) })));
  const bad = s.rejected ?? s.errors ?? rows.filter((r) => r.level === "error").length;
  fill($("#up-report"),
    h("p", { id: "up-counts" }, report.file_name || "", " · ", t("ok_rows"), " ", h("b", { id: "up-ok", text: (s.rows ?? 0) - (s.rejected ?? 0) }),
      " · ", t("bad_rows"), " ", h("b", { id: "up-bad", text: bad })),
    h("table", { class: "grid", id: "report-table" }, h("thead", {}, h("tr", {}, cols.map(th))), h("tbody", {}, rows.map(tr))));
  drawBadRows(rows.filter((r) => r.level === "error"));
}

function drawBadRows(bad) {
  if (badLayer) map.removeLayer(badLayer);
  badLayer = L.featureGroup().addTo(map);
  if (!fileFeatures) return;
  const seen = new Set();
  for (const r of bad) {
    const g = fileFeatures[r.row - 1];
    if (!g || seen.has(r.row)) continue;
    seen.add(r.row);
    let layer;
    try {
      layer = L.geoJSON(g, {
        pointToLayer: (f, ll) => L.circleMarker(ll, { radius: 8, color: "#b10026", weight: 2, fillColor: "#fc4e2a", fillOpacity: 0.7 }),
        style: { color: "#b10026", weight: 3 },
      });
    } catch {
      continue; // a geometry Leaflet cannot draw: the row is listed in the table all the same
    }
    // an element, not a string: Leaflet would read a string tooltip as HTML
    layer.bindTooltip(h("span", { text: `${t("row")} ${r.row}: ${r.reason || ""}` })).addTo(badLayer);
  }
  if (badLayer.getLayers().length) map.fitBounds(badLayer.getBounds(), { maxZoom: 16, padding: [20, 20] });
}
function zoomToRow(row) {
  const g = fileFeatures && fileFeatures[row - 1];
  if (!g) return;
  try {
    map.fitBounds(L.geoJSON(g).getBounds(), { maxZoom: 18 });
  } catch {
    toast(`${t("row")} ${row}: ${I18n.pick("无法在地图上显示", "cannot be shown on the map")}`);
  }
}

/** The import endpoint's answer: the report (a dry run with rejected rows is a 422 that
 * carries one), or null when the file could not be read (the reason is shown). */
async function postImport(dry) {
  try {
    return (await request("/api/imports?lang=" + I18n.lang, { method: "POST", body: formData(dry) })).data;
  } catch (err) {
    if (err.data && err.data.rows) return err.data;
    fill($("#up-summary"), h("p", { class: "problems", role: "alert", text: errorText(err) }));
    offerSourceLayers(err.data);
    return null;
  }
}

async function dryRun(e) {
  e.preventDefault();
  const file = $("#up-file").files[0];
  if (!file) return;
  $("#up-summary").textContent = t("loading");
  $("#up-confirm").disabled = true;
  await readPositions(file);
  const report = await postImport(true);
  if (!report) return;
  fill($("#up-summary"));
  renderReport(report);
  updateConfirm();
}

/** 确认导入 only when the import would write something: every row is good, or the
 * surveyor chose to skip the bad ones and some good ones remain. */
function updateConfirm() {
  const s = (lastReport && lastReport.summary) || {};
  const good = (s.rows ?? 0) - (s.rejected ?? 0);
  $("#up-confirm").disabled = !lastReport || good <= 0 || ((s.rejected ?? 0) > 0 && !$("#up-skip").checked);
}

/** A file of several layers or shapefiles: list them, the user picks one and runs
 * the check again. A new file hides the list. */
function offerSourceLayers(problem) {
  const ask = ((problem && problem.errors) || []).find((x) => x.field === "source_layer" && x.choices);
  if (!ask) return;
  fill($("#up-source"), ...ask.choices.map((c) => h("option", { value: c, text: c })));
  $("#up-source-row").hidden = false;
  $("#up-source").focus();
}

async function confirmImport() {
  $("#up-confirm").disabled = true;
  const started = await postImport(false);
  if (!started) return;
  const id = started.import_id;
  if (started.rows) return summary(started, id); // finished synchronously
  $("#up-progress").hidden = false;
  try {
    for (;;) {
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      const { data: rec } = await request(`/api/imports/${encodeURIComponent(id)}?lang=${I18n.lang}`);
      const bar = $("#up-bar");
      if (rec.rows_total) { bar.max = rec.rows_total; bar.value = rec.rows_read || 0; }
      $("#up-count").textContent = `${rec.rows_read || 0}${rec.rows_total ? " / " + rec.rows_total : ""}`;
      if (rec.status && rec.status !== "running") return summary(rec, id);
    }
  } catch (err) {
    fill($("#up-summary"), h("p", { class: "problems", role: "alert", text: errorText(err) }));
  } finally {
    $("#up-progress").hidden = true;
  }
}

/** The outcome of an import: its status in words, its counts, and an undo button when
 * it wrote something (a rejected or failed import wrote nothing: there is nothing to undo). */
function summary(rec, id) {
  const counts = Object.entries(rec.summary || rec.counts || {}).filter(([, v]) => typeof v === "number");
  const parts = counts.flatMap(([k, v], i) => [i ? " · " : null, `${I18n.label(COUNT[k]) || k}${I18n.pick("：", ": ")}`,
    h("b", { text: v })]);
  const status = rec.status || "";
  const said = t("import_" + status);
  const undo = status === "committed" ? h("button", { type: "button", id: "up-undo" }, t("undo")) : null;
  undo?.addEventListener("click", async () => {
    undo.disabled = true;
    try {
      await request(`/api/imports/${encodeURIComponent(id)}/undo?lang=${I18n.lang}`, { method: "POST" });
      $("#up-summary").append(h("p", { id: "up-undone", text: t("undone") }));
    } catch (err) {
      undo.disabled = false;
      $("#up-summary").append(h("p", { class: "problems", role: "alert", text: errorText(err) }));
    }
  });
  fill($("#up-summary"), h("h2", { text: t("summary") }),
    h("p", { id: "up-status", "data-status": status, class: status === "committed" ? "pass" : "problems" }, said === "import_" + status ? status : said),
    rec.error ? h("p", { class: "problems", text: rec.error.detail || rec.error.code || String(rec.error) }) : null,
    h("p", {}, parts), undo);
}

/** Only the layers the role may import into; none → say so instead of a form that fails. */
function fillLayers() {
  const sel = $("#up-layer"), v = sel.value;
  const layers = catalog.layers.filter((l) => Auth.can("import", l.name));
  $("#up-dry").disabled = !layers.length;
  $("#up-summary").textContent = layers.length ? "" : t("forbidden") + "：" + I18n.pick("您的角色不能导入数据", "your role may not import data");
  fill(sel, ...layers.map((l) => h("option", { value: l.name, text: I18n.label(l) })));
  if (v) sel.value = v;
}

async function start() {
  I18n.apply();
  const relabel = () => { I18n.apply(); Auth.relabel(); if (catalog) fillLayers(); if (lastReport) renderReport(lastReport); };
  $("#lang-btn").addEventListener("click", () => { I18n.toggle(); relabel(); });
  Auth.onLang = relabel;
  map = L.map("map", { zoomControl: false }).setView([35.215, 113.24], 10);
  L.control.zoom({ zoomInTitle: t("zoom_in"), zoomOutTitle: t("zoom_out") }).addTo(map);
  map.attributionControl.setPrefix(false);
  await Auth.ensure();
  Auth.onChange(() => fillLayers());
  const [{ data: districts }, { data: layers }] = await Promise.all([request("/api/districts"), request("/api/layers")]);
  L.geoJSON(districts, { style: { color: "#546e7a", weight: 1, fillOpacity: 0.1 }, interactive: false }).addTo(map);
  catalog = layers;
  fillLayers();
  $("#upload-form").addEventListener("submit", dryRun);
  $("#up-file").addEventListener("change", () => { $("#up-source-row").hidden = true; fill($("#up-source")); });
  $("#up-confirm").addEventListener("click", confirmImport);
  $("#up-skip").addEventListener("change", updateConfirm);
  document.body.dataset.ready = "1";
}

start().catch((err) => {
  toast(errorText(err), 8000);
  console.error(err);
});
