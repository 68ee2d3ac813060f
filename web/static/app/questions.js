/* The everyday questions of the map's filter panel, generated from the chosen layer's
 * declaration (/api/layers): its flags (最近检测不合格, 水质检测逾期 …), and, when its
 * workflow has deadlines, 逾期 and a deadline range; for every layer, inspected since.
 * Each is a parameter of /api/search (``water_failing=true``, ``overdue=true``,
 * ``deadline_from``/``deadline_to``, ``inspected_since``): the vector tiles do not carry
 * the answer, so a question lists (and draws) what the search finds. */

import { h } from "./dom.js";
import { I18n } from "./i18n.js";

/** The search parameters the panel's questions may set (passesFilters leaves them to
 * the server: a tile's properties do not hold them). */
export function questionKeys(spec) {
  if (!spec) return [];
  const keys = (spec.flags || []).filter((f) => !f.deadline).map((f) => f.name);
  if (hasDeadlines(spec)) keys.push("overdue", "deadline_from", "deadline_to");
  keys.push("inspected_since");
  return keys;
}

const hasDeadlines = (spec) => Boolean(spec.workflow && (spec.workflow.deadlines || []).length);

/** The panel rows of the layer's questions; ``filters`` holds their values
 * ({name: "true" | "YYYY-MM-DD"}), ``changed(name, value)`` is called on each change. */
export function questionRows(spec, filters, changed) {
  if (!spec) return [];
  const check = (name, label) => {
    const box = h("input", { type: "checkbox", id: "filter-" + name, checked: filters[name] === "true" ? "checked" : null });
    box.addEventListener("change", () => changed(name, box.checked ? "true" : ""));
    return h("div", { class: "row question" }, h("label", {}, box, h("span", { text: " " + label })));
  };
  const day = (name, label) => {
    const input = h("input", { type: "date", id: "filter-" + name, "aria-label": label, value: filters[name] || null });
    input.addEventListener("change", () => changed(name, input.value));
    return h("label", {}, h("span", { text: label + " " }), input);
  };
  const rows = [h("p", { class: "hint", text: I18n.pick("常用问题", "Everyday questions") })];
  // a flag on the workflow's own deadline is the 逾期 box below, not a second one
  for (const f of (spec.flags || []).filter((x) => !x.deadline)) rows.push(check(f.name, I18n.label(f)));
  if (hasDeadlines(spec)) {
    rows.push(check("overdue", I18n.pick("逾期（超过流程期限）", "Overdue (past a workflow deadline)")));
    rows.push(h("div", { class: "row" },
      day("deadline_from", I18n.pick("期限自", "Deadline from")),
      day("deadline_to", I18n.pick("至", "to"))));
  }
  rows.push(h("div", { class: "row" }, day("inspected_since", I18n.pick("此日后巡查过", "Inspected since"))));
  return rows;
}
