/* Chinese offset coordinate systems for the map (standard "eviltransform" formulas).
 *
 * GCJ-02 ("Mars coordinates") is what Amap/Tencent tiles and most phone apps use;
 * BD-09 is Baidu's further offset of GCJ-02. The registry stores CGCS2000 (= WGS84 to
 * centimetres), so the map shifts what it draws onto a GCJ-02 basemap and un-shifts what
 * the user draws or clicks. An ES module with no dependencies: the map imports it, and
 * node's test runner too (tests/js/coords.test.js).
 */
const A = 6378245.0; // Krasovsky 1940 semi-major axis used by GCJ-02
const EE = 0.006693421622965943; // Krasovsky e² (the double nearest 0.00669342162296594323)
const X_PI = (Math.PI * 3000.0) / 180.0;

export function outOfChina(lon, lat) {
  return lon < 72.004 || lon > 137.8347 || lat < 0.8293 || lat > 55.8271;
}
function tLat(x, y) {
  let r = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * Math.sqrt(Math.abs(x));
  r += ((20.0 * Math.sin(6.0 * x * Math.PI) + 20.0 * Math.sin(2.0 * x * Math.PI)) * 2.0) / 3.0;
  r += ((20.0 * Math.sin(y * Math.PI) + 40.0 * Math.sin((y / 3.0) * Math.PI)) * 2.0) / 3.0;
  r += ((160.0 * Math.sin((y / 12.0) * Math.PI) + 320 * Math.sin((y * Math.PI) / 30.0)) * 2.0) / 3.0;
  return r;
}
function tLon(x, y) {
  let r = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * Math.sqrt(Math.abs(x));
  r += ((20.0 * Math.sin(6.0 * x * Math.PI) + 20.0 * Math.sin(2.0 * x * Math.PI)) * 2.0) / 3.0;
  r += ((20.0 * Math.sin(x * Math.PI) + 40.0 * Math.sin((x / 3.0) * Math.PI)) * 2.0) / 3.0;
  r += ((150.0 * Math.sin((x / 12.0) * Math.PI) + 300.0 * Math.sin((x / 30.0) * Math.PI)) * 2.0) / 3.0;
  return r;
}
function delta(lon, lat) {
  let dLat = tLat(lon - 105.0, lat - 35.0);
  let dLon = tLon(lon - 105.0, lat - 35.0);
  const radLat = (lat / 180.0) * Math.PI;
  let magic = Math.sin(radLat);
  magic = 1 - EE * magic * magic;
  const sqrtMagic = Math.sqrt(magic);
  dLat = (dLat * 180.0) / (((A * (1 - EE)) / (magic * sqrtMagic)) * Math.PI);
  dLon = (dLon * 180.0) / ((A / sqrtMagic) * Math.cos(radLat) * Math.PI);
  return [dLon, dLat];
}
/** WGS84 [lon, lat] → GCJ-02 [lon, lat] (identity outside China). */
export function wgs84ToGcj02(lon, lat) {
  if (outOfChina(lon, lat)) return [lon, lat];
  const d = delta(lon, lat);
  return [lon + d[0], lat + d[1]];
}
/** GCJ-02 → WGS84 by fixed-point iteration (converges to < 1e-9° in a few steps). */
export function gcj02ToWgs84(lon, lat) {
  if (outOfChina(lon, lat)) return [lon, lat];
  let w = [lon, lat];
  for (let i = 0; i < 30; i++) {
    const g = wgs84ToGcj02(w[0], w[1]);
    const dx = g[0] - lon;
    const dy = g[1] - lat;
    w = [w[0] - dx, w[1] - dy];
    if (Math.abs(dx) < 1e-10 && Math.abs(dy) < 1e-10) break;
  }
  return w;
}
export function gcj02ToBd09(lon, lat) {
  const z = Math.sqrt(lon * lon + lat * lat) + 0.00002 * Math.sin(lat * X_PI);
  const t = Math.atan2(lat, lon) + 0.000003 * Math.cos(lon * X_PI);
  return [z * Math.cos(t) + 0.0065, z * Math.sin(t) + 0.006];
}
export function bd09ToGcj02(lon, lat) {
  const x = lon - 0.0065;
  const y = lat - 0.006;
  const z = Math.sqrt(x * x + y * y) - 0.00002 * Math.sin(y * X_PI);
  const t = Math.atan2(y, x) - 0.000003 * Math.cos(x * X_PI);
  return [z * Math.cos(t), z * Math.sin(t)];
}
export const wgs84ToBd09 = (lon, lat) => gcj02ToBd09(...wgs84ToGcj02(lon, lat));
export const bd09ToWgs84 = (lon, lat) => gcj02ToWgs84(...bd09ToGcj02(lon, lat));

/** Any supported system → WGS84. */
export function toWgs84(lon, lat, sys) {
  if (sys === "gcj02") return gcj02ToWgs84(lon, lat);
  if (sys === "bd09") return bd09ToWgs84(lon, lat);
  return [lon, lat];
}
export function fromWgs84(lon, lat, sys) {
  if (sys === "gcj02") return wgs84ToGcj02(lon, lat);
  if (sys === "bd09") return wgs84ToBd09(lon, lat);
  return [lon, lat];
}

/** One angle: "113.2418", "113°14'30.5\"E", "113 14 30.5", "N35°12.9'", "东经113度14分30秒". */
export function parseAngle(text) {
  let s = String(text).trim().toUpperCase();
  let sign = 1;
  if (/[SW西南]/.test(s) || s.startsWith("-")) sign = -1;
  s = s.replace(/[NSEW东西南北经纬]/g, " ").replace(/^-/, "");
  const parts = s.split(/[^0-9.]+/).filter((p) => p !== "").map(Number);
  if (!parts.length || parts.length > 3 || parts.some((n) => Number.isNaN(n))) return null;
  const [d, m = 0, sec = 0] = parts;
  if (m >= 60 || sec >= 60) return null;
  return sign * (d + m / 60 + sec / 3600);
}

/** "lon, lat" or "lat, lon" (decimal or DMS) → [lon, lat]; the hemisphere letters or
 * the value range decide the order (latitudes at Jiaozuo are < 90, longitudes > 90). */
export function parseCoordinates(text) {
  const s = String(text).trim();
  if (!s) return null;
  let pieces = s.split(/\s*[,，;；]\s*|\s*\/\s*/).filter(Boolean);
  if (pieces.length !== 2) {
    // "35.2155 113.2418": two plain decimals separated by spaces
    const nums = s.split(/\s+/);
    if (nums.length === 2 && nums.every((n) => /^-?\d+(\.\d+)?$/.test(n))) pieces = nums;
    else {
      // "N35°12'55.8" E113°14'30.5"": split before the second hemisphere letter
      const m = s.match(/^(.*?[NSEW北南东西].*?)\s+([NSEW北南东西].*|.*[NSEW北南东西])$/i);
      if (!m) return null;
      pieces = [m[1], m[2]];
    }
  }
  const a = parseAngle(pieces[0]);
  const b = parseAngle(pieces[1]);
  if (a === null || b === null) return null;
  const firstIsLat = /[NS北南纬]/i.test(pieces[0]) || (!/[EW东西经]/i.test(pieces[0]) && Math.abs(a) <= 90 && Math.abs(b) > 90);
  const [lon, lat] = firstIsLat ? [b, a] : [a, b];
  if (Math.abs(lat) > 90 || Math.abs(lon) > 180) return null;
  return [lon, lat];
}
