/* The basemap: chosen in the page from what the deployment (REGISTRY_BASEMAPS) and an
 * admin (/api/basemaps) configured — Tianditu with its annotation layer, XYZ/WMTS
 * (GCJ-02 ones shift what the map draws), or an MBTiles/PMTiles file the registry
 * serves itself (raster, or vector tiles drawn here). A badge on the map says which
 * basemap is in use, and says so plainly when a remote one fails to load. Admins add
 * and remove basemaps in the panel below the choice. */

import { Auth } from "./auth.js";
import { CONFIG } from "./config.js";
import { $, fill, h, toast } from "./dom.js";
import { errorText, request } from "./http.js";
import { I18n, t } from "./i18n.js";
import { App, writeHash } from "./state.js";

const pick = (zh, en) => I18n.pick(zh, en);
let basemaps = [...(CONFIG.basemaps || [])];
let layers = [];
let badge = null;
let onDatum = () => {};
let failed = false;

const VECTOR_STYLE = { weight: 1, color: "#9aa5ad", opacity: 0.9, fill: true, fillColor: "#e8ecef", fillOpacity: 0.6, radius: 2 };
const keyOf = (b) => b.id || b.name;
const isRemote = (b) => /^https?:\/\//.test(b.url || "");

/** The choices: no basemap, then every configured one. */
function choices() {
  return [{ name: t("no_basemap"), url: null, crs: "wgs84", kind: "none" }, ...basemaps];
}

/** What the badge on the map and the status line say. */
function describe(b) {
  const datum = b.crs === "gcj02" ? pick("GCJ-02，已偏移叠加", "GCJ-02, overlays shifted") : "CGCS2000";
  const where = b.kind === "mbtiles" || b.kind === "pmtiles" ? pick("本机文件", "served by the registry") : "";
  return pick("底图：", "Basemap: ") + b.name + (b.url ? `（${[datum, where].filter(Boolean).join("，")}）` : "");
}

function setBadge(b) {
  if (!badge) return;
  badge.classList.toggle("failed", failed);
  badge.dataset.basemap = keyOf(b) || "";
  badge.textContent = failed
    ? pick(`底图“${b.name}”加载失败（网络不通或密钥无效），请改选其他底图`, `Basemap “${b.name}” failed to load (no network or an invalid key): choose another`)
    : describe(b);
}

function tileLayer(b, url, opts) {
  const bounds = b.bounds ? L.latLngBounds([b.bounds[1], b.bounds[0]], [b.bounds[3], b.bounds[2]]) : undefined;
  const common = { attribution: b.attribution || "", maxZoom: 20, maxNativeZoom: b.max_native_zoom || b.max_zoom || 18,
    minNativeZoom: b.min_zoom || 0, bounds, subdomains: b.subdomains || "abc", ...opts };
  if (b.vector) {
    const styles = Object.fromEntries((b.vector_layers || []).map((n) => [n, VECTOR_STYLE]));
    return L.vectorGrid.protobuf(url, { ...common, vectorTileLayerStyles: styles, interactive: false, rendererFactory: L.canvas.tile });
  }
  return L.tileLayer(url, common);
}

/** Show basemap number ``i`` of the choices. */
function use(i) {
  const list = choices();
  const b = list[Math.max(0, Math.min(i, list.length - 1))];
  for (const l of layers) App.map.removeLayer(l);
  layers = [];
  failed = false;
  if (b.url) {
    layers.push(tileLayer(b, b.url, {}));
    if (b.label_url) layers.push(tileLayer(b, b.label_url, { attribution: "" }));
    for (const l of layers) {
      l.addTo(App.map);
      l.bringToBack();
      if (isRemote(b)) {
        l.on("tileerror", () => {
          if (failed) return;
          failed = true;
          setBadge(b);
          toast(badge.textContent, 8000);
        });
        l.on("tileload", () => { if (failed) { failed = false; setBadge(b); } });
      }
    }
    // the base under its annotation
    if (layers[0]) layers[0].bringToBack();
  }
  const before = App.crs;
  App.crs = b.crs || "wgs84";
  App.basemapIndex = list.indexOf(b);
  App.basemapKey = b.url ? keyOf(b) : "";
  setBadge(b);
  if (before !== App.crs) onDatum();
  writeHash();
}

/** The basemap choice (sidebar), the badge on the map, and the admin's panel. */
export function buildBasemaps(opts) {
  if (opts && opts.onDatumChange) onDatum = opts.onDatumChange;
  if (!badge) {
    const Badge = L.Control.extend({ onAdd: () => h("div", { id: "basemap-badge", class: "basemap-badge", role: "status", "aria-live": "polite" }) });
    new Badge({ position: "bottomleft" }).addTo(App.map);
    badge = $("#basemap-badge");
  }
  const list = choices();
  const sel = h("select", { id: "basemap", "aria-label": t("basemap") },
    list.map((b, i) => h("option", { value: i, text: b.name })));
  fill($("#basemaps"), h("label", {}, h("span", { text: t("basemap") + " " }), sel), adminPanel());
  sel.addEventListener("change", () => use(Number(sel.value)));
  // the hash names a basemap by its id (an index from older links still works)
  const wanted = App.basemapKey !== undefined && App.basemapKey !== null ? App.basemapKey : App.hashState.basemap;
  let start = list.findIndex((b) => b.url && keyOf(b) === wanted);
  if (start < 0 && /^\d+$/.test(wanted || "")) start = Number(wanted);
  if (start < 0 || start >= list.length) start = wanted === "none" ? 0 : list.length > 1 ? 1 : 0;
  sel.value = start;
  use(start);
}

/** Read the basemaps again (after an admin changed them) and rebuild the choice. */
async function reload(keep) {
  const { data } = await request("/api/config");
  basemaps = data.basemaps || [];
  App.basemapKey = keep;
  buildBasemaps();
}

// ------------------------------------------------------------------ admin panel
const KIND_FIELDS = {
  tianditu_vec: ["tk"], tianditu_img: ["tk"], xyz: ["url", "label_url", "subdomains", "crs"],
  wmts: ["url", "label_url", "subdomains", "crs"], mbtiles: ["file"], pmtiles: ["file"],
};

function adminPanel() {
  if (!Auth.can("configure_map")) return null;
  const body = h("div", { id: "basemap-admin-body" });
  const details = h("details", { id: "basemap-admin", class: "basemap-admin" },
    h("summary", { text: pick("底图管理（管理员）", "Manage basemaps (admin)") }), body);
  details.addEventListener("toggle", () => { if (details.open) renderAdmin(body).catch((err) => toast(errorText(err), 6000)); });
  return details;
}

async function renderAdmin(body) {
  const { data } = await request("/api/basemaps");
  const field = (name, label, input) => h("label", { class: "row", "data-field": name }, h("span", { text: label + " " }), input);
  const kind = h("select", { name: "kind" }, data.kinds.map((k) => h("option", { value: k.code, text: I18n.label(k) })));
  const fileSel = h("select", { name: "file" }, h("option", { value: "", text: data.files.length ? t("choose") : pick("底图目录中没有文件", "no files in the basemap folder") }),
    data.files.map((f) => h("option", { value: f, text: f })));
  const crs = h("select", { name: "crs" }, h("option", { value: "wgs84", text: "WGS84 / CGCS2000" }), h("option", { value: "gcj02", text: pick("GCJ-02（高德/腾讯）", "GCJ-02 (Amap/Tencent)") }));
  const form = h("form", { id: "basemap-form" },
    field("name", pick("标识（小写字母/数字）", "Id (lowercase, digits)"), h("input", { name: "name", required: "required", pattern: "[a-z0-9][a-z0-9_-]{0,39}" })),
    field("title", pick("名称", "Title"), h("input", { name: "title", required: "required", maxlength: "60" })),
    field("kind", pick("类型", "Kind"), kind),
    field("url", pick("瓦片地址模板", "Tile URL template"), h("input", { name: "url", placeholder: "https://…/{z}/{x}/{y}.png" })),
    field("label_url", pick("注记地址模板（可选）", "Label tiles (optional)"), h("input", { name: "label_url" })),
    field("subdomains", pick("子域名", "Subdomains"), h("input", { name: "subdomains", placeholder: "abc" })),
    field("crs", pick("坐标系", "Datum"), crs),
    field("file", pick("文件", "File"), fileSel),
    field("tk", pick(data.tianditu_key_set ? "天地图密钥（不填则用已配置的）" : "天地图密钥", "Tianditu key"), h("input", { name: "tk", autocomplete: "off" })),
    h("button", { type: "submit", text: pick("添加底图", "Add basemap") }));
  const showFields = () => {
    const wanted = new Set(["name", "title", "kind", ...KIND_FIELDS[kind.value]]);
    for (const el of form.querySelectorAll("[data-field]")) el.hidden = !wanted.has(el.dataset.field);
  };
  kind.addEventListener("change", showFields);
  showFields();
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const values = Object.fromEntries([...new FormData(form)].filter(([k, v]) => v !== "" && !form.querySelector(`[data-field="${k}"]`).hidden));
    try {
      const { data: added } = await request("/api/basemaps", { method: "POST", body: values });
      toast(pick("已添加底图", "Basemap added"));
      if (added.resolved && isRemote(added.resolved)) {
        // the page's security policy names the tile hosts it may load from: a new remote
        // basemap needs the page loaded again (showing it)
        App.basemapKey = values.name;
        writeHash();
        location.reload();
        return;
      }
      await reload(values.name);
      $("#basemap-admin").open = true;
      await renderAdmin($("#basemap-admin-body"));
    } catch (err) {
      toast(errorText(err), 8000);
    }
  });
  const rows = data.basemaps.map((b) => h("li", { "data-name": b.name },
    h("span", { text: `${b.title}（${I18n.label(b.kind_label)}）` }),
    b.problem ? h("span", { class: "problems", text: " " + b.problem }) : null,
    h("button", { type: "button", class: "link", text: t("delete"), onclick: async () => {
      try {
        await request("/api/basemaps/" + encodeURIComponent(b.name), { method: "DELETE" });
        await reload(App.basemapKey === b.name ? "" : App.basemapKey);
        $("#basemap-admin").open = true;
        await renderAdmin($("#basemap-admin-body"));
      } catch (err) {
        toast(errorText(err), 6000);
      }
    } })));
  fill(body, h("ul", { class: "basemap-list" }, rows), form);
}
