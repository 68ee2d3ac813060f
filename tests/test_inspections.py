"""Inspections (巡查记录) of any asset through the API, with photos; recorded in the
asset's history; INSPECT as the layers grant it; the hazard dossier (一患一档) PDF."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from pypdf import PdfReader

from registry.catalog import LayerCatalog
from registry.permissions import Action, Role, allowed
from registry.settings import Settings
from tests.authkit import Account, make_accounts, make_asset
from web.app import create_app


@pytest.fixture
def setup(
    db: Settings, catalog: LayerCatalog, tmp_path: Any
) -> Iterator[tuple[TestClient, dict[Role, Account], Any]]:
    assert db.database_url
    settings = db.model_copy(update={"data_dir": tmp_path})
    with psycopg.connect(db.database_url) as conn:
        accounts = make_accounts(conn)
        assets = {layer: make_asset(conn, catalog, layer) for layer in catalog.names()}
    with TestClient(create_app(settings, catalog)) as client:
        yield client, accounts, assets


def _png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (40, 30), "orange").save(buf, "PNG")
    return buf.getvalue()


def test_officers_may_inspect_every_layer(catalog: LayerCatalog) -> None:
    for spec in catalog:
        assert allowed(Role.OFFICER, Action.INSPECT, spec), spec.name
        assert not allowed(Role.VIEWER, Action.INSPECT, spec)


def test_record_and_list_an_inspection_of_any_asset(setup: Any, db: Settings, catalog: LayerCatalog) -> None:
    client, accounts, assets = setup
    officer = accounts[Role.OFFICER].bearer
    for layer, asset in assets.items():
        url = f"/api/assets/{layer}/{asset['id']}/inspections"
        r = client.post(
            url,
            json={"inspected_at": "2026-11-03T09:30:00+08:00", "result": "problem", "notes": "井盖松动"},
            headers=officer,
        )
        assert r.status_code == 201, (layer, r.text)
        assert r.json()["inspector"] == "officer" and r.json()["result_zh"] == "发现问题"
        listed = client.get(url, headers=accounts[Role.VIEWER].bearer).json()["inspections"]
        assert [i["notes"] for i in listed] == ["井盖松动"]
    assert db.database_url
    with psycopg.connect(db.database_url) as conn:
        entries = conn.execute(
            "SELECT layer, actor FROM asset_history WHERE child_table = 'inspections' ORDER BY id"
        ).fetchall()
    assert entries == [(layer, "officer") for layer in assets]


def test_an_inspection_with_photos(setup: Any) -> None:
    client, accounts, assets = setup
    void = assets["road_voids"]
    url = f"/api/assets/road_voids/{void['id']}/inspections"
    r = client.post(
        url,
        data={"result": "hazard", "inspector": "巡查员张三", "notes": "路面下沉"},
        files=[("photos", ("site.png", _png(), "image/png"))],
        headers=accounts[Role.OFFICER].bearer,
    )
    assert r.status_code == 201, r.text
    (photo,) = r.json()["photos"]
    got = client.get(photo["url"], headers=accounts[Role.VIEWER].bearer)
    assert got.status_code == 200 and got.content == _png()
    # the photo is the asset's too
    photos = client.get(f"/api/assets/road_voids/{void['id']}/photos", headers=accounts[Role.VIEWER].bearer)
    assert [p["sha256"] for p in photos.json()["photos"]] == [photo["sha256"]]


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"result": "fine"}, 400),
        ({"result": "normal", "inspected_at": "2999-01-01T00:00:00Z"}, 400),
        ({"result": "normal", "inspected_at": "yesterday"}, 400),
    ],
)
def test_bad_inspections_are_refused(setup: Any, body: dict[str, Any], status: int) -> None:
    client, accounts, assets = setup
    url = f"/api/assets/manholes/{assets['manholes']['id']}/inspections"
    r = client.post(url, json=body, headers=accounts[Role.OFFICER].bearer)
    assert r.status_code == status, r.text


def test_who_may_inspect(setup: Any) -> None:
    client, accounts, assets = setup
    url = f"/api/assets/parking/{assets['parking']['id']}/inspections"
    assert (
        client.post(url, json={"result": "normal"}, headers=accounts[Role.VIEWER].bearer).status_code == 403
    )
    assert client.post(url, json={"result": "normal"}).status_code == 401
    missing = "/api/assets/parking/00000000-0000-0000-0000-000000000000/inspections"
    assert (
        client.post(missing, json={"result": "normal"}, headers=accounts[Role.OFFICER].bearer).status_code
        == 404
    )


def test_dossier_pdf(setup: Any) -> None:
    client, accounts, assets = setup
    void = assets["road_voids"]
    client.post(
        f"/api/assets/road_voids/{void['id']}/inspections",
        data={"result": "hazard", "notes": "路面下沉明显"},
        files=[("photos", ("site.png", _png(), "image/png"))],
        headers=accounts[Role.OFFICER].bearer,
    )
    r = client.get(f"/api/assets/road_voids/{void['id']}/dossier.pdf", headers=accounts[Role.VIEWER].bearer)
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    assert r.content.startswith(b"%PDF")
    reader = PdfReader(io.BytesIO(r.content))
    text = "".join(p.extract_text() for p in reader.pages)
    for expected in (
        "一患一档",
        void["code"],
        "巡查记录",
        "路面下沉明显",
        "变更记录",
        "风险等级",
    ):
        assert expected in text, expected
    # the photo is drawn
    assert any(page.images for page in reader.pages)
    gone = client.get(
        "/api/assets/road_voids/00000000-0000-0000-0000-000000000000/dossier.pdf",
        headers=accounts[Role.VIEWER].bearer,
    )
    assert gone.status_code == 404


def test_an_inspection_sets_the_declared_condition_with_itself_as_the_reason(setup: Any) -> None:
    client, accounts, assets = setup
    manhole = assets["manholes"]
    officer, viewer = accounts[Role.OFFICER].bearer, accounts[Role.VIEWER].bearer
    url = f"/api/assets/manholes/{manhole['id']}/inspections"
    offered = client.get(url, headers=viewer).json()
    assert [s["name"] for s in offered["sets"]] == ["condition"]
    assert "road_voids" in [r["layer"] for r in offered["raises"]]
    before = client.get(f"/ogc/collections/manholes/items/{manhole['id']}", headers=viewer).json()
    condition = "sunken" if before["properties"]["condition"] != "sunken" else "damaged"
    r = client.post(url, json={"result": "problem", "set": {"condition": condition}}, headers=officer)
    assert r.status_code == 201, r.text
    inspection = r.json()
    assert inspection["changes"] == {"condition": condition}
    after = client.get(f"/ogc/collections/manholes/items/{manhole['id']}", headers=viewer).json()
    assert after["properties"]["condition"] == condition
    assert after["properties"]["version"] == before["properties"]["version"] + 1
    history = client.get(f"/api/assets/manholes/{manhole['id']}/history", headers=viewer).json()
    entries = history["entries"] if isinstance(history, dict) else history
    update = next(e for e in entries if e["action"] == "update" and not e.get("child_table"))
    assert inspection["id"] in update["comment"], update
    assert update["actor"] == "officer"
    assert any(c["field"] == "condition" for c in update["changes"]), update


def test_an_inspection_may_set_only_what_its_layer_declares(setup: Any) -> None:
    client, accounts, assets = setup
    officer = accounts[Role.OFFICER].bearer
    url = f"/api/assets/manholes/{assets['manholes']['id']}/inspections"
    for body in (
        {"result": "problem", "set": {"kind": "rain"}},
        {"result": "problem", "set": {"condition": "exploded"}},
        {"result": "problem", "set": "damaged"},
    ):
        r = client.post(url, json=body, headers=officer)
        assert r.status_code == 400, (body, r.text)
    parking = f"/api/assets/parking/{assets['parking']['id']}/inspections"
    r = client.post(parking, json={"result": "problem", "set": {"capacity": 3}}, headers=officer)
    assert r.status_code == 400, r.text
    # nothing half-done: no inspection was recorded by a refused request
    listed = client.get(url, headers=officer).json()["inspections"]
    assert listed == []


def test_a_raised_hazard_is_a_new_asset_linked_to_the_inspection(setup: Any, db: Settings) -> None:
    client, accounts, assets = setup
    manhole = assets["manholes"]
    officer, viewer = accounts[Role.OFFICER].bearer, accounts[Role.VIEWER].bearer
    url = f"/api/assets/manholes/{manhole['id']}/inspections"
    r = client.post(
        url,
        data={
            "result": "hazard",
            "inspected_at": "2026-11-03T09:30:00+08:00",
            "notes": "井周路面下沉",
            "set.condition": "sunken",
            "raise.layer": "road_voids",
            "raise.risk_grade": "II",
            "raise.road_name": "人民路",
        },
        files=[("photos", ("site.png", _png(), "image/png"))],
        headers=officer,
    )
    assert r.status_code == 201, r.text
    inspection = r.json()
    raised = inspection["raised"]
    assert raised["layer"] == "road_voids"
    void = client.get(f"/ogc/collections/road_voids/items/{raised['id']}", headers=viewer).json()
    props = void["properties"]
    assert props["status"] == "found" and props["risk_grade"] == "II" and props["road_name"] == "人民路"
    assert props["found_on"] == "2026-11-03" and props["found_by"] == "officer"
    assert props["detection_method"] == "visual" and props["notes"] == "井周路面下沉"
    assert void["geometry"]["coordinates"] == manhole["geom"]["coordinates"]
    history = client.get(f"/api/assets/road_voids/{raised['id']}/history", headers=viewer).json()
    entries = history["entries"] if isinstance(history, dict) else history
    created = next(e for e in entries if e["action"] == "create")
    assert inspection["id"] in created["comment"]
    assert db.database_url
    with psycopg.connect(db.database_url) as conn:
        link = conn.execute(
            "SELECT i.raised_layer, i.raised_asset_id::text, v.extra ->> 'raised_by_inspection' "
            "FROM inspections i JOIN road_voids v ON v.id = i.raised_asset_id WHERE i.id = %s",
            (inspection["id"],),
        ).fetchone()
    assert link == ("road_voids", raised["id"], inspection["id"])
    # the manhole's dossier tells what the inspection did
    dossier = client.get(f"/api/assets/manholes/{manhole['id']}/dossier.pdf", headers=viewer)
    assert dossier.status_code == 200, dossier.text
    text = "".join("".join(p.extract_text().split()) for p in PdfReader(io.BytesIO(dossier.content)).pages)
    assert "2026-11-0309:30" in text  # in the bureau's time, as recorded
    assert "巡查变更：井盖状况→沉陷" in text and f"上报隐患：{props['code']}" in text
    # raising needs the hazard result, and the hazard's own rules still hold
    refused = client.post(
        url, json={"result": "problem", "raise": {"layer": "road_voids", "risk_grade": "I"}}, headers=officer
    )
    assert refused.status_code == 400, refused.text
    bad_grade = client.post(
        url, json={"result": "hazard", "raise": {"layer": "road_voids", "risk_grade": "V"}}, headers=officer
    )
    assert bad_grade.status_code == 422, bad_grade.text
