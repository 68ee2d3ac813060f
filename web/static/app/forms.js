/* Editing an asset, shared by its file and the parking planner: the attribute form
 * generated from the catalogue, reading it back, and what changed on the server
 * meanwhile when a save is refused with 412. */

import { h } from "./dom.js";
import { errorText, request } from "./http.js";
import { I18n, t } from "./i18n.js";
import { App, formatValue, geoJSON } from "./state.js";

/** The OGC API item of an asset. */
export const itemUrl = (layer, id) => `/ogc/collections/${encodeURIComponent(layer)}/items/${encodeURIComponent(id)}`;

const same = (a, b) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);

/** A form generated from the catalogue: selects for enumerations, typed inputs, computed
 * attributes left out; ``opts.only`` limits it to some attributes. */
export function attrForm(spec, props, opts = {}) {
  const form = h("form", { class: "attr-form", id: opts.id || null });
  for (const a of spec.attrs) {
    if (a.computed || (opts.only && !opts.only.includes(a.name))) continue;
    const name = a.name;
    const id = "f-" + spec.name + "-" + name;
    const v = props[name];
    let input;
    if (a.choices && a.choices.length) {
      input = h("select", { id, name }, a.required ? null : h("option", { value: "", text: "—" }),
        a.choices.map((c) => h("option", { value: c.code, text: I18n.label(c), selected: String(v) === c.code ? "selected" : null })));
    } else if (a.type === "boolean") {
      input = h("input", { id, name, type: "checkbox", checked: v ? "checked" : null });
    } else {
      const type = { integer: "number", numeric: "number", date: "date" }[a.type] || "text";
      input = h("input", { id, name, type, value: v === null || v === undefined ? "" : v, step: a.type === "numeric" ? "any" : null,
        min: a.min ?? null, max: a.max ?? null, required: a.required ? "required" : null });
    }
    form.append(h("label", { for: id }, h("span", { text: I18n.label(a) + (a.unit ? ` (${a.unit})` : "") + (a.required ? " *" : "") }), input));
  }
  return form;
}

/** The form's values, typed as the catalogue says (empty → null). */
export function readForm(spec, form) {
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
}

/** After a 412: show in ``container`` what differs between ``mine`` and the asset as
 * it is now (a changed shape drawn in orange). Returns the current feature, or null
 * when it could not be read (the reason is shown instead). */
export async function showConflict(spec, layer, id, mine, container) {
  let current;
  try {
    ({ data: current } = await request(itemUrl(layer, id), { headers: { Accept: "application/geo+json" } }));
  } catch (err) {
    container.append(h("p", { class: "problems", role: "alert", text: `${t("changed_meanwhile")}。${errorText(err)}` }));
    return null;
  }
  const cp = current.properties || {};
  const mp = mine.properties || {};
  const rows = spec.attrs.filter((a) => !a.computed && !same(mp[a.name], cp[a.name]))
    .map((a) => h("tr", {}, h("th", { text: I18n.label(a) }), h("td", { text: formatValue(spec, a, mp[a.name]) }),
      h("td", { class: "changed", text: formatValue(spec, a, cp[a.name]) })));
  const geomChanged = mine.geometry && !same(mine.geometry, current.geometry);
  if (geomChanged) {
    rows.push(h("tr", {}, h("th", { text: I18n.pick("形状", "Shape") }), h("td", { text: "…" }),
      h("td", { class: "changed", text: I18n.pick("已改变（地图上橙色）", "changed (orange on the map)") })));
  }
  if (App.conflictLayer) App.map.removeLayer(App.conflictLayer);
  App.conflictLayer = geomChanged
    ? geoJSON(current, { pane: "results", style: { color: "#ff7f00", weight: 3, dashArray: "5 4", fillOpacity: 0.1 } }).addTo(App.map)
    : null;
  container.append(h("div", { class: "diff", id: "conflict", role: "alert" }, h("p", { class: "problems", text: t("conflict") }),
    h("table", { class: "grid" }, h("tbody", {}, rows))));
  return current;
}
