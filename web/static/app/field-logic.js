/* The field app's pure logic (no DOM, no IndexedDB, no network), so node's test runner
 * checks it as it runs in the phone: the order the queue is sent in and what an
 * answer does to an item, the body of a submission, distances and "what is within
 * 50 m", the tiles of an offline area and their estimated size, the size of a
 * downscaled photo, and the rows of a conflict shown side by side. */

// ------------------------------------------------------------------ queue

/** Queue item states: waiting to be sent, refused because the asset changed meanwhile
 * (the user decides), refused as invalid (the user reads why, fixes or discards). */
export const PENDING = "pending";
export const CONFLICT = "conflict";
export const REJECTED = "rejected";

/** The items to send now, in the order they were recorded (``seq``): only pending ones. */
export function sendable(items) {
  return items.filter((i) => i.state === PENDING).sort((a, b) => a.seq - b.seq);
}

/**
 * What an error answer to a submission means for its item:
 * ``"conflict"`` (409 version_conflict: kept, shown with both versions), ``"rejected"`` (400/403/404/
 * 410/422: kept with the server's message; sending it again cannot help), or
 * ``"stop"`` (no network, 401, 429, 5xx: nothing is wrong with the item; sync stops
 * here and the item, and every item after it, stays as it is, in order).
 */
export function outcomeOf(status, problem) {
  // only a changed version is a conflict to resolve; another 409 (a code already used,
  // a step that is no longer next) is refused like invalid input
  if (status === 409) return problem && (problem.code === "version_conflict" || problem.theirs) ? "conflict" : "rejected";
  if ([400, 403, 404, 410, 413, 422].includes(status)) return "rejected";
  return "stop";
}

/** The JSON body of a submission (the server's field contract), photos by their
 * content hash, which the upload returned. */
export function submissionBody(item, photos) {
  const body = { kind: item.kind, layer: item.layer, recorded_at: item.recorded_at };
  for (const k of ["asset_id", "base_version", "geometry", "properties", "position", "inspection", "step"]) {
    if (item[k] !== undefined && item[k] !== null) body[k] = item[k];
  }
  if (photos.length) {
    body.photos = photos.map((p) => ({ sha256: p.sha256, taken_at: p.taken_at, lon: p.lon, lat: p.lat }));
  }
  return body;
}

/** After "keep mine": the same change on top of their version, under a new key (the
 * old key stands for the refused request, and its replay would be refused again). */
export function keepMine(item, theirs, newKey) {
  const next = { ...item, key: newKey, state: PENDING, conflict: null, error: null };
  if (theirs && theirs.version !== undefined) next.base_version = theirs.version;
  return next;
}

/** After "edit and resend" of a refused record: the corrected ``properties`` in place of
 * the refused ones, pending again under a new key (the old key stands for the refused
 * request: the server would answer its replay with the same refusal), the server's
 * reason cleared; its place in the queue (seq), photos, position, geometry, base and
 * ``recorded_at`` kept. */
export function resubmit(item, properties, newKey) {
  return { ...item, key: newKey, state: PENDING, properties: { ...properties }, problem: null, error: null, conflict: null };
}

// ------------------------------------------------------------------ conflict

const same = (a, b) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);

/** The entries of ``values`` that differ from ``base`` (what an edit sends), plus those
 * named in ``keep`` whatever their value. */
export function changedFrom(values, base, keep = {}) {
  return Object.fromEntries(Object.entries(values).filter(([k, v]) => k in keep || !same(v, base[k])));
}

/** Rows for mine ↔ theirs side by side: every attribute either side has, in the
 * layer's order (``attrs``: [{name, ...}]), flagged where they differ. */
export function conflictRows(attrs, yours, theirs) {
  const mine = (yours && (yours.properties || yours)) || {};
  const other = (theirs && (theirs.properties || theirs)) || {};
  const names = attrs.map((a) => a.name).filter((n) => n in mine || n in other);
  return names.map((name) => ({ name, mine: mine[name], theirs: other[name], differs: !same(mine[name], other[name]) }));
}

// ------------------------------------------------------------------ distances and nearby

const R = 6371008.8;
const rad = Math.PI / 180;

/** Great-circle distance in metres between two [lon, lat]. */
export function distanceM(a, b) {
  const dLat = (b[1] - a[1]) * rad;
  const dLon = (b[0] - a[0]) * rad;
  const s = Math.sin(dLat / 2) ** 2 + Math.cos(a[1] * rad) * Math.cos(b[1] * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * R * Math.asin(Math.min(1, Math.sqrt(s)));
}

/** A point standing for a geometry (a point itself; else the mean of its vertices). */
export function anchorOf(geometry) {
  if (!geometry) return null;
  if (geometry.type === "Point") return geometry.coordinates;
  const pts = [];
  const walk = (c) => (typeof c[0] === "number" ? pts.push(c) : c.forEach(walk));
  walk(geometry.coordinates);
  if (!pts.length) return null;
  return [pts.reduce((s, p) => s + p[0], 0) / pts.length, pts.reduce((s, p) => s + p[1], 0) / pts.length];
}

/** Assets ({lon, lat, ...}) within ``radius`` metres of ``here`` ([lon, lat]), nearest
 * first, each with ``distance_m`` (what the phone knows without a network). */
export function nearby(assets, here, radius = 50) {
  return assets
    .map((a) => ({ ...a, distance_m: distanceM(here, [a.lon, a.lat]) }))
    .filter((a) => a.distance_m <= radius)
    .sort((a, b) => a.distance_m - b.distance_m);
}

/** Whether a GPS fix is good enough to save a record at it. */
export function accuracyOk(accuracy, max) {
  return typeof accuracy === "number" && Number.isFinite(accuracy) && accuracy <= max;
}

// ------------------------------------------------------------------ tiles of an offline area

/** The tile (x, y) holding [lon, lat] at zoom z (Web Mercator, XYZ). */
export function tileOf(lon, lat, z) {
  const n = 2 ** z;
  const la = Math.max(-85.05112878, Math.min(85.05112878, lat)) * rad;
  const x = Math.floor(((lon + 180) / 360) * n);
  const y = Math.floor(((1 - Math.log(Math.tan(la) + 1 / Math.cos(la)) / Math.PI) / 2) * n);
  return [Math.min(n - 1, Math.max(0, x)), Math.min(n - 1, Math.max(0, y))];
}

/** The tile ranges covering ``bbox`` ([w, s, e, n]) at zooms ``minZ``..``maxZ``. */
export function tileRanges(bbox, minZ, maxZ) {
  const out = [];
  for (let z = minZ; z <= maxZ; z++) {
    const [x0, y0] = tileOf(bbox[0], bbox[3], z);
    const [x1, y1] = tileOf(bbox[2], bbox[1], z);
    out.push({ z, x0, x1, y0, y1, count: (x1 - x0 + 1) * (y1 - y0 + 1) });
  }
  return out;
}

/** How many tiles cover ``bbox`` at zooms ``minZ``..``maxZ``. */
export function tileCount(bbox, minZ, maxZ) {
  return tileRanges(bbox, minZ, maxZ).reduce((s, r) => s + r.count, 0);
}

/** Every tile URL of the area, from a template with {z}/{x}/{y}. */
export function tileUrls(template, bbox, minZ, maxZ) {
  const out = [];
  for (const r of tileRanges(bbox, minZ, maxZ)) {
    for (let x = r.x0; x <= r.x1; x++) {
      for (let y = r.y0; y <= r.y1; y++) out.push(template.replace("{z}", r.z).replace("{x}", x).replace("{y}", y));
    }
  }
  return out;
}

/** A few tiles spread over the area (corners, middle, each zoom), to measure before
 * downloading: ``per`` tiles of each zoom at most. */
export function sampleUrls(urls, per = 3) {
  if (urls.length <= per * 6) return urls.slice();
  const step = Math.max(1, Math.floor(urls.length / (per * 6)));
  const out = [];
  for (let i = 0; i < urls.length && out.length < per * 6; i += step) out.push(urls[i]);
  return out;
}

/** Estimated bytes of ``count`` tiles from the sizes of a sample (0 for empty tiles). */
export function estimateBytes(sampleSizes, count) {
  if (!sampleSizes.length) return null;
  const mean = sampleSizes.reduce((s, n) => s + n, 0) / sampleSizes.length;
  return Math.round(mean * count);
}

/** Bytes for people: "850 KB", "12.4 MB". */
export function formatBytes(n) {
  if (n === null || n === undefined) return "?";
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${Math.round(n / 1024)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

/** The bbox ([w, s, e, n]) of a GeoJSON geometry. */
export function bboxOf(geometry) {
  let w = Infinity, s = Infinity, e = -Infinity, n = -Infinity;
  const walk = (c) => {
    if (typeof c[0] === "number") {
      w = Math.min(w, c[0]); e = Math.max(e, c[0]); s = Math.min(s, c[1]); n = Math.max(n, c[1]);
    } else c.forEach(walk);
  };
  walk(geometry.coordinates);
  return [w, s, e, n];
}

// ------------------------------------------------------------------ photos

/** Width and height of a photo downscaled so its long side is at most ``maxSide``
 * (never enlarged). */
export function scaledSize(width, height, maxSide = 1600) {
  const long = Math.max(width, height);
  if (long <= maxSide) return [width, height];
  const k = maxSide / long;
  return [Math.round(width * k), Math.round(height * k)];
}
