// node --test tests/js/ — the field app's pure helpers (web/static/app/field-logic.js):
// distances and "within 50 m", the tiles of an offline area and their estimate, the
// downscaled photo size, the conflict rows, and a refused record edited and sent again.
import assert from "node:assert";
import test from "node:test";

import {
  PENDING, REJECTED, accuracyOk, anchorOf, bboxOf, changedFrom, conflictRows, distanceM, estimateBytes, formatBytes, nearby, resubmit,
  scaledSize, sendable, tileCount, tileOf, tileRanges, tileUrls,
} from "../../web/static/app/field-logic.js";

test("distances on the ground at Jiaozuo's latitude", () => {
  const here = [113.24, 35.215];
  // 0.001° of latitude ≈ 111 m; of longitude at 35° ≈ 91 m
  assert.ok(Math.abs(distanceM(here, [113.24, 35.216]) - 111.2) < 0.5);
  assert.ok(Math.abs(distanceM(here, [113.241, 35.215]) - 91.0) < 0.5);
});

test("nearby keeps what is within the radius, nearest first", () => {
  const here = [113.24, 35.215];
  const assets = [
    { code: "far", lon: 113.2406, lat: 35.215 }, // ≈ 55 m
    { code: "near", lon: 113.2401, lat: 35.215 }, // ≈ 9 m
    { code: "mid", lon: 113.24, lat: 35.2153 }, // ≈ 33 m
  ];
  assert.deepStrictEqual(nearby(assets, here, 50).map((a) => a.code), ["near", "mid"]);
  assert.ok(nearby(assets, here, 50)[0].distance_m < 10);
});

test("a line or polygon is found by the mean of its vertices", () => {
  assert.deepStrictEqual(anchorOf({ type: "Point", coordinates: [1, 2] }), [1, 2]);
  assert.deepStrictEqual(anchorOf({ type: "Polygon", coordinates: [[[0, 0], [2, 0], [2, 2], [0, 2]]] }), [1, 1]);
  assert.deepStrictEqual(bboxOf({ type: "MultiLineString", coordinates: [[[0, 1], [3, 2]], [[-1, 5], [0, 0]]] }), [-1, 0, 3, 5]);
});

test("accuracy above the limit is refused, a missing one too", () => {
  assert.ok(accuracyOk(8, 10));
  assert.ok(!accuracyOk(12, 10));
  assert.ok(!accuracyOk(undefined, 10));
  assert.ok(!accuracyOk(NaN, 10));
});

test("tile numbers match the XYZ scheme", () => {
  assert.deepStrictEqual(tileOf(0, 0, 1), [1, 1]);
  assert.deepStrictEqual(tileOf(-180, 85, 2), [0, 0]);
  // Jiaozuo's centre at z12 (checked with the asinh form of the formula, in Python)
  assert.deepStrictEqual(tileOf(113.24, 35.215, 12), [3336, 1619]);
});

test("an area's tiles from z12 to z17: count, ranges and URLs agree", () => {
  const bbox = [113.23, 35.21, 113.25, 35.22];
  const ranges = tileRanges(bbox, 12, 17);
  assert.strictEqual(ranges.length, 6);
  assert.strictEqual(ranges[0].count, 1);
  const n = tileCount(bbox, 12, 17);
  assert.strictEqual(n, ranges.reduce((s, r) => s + r.count, 0));
  const urls = tileUrls("/ogc/tiles/WebMercatorQuad/{z}/{x}/{y}", bbox, 12, 17);
  assert.strictEqual(urls.length, n);
  assert.strictEqual(new Set(urls).size, n);
  assert.ok(urls[0].startsWith("/ogc/tiles/WebMercatorQuad/12/3336/1619"));
  // each zoom level multiplies the tiles by up to four
  assert.ok(ranges[5].count > 4 * ranges[3].count);
});

test("the size estimate scales the sample's mean, and is said in KB/MB", () => {
  assert.strictEqual(estimateBytes([0, 1000, 2000], 30), 30000);
  assert.strictEqual(estimateBytes([], 30), null);
  assert.strictEqual(formatBytes(30000), "29 KB");
  assert.strictEqual(formatBytes(5 * 1024 * 1024), "5.0 MB");
});

test("photos are downscaled to a long side of 1600 px, never enlarged", () => {
  assert.deepStrictEqual(scaledSize(4000, 3000), [1600, 1200]);
  assert.deepStrictEqual(scaledSize(3000, 4000), [1200, 1600]);
  assert.deepStrictEqual(scaledSize(800, 600), [800, 600]);
});

test("a conflict lists every attribute either side has, flagging those that differ", () => {
  const attrs = [{ name: "a" }, { name: "b" }, { name: "c" }];
  const rows = conflictRows(attrs, { properties: { a: 1, b: "x" } }, { properties: { a: 2, b: "x" } });
  assert.deepStrictEqual(rows, [{ name: "a", mine: 1, theirs: 2, differs: true }, { name: "b", mine: "x", theirs: "x", differs: false }]);
});

test("a refused record edited and resent: pending under a new key, the rest of it kept", () => {
  const refused = {
    seq: 7, key: "old-key", kind: "create", layer: "manholes", state: REJECTED, recorded_at: "2026-11-29T01:30:00.000Z",
    geometry: { type: "Point", coordinates: [113.24, 35.215] }, position: { lon: 113.24, lat: 35.215, accuracy_m: 4, source: "gps" },
    photo_ids: ["p1", "p2"], label: "JZ-TOO-LONG", properties: { code: "X".repeat(70), kind: "rain", notes: "雨中" },
    error: "编号: too long", problem: { status: 422, errors: [{ field: "code", code: "too_long", message: "过长" }] },
  };
  const fixed = { code: "JZ-0001", kind: "rain", notes: "雨中" };
  const next = resubmit(refused, fixed, "new-key");
  assert.strictEqual(next.key, "new-key");
  assert.strictEqual(next.state, PENDING);
  assert.deepStrictEqual(next.properties, fixed);
  assert.notStrictEqual(next.properties, fixed); // a copy: the form's object is not kept
  assert.strictEqual(next.problem, null);
  assert.strictEqual(next.error, null);
  for (const k of ["seq", "kind", "layer", "recorded_at", "geometry", "position", "photo_ids"]) assert.deepStrictEqual(next[k], refused[k], k);
  // the refused item itself is untouched (the store writes the new one over it by seq)
  assert.strictEqual(refused.key, "old-key");
  assert.strictEqual(refused.state, REJECTED);
  assert.strictEqual(refused.properties.code.length, 70);
  // and it is sent again, in its place
  assert.deepStrictEqual(sendable([{ seq: 9, state: PENDING }, next, { seq: 3, state: REJECTED }]).map((i) => i.seq), [7, 9]);
});

test("an edit resent keeps what it was based on", () => {
  const refused = { seq: 2, key: "k1", kind: "update", layer: "road_voids", asset_id: "a1", base_version: 4, state: REJECTED,
    base_properties: { road_name: "人民路", depth_m: 1 }, properties: { depth_m: -3 }, problem: { errors: [{ field: "depth_m" }] } };
  const next = resubmit(refused, { depth_m: 3 }, "k2");
  assert.deepStrictEqual([next.key, next.state, next.asset_id, next.base_version], ["k2", PENDING, "a1", 4]);
  assert.deepStrictEqual(next.base_properties, refused.base_properties);
  assert.deepStrictEqual(next.properties, { depth_m: 3 });
});

test("an edit sends what differs from its base, and what it is told to keep", () => {
  const base = { status: "in_service", notes: null, extra: { a: 1 } };
  assert.deepStrictEqual(changedFrom({ status: "pending", notes: undefined, extra: { a: 1 } }, base), { status: "pending" });
  assert.deepStrictEqual(changedFrom({ status: "in_service", notes: "x" }, base, { status: "in_service" }), { status: "in_service", notes: "x" });
});
