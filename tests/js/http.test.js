// node --test tests/js/ — the page's one request helper (web/static/app/http.js): the
// CSRF header on writes, JSON bodies, and errors (RFC 9457 problems) put into words for
// the user, Chinese first. The module runs in the browser; the few browser objects it
// touches are stood in for here, and the server's answers are real fetch Responses.
import assert from "node:assert";
import test from "node:test";

const stored = new Map();
globalThis.localStorage = { getItem: (k) => stored.get(k) ?? null, setItem: (k, v) => stored.set(k, String(v)) };
globalThis.document = { documentElement: {}, cookie: "other=1; registry_csrf=tok%2B1" };
const calls = [];
let answer = () => new Response("{}");
globalThis.fetch = async (url, opts) => {
  calls.push({ url, opts });
  return answer();
};
const problem = (status, body) => () =>
  new Response(JSON.stringify({ status, ...body }), { status, headers: { "Content-Type": "application/problem+json" } });

const { RequestError, csrfToken, errorText, onUnauthorized, request } = await import("../../web/static/app/http.js");
const { I18n } = await import("../../web/static/app/i18n.js");

const failure = async (promise) => {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  assert.fail("the request did not fail");
};

test("a write carries the session's CSRF token and a JSON body; a read carries no token", async () => {
  assert.strictEqual(csrfToken(), "tok+1");
  calls.length = 0;
  answer = () => new Response(JSON.stringify({ ok: true }), { status: 201, headers: { ETag: '"2"' } });
  const { data, res } = await request("/api/parking/check", { method: "POST", body: { geometry: null } });
  assert.deepStrictEqual(data, { ok: true });
  assert.strictEqual(res.headers.get("ETag"), '"2"');
  const sent = calls[0].opts;
  assert.strictEqual(sent.headers["X-CSRF-Token"], "tok+1");
  assert.strictEqual(sent.headers["Content-Type"], "application/json");
  assert.strictEqual(sent.body, '{"geometry":null}');
  assert.strictEqual(sent.credentials, "same-origin");
  await request("/api/layers");
  assert.strictEqual(calls[1].opts.headers["X-CSRF-Token"], undefined);
  const form = new FormData();
  await request("/api/imports", { method: "POST", body: form });
  assert.strictEqual(calls[2].opts.body, form); // multipart goes as it is
});

test("every request says the page's language, so the server words its problems in it", async () => {
  calls.length = 0;
  answer = () => new Response("{}");
  I18n.set("zh");
  await request("/api/layers");
  I18n.set("en");
  await request("/api/layers", { method: "POST", body: {} });
  I18n.set("zh");
  assert.strictEqual(calls[0].opts.headers["Accept-Language"], "zh-CN");
  assert.strictEqual(calls[1].opts.headers["Accept-Language"], "en");
});

test("a problem is thrown with its status and shown in Chinese first, then English", async () => {
  I18n.set("zh");
  answer = problem(403, { code: "forbidden", detail: "role viewer may not update road_voids" });
  const err = await failure(request("/ogc/collections/road_voids/items/x", { method: "PATCH", body: {} }));
  assert.ok(err instanceof RequestError);
  assert.strictEqual(err.status, 403);
  assert.strictEqual(errorText(err), "没有权限：role viewer may not update road_voids");
  I18n.set("en");
  assert.strictEqual(errorText(err), "Not allowed: role viewer may not update road_voids");
  I18n.set("zh");
});

test("a field error is shown by its label in the page's language, with the server's message", async () => {
  I18n.set("zh");
  answer = problem(422, {
    code: "invalid_feature", detail: "资产数据有误：remediated_on",
    errors: [{ field: "remediated_on", field_label: "整治日期", code: "stage_requires_date",
      params: { stage: "remediated" }, message: "处于“已整治”阶段须填写“整治”的日期" }],
  });
  const err = await failure(request("/ogc/collections/road_voids/items/x", { method: "PATCH", body: {} }));
  assert.strictEqual(errorText(err), "输入有误：整治日期: 处于“已整治”阶段须填写“整治”的日期");
});

test("field errors name the field (and the row); a question with choices keeps its detail", async () => {
  answer = problem(422, {
    code: "invalid_feature", detail: "invalid manholes asset: condition",
    errors: [{ field: "condition", message: "must be one of intact, damaged", value: "exploded" }, { row: 3, field: "code", message: "duplicate" }],
  });
  let err = await failure(request("/ogc/collections/manholes/items", { method: "POST", body: {} }));
  assert.strictEqual(errorText(err), "输入有误：condition: must be one of intact, damaged; 行号 3 code: duplicate");
  answer = problem(422, {
    detail: "标段成果.gpkg 含有多个图层，请选择源图层：一标段, 二标段",
    errors: [{ field: "source_layer", message: "choose one", choices: ["一标段", "二标段"] }],
  });
  err = await failure(request("/api/imports", { method: "POST", body: new FormData() }));
  assert.strictEqual(errorText(err), "输入有误：标段成果.gpkg 含有多个图层，请选择源图层：一标段, 二标段");
  assert.deepStrictEqual(err.data.errors[0].choices, ["一标段", "二标段"]);
});

test("a 401 tells the page the session ended", async () => {
  const seen = [];
  onUnauthorized((err) => seen.push(err.status));
  answer = problem(401, { code: "unauthorized", detail: "sign in" });
  const err = await failure(request("/api/search?lon=113&lat=35"));
  assert.deepStrictEqual(seen, [401]);
  assert.strictEqual(errorText(err), "登录已过期，请重新登录");
  onUnauthorized(null);
});

test("no answer, or one that is not JSON, is still said in words", async () => {
  answer = () => { throw new TypeError("Failed to fetch"); };
  let err = await failure(request("/api/layers"));
  assert.strictEqual(err.status, 0);
  assert.strictEqual(errorText(err), "无法连接服务器，请检查网络后重试");
  answer = () => new Response("<html>Bad gateway</html>", { status: 502, headers: { "Content-Type": "text/html" } });
  err = await failure(request("/api/layers"));
  assert.strictEqual(err.data, null);
  assert.strictEqual(errorText(err), "服务器出错 (HTTP 502)");
  answer = problem(503, { code: "database_unavailable", detail: "数据库暂时无法连接，请稍后重试" });
  err = await failure(request("/api/layers"));
  assert.strictEqual(errorText(err), "服务暂时不可用，请稍后重试：数据库暂时无法连接，请稍后重试");
  assert.match(errorText(new Error("x is undefined")), /^出错了：x is undefined$/);
});
