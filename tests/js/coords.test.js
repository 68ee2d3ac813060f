// node --test tests/js/ — the map's coordinate transforms against an independent
// implementation's published values (gcoord's unit tests) and round trips. coords.js is
// the very ES module the page loads (package.json says "type": "module").
import assert from "node:assert";
import test from "node:test";
import * as C from "../../web/static/app/coords.js";

const close = (a, b, eps) => assert.ok(Math.abs(a - b) < eps, `${a} vs ${b}`);

test("gcj02 to wgs84 matches a published value", () => {
  const [lon, lat] = C.gcj02ToWgs84(123, 45);
  close(lon, 122.99395597, 1e-6);
  close(lat, 44.99804071, 1e-6);
});

test("gcj02 to bd09 matches a published value", () => {
  const [lon, lat] = C.gcj02ToBd09(123, 45);
  close(lon, 123.00636499, 1e-6);
  close(lat, 45.00636899, 1e-6);
});

test("the GCJ-02 offset at Jiaozuo is a few hundred metres and round-trips to a millimetre", () => {
  const w = [113.2418, 35.2155];
  const g = C.wgs84ToGcj02(...w);
  const dx = (g[0] - w[0]) * 111320 * Math.cos((w[1] * Math.PI) / 180);
  const dy = (g[1] - w[1]) * 110540;
  const metres = Math.hypot(dx, dy);
  assert.ok(metres > 300 && metres < 900, `offset ${metres} m`);
  const back = C.gcj02ToWgs84(...g);
  close(back[0], w[0], 1e-8);
  close(back[1], w[1], 1e-8);
  const b = C.bd09ToWgs84(...C.wgs84ToBd09(...w));
  // Baidu's published inverse is approximate (~3 cm): accept 1e-6° (~10 cm)
  close(b[0], w[0], 1e-6);
  close(b[1], w[1], 1e-6);
});

test("outside China nothing is shifted", () => {
  assert.deepStrictEqual(C.wgs84ToGcj02(2.35, 48.85), [2.35, 48.85]);
});

test("coordinates parse in decimal and DMS, either order", () => {
  assert.deepStrictEqual(C.parseCoordinates("113.2418, 35.2155"), [113.2418, 35.2155]);
  assert.deepStrictEqual(C.parseCoordinates("35.2155,113.2418"), [113.2418, 35.2155]);
  assert.deepStrictEqual(C.parseCoordinates("35.2155 113.2418"), [113.2418, 35.2155]);
  const p = C.parseCoordinates("N35°12'55.8\" E113°14'30.5\"");
  close(p[0], 113 + 14 / 60 + 30.5 / 3600, 1e-9);
  close(p[1], 35 + 12 / 60 + 55.8 / 3600, 1e-9);
  const q = C.parseCoordinates("113°14'30.5\"E, 35°12'55.8\"N");
  close(q[0], 113.241805, 1e-5);
  assert.strictEqual(C.parseCoordinates("hello"), null);
  assert.strictEqual(C.parseCoordinates("35 61 0, 113 0 0"), null);
});
