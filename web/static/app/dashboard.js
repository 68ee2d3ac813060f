/**
 * The campaign dashboard (/dashboard): figures from /api/dashboard drawn with ECharts
 * (vendored, /static/vendor/echarts), in Chinese first. Every number and every bar
 * links to the map with the matching filter (the figure's `href`, built by the server
 * from the same search parameters /api/search takes). No inline script or style: the
 * tooltip is drawn in the canvas (renderMode richText), elements are built with the DOM.
 */
import * as echarts from "/static/vendor/echarts/echarts.esm.min.mjs";

const TEXT = {
  zh: {
    title: "焦作市城市管理专项整治看板", year: "年度", map: "地图", lang: "English",
    report: "月报下载", month: "月份", pdf: "下载 PDF", xlsx: "下载 Excel",
    targets: "年度目标完成情况", flags: "逾期与不合格", status: "资产状态统计", trend: "月度趋势",
    layer: "图层", state: "状态", measure: "指标", scope: "范围", target: "目标", done: "完成", percent: "完成率",
    city: "全市", total: "合计", district: "行政区", none: "无", loading: "加载中…",
    signin: "请先在地图页登录后再查看看板。", error: "数据加载失败：", noTargets: "本年度尚未设定目标。",
    list: "清单", month_n: (m) => `${m}月`, open_map: "在地图中查看",
  },
  en: {
    title: "Jiaozuo urban management campaigns", year: "Year", map: "Map", lang: "中文",
    report: "Monthly report", month: "Month", pdf: "Download PDF", xlsx: "Download Excel",
    targets: "Targets and completion", flags: "Overdue and failing", status: "Assets by status", trend: "Monthly trend",
    layer: "Layer", state: "Status", measure: "Measure", scope: "Scope", target: "Target", done: "Done", percent: "Done %",
    city: "Whole city", total: "Total", district: "District", none: "none", loading: "Loading…",
    signin: "Sign in on the map page first, then open the dashboard.", error: "Could not load the figures: ",
    noTargets: "No targets set for this year.", list: "List", month_n: (m) => `${m}`, open_map: "Show on the map",
  },
};
let lang = localStorage.getItem("registry.lang") === "en" ? "en" : "zh";
const t = (k) => TEXT[lang][k];
const $ = (sel) => document.querySelector(sel);
let data = null;
const charts = {};

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v;
    else if (k === "text") e.textContent = v;
    else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c);
  return e;
}
const label = (o) => (lang === "zh" ? o.zh : o.en);
const layerOf = (name) => data.layers.find((l) => l.name === name);
const districtName = (code) => {
  if (!code) return t("city");
  const d = data.districts.find((x) => x.code === code);
  return d ? label(d) : code;
};
const statusName = (layer, code) => {
  const s = layerOf(layer)?.statuses.find((x) => x.code === code);
  return s ? label(s) : code;
};
const fmt = (n) => Number(n).toLocaleString(lang === "zh" ? "zh-CN" : "en-US", { maximumFractionDigits: 2 });

function relabel() {
  document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
  for (const e of document.querySelectorAll("[data-t]")) e.textContent = t(e.dataset.t);
  for (const e of document.querySelectorAll("[data-t-aria]")) e.setAttribute("aria-label", t(e.dataset.tAria));
  document.title = t("title");
}

function chart(id) {
  if (!charts[id]) charts[id] = echarts.init(document.getElementById(id), null, { renderer: "canvas" });
  return charts[id];
}
const tooltip = { trigger: "axis", renderMode: "richText", confine: true };

function drawTargets() {
  const table = $("#table-targets");
  table.replaceChildren();
  const rows = data.targets;
  if (!rows.length) {
    chart("chart-targets").clear();
    table.append(el("caption", { text: t("noTargets") }));
    return;
  }
  const names = rows.map((r) => `${label(r)}${r.district ? "·" + districtName(r.district) : ""}`);
  const c = chart("chart-targets");
  c.setOption({
    tooltip, legend: { data: [t("target"), t("done")], top: 0 },
    grid: { left: 8, right: 56, top: 28, bottom: 8, containLabel: true },
    xAxis: { type: "value" }, yAxis: { type: "category", data: names, inverse: true },
    series: [
      { name: t("target"), type: "bar", data: rows.map((r) => r.target), itemStyle: { color: "#b0bec5" } },
      { name: t("done"), type: "bar", data: rows.map((r) => r.done), itemStyle: { color: "#1f77b4" },
        label: { show: true, position: "right", formatter: (p) => `${rows[p.dataIndex].percent}%` } },
    ],
  }, true);
  c.off("click");
  c.on("click", (p) => { location.href = rows[p.dataIndex].href; });
  table.append(el("thead", {}, el("tr", {}, ...["layer", "measure", "scope", "target", "done", "percent"].map((k) => el("th", { text: t(k) })))));
  const body = el("tbody");
  for (const r of rows) {
    const pct = el("span", { class: r.percent >= 100 ? "pct-over" : "pct-under", text: `${r.percent}%` });
    body.append(el("tr", {},
      el("td", { text: label(layerOf(r.layer)) }), el("td", { text: label(r) }), el("td", { text: districtName(r.district) }),
      el("td", { class: "num", text: fmt(r.target) }),
      el("td", { class: "num" }, el("a", { href: r.href, title: t("open_map"), text: fmt(r.done) })),
      el("td", { class: "num" }, pct)));
  }
  table.append(body);
}

function drawFlags() {
  const tiles = $("#flags");
  const lists = $("#flag-lists");
  tiles.replaceChildren();
  lists.replaceChildren();
  for (const f of data.flags) {
    tiles.append(el("a", { class: f.total ? "tile" : "tile ok", href: f.href, "data-flag": f.flag },
      el("strong", { text: fmt(f.total) }), `${label(layerOf(f.layer))} · ${label(f)}`));
    if (!f.items.length) continue;
    const ul = el("ul");
    for (const i of f.items) {
      ul.append(el("li", {}, el("a", { href: i.href, text: i.code }),
        ` ${districtName(i.district)} · ${statusName(f.layer, i.status)}${i.due ? " · " + i.due : ""}`));
    }
    lists.append(el("details", {}, el("summary", { text: `${label(f)}${t("list")}（${f.total}）` }), ul));
  }
}

function drawStatus() {
  // layers × statuses, summed over districts: one stacked bar per layer
  const layers = data.layers.filter((l) => data.counts.some((c) => c.layer === l.name));
  const statusKeys = [];
  for (const l of layers) for (const s of l.statuses) if (!statusKeys.includes(label(s))) statusKeys.push(label(s));
  const sums = {};
  for (const c of data.counts) {
    const key = `${c.layer}|${statusName(c.layer, c.status)}`;
    sums[key] = (sums[key] || 0) + c.n;
  }
  const series = statusKeys.map((s) => ({
    name: s, type: "bar", stack: "all", emphasis: { focus: "series" },
    data: layers.map((l) => sums[`${l.name}|${s}`] || 0),
  }));
  const c = chart("chart-status");
  c.setOption({
    tooltip: { ...tooltip, axisPointer: { type: "shadow" } },
    legend: { type: "scroll", top: 0 },
    grid: { left: 8, right: 16, top: 36, bottom: 8, containLabel: true },
    xAxis: { type: "value" }, yAxis: { type: "category", data: layers.map(label), inverse: true },
    series,
  }, true);
  c.off("click");
  c.on("click", (p) => {
    const layer = layers[p.dataIndex];
    const status = layer.statuses.find((s) => label(s) === p.seriesName);
    if (status) location.href = `/#${new URLSearchParams({ layers: layer.name, status: status.code })}`;
  });
  // the table: layer × district × status, every count a link to the map
  const box = $("#table-status");
  const table = el("table", { class: "figures" });
  table.append(el("thead", {}, el("tr", {}, ...[t("layer"), t("district"), t("state"), t("total")].map((h) => el("th", { text: h })))));
  const body = el("tbody");
  for (const r of data.counts) {
    body.append(el("tr", {}, el("td", { text: label(layerOf(r.layer)) }), el("td", { text: districtName(r.district) }),
      el("td", { text: statusName(r.layer, r.status) }),
      el("td", { class: "num" }, el("a", { href: r.href, title: t("open_map"), text: fmt(r.n) }))));
  }
  table.append(body);
  box.replaceChildren(table);
}

function drawTrend() {
  const months = Array.from({ length: 12 }, (_, i) => t("month_n")(i + 1));
  const c = chart("chart-trend");
  c.setOption({
    tooltip, legend: { type: "scroll", top: 0 },
    grid: { left: 8, right: 16, top: 36, bottom: 8, containLabel: true },
    xAxis: { type: "category", data: months }, yAxis: { type: "value" },
    series: data.trend.map((s) => ({ name: label(s), type: "line", data: s.values })),
  }, true);
  // assets a figure leaves out for want of its date (bays in use with no opening date)
  $("#trend-notes").textContent = data.trend
    .filter((s) => s.note)
    .map((s) => `${label(s)}${lang === "zh" ? "：" : ": "}${s.note[lang]}`)
    .join(lang === "zh" ? "；" : "; ");
}

function reportLinks() {
  const month = $("#month").value;
  for (const fmtName of ["pdf", "xlsx"]) {
    $(`#report-${fmtName}`).href = `/api/reports/monthly?${new URLSearchParams({ month, format: fmtName })}`;
  }
}

/** Resolves when every chart has finished drawing (animations included). */
function drawn() {
  for (const id of ["chart-targets", "chart-status", "chart-trend"]) chart(id);
  const finished = Object.values(charts).map((c) => new Promise((resolve) => c.on("finished", resolve)));
  // a chart with nothing to animate may not report: never wait more than a few seconds
  return Promise.race([Promise.all(finished), new Promise((resolve) => setTimeout(resolve, 4000))]);
}

function draw() {
  relabel();
  const done = drawn();
  const sel = $("#year");
  sel.replaceChildren(...data.years.map((y) => el("option", { value: String(y), text: String(y) })));
  sel.value = String(data.year);
  drawTargets();
  drawFlags();
  drawStatus();
  drawTrend();
  done.then(() => {
    for (const c of Object.values(charts)) c.off("finished");
    document.body.dataset.ready = "1";
  });
}

async function load(year) {
  $("#notice").textContent = t("loading");
  const q = new URLSearchParams(year ? { year } : {});
  // (the page's language asked for, so a problem's detail is in it: web/errors.py)
  const r = await fetch(`/api/dashboard?${q}`, { credentials: "same-origin",
    headers: { Accept: "application/json", "Accept-Language": lang === "en" ? "en" : "zh-CN" } });
  if (r.status === 401) {
    $("#notice").replaceChildren(t("signin"), " ", el("a", { href: "/", text: t("map") }));
    document.body.dataset.ready = "1";
    return;
  }
  if (!r.ok) {
    const body = await r.json().catch(() => null);
    throw new Error(body && body.detail ? String(body.detail) : `HTTP ${r.status}`);
  }
  data = await r.json();
  $("#notice").textContent = "";
  const params = new URLSearchParams(location.search);
  params.set("year", data.year);
  history.replaceState(null, "", `?${params}`);
  draw();
}

function start() {
  relabel();
  const now = new Date();
  $("#month").value = `${now.getFullYear()}-${String(now.getMonth() + 1).padStart(2, "0")}`;
  reportLinks();
  $("#month").addEventListener("change", reportLinks);
  $("#year").addEventListener("change", (e) => load(e.target.value).catch(fail));
  $("#lang").addEventListener("click", () => {
    lang = lang === "zh" ? "en" : "zh";
    localStorage.setItem("registry.lang", lang);
    if (data) draw(); else relabel();
  });
  window.addEventListener("resize", () => Object.values(charts).forEach((c) => c.resize()));
  load(new URLSearchParams(location.search).get("year")).catch(fail);
}
function fail(e) {
  $("#notice").textContent = t("error") + e.message;
  console.error(e);
}
start();
