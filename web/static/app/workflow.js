/* The campaign workflow in an asset's file (排查—确权—整治—销号): the declared steps with
 * who took each and when, the running deadline (overdue in red), and the "next step"
 * action — what the step requires (fields, photos, a second person) and a form for
 * exactly that — instead of a status drop-down; a reopen with a reason for the roles
 * the workflow names. Everything comes from GET /api/assets/{layer}/{id}/workflow
 * (web/routes/workflow.py); the server checks every step again, and so does the
 * database. */

import { Auth } from "./auth.js";
import { $, fill, h, toast } from "./dom.js";
import { errorText, request } from "./http.js";
import { I18n } from "./i18n.js";
import { formatValue } from "./state.js";

const pick = (zh, en) => I18n.pick(zh, en);
const stamp = (v) => (v ? String(v).replace("T", " ").slice(0, 16) : "");

/**
 * The file's workflow part for ``feature`` of a layer with a workflow. ``reload`` opens
 * the file again after a step (the asset's version and record changed).
 */
export function workflowSection(spec, feature, reload) {
  const box = h("div", { id: "file-workflow" }, h("p", { text: pick("加载中…", "Loading…") }));
  const base = `/api/assets/${encodeURIComponent(spec.name)}/${encodeURIComponent(feature.id)}`;
  request(`${base}/workflow`)
    .then(({ data }) => fill(box, ...render(spec, data, base, reload)))
    .catch((err) => fill(box, h("p", { class: "problems", role: "alert", text: errorText(err) })));
  return [h("h3", { text: pick("流程", "Workflow") }), box];
}

function render(spec, wf, base, reload) {
  const out = [h("p", { class: "hint", text: I18n.label(wf.workflow) })];
  out.push(h("ol", { class: "timeline", id: "workflow-steps" }, wf.steps.map((s) => h("li", {
    class: [s.reached ? "done" : "", s.current ? "current" : ""].join(" ").trim() || null,
    "data-step": s.code,
  }, h("strong", { text: I18n.label(s) }), " ",
  s.reached && (s.taken_at || s.taken_by) ? [stamp(s.taken_at), s.taken_by].filter(Boolean).join(" · ") : "—"))));
  if (wf.current && wf.current.off_track) {
    out.push(h("p", { class: "hint", text: pick("当前状态不在流程中：", "Off the workflow: ") + statusLabel(spec, wf.status) }));
  }
  if (wf.deadline) {
    const d = wf.deadlines.reduce((a, b) => (a.due_on <= b.due_on ? a : b));
    const when = d.overdue ? pick(`逾期 ${-d.days_left} 天`, `${-d.days_left} days overdue`)
      : pick(`剩余 ${d.days_left} 天`, `${d.days_left} days left`);
    out.push(h("p", { id: "workflow-deadline", class: wf.overdue ? "problems overdue" : "hint",
      text: `${pick("期限", "Deadline")}（${I18n.label(d)}）：${d.due_on} · ${when}` }));
  }
  if (wf.next) out.push(nextStep(spec, wf, base, reload));
  else out.push(h("p", { class: "hint", id: "workflow-done", text: pick("流程已完成", "The workflow is complete") }));
  if (wf.reopen.may) out.push(reopenAction(spec, wf, base, reload));
  if (wf.events.length) out.push(h("h4", { text: pick("办理记录", "Steps taken") }), events(spec, wf));
  return out;
}

const statusLabel = (spec, code) => {
  const c = spec.statuses.find((s) => s.code === code);
  return c ? I18n.label(c) : code;
};

/** What the next step requires, and (for who may take it) a form asking for exactly that. */
function nextStep(spec, wf, base, reload) {
  const n = wf.next;
  const needs = [];
  for (const f of n.fields) needs.push(pick("填写", "fill in ") + I18n.label(f));
  if (n.photos) needs.push(pick(`至少 ${n.photos} 张照片（已有 ${n.photos_attached} 张）`, `at least ${n.photos} photo(s) (${n.photos_attached} attached)`));
  if (n.other_than) {
    needs.push(pick(`由“${n.other_than.zh}”办理人以外的人办理`, `someone other than who took “${n.other_than.en}”`)
      + (n.not_by ? `（${n.not_by}）` : ""));
  }
  const roles = n.roles.join(", ");
  const box = h("div", { class: "next-step", id: "next-step", "data-step": n.code },
    h("h4", { text: `${pick("下一步", "Next step")}：${I18n.label(n)}` }),
    h("ul", { class: "requires" }, needs.length ? needs.map((t) => h("li", { text: t })) : h("li", { text: pick("无其他要求", "nothing else required") })),
    h("p", { class: "hint", text: `${pick("可办理角色", "Who may take it")}：${roles}` }));
  if (!n.may_take) {
    const role = Auth.user ? Auth.user.role : null;
    const why = role && n.roles.includes(role) && n.not_by
      ? pick(`须由 ${n.not_by} 以外的人办理`, `someone other than ${n.not_by} must take this step`)
      : pick("您的角色不能办理此步骤", "your role may not take this step");
    box.append(h("p", { class: "hint", id: "next-step-why", text: why }));
    return box;
  }
  box.append(stepForm(spec, wf, base, reload));
  return box;
}

function fieldInput(spec, f) {
  const id = `step-${f.name}`;
  const v = f.value;
  let input;
  if (f.choices) {
    input = h("select", { id, name: f.name }, h("option", { value: "", text: "—" }),
      f.choices.map((c) => h("option", { value: c.code, text: I18n.label(c), selected: String(v) === c.code ? "selected" : null })));
  } else {
    const type = f.type === "date" ? "date" : f.type === "integer" || f.type === "numeric" ? "number" : "text";
    input = h("input", { id, name: f.name, type, value: v === null || v === undefined ? "" : v });
  }
  return h("label", { for: id }, h("span", { text: I18n.label(f) }), input);
}

function stepForm(spec, wf, base, reload) {
  const n = wf.next;
  const inputs = [...n.fields, ...n.optional_fields];
  const msg = h("div", { class: "problems", role: "alert", id: "step-problems" });
  const photos = n.photos ? h("input", { type: "file", id: "step-photos", name: "photos", accept: "image/*", multiple: "multiple" }) : null;
  const form = h("form", { class: "attr-form", id: "step-form" },
    inputs.map((f) => fieldInput(spec, f)),
    photos ? h("label", { for: "step-photos" }, h("span", { text: pick("现场照片", "Photos") }), photos) : null,
    h("label", { for: "step-comment" }, h("span", { text: pick("说明", "Comment") }),
      h("textarea", { id: "step-comment", name: "comment", rows: "2", maxlength: "1000" })),
    h("div", { class: "row" }, h("button", { type: "submit", id: "step-submit" }, `${pick("办理", "Take step")}：${I18n.label(n)}`)),
    msg);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    fill(msg);
    const fields = {};
    for (const f of inputs) {
      const value = form.elements[f.name].value.trim();
      if (value !== "" && value !== String(f.value ?? "")) fields[f.name] = f.type === "integer" ? parseInt(value, 10) : f.type === "numeric" ? Number(value) : value;
    }
    const button = $("#step-submit", form);
    button.disabled = true;
    try {
      if (photos && photos.files.length) {
        const body = new FormData();
        for (const file of photos.files) body.append("photos", file, file.name);
        await request(`${base}/photos`, { method: "POST", body });
      }
      const comment = form.elements.comment.value.trim() || null;
      await request(`${base}/steps`, { method: "POST", body: { step: n.code, fields, comment, version: wf.version } });
    } catch (err) {
      msg.textContent = errorText(err);
      button.disabled = false;
      return;
    }
    toast(`${pick("已办理", "Done")}：${I18n.label(n)}`);
    reload();
  });
  return form;
}

function reopenAction(spec, wf, base, reload) {
  const msg = h("div", { class: "problems", role: "alert", id: "reopen-problems" });
  const to = h("select", { id: "reopen-to", name: "to" },
    wf.reopen.to.slice().reverse().map((code) => h("option", { value: code, text: statusLabel(spec, code) })));
  const reason = h("textarea", { id: "reopen-reason", name: "reason", rows: "2", maxlength: "1000", required: "required" });
  const form = h("form", { class: "attr-form", id: "reopen-form", hidden: "hidden" },
    h("label", { for: "reopen-to" }, h("span", { text: pick("退回到", "Back to") }), to),
    h("label", { for: "reopen-reason" }, h("span", { text: pick("原因 *", "Reason *") }), reason),
    h("div", { class: "row" }, h("button", { type: "submit", id: "reopen-submit" }, pick("确认重新打开", "Reopen"))),
    msg);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    fill(msg);
    try {
      await request(`${base}/reopen`, { method: "POST", body: { to: to.value, reason: reason.value, version: wf.version } });
    } catch (err) {
      msg.textContent = errorText(err);
      return;
    }
    toast(pick("已重新打开", "Reopened"));
    reload();
  });
  const open = h("button", { type: "button", id: "reopen-open", onclick: () => { form.hidden = false; reason.focus(); } },
    pick("重新打开…", "Reopen…"));
  return h("div", { class: "reopen" }, open, form);
}

const KIND = { step: ["办理", "step"], enter: ["进入流程", "entered"], leave: ["离开流程", "left the workflow"], reopen: ["重新打开", "reopened"] };

function events(spec, wf) {
  const evidence = (e) => {
    const ev = e.evidence || {};
    const bits = [];
    if (ev.photos && ev.photos.length) bits.push(pick(`照片 ${ev.photos.length} 张`, `${ev.photos.length} photo(s)`));
    for (const [k, v] of Object.entries(ev.fields || {})) {
      const a = spec.attrs.find((x) => x.name === k);
      if (a && v !== null && v !== undefined && v !== "") bits.push(`${I18n.label(a)}：${formatValue(spec, a, v)}`);
    }
    return bits.join("；");
  };
  return h("ol", { class: "history", id: "workflow-events" }, wf.events.slice().reverse().map((e) => h("li", { "data-kind": e.kind },
    h("strong", { text: [stamp(e.at), e.actor, `${pick(...KIND[e.kind])} ${statusLabel(spec, e.from_status)} → ${statusLabel(spec, e.to_status)}`].join(" · ") }),
    e.comment ? h("div", { class: "hint", text: e.comment }) : null,
    evidence(e) ? h("div", { class: "hint", text: evidence(e) }) : null)));
}
