"""Issue 11: a problem's words are in ONE language, the reader's (``?lang=``, else
Accept-Language, else Chinese), rendered from the zh/en message table; machines key on
the stable ``code`` of the problem and the ``code`` + ``params`` of each field error."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from registry.catalog import LayerCatalog
from registry.messages import render
from registry.permissions import Role
from registry.settings import Settings
from tests.authkit import make_accounts, make_asset
from tests.factories import CENTRE, make_properties
from web.app import create_app

ITEMS = "/ogc/collections/road_voids/items"
_CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture
def void(conn: psycopg.Connection, catalog: LayerCatalog) -> dict[str, Any]:
    """One road void, as surveyed (the first step of its workflow)."""
    return make_asset(conn, catalog, "road_voids")


@pytest.fixture
def users(conn: psycopg.Connection) -> dict[Role, Any]:
    """An account per role."""
    return make_accounts(conn)


@pytest.fixture
def client(db: Settings, users: dict[Role, Any], void: dict[str, Any]) -> Iterator[TestClient]:
    """A client signed in as an admin with an API token."""
    with TestClient(create_app(db), headers=users[Role.ADMIN].bearer) as c:
        yield c


def _bad_void(client: TestClient, catalog: LayerCatalog, **kwargs: Any) -> dict[str, Any]:
    props = make_properties(catalog.get("road_voids"), 7) | {"risk_grade": "V", "length_m": "long"}
    props = {k: v.isoformat() if hasattr(v, "isoformat") else v for k, v in props.items()}
    feature = {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": list(CENTRE)},
        "properties": props,
    }
    response = client.post(ITEMS, json=feature, **kwargs)
    assert response.status_code == 422, response.text[:500]
    return response.json()


def _by_field(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["field"]: e for e in body["errors"]}


def test_field_errors_carry_code_and_params_and_read_in_chinese_by_default(
    client: TestClient, catalog: LayerCatalog
) -> None:
    body = _bad_void(client, catalog)
    assert body["code"] == "invalid_feature"
    errors = _by_field(body)
    grade, length = errors["risk_grade"], errors["length_m"]
    assert grade["code"] == "not_allowed" and "allowed" in grade["params"]
    assert length["code"] == "not_number"
    assert grade["message"] == render("not_allowed", grade["params"], "zh")
    assert grade["field_label"] == "风险等级" and length["message"] == "应为数字"
    for e in body["errors"]:
        assert " / " not in e["message"], e  # one language, not "中文 / English"
    assert _CJK.search(body["detail"]) and " / " not in body["detail"]


@pytest.mark.parametrize(
    "how", [{"params": {"lang": "en"}}, {"headers": {"Accept-Language": "en-GB,en;q=0.9,zh-CN;q=0.5"}}]
)
def test_the_same_field_errors_read_in_english_when_asked(
    client: TestClient, catalog: LayerCatalog, how: dict[str, Any]
) -> None:
    zh = _by_field(_bad_void(client, catalog))
    body = _bad_void(client, catalog, **how)
    en = _by_field(body)
    assert {f: e["code"] for f, e in en.items()} == {f: e["code"] for f, e in zh.items()}, "codes are stable"
    assert en["length_m"]["message"] == "expected a number"
    assert en["risk_grade"]["field_label"] == "Risk grade"
    for e in body["errors"]:
        assert not _CJK.search(e["message"].replace("是/否", "")), e
    assert body["detail"].startswith("invalid road_voids asset")


def test_accept_language_follows_its_preference_order(client: TestClient) -> None:
    def detail(header: str) -> str:
        response = client.get("/api/history", params={"limit": "many"}, headers={"Accept-Language": header})
        assert response.status_code == 400, response.text
        return str(response.json()["detail"])

    assert _CJK.search(detail("zh-CN,zh;q=0.9,en;q=0.8"))
    assert not _CJK.search(detail("fr-FR,en;q=0.7,zh;q=0.3"))
    assert _CJK.search(detail("fr-FR")), "Chinese when neither is asked for"
    assert not _CJK.search(detail("zh;q=0.2,en;q=0.9"))


def test_a_bad_query_parameter_names_it_in_the_readers_language(client: TestClient) -> None:
    zh = client.get("/api/history", params={"limit": "many"}).json()
    en = client.get("/api/history", params={"limit": "many", "lang": "en"}).json()
    assert zh["code"] == en["code"] == "invalid_parameter" and zh["parameter"] == "limit"
    assert zh["errors"][0]["code"] == en["errors"][0]["code"] == "not_integer"
    assert zh["detail"] == "参数 limit 无效：应为整数"
    assert en["detail"] == "limit: expected a whole number"


def test_a_file_level_import_error_reads_in_the_readers_language(client: TestClient) -> None:
    files = {"file": ("empty.csv", b"", "text/csv")}
    zh = client.post("/api/imports", data={"layer": "manholes", "dry_run": "true"}, files=files)
    en = client.post(
        "/api/imports",
        data={"layer": "manholes", "dry_run": "true"},
        files=files,
        headers={"Accept-Language": "en"},
    )
    assert zh.status_code == en.status_code == 422, zh.text
    assert zh.json()["code"] == en.json()["code"] == "import_empty_file"
    assert zh.json()["message_code"] == "file_empty" and zh.json()["params"] == {"file": "empty.csv"}
    assert zh.json()["detail"] == "文件 empty.csv 为空"
    assert en.json()["detail"] == "file empty.csv is empty"


def test_not_found_reads_in_the_readers_language(client: TestClient) -> None:
    zh = client.get("/api/no-such-thing")
    en = client.get("/api/no-such-thing", headers={"Accept-Language": "en"})
    assert zh.status_code == en.status_code == 404
    assert zh.json()["code"] == en.json()["code"] == "not_found"
    assert zh.json()["detail"] == "找不到该资源" and en.json()["detail"] == "not found"


def test_a_refused_size_reads_in_the_readers_language(client: TestClient, db: Settings) -> None:
    long = "/api/layers?q=" + "x" * db.max_url_bytes
    zh = client.get(long)
    en = client.get(long, headers={"Accept-Language": "en"})
    assert zh.status_code == en.status_code == 414
    assert zh.json()["code"] == en.json()["code"] == "uri_too_long"
    assert zh.json()["detail"].startswith("网址过长") and " / " not in zh.json()["detail"]
    assert en.json()["detail"].startswith("the URL is ") and not _CJK.search(en.json()["detail"])


def test_a_refused_workflow_step_names_steps_by_their_labels_in_chinese(
    client: TestClient, void: dict[str, Any]
) -> None:
    url = f"/api/assets/road_voids/{void['id']}/steps"
    zh = client.post(url, json={"step": "closed"})
    en = client.post(url, json={"step": "closed"}, headers={"Accept-Language": "en"})
    assert zh.status_code == en.status_code == 409
    assert zh.json()["code"] == en.json()["code"] == "not_next_step"
    assert "“已销号”" in zh.json()["detail"] and "下一步是“确权”" in zh.json()["detail"]
    assert not re.search(r"[A-Za-z]", zh.json()["detail"]), zh.json()["detail"]  # no step codes
    assert en.json()["detail"].endswith("the next step is assigned") and not _CJK.search(en.json()["detail"])


def test_a_refused_right_names_role_action_and_layer_in_the_readers_language(
    client: TestClient, users: dict[Role, Any], void: dict[str, Any]
) -> None:
    url = f"/api/assets/road_voids/{void['id']}"
    viewer = users[Role.VIEWER].bearer
    zh = client.delete(url, headers=viewer)
    en = client.delete(url, headers={**viewer, "Accept-Language": "en"})
    assert zh.status_code == en.status_code == 403
    assert zh.json()["code"] == en.json()["code"] == "permission_denied"
    assert zh.json()["detail"] == "只读用户无权删除“道路脱空隐患”", zh.json()
    assert en.json()["detail"] == "role viewer may not delete on layer 'road_voids'"
    assert zh.json()["params"]["action"] == "delete" and zh.json()["params"]["role"] == "viewer"


def test_an_unknown_asset_and_a_stale_version_read_in_the_readers_language(
    client: TestClient, void: dict[str, Any]
) -> None:
    missing = client.get("/api/assets/road_voids/00000000-0000-0000-0000-000000000000/history")
    assert missing.status_code == 404
    assert (
        missing.json()["detail"] == "“道路脱空隐患”中没有编号为 00000000-0000-0000-0000-000000000000 的资产"
    )
    stale = client.patch(
        f"/api/assets/road_voids/{void['id']}",
        json={"properties": {"notes": "x"}, "version": 99},
        headers={"Accept-Language": "zh-CN"},
    )
    assert stale.status_code == 409 and stale.json()["code"] == "version_conflict", stale.text
    assert stale.json()["detail"].startswith("该资产已被他人修改") and stale.json()["current_version"] == 1


def test_a_bad_search_parameter_reads_in_the_readers_language(client: TestClient) -> None:
    zh = client.get("/api/search", params={"radius": "far", "lon": 113.24, "lat": 35.21})
    en = client.get("/api/search", params={"radius": "far", "lon": 113.24, "lat": 35.21, "lang": "en"})
    assert zh.status_code == en.status_code == 400 and zh.json()["parameter"] == "radius"
    assert zh.json()["detail"] == "参数 radius 无效：应为数字"
    assert en.json()["detail"] == "radius: expected a number"
    assert zh.json()["params"]["reason"] == {"msg": "not_number", "params": {}}
