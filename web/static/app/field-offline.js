/* Offline areas (下载离线区域): the vector tiles of every layer (z12–z17) and the
 * active basemap's tiles when the registry serves it itself (MBTiles/PMTiles), for a
 * district or the current view, put in Cache Storage where the service worker finds
 * them when the network is gone; plus the assets of the area in IndexedDB, so "附近"
 * works offline there too. The user sees the number of tiles and an estimate measured
 * from a sample before anything is downloaded, the progress, the space used, and can
 * delete an area. */

import { request } from "./http.js";
import { anchorOf, estimateBytes, sampleUrls, tileCount, tileUrls } from "./field-logic.js";
import { all, put, putMany, remove } from "./field-store.js";

export const TILE_CACHE = "field-tiles"; // the service worker reads it (web/static/field-sw.js)
export const MIN_Z = 12;
export const MAX_Z = 17;
export const MAX_TILES = 50000; // the largest county's box is ~33,000 (README)
// one tile with every layer (not one per layer): the offline area is six times smaller
export const VECTOR_TILES = "/ogc/tiles/WebMercatorQuad/{z}/{x}/{y}";
const PARALLEL = 4;
const SEARCH_PAGE = 1000; // registry/search.py MAX_LIMIT

/** A basemap the registry serves itself (its tiles can be cached), else null. */
export const ownBasemap = (basemaps) => (basemaps || []).find((b) => b.url && b.url.startsWith("/basemaps/")) || null;

/** The tile sets of an area: the layers' vector tiles and the registry's own basemap. */
export function sources(basemap) {
  const out = [{ template: VECTOR_TILES, minZ: MIN_Z, maxZ: MAX_Z }];
  if (basemap) {
    const maxZ = Math.min(MAX_Z, basemap.max_native_zoom || basemap.max_zoom || MAX_Z);
    const minZ = Math.max(MIN_Z, basemap.min_zoom || 0);
    if (minZ <= maxZ) out.push({ template: basemap.url, minZ, maxZ });
  }
  return out;
}

/** Every tile URL of ``bbox`` for the sources. */
export function urlsOf(bbox, srcs) {
  return srcs.flatMap((s) => tileUrls(s.template, bbox, s.minZ, s.maxZ));
}

/** Tiles and estimated bytes: a sample of each source is fetched and measured. */
export async function plan(bbox, srcs) {
  let count = 0, bytes = 0, measured = true;
  for (const s of srcs) {
    const n = tileCount(bbox, s.minZ, s.maxZ);
    count += n;
    const sizes = [];
    for (const url of sampleUrls(tileUrls(s.template, bbox, s.minZ, s.maxZ), 2)) {
      try {
        const res = await fetch(url, { credentials: "same-origin" });
        sizes.push(res.ok ? (await res.arrayBuffer()).byteLength : 0);
      } catch {
        measured = false;
      }
    }
    const est = estimateBytes(sizes, n);
    if (est === null) measured = false;
    else bytes += est;
  }
  return { count, bytes: measured ? bytes : null };
}

/**
 * Download an area ({id, name, bbox}): every tile into the tile cache (``onProgress(done,
 * total, bytes)``), then its assets into IndexedDB. Resolves to the stored area record.
 */
export async function download(area, srcs, onProgress = () => {}) {
  const urls = urlsOf(area.bbox, srcs);
  const cache = await caches.open(TILE_CACHE);
  let next = 0, done = 0, bytes = 0, failed = 0;
  const worker = async () => {
    while (next < urls.length) {
      const url = urls[next++];
      try {
        const res = await fetch(url, { credentials: "same-origin", cache: "no-cache" });
        if (res.status === 200 || res.status === 204) {
          const body = await res.clone().arrayBuffer();
          bytes += body.byteLength;
          await cache.put(url, res);
        } else if (res.status !== 404) {
          failed++;
        }
      } catch {
        failed++;
      }
      done++;
      onProgress(done, urls.length, bytes);
    }
  };
  await Promise.all(Array.from({ length: PARALLEL }, worker));
  const assets = await downloadAssets(area.bbox);
  const record = { ...area, sources: srcs, tiles: urls.length, failed, bytes, assets, at: new Date().toISOString() };
  await put("areas", record);
  return record;
}

/** The assets of the area, stored for "附近" without a network. */
async function downloadAssets(bbox) {
  let offset = 0, stored = 0;
  for (;;) {
    const q = new URLSearchParams({ bbox: bbox.join(","), limit: SEARCH_PAGE, offset });
    const { data } = await request("/api/search?" + q);
    const features = data.features || [];
    await rememberAssets(features);
    stored += features.length;
    offset += features.length;
    if (!features.length || offset >= (data.numberMatched || 0)) return stored;
  }
}

/** Keep search hits on the phone ({key: layer/id, ...}) for "附近" offline. */
export async function rememberAssets(features) {
  const rows = features.map((f) => {
    const at = anchorOf(f.geometry);
    return at ? { key: `${f.properties.layer}/${f.id}`, id: f.id, layer: f.properties.layer, lon: at[0], lat: at[1],
      feature: f } : null;
  }).filter(Boolean);
  if (rows.length) await putMany("assets", rows);
}

/** The areas downloaded, newest first. */
export async function areas() {
  return (await all("areas")).sort((a, b) => String(b.at).localeCompare(String(a.at)));
}

/** Delete an area: its tiles that no other area holds, and its record. */
export async function deleteArea(area) {
  const others = (await all("areas")).filter((a) => a.id !== area.id);
  const keep = new Set(others.flatMap((a) => urlsOf(a.bbox, a.sources || sources(null))));
  const cache = await caches.open(TILE_CACHE);
  for (const url of urlsOf(area.bbox, area.sources || sources(null))) if (!keep.has(url)) await cache.delete(url);
  await remove("areas", area.id);
}

/** Bytes the app keeps on the phone: what the browser says, and the areas' tiles. */
export async function usage() {
  const list = await areas();
  const tiles = list.reduce((s, a) => s + (a.bytes || 0), 0);
  let total = null;
  if (navigator.storage && navigator.storage.estimate) total = (await navigator.storage.estimate()).usage ?? null;
  return { tiles, total, areas: list.length };
}
