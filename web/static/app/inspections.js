/* Inspections (巡查记录) in an asset's file: the record of every inspection (when, who,
 * result, notes, photos, what it changed and the hazard it raised), and, for the roles
 * the layer grants INSPECT, the form to record one. What an inspection may do besides
 * being recorded comes from the layers' declarations, as GET
 * /api/assets/{layer}/{id}/inspections lists them (``sets``: attributes of this asset
 * it may set, a manhole's 井盖状况; ``raises``: layers it may raise a hazard in, a road
 * void at this asset's location); the server checks each again
 * (web/routes/inspections.py, registry/inspections.py). */

import { Auth } from "./auth.js";
import { $, fill, h, toast } from "./dom.js";
import { errorText, request } from "./http.js";
import { I18n } from "./i18n.js";
import { App, refreshTiles } from "./state.js";

const pick = (zh, en) => I18n.pick(zh, en);
const stamp = (v) => (v ? String(v).replace("T", " ").slice(0, 16) : "");
const choice = (attr, code) => {
  const c = (attr.choices || []).find((x) => x.code === code);
  return c ? I18n.label(c) : code;
};

/**
 * The file's inspections part for ``feature``; ``reload`` opens the file again after an
 * inspection (it may have changed the asset), ``open(layer, id)`` opens another file
 * (the hazard an inspection raised).
 */
export function inspectionSection(spec, feature, reload, open) {
  const box = h("div", { id: "file-inspections" }, h("p", { text: pick("加载中…", "Loading…") }));
  const url = `/api/assets/${encodeURIComponent(spec.name)}/${encodeURIComponent(feature.id)}/inspections`;
  request(url)
    .then(({ data }) => fill(box, ...render(spec, data, url, reload, open)))
    .catch((err) => fill(box, h("p", { class: "problems", role: "alert", text: errorText(err) })));
  return [h("h3", { text: pick("巡查记录", "Inspections") }), box];
}

function render(spec, data, url, reload, open) {
  const out = [];
  if (Auth.can("inspect", spec.name)) out.push(inspectForm(spec, data, url, reload));
  if (!data.inspections.length) {
    out.push(h("p", { class: "hint", id: "inspections-none", text: pick("暂无巡查记录", "No inspections yet") }));
    return out;
  }
  const sets = Object.fromEntries(data.sets.map((a) => [a.name, a]));
  const targets = Object.fromEntries(data.raises.map((r) => [r.layer, r]));
  out.push(h("ol", { class: "history", id: "inspection-list" }, data.inspections.map((i) => {
    const changed = Object.entries(i.changes || {}).map(([k, v]) => (sets[k] ? `${I18n.label(sets[k])}：${choice(sets[k], v)}` : `${k}: ${v}`));
    const raised = i.raised;
    const target = raised && (targets[raised.layer] || App.layers[raised.layer]);
    return h("li", { "data-id": i.id, "data-result": i.result },
      h("strong", { text: [stamp(i.inspected_at), i.inspector, I18n.pick(i.result_zh, i.result_en)].join(" · ") }),
      i.notes ? h("div", { text: i.notes }) : null,
      changed.length ? h("div", { class: "hint inspection-changes", text: pick("巡查变更：", "Changed: ") + changed.join("；") }) : null,
      raised ? h("div", { class: "hint" }, pick("上报隐患：", "Raised: "),
        h("a", { href: "#", class: "inspection-raised", onclick: (e) => { e.preventDefault(); open(raised.layer, raised.id); } },
          target ? I18n.label(target) : raised.layer)) : null,
      i.photos.length ? h("div", { class: "hint", text: pick(`照片 ${i.photos.length} 张`, `${i.photos.length} photo(s)`) }) : null);
  })));
  return out;
}

function inspectForm(spec, data, url, reload) {
  const msg = h("div", { class: "problems", role: "alert", id: "inspect-problems" });
  const result = h("select", { id: "inspect-result", name: "result" },
    data.results.map((c) => h("option", { value: c.code, text: I18n.label(c) })));
  // what the layer lets an inspection set on this asset (unchanged by default)
  const sets = data.sets.map((a) => h("label", { for: `inspect-set-${a.name}` },
    h("span", { text: pick(`巡查后${a.zh}`, `${a.en} found`) }),
    h("select", { id: `inspect-set-${a.name}`, name: `set.${a.name}` },
      h("option", { value: "", text: pick("不变", "unchanged") }),
      a.choices.map((c) => h("option", { value: c.code, text: I18n.label(c) })))));
  // the layers it may raise a hazard in: a box each, opening what the hazard needs
  const raises = data.raises.map((r) => {
    const fields = h("div", { class: "raise-fields", hidden: "hidden" }, r.fields.map((f) => {
      const id = `inspect-raise-${r.layer}-${f.name}`;
      const copied = r.copied.includes(f.name);
      const input = f.choices.length
        ? h("select", { id, name: `raise.${f.name}` }, h("option", { value: "", text: "—" }),
          f.choices.map((c) => h("option", { value: c.code, text: I18n.label(c) })))
        : h("input", { id, name: `raise.${f.name}`, type: "text", maxlength: "500",
          placeholder: copied ? pick("默认取本资产的值", "this asset's, unless given") : null });
      return h("label", { for: id }, h("span", { text: I18n.label(f) + (f.required && !copied ? " *" : "") }), input);
    }));
    const box = h("input", { type: "checkbox", id: `inspect-raise-${r.layer}`, value: r.layer });
    box.addEventListener("change", () => {
      // only one hazard per inspection: the other boxes close
      for (const other of form.querySelectorAll(".raise input[type=checkbox]")) {
        if (other !== box) { other.checked = false; other.closest(".raise").querySelector(".raise-fields").hidden = true; }
      }
      fields.hidden = !box.checked;
      if (box.checked) result.value = "hazard";
    });
    return h("div", { class: "raise" },
      h("label", { for: `inspect-raise-${r.layer}` }, box, h("span", { text: " " + pick(`上报隐患：${r.zh}（在本资产位置）`, `Raise a hazard: ${r.en} (at this asset)`) })),
      fields);
  });
  const notes = h("textarea", { id: "inspect-notes", name: "notes", rows: "2", maxlength: "4000" });
  const photos = h("input", { type: "file", id: "inspect-photos", name: "photos", accept: "image/*", multiple: "multiple" });
  const form = h("form", { class: "attr-form", id: "inspect-form", hidden: "hidden" },
    h("label", { for: "inspect-result" }, h("span", { text: pick("巡查结果", "Result") }), result),
    sets,
    raises,
    h("label", { for: "inspect-notes" }, h("span", { text: pick("情况说明", "Notes") }), notes),
    h("label", { for: "inspect-photos" }, h("span", { text: pick("现场照片", "Photos") }), photos),
    h("div", { class: "row" }, h("button", { type: "submit", id: "inspect-submit" }, pick("保存巡查记录", "Save the inspection"))),
    msg);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    fill(msg);
    const body = new FormData();
    body.append("result", result.value);
    if (notes.value.trim()) body.append("notes", notes.value.trim());
    for (const sel of form.querySelectorAll("select[name^='set.']")) if (sel.value) body.append(sel.name, sel.value);
    const raising = [...form.querySelectorAll(".raise input[type=checkbox]")].find((b) => b.checked);
    if (raising) {
      body.append("raise.layer", raising.value);
      for (const el of raising.closest(".raise").querySelectorAll("[name^='raise.']")) if (el.value.trim()) body.append(el.name, el.value.trim());
    }
    for (const file of photos.files) body.append("photos", file, file.name);
    const button = $("#inspect-submit", form);
    button.disabled = true;
    let saved;
    try {
      ({ data: saved } = await request(url, { method: "POST", body }));
    } catch (err) {
      msg.textContent = errorText(err);
      button.disabled = false;
      return;
    }
    toast(saved.raised ? pick("已保存巡查记录并上报隐患", "Inspection saved, hazard raised") : pick("已保存巡查记录", "Inspection saved"));
    if (Object.keys(saved.changes || {}).length) refreshTiles(spec.name);
    if (saved.raised) refreshTiles(saved.raised.layer);
    reload();
  });
  const openForm = h("button", { type: "button", id: "inspect-open", onclick: () => { form.hidden = false; openForm.hidden = true; result.focus(); } },
    pick("记录巡查…", "Record an inspection…"));
  return h("div", { class: "inspect" }, openForm, form);
}
