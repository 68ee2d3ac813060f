/* Surveyors' upload: file, layer, CRS/encoding → dry-run report (sortable table, bad rows
 * highlighted on the map) → confirm → progress → summary with an undo link.
 * Talks to the importers' endpoints: POST /api/imports, GET /api/imports/{id},
 * POST /api/imports/{id}/undo. */
(function () {
  "use strict";
  const t = (k, v) => I18n.t(k, v);
  const $ = (s) => document.querySelector(s);
  let catalog = null, map = null, badLayer = null, lastReport = null, sortKey = "row", sortDir = 1;
  let fileFeatures = null; // row number → [lon, lat] or GeoJSON geometry, read from the file itself

  const csrf = () => Auth.csrf();
  function toast(msg) { const el = $("#toast"); el.textContent = msg; el.classList.add("show"); setTimeout(() => el.classList.remove("show"), 4000); }
  function esc(s) { return String(s === null || s === undefined ? "" : s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c])); }

  async function post(url, body) {
    const res = await fetch(url, { method: "POST", body, headers: { "X-CSRF-Token": csrf(), Accept: "application/json" }, credentials: "same-origin" });
    let data = null;
    try { data = await res.json(); } catch (e) { data = { detail: res.statusText }; }
    if (res.status === 401) Auth.expired();
    if (res.status === 403) data = Object.assign({}, data, { detail: t("forbidden") + "：" + ((data && data.detail) || "") });
    return { res, data };
  }

  function formData(dry) {
    const fd = new FormData();
    fd.append("file", $("#up-file").files[0]);
    fd.append("layer", $("#up-layer").value);
    if ($("#up-crs").value) fd.append("crs", $("#up-crs").value);
    if ($("#up-encoding").value) fd.append("encoding", $("#up-encoding").value);
    if (!$("#up-source-row").hidden && $("#up-source").value) fd.append("source_layer", $("#up-source").value);
    fd.append("dry_run", dry ? "true" : "false");
    if (!dry) fd.append("background", "true");
    return fd;
  }

  /** Positions of the rows, read in the browser from GeoJSON or CSV (lon/lat or x/y
   * columns), so bad rows can be shown where they are. Row 1 = first feature/data line. */
  async function readPositions(file) {
    fileFeatures = null;
    const name = file.name.toLowerCase();
    if (file.size > 20 * 1024 * 1024) return;
    const text = await file.text();
    if (name.endsWith(".geojson") || name.endsWith(".json")) {
      try { fileFeatures = JSON.parse(text).features.map((f) => f.geometry); } catch (e) { /* not GeoJSON */ }
    } else if (name.endsWith(".csv")) {
      const lines = text.replace(/^\uFEFF/, "").split(/\r?\n/).filter((l) => l.trim());
      const head = lines[0].split(",").map((h) => h.trim().toLowerCase());
      const xi = head.findIndex((h) => ["lon", "lng", "longitude", "x", "经度"].includes(h));
      const yi = head.findIndex((h) => ["lat", "latitude", "y", "纬度"].includes(h));
      if (xi >= 0 && yi >= 0) fileFeatures = lines.slice(1).map((l) => { const c = l.split(","); return { type: "Point", coordinates: [Number(c[xi]), Number(c[yi])] }; });
    }
  }

  function rowsOf(report) { return report.rows || []; }
  const LEVEL = { ok: { zh: "正常", en: "OK" }, warning: { zh: "警告", en: "Warning" }, error: { zh: "错误", en: "Error" } };
  const label = (o) => (o ? (I18n.lang === "en" ? o.en : o.zh) : "");

  function renderReport(report) {
    lastReport = report;
    const rows = rowsOf(report).slice().sort((a, b) => {
      const x = a[sortKey], y = b[sortKey];
      return (x === y ? 0 : x === null || x === undefined ? 1 : y === null || y === undefined ? -1 : x < y ? -1 : 1) * sortDir;
    });
    const s = report.summary || {};
    const cols = [["row", t("row")], ["level", "级别 / Level"], ["code", "编号 / Code"], ["field", t("field")], ["value", "值 / Value"], ["reason", t("message")], ["action", "处理 / Action"]];
    const aria = (k) => (k === sortKey ? (sortDir > 0 ? "ascending" : "descending") : "none");
    $("#up-report").innerHTML =
      `<p id="up-counts">${esc(report.file_name || "")} · ${t("ok_rows")} <b id="up-ok">${esc((s.rows ?? 0) - (s.rejected ?? 0))}</b> · ${t("bad_rows")} <b id="up-bad">${esc(s.rejected ?? s.errors ?? rows.filter((r) => r.level === "error").length)}</b></p>` +
      `<table class="grid" id="report-table"><thead><tr>${cols.map(([k, l]) => `<th scope="col" tabindex="0" data-key="${k}" aria-sort="${aria(k)}">${esc(l)}</th>`).join("")}</tr></thead><tbody>` +
      rows.map((r) => `<tr class="${r.level === "error" ? "bad" : ""}" data-row="${r.row}" tabindex="0">${cols.map(([k]) => `<td>${esc(k === "level" ? label(LEVEL[r.level]) || r.level : typeof r[k] === "object" && r[k] !== null ? JSON.stringify(r[k]) : r[k])}</td>`).join("")}</tr>`).join("") +
      "</tbody></table>";
    document.querySelectorAll("#report-table th").forEach((th) => {
      const sort = () => { const k = th.dataset.key; sortDir = k === sortKey ? -sortDir : 1; sortKey = k; renderReport(lastReport); };
      th.addEventListener("click", sort);
      th.addEventListener("keydown", (e) => { if (e.key === "Enter") sort(); });
    });
    document.querySelectorAll("#report-table tbody tr").forEach((tr) => tr.addEventListener("click", () => zoomToRow(Number(tr.dataset.row))));
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
      try {
        L.geoJSON(g, {
          pointToLayer: (f, ll) => L.circleMarker(ll, { radius: 8, color: "#b10026", weight: 2, fillColor: "#fc4e2a", fillOpacity: 0.7 }),
          style: { color: "#b10026", weight: 3 },
        }).bindTooltip(`${t("row")} ${r.row}: ${r.reason || ""}`).addTo(badLayer).feature = { row: r.row };
      } catch (e) { /* unreadable geometry: listed in the table */ }
    }
    if (badLayer.getLayers().length) map.fitBounds(badLayer.getBounds(), { maxZoom: 16, padding: [20, 20] });
  }
  function zoomToRow(row) {
    if (!fileFeatures || !fileFeatures[row - 1]) return;
    try { map.fitBounds(L.geoJSON(fileFeatures[row - 1]).getBounds(), { maxZoom: 18 }); } catch (e) { /* ignore */ }
  }

  async function dryRun(e) {
    e.preventDefault();
    const file = $("#up-file").files[0];
    if (!file) return;
    $("#up-summary").textContent = t("loading");
    $("#up-confirm").disabled = true;
    await readPositions(file);
    const { res, data } = await post("/api/imports?lang=" + I18n.lang, formData(true));
    $("#up-summary").textContent = "";
    if (res.status === 404 || res.status === 405) return toast(t("not_available"));
    if (!data.rows) {
      $("#up-summary").textContent = data.detail || t("error");
      offerSourceLayers(data);
      return;
    }
    renderReport(data);
    $("#up-confirm").disabled = false;
  }

  /** A file of several layers or shapefiles: list them, the user picks one and runs
   * the check again. A new file hides the list. */
  function offerSourceLayers(data) {
    const ask = (data.errors || []).find((x) => x.field === "source_layer" && x.choices);
    if (!ask) return;
    $("#up-source").innerHTML = ask.choices.map((c) => `<option value="${esc(c)}">${esc(c)}</option>`).join("");
    $("#up-source-row").hidden = false;
    $("#up-source").focus();
  }

  async function confirmImport() {
    $("#up-confirm").disabled = true;
    const { res, data } = await post("/api/imports?lang=" + I18n.lang, formData(false));
    if (!res.ok && res.status !== 202) { $("#up-summary").textContent = data.detail || t("error"); return; }
    const id = data.import_id;
    if (data.rows) return summary(data, id); // finished synchronously
    $("#up-progress").hidden = false;
    for (;;) {
      await new Promise((r) => setTimeout(r, 500));
      const rec = await (await fetch(`/api/imports/${id}?lang=${I18n.lang}`, { credentials: "same-origin" })).json();
      const bar = $("#up-bar");
      if (rec.rows_total) { bar.max = rec.rows_total; bar.value = rec.rows_read || 0; }
      $("#up-count").textContent = `${rec.rows_read || 0}${rec.rows_total ? " / " + rec.rows_total : ""}`;
      if (rec.status && rec.status !== "running") { $("#up-progress").hidden = true; return summary(rec, id); }
    }
  }

  function summary(rec, id) {
    const s = rec.summary || rec.counts || {};
    const parts = Object.entries(s).filter(([, v]) => typeof v === "number").map(([k, v]) => `${esc(k)}: <b>${v}</b>`);
    $("#up-summary").innerHTML = `<h2>${t("summary")}</h2><p id="up-status">${esc(rec.status || "")}</p><p>${parts.join(" · ")}</p>` +
      `<button type="button" id="up-undo">${t("undo")}</button>`;
    $("#up-undo").addEventListener("click", async () => {
      const { res, data } = await post(`/api/imports/${id}/undo`, new FormData());
      $("#up-summary").append(Object.assign(document.createElement("p"), { id: "up-undone", textContent: res.ok ? t("undone") : data.detail || t("error") }));
    });
  }

  async function start() {
    I18n.apply();
    const relabel = () => { I18n.apply(); Auth.relabel(); if (catalog) fillLayers(); if (lastReport) renderReport(lastReport); };
    $("#lang-btn").addEventListener("click", () => { I18n.set(I18n.lang === "zh" ? "en" : "zh"); relabel(); });
    Auth.onLang = relabel;
    map = L.map("map").setView([35.215, 113.24], 10);
    map.attributionControl.setPrefix(false);
    await Auth.ensure();
    Auth.onChange(() => fillLayers());
    const d = await (await fetch("/api/districts", { credentials: "same-origin" })).json();
    L.geoJSON(d, { style: { color: "#546e7a", weight: 1, fillOpacity: 0.1 }, interactive: false }).addTo(map);
    catalog = await (await fetch("/api/layers")).json();
    fillLayers();
    $("#upload-form").addEventListener("submit", dryRun);
    $("#up-file").addEventListener("change", () => { $("#up-source-row").hidden = true; $("#up-source").innerHTML = ""; });
    $("#up-confirm").addEventListener("click", confirmImport);
    document.body.dataset.ready = "1";
  }
  /** Only the layers the role may import into; none → say so instead of a form that fails. */
  function fillLayers() {
    const sel = $("#up-layer"), v = sel.value;
    const layers = catalog.layers.filter((l) => Auth.can("import", l.name));
    $("#up-dry").disabled = !layers.length;
    $("#up-summary").textContent = layers.length ? "" : t("forbidden") + "：" + (I18n.lang === "en" ? "your role may not import data" : "您的角色不能导入数据");
    sel.innerHTML = layers.map((l) => `<option value="${l.name}">${esc(I18n.lang === "en" ? l.en : l.zh)}</option>`).join("");
    if (v) sel.value = v;
  }
  document.addEventListener("DOMContentLoaded", start);
})();
