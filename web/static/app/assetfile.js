/* The asset's file (一患一档): attributes with the catalogue's labels, photos, lifecycle
 * timeline, child records (e.g. water-quality tests), change history; edit and move with
 * optimistic locking (ETag / If-Match; a 412 shows what changed meanwhile). */
(function () {
  "use strict";
  const App = window.App;
  const { h, $, t } = App;

  const itemUrl = (layer, id) => `/ogc/collections/${encodeURIComponent(layer)}/items/${encodeURIComponent(id)}`;

  App.openFile = async function (layer, id) {
    const spec = App.layers[layer];
    if (!spec) return;
    const panel = $("#file");
    panel.hidden = false;
    $("#file-title").textContent = "";
    const body = $("#file-body");
    body.innerHTML = "";
    body.append(h("p", { text: t("loading") }));
    let feature, etag;
    try {
      const { data, res } = await App.fetchJSON(itemUrl(layer, id), { headers: { Accept: "application/geo+json" } });
      feature = data; etag = res.headers.get("ETag");
    } catch (err) {
      body.innerHTML = "";
      body.append(h("p", { class: "problems", text: App.errorText(err) }));
      return;
    }
    App.openAsset = { layer, id, feature, etag };
    showOnMap(feature);
    App.writeHash();
    render(spec, feature);
    panel.scrollIntoView({ block: "nearest" });
  };

  /** Ring the open asset, and bring it into view when it is off-screen or too small. */
  function showOnMap(feature) {
    if (App.fileLayer) App.map.removeLayer(App.fileLayer);
    if (!feature.geometry) return;
    App.fileLayer = App.geoJSON(feature, {
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
    const body = $("#file-body");
    body.innerHTML = "";
    // attributes
    const rows = spec.attrs.map((a) => h("tr", {}, h("th", { scope: "row", text: I18n.label(a) }), h("td", { "data-attr": a.name, text: App.formatValue(spec, a, p[a.name]) })));
    const meta = [["district_code", I18n.lang === "en" ? "District" : "所属区县", districtLabel(p.district_code)],
      ["version", I18n.lang === "en" ? "Version" : "版本", p.version],
      ["updated_at", I18n.lang === "en" ? "Last changed" : "最后修改", [p.updated_at, p.updated_by].filter(Boolean).join(" · ")]];
    for (const [k, label, v] of meta) if (v !== undefined && v !== null && v !== "") rows.push(h("tr", {}, h("th", { scope: "row", text: label }), h("td", { "data-attr": k, text: v })));
    body.append(h("h3", { text: t("attributes") }), h("table", { class: "attrs" }, h("tbody", {}, rows)));
    // actions: only what the role may do (the server checks again)
    const layer = spec.name;
    const canUpdate = App.can("update", layer);
    const canEdit = canUpdate || (App.can("lifecycle", layer) && (spec.lifecycle_fields || []).length);
    const actions = h("div", { class: "row" },
      canEdit ? h("button", { type: "button", id: "file-edit", onclick: () => editForm(spec, feature) }, t("edit")) : null,
      canUpdate && spec.geometry_types.includes("Point") && feature.geometry && feature.geometry.type === "Point"
        ? h("button", { type: "button", id: "file-move", onclick: () => startMove(spec, feature) }, t("move")) : null,
      canUpdate && spec.geometry_types.includes("Polygon") && App.editParkingShape
        ? h("button", { type: "button", id: "file-edit-shape", onclick: () => App.editParkingShape(spec, feature, App.openAsset.etag) }, t("edit_shape")) : null);
    body.append(actions);
    // photos: thumbnails, full size on click
    const photoBox = h("div", { class: "photos", id: "file-photos" });
    body.append(h("h3", { text: t("photos") }), photoBox);
    App.fetchJSON(`/api/assets/${spec.name}/${feature.id}/photos`).then(({ data }) => {
      const photos = data.photos || [];
      if (!photos.length) return photoBox.append(h("p", { class: "hint", text: "—" }));
      for (const ph of photos) {
        const title = `${ph.file_name} · ${(ph.created_at || "").slice(0, 10)} · ${ph.created_by || ""}`;
        const a = h("a", { href: ph.url, target: "_blank", title, "aria-label": t("photo_open") + "：" + ph.file_name },
          h("img", { src: ph.thumb_url || ph.url, alt: ph.file_name, loading: "lazy" }));
        a.addEventListener("click", (e) => { e.preventDefault(); showPhoto(ph); });
        photoBox.append(a);
      }
    }).catch((err) => photoBox.append(h("p", { class: "hint", text: App.errorText(err) })));
    // lifecycle: every status that has a "<status>_on" date attribute is a step
    const steps = spec.statuses.filter((s) => spec.attrs.some((a) => a.name === s.code + "_on"));
    if (steps.length) {
      const reached = spec.statuses.findIndex((s) => s.code === p.status);
      body.append(h("h3", { text: t("timeline") }), h("ol", { class: "timeline" }, steps.map((s, i) => {
        const on = p[s.code + "_on"], by = p[s.code + "_by"];
        const done = i <= reached && on;
        return h("li", { class: done ? "done" : "" }, h("strong", { text: I18n.label(s) }), " ", [on, by].filter(Boolean).join(" · ") || "—");
      })));
      const deadline = spec.attrs.find((a) => a.name === "remediation_deadline");
      if (deadline && p.remediation_deadline) body.append(h("p", { class: "hint", text: `${I18n.label(deadline)}：${p.remediation_deadline}` }));
    }
    // child records
    for (const child of spec.children) {
      const box = h("div", {}, h("p", { text: t("loading") }));
      body.append(h("h3", { text: I18n.label(child) }), box);
      App.fetchJSON(`/api/assets/${spec.name}/${feature.id}/children/${child.name}`).then(({ data }) => {
        box.innerHTML = "";
        const cols = child.attrs;
        box.append(h("table", { class: "grid", "data-child": child.name },
          h("thead", {}, h("tr", {}, cols.map((a) => h("th", { text: I18n.label(a) + (a.unit ? ` (${a.unit})` : "") })))),
          h("tbody", {}, data.rows.map((r) => h("tr", { class: r.passed === false ? "bad" : "" }, cols.map((a) => {
            const v = r[a.name];
            if (a.type === "boolean") return h("td", { class: v ? "pass" : "fail", text: App.formatValue(spec, a, v) });
            return h("td", { text: v === null || v === undefined ? "—" : String(v) });
          }))))));
      }).catch((err) => { box.innerHTML = ""; box.append(h("p", { class: "problems", text: App.errorText(err) })); });
    }
    // history
    const hist = h("div", { id: "file-history" }, h("p", { text: t("loading") }));
    body.append(h("h3", { text: t("history") }), hist);
    App.fetchJSON(`/api/assets/${spec.name}/${feature.id}/history`).then(({ data }) => {
      hist.innerHTML = "";
      const entries = (data.entries || []).slice().reverse(); // newest first
      if (!entries.length) return hist.append(h("p", { text: t("history_none") }));
      hist.append(h("ol", { class: "history" }, entries.map((e) => historyEntry(spec, e))));
    }).catch((err) => { hist.innerHTML = ""; hist.append(h("p", { class: "hint", text: t("history_unavailable") + "：" + App.errorText(err) })); });
  }

  function districtLabel(code) {
    const f = App.districts && App.districts.features.find((d) => d.properties.code === code);
    return f ? (I18n.lang === "en" ? f.properties.name_en : f.properties.name_zh) : code;
  }
  function attrLabel(spec, name) {
    const a = spec.attrs.find((x) => x.name === name);
    return a ? I18n.label(a) : name;
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
    return d.toLocaleString(I18n.lang === "en" ? "en-GB" : "zh-CN", { timeZone: "Asia/Shanghai", hour12: false,
      year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit" });
  };
  /** One entry of GET /api/assets/{layer}/{id}/history (web/routes/history.py):
   * {action, actor, via, at, comment, child_table, changes: [{field, before, after}]}. */
  function historyEntry(spec, e) {
    const child = e.child_table && spec.children.find((c) => c.name === e.child_table);
    const attrs = child ? child.attrs : spec.attrs;
    const actionText = t("action_" + e.action) !== "action_" + e.action ? t("action_" + e.action) : e.action;
    const what = child ? `${actionText}${I18n.label(child)}` : actionText;
    const changes = (e.changes || []).filter((c) => !BOOKKEEPING.has(c.field) && !(child && c.field.endsWith("_id")));
    const fmt = (k, v) => {
      if (v === null || v === undefined || v === "") return "—";
      if (k === "status") return App.choiceLabel(spec, "status", v);
      const attr = attrs.find((x) => x.name === k);
      return attr ? App.formatValue(spec, attr, v) : typeof v === "object" ? JSON.stringify(v).slice(0, 60) : String(v);
    };
    const label = (k) => {
      if (k === "geom") return t("geometry");
      if (k === "status") return t("status");
      if (k === "deleted_at") return t("deleted_flag");
      if (k === "district_code") return I18n.lang === "en" ? "District" : "所属区县";
      const a = attrs.find((x) => x.name === k);
      return a ? I18n.label(a) : k;
    };
    const line = ([k, o, n]) => (k === "geom" ? `${label(k)}: ${o ? (I18n.lang === "en" ? "changed" : "已改变") : (I18n.lang === "en" ? "set" : "已设定")}`
      : `${label(k)}: ${fmt(k, o)} → ${fmt(k, n)}`);
    const shown = e.action === "create" ? changes.filter((c) => c.after !== null && c.after !== undefined && c.field !== "geom") : changes;
    return h("li", { "data-action": e.action },
      h("strong", { text: [fmtTime(e.at), e.actor, what].filter(Boolean).join(" · ") }),
      e.via && e.via !== "api" ? h("span", { class: "hint", text: ` (${e.via})` }) : null,
      shown.length ? h("ul", {}, shown.slice(0, 40).map((c) => h("li", { "data-field": c.field, text: line([c.field, c.before, c.after]) }))) : null,
      e.comment ? h("div", { class: "hint", text: e.comment }) : null);
  }

  /** A form generated from the catalogue: selects for enumerations, typed inputs, computed
   * attributes left out. Shared with the parking planner. */
  App.attrForm = function (spec, props, opts) {
    const form = h("form", { class: "attr-form", id: (opts && opts.id) || null });
    const only = opts && opts.only;
    for (const a of spec.attrs) {
      if (a.computed || (only && !only.includes(a.name))) continue;
      const name = a.name;
      const id = "f-" + spec.name + "-" + name;
      let input;
      const v = props[name];
      if (a.choices && a.choices.length) {
        input = h("select", { id, name }, a.required ? null : h("option", { value: "", text: "—" }),
          a.choices.map((c) => h("option", { value: c.code, text: I18n.label(c), selected: String(v) === c.code ? "selected" : null })));
      } else if (a.type === "boolean") {
        input = h("input", { id, name, type: "checkbox", checked: v ? "checked" : null });
      } else {
        const type = { integer: "number", numeric: "number", date: "date" }[a.type] || "text";
        input = h("input", { id, name, type, value: v === null || v === undefined ? "" : v, step: a.type === "numeric" ? "any" : null,
          min: a.min !== null ? a.min : null, max: a.max !== null ? a.max : null, required: a.required ? "required" : null });
      }
      form.append(h("label", { for: id }, h("span", { text: I18n.label(a) + (a.unit ? ` (${a.unit})` : "") + (a.required ? " *" : "") }), input));
    }
    return form;
  };
  App.readForm = function (spec, form) {
    const out = {};
    for (const a of spec.attrs) {
      if (a.computed) continue;
      const el = form.elements[a.name];
      if (!el) continue;
      if (a.type === "boolean") out[a.name] = el.checked;
      else if (el.value === "") out[a.name] = null;
      else if (a.type === "integer") out[a.name] = parseInt(el.value, 10);
      else if (a.type === "numeric") out[a.name] = Number(el.value);
      else out[a.name] = el.value;
    }
    return out;
  };

  /** Show what changed on the server since the user loaded the asset (after a 412). */
  App.showConflict = async function (spec, layer, id, mine, container) {
    let current;
    try { ({ data: current } = await App.fetchJSON(itemUrl(layer, id))); } catch (e) { return; }
    const cp = current.properties || {};
    const mp = mine.properties || {};
    const rows = spec.attrs.filter((a) => !a.computed && JSON.stringify(mp[a.name] ?? null) !== JSON.stringify(cp[a.name] ?? null))
      .map((a) => h("tr", {}, h("th", { text: I18n.label(a) }), h("td", { text: App.formatValue(spec, a, mp[a.name]) }), h("td", { class: "changed", text: App.formatValue(spec, a, cp[a.name]) })));
    const geomChanged = mine.geometry && JSON.stringify(mine.geometry) !== JSON.stringify(current.geometry);
    if (geomChanged) rows.push(h("tr", {}, h("th", { text: I18n.lang === "en" ? "Shape" : "形状" }), h("td", { text: "…" }), h("td", { class: "changed", text: I18n.lang === "en" ? "changed (orange on the map)" : "已改变（地图上橙色）" })));
    if (App.conflictLayer) App.map.removeLayer(App.conflictLayer);
    if (geomChanged) App.conflictLayer = App.geoJSON(current, { pane: "results", style: { color: "#ff7f00", weight: 3, dashArray: "5 4", fillOpacity: 0.1 } }).addTo(App.map);
    const box = h("div", { class: "diff", id: "conflict", role: "alert" }, h("p", { class: "problems", text: t("conflict") }),
      h("table", { class: "grid" }, h("tbody", {}, rows)));
    container.append(box);
    return current;
  };

  function editForm(spec, feature) {
    const body = $("#file-body");
    body.innerHTML = "";
    // a role that may only move a hazard through its lifecycle gets only those fields
    const only = App.can("update", spec.name) ? null : spec.lifecycle_fields;
    const form = App.attrForm(spec, feature.properties || {}, { id: "edit-form", only });
    const msg = h("div", { class: "problems" });
    form.append(h("div", { class: "row" }, h("button", { type: "submit" }, t("save")),
      h("button", { type: "button", onclick: () => render(spec, feature) }, t("cancel"))), msg);
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      // send only what the user changed (a merge patch), so the server judges just that
      const all = App.readForm(spec, form);
      const before = feature.properties || {};
      const props = {};
      for (const k in all) if (JSON.stringify(all[k] ?? null) !== JSON.stringify(before[k] ?? null)) props[k] = all[k];
      if (!Object.keys(props).length) return render(spec, feature);
      await save(spec, feature, { type: "Feature", properties: props }, msg);
    });
    body.append(form);
  }

  async function save(spec, feature, patch, msg) {
    msg.textContent = "";
    try {
      const { data, res } = await App.fetchJSON(itemUrl(spec.name, feature.id), {
        method: "PATCH", body: patch, headers: { "If-Match": App.openAsset.etag || "*", "Content-Type": "application/merge-patch+json" },
      });
      App.toast(t("saved"));
      App.openAsset.etag = res.headers.get("ETag");
      App.refreshTiles(spec.name);
      App.openFile(spec.name, (data && data.id) || feature.id);
    } catch (err) {
      if (err.status === 412) await App.showConflict(spec, spec.name, feature.id, Object.assign({}, feature, patch), msg);
      else msg.textContent = App.errorText(err);
    }
  }

  function startMove(spec, feature) {
    App.toast(t("move_hint"), 5000);
    App.map.getContainer().style.cursor = "crosshair";
    App.clickHandler = async (e) => {
      App.clickHandler = null;
      App.map.getContainer().style.cursor = "";
      const [lon, lat] = App.fromMap(e.latlng);
      const msg = h("div", { class: "problems" });
      $("#file-body").append(msg);
      await save(spec, feature, { type: "Feature", geometry: { type: "Point", coordinates: [lon, lat] } }, msg);
    };
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("#file-close").addEventListener("click", () => {
      $("#file").hidden = true; App.openAsset = null; App.writeHash();
      if (App.fileLayer) { App.map.removeLayer(App.fileLayer); App.fileLayer = null; }
    });
  });
  App.onRelabel = ((prev) => () => { if (prev) prev(); if (App.openAsset) render(App.layers[App.openAsset.layer], App.openAsset.feature); })(App.onRelabel);
})();
