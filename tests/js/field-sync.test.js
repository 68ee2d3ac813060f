// node --test tests/js/ — the field app's queue (web/static/app/field-sync.js and
// field-logic.js): sent in order, each exactly once, photos before the submission that
// names them, a 409 kept as a conflict, a 422 kept with the server's words, and a lost
// network stopping the sync with everything still queued.
import assert from "node:assert";
import test from "node:test";

import { errorWords, syncQueue } from "../../web/static/app/field-sync.js";
import { CONFLICT, PENDING, REJECTED, keepMine, submissionBody } from "../../web/static/app/field-logic.js";

/** The queue as field-store.js keeps it, in memory. */
function memoryStore(items, photos = []) {
  const queue = new Map(items.map((i) => [i.seq, { state: PENDING, ...i }]));
  const pics = new Map(photos.map((p) => [p.id, p]));
  return {
    queue, pics,
    items: async () => [...queue.values()].map((i) => ({ ...i })),
    update: async (i) => { queue.set(i.seq, { ...i }); },
    remove: async (i) => { for (const id of i.photo_ids || []) pics.delete(id); queue.delete(i.seq); },
    photo: async (id) => (pics.has(id) ? { ...pics.get(id) } : undefined),
    savePhoto: async (p) => { pics.set(p.id, { ...p }); },
  };
}

/** A server that remembers idempotency keys as the real one does. */
function fakeServer(answers = {}) {
  const calls = [];
  const seen = new Map();
  return {
    calls,
    async uploadPhoto(photo) {
      calls.push(["photo", photo.id]);
      if (answers.photo) return answers.photo(photo);
      return { sha256: "sha-" + photo.id };
    },
    async submit(key, body) {
      calls.push(["submit", key, body]);
      if (answers.submit) {
        const a = answers.submit(key, body);
        if (a) throw a;
      }
      if (!seen.has(key)) seen.set(key, { id: "asset-" + seen.size });
      return seen.get(key);
    },
  };
}

const item = (seq, extra = {}) => ({ seq, key: "k" + seq, kind: "create", layer: "manholes", recorded_at: "2026-11-29T10:00:00Z", ...extra });

test("items are sent in the order they were recorded, photos first, and removed once the server has them", async () => {
  const store = memoryStore(
    [item(2, { kind: "inspection", photo_ids: ["p1"] }), item(1, { properties: { code: "X" } })],
    [{ id: "p1", taken_at: "2026-11-29T10:01:00Z", lon: 113.2, lat: 35.2 }],
  );
  const server = fakeServer();
  const r = await syncQueue(store, server);
  assert.deepStrictEqual(r, { sent: 2, conflicts: 0, rejected: 0, stopped: null });
  assert.deepStrictEqual(server.calls.map((c) => c.slice(0, 2)), [["submit", "k1"], ["photo", "p1"], ["submit", "k2"]]);
  assert.deepStrictEqual(server.calls[2][2].photos, [{ sha256: "sha-p1", taken_at: "2026-11-29T10:01:00Z", lon: 113.2, lat: 35.2 }]);
  assert.strictEqual(store.queue.size, 0);
  assert.strictEqual(store.pics.size, 0);
});

test("a lost network stops the sync: the item and those after it stay queued; the next sync sends each once", async () => {
  const store = memoryStore([item(1), item(2, { photo_ids: ["p"] }), item(3)], [{ id: "p" }]);
  let online = false;
  const server = fakeServer({ submit: (key) => (key === "k2" && !online ? { status: 0, message: "Failed to fetch" } : null) });
  const first = await syncQueue(store, server);
  assert.strictEqual(first.sent, 1);
  assert.strictEqual(first.stopped.status, 0);
  assert.deepStrictEqual([...store.queue.keys()], [2, 3]);
  // the photo was uploaded before the failure: its hash is kept, it is not uploaded again
  assert.strictEqual(store.pics.get("p").sha256, "sha-p");
  online = true;
  const second = await syncQueue(store, server);
  assert.strictEqual(second.sent, 2);
  assert.deepStrictEqual(server.calls.filter((c) => c[0] === "photo").length, 1);
  assert.deepStrictEqual(server.calls.filter((c) => c[0] === "submit").map((c) => c[1]), ["k1", "k2", "k2", "k3"]);
  assert.strictEqual(store.queue.size, 0);
});

test("a 409 is kept as a conflict with both versions and a 422 with the server's words; the rest is sent", async () => {
  const conflict = { status: 409, data: { code: "version_conflict", yours: { properties: { a: 1 } }, theirs: { version: 7, properties: { a: 2 } } } };
  const invalid = { status: 422, data: { detail: "x", errors: [{ field: "depth_m", message: "必须 ≥ 0" }] } };
  const store = memoryStore([item(1, { kind: "update", base_version: 6 }), item(2), item(3)]);
  const server = fakeServer({ submit: (key) => (key === "k1" ? conflict : key === "k2" ? invalid : null) });
  const r = await syncQueue(store, server);
  assert.deepStrictEqual(r, { sent: 1, conflicts: 1, rejected: 1, stopped: null });
  assert.strictEqual(store.queue.get(1).state, CONFLICT);
  assert.strictEqual(store.queue.get(1).conflict.theirs.version, 7);
  assert.strictEqual(store.queue.get(2).state, REJECTED);
  assert.strictEqual(store.queue.get(2).error, "depth_m: 必须 ≥ 0");
  // kept items are not sent again by the next sync
  const again = await syncQueue(store, server);
  assert.strictEqual(again.sent + again.conflicts + again.rejected, 0);
  // "keep mine": on top of their version, under a new key, pending again
  const mine = keepMine(store.queue.get(1), conflict.data.theirs, "k1b");
  assert.deepStrictEqual([mine.state, mine.base_version, mine.key, mine.conflict], [PENDING, 7, "k1b", null]);
});

test("a 409 that is not a changed version (a code already used) is refused, not a conflict", async () => {
  const duplicate = { status: 409, data: { code: "duplicate_asset", detail: "编号已存在 / code exists" } };
  const store = memoryStore([item(1)]);
  const r = await syncQueue(store, fakeServer({ submit: () => duplicate }));
  assert.deepStrictEqual(r, { sent: 0, conflicts: 0, rejected: 1, stopped: null });
  assert.strictEqual(store.queue.get(1).state, REJECTED);
  assert.strictEqual(store.queue.get(1).error, "编号已存在 / code exists");
});

test("the submission body carries the contract's fields and nothing empty", () => {
  const body = submissionBody({ kind: "create", layer: "manholes", recorded_at: "t", asset_id: null, properties: { a: 1 },
    position: { lon: 1, lat: 2, accuracy_m: 5, source: "gps", at: "t" }, seq: 3, key: "k", state: PENDING }, []);
  assert.deepStrictEqual(body, { kind: "create", layer: "manholes", recorded_at: "t", properties: { a: 1 },
    position: { lon: 1, lat: 2, accuracy_m: 5, source: "gps", at: "t" } });
});

test("a refused item's words name its fields by their labels, the server's or the layer's, not by their codes", () => {
  const err = { status: 422, data: { detail: "…", errors: [
    { field: "found_on", message: "处于“排查发现”阶段须填写“排查发现”的日期" },
    { field: "road_name", field_label: "道路名称", message: "必填" },
    { field: "depth_m", message: "必须 ≥ 0" },
  ] } };
  const labels = { found_on: "排查日期" };
  assert.strictEqual(errorWords(err, (name) => labels[name]),
    "排查日期: 处于“排查发现”阶段须填写“排查发现”的日期; 道路名称: 必填; depth_m: 必须 ≥ 0");
  assert.strictEqual(errorWords({ status: 403, data: { detail: "执法/管理人员无权修改“道路脱空隐患”的道路名称" } }),
    "执法/管理人员无权修改“道路脱空隐患”的道路名称");
});
