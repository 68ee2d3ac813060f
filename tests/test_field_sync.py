"""Field capture's server side (issue 14): what a phone's offline queue sends is written
once per idempotency key, through the API's own store functions and rights, recorded in
history as ``field:<batch>``, undoable like an import; conflicts show both versions."""

from __future__ import annotations

import io
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import psycopg
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from registry import accounts, store
from registry.catalog import LayerCatalog
from registry.permissions import Role
from registry.settings import Settings
from tests.authkit import Account, login, make_accounts, make_asset
from tests.factories import CENTRE, make_json_properties, make_properties, sample_geometry_for
from tests.live_server import live_server
from web.app import create_app

SUBMIT = "/api/field/submissions"


@pytest.fixture
def field_api(
    db: Settings, conn: psycopg.Connection, tmp_path: Any
) -> Iterator[tuple[TestClient, dict[Role, Account]]]:
    users = make_accounts(conn)
    settings = db.model_copy(update={"data_dir": tmp_path})
    with TestClient(create_app(settings)) as client:
        yield client, users


def _png(color: str = "orange") -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (48, 32), color).save(buf, "PNG")
    return buf.getvalue()


def _manhole(catalog: LayerCatalog, n: int = 1, **over: Any) -> dict[str, Any]:
    """A create submission of a manhole at the phone's GPS position."""
    return {
        "kind": "create",
        "layer": "manholes",
        "properties": make_json_properties(catalog.get("manholes"), n, **over),
        "position": {"lon": CENTRE[0], "lat": CENTRE[1], "accuracy_m": 4.5, "source": "gps"},
        "recorded_at": "2026-11-03T09:30:00+08:00",
    }


def _send(
    client: Any, who: Account, body: dict[str, Any], key: str | None = None, **params: Any
) -> httpx.Response:
    headers = {**who.bearer, "Idempotency-Key": key or str(uuid.uuid4()), "X-Field-Device": "phone-1"}
    return client.post(SUBMIT, json=body, headers=headers, params=params)


def _history(conn: psycopg.Connection, asset_id: Any) -> list[tuple[str, str, str]]:
    conn.rollback()
    rows = conn.execute(
        "SELECT action, actor, via FROM asset_history WHERE asset_id = %s ORDER BY id", (asset_id,)
    ).fetchall()
    conn.rollback()
    return [tuple(r) for r in rows]


def test_a_photo_upload_is_idempotent_by_content_and_served_to_its_uploader(field_api: Any) -> None:
    client, users = field_api
    surveyor = users[Role.SURVEYOR]
    form = {"taken_at": "2026-11-03T09:29:00+08:00", "lon": str(CENTRE[0]), "lat": str(CENTRE[1])}
    first = client.post(
        "/api/field/photos",
        files={"file": ("a.png", _png(), "image/png")},
        data=form,
        headers=surveyor.bearer,
    )
    assert first.status_code == 201, first.text
    again = client.post(
        "/api/field/photos", files={"file": ("b.png", _png(), "image/png")}, headers=surveyor.bearer
    )
    assert again.status_code == 200 and again.json() == first.json()
    body = first.json()
    assert body["url"] == f"/api/photos/{body['sha256']}" and body["thumb_url"] == body["url"] + "/thumb"
    # before it belongs to an asset, only its uploader sees it
    assert client.get(body["url"], headers=surveyor.bearer).content == _png()
    assert client.get(body["thumb_url"], headers=surveyor.bearer).status_code == 200
    assert client.get(body["url"], headers=users[Role.PLANNER].bearer).status_code == 404
    not_image = client.post(
        "/api/field/photos", files={"file": ("x.jpg", b"not a photo", "image/jpeg")}, headers=surveyor.bearer
    )
    assert not_image.status_code == 422 and not_image.json()["code"] == "photo_rejected"


def test_a_create_with_a_photo_answers_the_same_when_replayed_and_writes_once(
    field_api: Any, conn: psycopg.Connection, catalog: LayerCatalog
) -> None:
    client, users = field_api
    surveyor = users[Role.SURVEYOR]
    up = client.post(
        "/api/field/photos",
        files={"file": ("cover.png", _png(), "image/png")},
        data={
            "taken_at": "2026-11-03T09:29:00+08:00",
            "lon": "113.2419",
            "lat": "35.2156",
            "accuracy_m": "3",
        },
        headers=surveyor.bearer,
    ).json()
    body = _manhole(catalog) | {"photos": [{"sha256": up["sha256"]}]}
    key = str(uuid.uuid4())
    first = _send(client, surveyor, body, key)
    assert first.status_code == 201, first.text
    created = first.json()
    assert created["kind"] == "create" and created["layer"] == "manholes"
    assert created["asset"]["code"] == body["properties"]["code"] and created["asset"]["version"] == 1
    assert created["via"] == f"field:{created['batch']}" and "Idempotent-Replayed" not in first.headers

    for _ in range(2):  # the phone never heard the answer and sends again
        again = _send(client, surveyor, body, key)
        assert again.status_code == 201 and again.content == first.content
        assert again.headers["Idempotent-Replayed"] == "true"

    asset_id = created["asset"]["id"]
    assert _history(conn, asset_id) == [("create", "surveyor", created["via"])]
    photos = client.get(f"/api/assets/manholes/{asset_id}/photos", headers=users[Role.VIEWER].bearer).json()
    (photo,) = photos["photos"]
    assert photo["sha256"] == up["sha256"] and photo["taken_at"].startswith("2026-11-03T01:29:00")
    assert photo["position"] == {"lon": 113.2419, "lat": 35.2156, "accuracy_m": 3.0}
    assert client.get(photo["url"], headers=users[Role.VIEWER].bearer).status_code == 200
    (n_assets,) = conn.execute("SELECT count(*) FROM manholes").fetchone()
    (n_keys,) = conn.execute("SELECT count(*) FROM field_submissions").fetchone()
    conn.rollback()
    assert (n_assets, n_keys) == (1, 1)
    (batch,) = client.get("/api/field/batches", headers=surveyor.bearer).json()["batches"]
    assert batch["id"] == created["batch"] and batch["device"] == "phone-1"
    assert batch["counts"] == {"creates": 1, "updates": 0, "inspections": 0, "steps": 0, "photos": 1}


def test_two_sends_of_one_key_at_once_write_once(
    db: Settings, conn: psycopg.Connection, catalog: LayerCatalog
) -> None:
    """Both requests are in the server together: the first holds the key (and is kept
    waiting on a lock the test holds), the second waits on the first's key."""
    users = make_accounts(conn)
    surveyor = users[Role.SURVEYOR]
    # a second token of the same account (the phone's two tries need not share one)
    token = accounts.create_token(conn, accounts.get_user(conn, "surveyor"), name="phone 2")
    conn.commit()
    tries = [surveyor, Account("surveyor", "", token.token, Role.SURVEYOR)]
    body = _manhole(catalog)
    key = str(uuid.uuid4())
    assert db.database_url
    with live_server(db.database_url) as base, psycopg.connect(db.database_url) as blocker:
        blocker.execute("LOCK TABLE field_batches IN EXCLUSIVE MODE")
        answers: list[httpx.Response] = []

        def send(who: Account) -> None:
            answers.append(_send(httpx.Client(base_url=base, timeout=60), who, body, key))

        threads = [threading.Thread(target=send, args=(who,)) for who in tries]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 30
        while True:  # both requests waiting: one on the test's lock, one on the other's key
            (waiting,) = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock' AND query ILIKE '%%field_%%'"
            ).fetchone()
            conn.rollback()
            if waiting == 2 or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert waiting == 2
        blocker.rollback()
        for t in threads:
            t.join(timeout=60)
    assert sorted(a.status_code for a in answers) == [201, 201]
    assert answers[0].content == answers[1].content
    assert sorted(a.headers.get("Idempotent-Replayed", "") for a in answers) == ["", "true"]
    (n_assets,) = conn.execute("SELECT count(*) FROM manholes").fetchone()
    (n_history,) = conn.execute("SELECT count(*) FROM asset_history").fetchone()
    assert (n_assets, n_history) == (1, 1)


def test_a_key_needs_to_be_sent_and_is_never_reused_for_another_body(
    field_api: Any, catalog: LayerCatalog
) -> None:
    client, users = field_api
    surveyor = users[Role.SURVEYOR]
    missing = client.post(SUBMIT, json=_manhole(catalog), headers=surveyor.bearer)
    assert missing.status_code == 428 and missing.json()["code"] == "idempotency_key_required"
    assert missing.json()["detail"].startswith("请求须带 Idempotency-Key")
    bad = _send(client, surveyor, _manhole(catalog), "not-a-uuid")
    assert bad.status_code == 400 and bad.json()["parameter"] == "Idempotency-Key"
    key = str(uuid.uuid4())
    assert _send(client, surveyor, _manhole(catalog, 1), key).status_code == 201
    reused = _send(client, surveyor, _manhole(catalog, 2), key)
    assert reused.status_code == 422 and reused.json()["code"] == "idempotency_key_reused"
    assert reused.json()["detail"].startswith("此 Idempotency-Key 已用于")
    english = _send(client, surveyor, _manhole(catalog, 2), key, lang="en")
    assert english.json()["detail"].startswith("this Idempotency-Key was used for a different submission")
    # another account's key is its own
    admin = _send(client, users[Role.ADMIN], _manhole(catalog, 3), key)
    assert admin.status_code == 201


def test_a_refused_record_is_kept_with_its_key_and_replayed(
    field_api: Any, conn: psycopg.Connection, catalog: LayerCatalog
) -> None:
    client, users = field_api
    surveyor = users[Role.SURVEYOR]
    body = _manhole(catalog, kind="no_such_kind")
    key = str(uuid.uuid4())
    first = _send(client, surveyor, body, key)
    assert first.status_code == 422 and first.json()["code"] == "invalid_feature", first.text
    assert first.headers["content-type"] == "application/problem+json"
    # the same rule and words as the API's own create
    direct = client.post(
        "/ogc/collections/manholes/items",
        json={
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": list(CENTRE)},
            "properties": body["properties"],
        },
        headers=surveyor.bearer,
    )
    assert direct.status_code == 422 and direct.json()["errors"] == first.json()["errors"]
    again = _send(client, surveyor, body, key)
    assert (again.status_code, again.content) == (422, first.content)
    assert again.headers["Idempotent-Replayed"] == "true"
    schema = _send(client, surveyor, {"kind": "delete", "layer": "manholes"})
    assert schema.status_code == 422 and schema.json()["code"] == "invalid_parameter"
    (n_assets,) = conn.execute("SELECT count(*) FROM manholes").fetchone()
    assert n_assets == 0


def test_an_inaccurate_gps_position_is_refused_and_a_tapped_one_accepted(
    field_api: Any, catalog: LayerCatalog
) -> None:
    client, users = field_api
    surveyor = users[Role.SURVEYOR]
    config = client.get("/api/field/config", headers=surveyor.bearer).json()
    assert config["max_accuracy_m"] == 10
    vague = _manhole(catalog) | {
        "position": {"lon": CENTRE[0], "lat": CENTRE[1], "accuracy_m": 35, "source": "gps"}
    }
    refused = _send(client, surveyor, vague)
    assert refused.status_code == 422 and refused.json()["code"] == "position_inaccurate"
    assert "35" in refused.json()["detail"] and "10" in refused.json()["detail"]
    assert refused.json()["detail"].startswith("定位精度 35 米，超过允许的 10 米")
    english = _send(client, surveyor, vague, lang="en")
    assert english.json()["detail"].startswith("position accuracy 35 m is worse than the allowed 10 m")
    # the language as every problem picks it: ?lang=, else Accept-Language
    headers = {**surveyor.bearer, "Idempotency-Key": str(uuid.uuid4()), "Accept-Language": "en-GB,en;q=0.9"}
    told = client.post(SUBMIT, json=vague, headers=headers).json()
    assert told["detail"] == english.json()["detail"]
    (entry,) = told["errors"]
    assert entry["field"] == "position.accuracy_m" and entry["code"] == "field_position_inaccurate"
    assert entry["params"] == {"accuracy": "35", "max": "10"} and entry["message"].startswith(
        "position accuracy"
    )
    tapped = vague | {"position": {"lon": CENTRE[0], "lat": CENTRE[1], "accuracy_m": 35, "source": "map"}}
    assert _send(client, surveyor, tapped).status_code == 201


def test_an_inspection_and_a_step_go_through_the_apis_own_rules(
    field_api: Any, conn: psycopg.Connection, catalog: LayerCatalog
) -> None:
    client, users = field_api
    officer = users[Role.OFFICER]
    spec = catalog.get("road_voids")
    props = make_properties(spec, 1, status="found")
    for f in ("assigned_on", "assigned_by", "remediated_on", "remediated_by", "closed_on", "closed_by"):
        props[f] = None
    props["responsible_unit"] = None
    void = store.create_asset(conn, spec, props=props, geom=sample_geometry_for(spec), actor="surveyor")
    conn.commit()
    up = client.post(
        "/api/field/photos", files={"file": ("void.png", _png("red"), "image/png")}, headers=officer.bearer
    ).json()
    inspection = {
        "kind": "inspection",
        "layer": "road_voids",
        "asset_id": str(void["id"]),
        "inspection": {"inspected_at": "2026-11-03T10:00:00+08:00", "result": "problem", "notes": "路面裂缝"},
        "photos": [
            {"sha256": up["sha256"], "lon": CENTRE[0], "lat": CENTRE[1], "taken_at": "2026-11-03T09:59:00"}
        ],
    }
    done = _send(client, officer, inspection)
    assert done.status_code == 201, done.text
    listed = client.get(f"/api/assets/road_voids/{void['id']}/inspections", headers=officer.bearer).json()
    (recorded,) = listed["inspections"]
    assert recorded["id"] == done.json()["inspection_id"] and recorded["notes"] == "路面裂缝"
    assert [p["sha256"] for p in recorded["photos"]] == [up["sha256"]]
    (photo,) = client.get(f"/api/assets/road_voids/{void['id']}/photos", headers=officer.bearer).json()[
        "photos"
    ]
    # a time without an offset is China Standard Time, as everywhere in the API
    assert photo["taken_at"].startswith("2026-11-03T01:59:00")
    assert (photo["position"]["lon"], photo["position"]["lat"]) == CENTRE
    bad = _send(client, officer, inspection | {"inspection": {"result": "fine"}})
    assert bad.status_code == 400 and bad.json()["parameter"] == "result"

    step = {"kind": "step", "layer": "road_voids", "asset_id": str(void["id"]), "base_version": 1}
    missing = _send(client, officer, step | {"step": {"step": "assigned"}})
    assert missing.status_code == 422 and missing.json()["code"] == "step_requirements_missing"
    assert missing.json()["errors"][0]["field"] == "responsible_unit"
    taken = _send(
        client,
        officer,
        step | {"step": {"step": "assigned", "fields": {"responsible_unit": "焦作市排水管理处"}}},
    )
    assert taken.status_code == 201, taken.text
    assert taken.json()["asset"]["version"] == 2
    via = taken.json()["via"]
    assert done.json()["via"] == via  # one officer, one phone, one day: one batch
    assert _history(conn, void["id"]) == [
        ("create", "surveyor", "api"),
        ("create", "officer", via),
        ("update", "officer", via),
    ]
    viewer = _send(client, users[Role.VIEWER], inspection)
    assert viewer.status_code == 403 and viewer.json()["code"] == "permission_denied"

    # the officer's day undone by an admin: the step is reopened, the inspection removed
    undone = client.post(f"/api/undo/{via}", headers=users[Role.ADMIN].bearer)
    assert undone.status_code == 200, undone.text
    conn.rollback()
    back = store.get_asset(conn, spec, void["id"])
    assert (back["status"], back["responsible_unit"]) == ("found", None)
    (left,) = conn.execute("SELECT count(*) FROM inspections WHERE asset_id = %s", (void["id"],)).fetchone()
    conn.rollback()
    assert left == 0


def test_a_conflicting_update_shows_both_versions_and_overwrites_nothing(
    field_api: Any, conn: psycopg.Connection, catalog: LayerCatalog
) -> None:
    client, users = field_api
    surveyor, admin = users[Role.SURVEYOR], users[Role.ADMIN]
    manhole = make_asset(conn, catalog, "manholes")
    url = f"/api/assets/manholes/{manhole['id']}"
    meanwhile = client.patch(
        url, json={"properties": {"road_name": "塔南路"}, "version": 1}, headers=admin.bearer
    )
    assert meanwhile.status_code == 200, meanwhile.text
    mine = {
        "kind": "update",
        "layer": "manholes",
        "asset_id": str(manhole["id"]),
        "base_version": 1,
        "properties": {"road_name": "解放路"},
    }
    key = str(uuid.uuid4())
    conflict = _send(client, surveyor, mine, key)
    assert conflict.status_code == 409, conflict.text
    problem = conflict.json()
    assert problem["code"] == "version_conflict" and problem["current_version"] == 2
    assert problem["yours"] == {
        "base_version": 1,
        "properties": {"road_name": "解放路"},
        "geometry": None,
        "step": None,
    }
    theirs = problem["theirs"]
    assert theirs["version"] == 2 and theirs["properties"]["road_name"] == "塔南路"
    assert theirs["updated_by"] == "admin" and theirs["updated_at"] and theirs["geometry"]["type"] == "Point"
    assert problem["detail"].startswith(f"{manhole['code']} 已由 admin 于")
    replay = _send(client, surveyor, mine, key)
    assert (replay.status_code, replay.content) == (409, conflict.content)
    conn.rollback()
    assert store.get_asset(conn, catalog.get("manholes"), manhole["id"])["road_name"] == "塔南路"
    conn.rollback()
    no_base = _send(client, surveyor, {k: v for k, v in mine.items() if k != "base_version"})
    assert no_base.status_code == 422 and no_base.json()["code"] == "base_version_required"
    resolved = _send(client, surveyor, mine | {"base_version": 2})
    assert resolved.status_code == 201 and resolved.json()["asset"]["version"] == 3


def test_rights_are_the_apis_own(field_api: Any, conn: psycopg.Connection, catalog: LayerCatalog) -> None:
    client, users = field_api
    viewer = users[Role.VIEWER]
    refused = _send(client, viewer, _manhole(catalog))
    assert refused.status_code == 403 and refused.json()["code"] == "permission_denied"
    photo = client.post(
        "/api/field/photos", files={"file": ("a.png", _png(), "image/png")}, headers=viewer.bearer
    )
    assert photo.status_code == 403
    assert client.get("/api/field/config", headers=viewer.bearer).json()["layers"] == []
    # a planner creates parking, not manholes
    assert _send(client, users[Role.PLANNER], _manhole(catalog)).status_code == 403
    names = [
        x["name"]
        for x in client.get("/api/field/config", headers=users[Role.PLANNER].bearer).json()["layers"]
    ]
    assert "parking" in names
    # the browser's session works with the CSRF token, never without it
    csrf = login(client, users[Role.SURVEYOR])
    headers = {"Idempotency-Key": str(uuid.uuid4())}
    no_token = client.post(SUBMIT, json=_manhole(catalog), headers=headers)
    assert no_token.status_code == 403 and no_token.json()["code"] == "csrf_failed"
    with_token = client.post(SUBMIT, json=_manhole(catalog), headers=headers | {"X-CSRF-Token": csrf})
    assert with_token.status_code == 201, with_token.text
    assert client.post(SUBMIT, json=_manhole(catalog)).status_code in (401, 403)


def test_the_config_is_the_maps_form_declaration(field_api: Any) -> None:
    client, users = field_api
    config = client.get("/api/field/config", headers=users[Role.SURVEYOR].bearer).json()
    layers = {x["name"]: x for x in config["layers"]}
    catalog_layers = {x["name"]: x for x in client.get("/api/layers").json()["layers"]}
    manholes = layers["manholes"]
    assert manholes["attrs"] == catalog_layers["manholes"]["attrs"]
    assert "create" in manholes["permissions"] and manholes["geometry_types"] == ["Point"]
    code = next(a for a in manholes["attrs"] if a["name"] == "code")
    assert code["required"] and code["max_length"] == 64 and code["zh"] == "编号"
    kind = next(a for a in manholes["attrs"] if a["name"] == "kind")
    assert kind["choices"][0]["zh"] and kind["choices"][0]["en"]
    assert [r["code"] for r in config["inspection_results"]] == ["normal", "problem", "hazard"]


def test_undoing_a_batch_puts_everything_back(
    field_api: Any, conn: psycopg.Connection, catalog: LayerCatalog
) -> None:
    client, users = field_api
    surveyor = users[Role.SURVEYOR]
    existing = make_asset(conn, catalog, "manholes", 7)
    created = _send(client, surveyor, _manhole(catalog, 1)).json()
    changed = _send(
        client,
        surveyor,
        {
            "kind": "update",
            "layer": "manholes",
            "asset_id": str(existing["id"]),
            "base_version": 1,
            "properties": {"road_name": "人民路"},
        },
    )
    assert changed.status_code == 201, changed.text
    via = created["via"]
    assert changed.json()["via"] == via
    history = client.get("/api/history", params={"via": via}, headers=users[Role.ADMIN].bearer).json()
    assert [(e["action"], e["actor"]) for e in history["entries"]] == [
        ("create", "surveyor"),
        ("update", "surveyor"),
    ]

    # another surveyor's batch is not theirs to undo; the undo right (admin) or the owner may
    other = client.post(f"/api/undo/{via}", headers=users[Role.PLANNER].bearer)
    assert other.status_code == 403
    undone = client.post(f"/api/undo/{via}", headers=surveyor.bearer)
    assert undone.status_code == 200, undone.text
    assert undone.json()["deleted"] == 1 and undone.json()["reverted"] == 1
    conn.rollback()
    spec = catalog.get("manholes")
    assert store.get_asset(conn, spec, existing["id"])["road_name"] == existing["road_name"]
    with pytest.raises(store.AssetNotFound):
        store.get_asset(conn, spec, created["asset"]["id"])
    conn.rollback()
    (batch,) = client.get("/api/field/batches", headers=surveyor.bearer).json()["batches"]
    assert batch["undone_by"] == "surveyor" and batch["undone_at"]
    assert client.get("/api/field/batches", headers=users[Role.PLANNER].bearer).json()["batches"] == []
    assert len(client.get("/api/field/batches", headers=users[Role.ADMIN].bearer).json()["batches"]) == 1

    # recorded again the same day on the same phone: the day's next batch, undone on its own
    again = _send(client, surveyor, _manhole(catalog, 2)).json()
    assert again["batch"] != created["batch"]
    latest, first = client.get("/api/field/batches", headers=surveyor.bearer).json()["batches"]
    assert (latest["id"], latest["undone_at"], latest["counts"]["creates"]) == (again["batch"], None, 1)
    assert first["id"] == created["batch"] and first["counts"]["creates"] == 1
    assert client.post(f"/api/undo/{again['via']}", headers=surveyor.bearer).json()["deleted"] == 1


def test_an_inspections_outcome_is_part_of_the_batch_and_undone_with_it(
    field_api: Any, conn: psycopg.Connection, catalog: LayerCatalog
) -> None:
    """What an inspection sets on its asset and the hazard it raises (the layers'
    declarations, as ``POST …/inspections`` takes them) are writes of the field batch."""
    client, users = field_api
    officer = users[Role.OFFICER]
    manhole = make_asset(conn, catalog, "manholes", 3)
    sent = _send(
        client,
        officer,
        {
            "kind": "inspection",
            "layer": "manholes",
            "asset_id": str(manhole["id"]),
            "inspection": {
                "result": "hazard",
                "inspected_at": "2026-11-03T09:30:00+08:00",
                "notes": "井周路面下沉",
                "set": {"condition": "sunken"},
                "raise": {"layer": "road_voids", "risk_grade": "II"},
            },
        },
    )
    assert sent.status_code == 201, sent.text
    answer = sent.json()
    via, raised = answer["via"], answer["raised"]
    assert answer["asset"]["version"] == 2 and raised["layer"] == "road_voids"
    assert [e[2] for e in _history(conn, manhole["id"])] == ["api", via, via]  # update + inspection
    assert _history(conn, raised["id"]) == [("create", "officer", via)]

    undone = client.post(f"/api/undo/{via}", headers=officer.bearer)  # officers undo their own day
    assert undone.status_code == 200, undone.text
    conn.rollback()
    assert store.get_asset(conn, catalog.get("manholes"), manhole["id"])["condition"] == manhole["condition"]
    with pytest.raises(store.AssetNotFound):
        store.get_asset(conn, catalog.get("road_voids"), raised["id"])
    conn.rollback()


def test_a_malformed_submission_is_the_usual_problem_in_the_readers_language(
    field_api: Any, catalog: LayerCatalog
) -> None:
    client, users = field_api
    body = _manhole(catalog) | {"layer": "x" * 101, "base_version": 0}
    key = str(uuid.uuid4())
    zh = _send(client, users[Role.SURVEYOR], body, key)
    assert zh.status_code == 422 and zh.json()["code"] == "invalid_parameter"
    fields = {e["parameter"]: e for e in zh.json()["errors"]}
    assert set(fields) == {"body.layer", "body.base_version"}
    assert fields["body.layer"]["message"] == "至多 100 个字符"
    # replayed as it was answered, whatever language the resend asks for
    en = _send(client, users[Role.SURVEYOR], body, key, lang="en")
    assert (en.status_code, en.content) == (422, zh.content) and en.headers["Idempotent-Replayed"] == "true"


def test_an_edit_beyond_the_roles_rights_is_refused_in_the_readers_language(
    field_api: Any, conn: psycopg.Connection, catalog: LayerCatalog
) -> None:
    """An officer moves a void through its lifecycle but may not rename its road: the
    refusal names the role, the field and the layer by their Chinese labels on a Chinese
    phone, in English on an English one, and nothing changes."""
    client, users = field_api
    void = make_asset(conn, catalog, "road_voids")
    body = {
        "kind": "update",
        "layer": "road_voids",
        "asset_id": str(void["id"]),
        "base_version": 1,
        "properties": {"road_name": "外业改的路名"},
    }
    zh = _send(client, users[Role.OFFICER], body)
    assert zh.status_code == 403 and zh.json()["code"] == "permission_denied", zh.text
    assert "道路名称" in zh.json()["detail"] and "道路脱空" in zh.json()["detail"]
    assert "road_name" not in zh.json()["detail"] and "may not" not in zh.json()["detail"]
    en = _send(client, users[Role.OFFICER], body, lang="en")
    assert en.status_code == 403 and "may not change road_name of road_voids" in en.json()["detail"]
    conn.rollback()
    row = conn.execute("SELECT road_name, version FROM road_voids WHERE id = %s", (void["id"],)).fetchone()
    assert row == (void["road_name"], 1)


def test_an_update_of_no_asset_or_of_nothing_is_refused_in_the_readers_language(
    field_api: Any, conn: psycopg.Connection, catalog: LayerCatalog
) -> None:
    client, users = field_api
    surveyor = users[Role.SURVEYOR]
    body = {"kind": "update", "layer": "manholes", "asset_id": "JG-0001", "base_version": 1}
    missing = _send(client, surveyor, body | {"properties": {"notes": "x"}})
    assert missing.status_code == 404 and missing.json()["code"] == "feature_not_found"
    assert "窨井" in missing.json()["detail"] and "JG-0001" in missing.json()["detail"]
    en = _send(client, surveyor, body | {"properties": {"notes": "x"}}, lang="en")
    assert en.json()["detail"] == "no manholes asset with id JG-0001"
    manhole = make_asset(conn, catalog, "manholes")
    empty = _send(client, surveyor, body | {"asset_id": str(manhole["id"]), "properties": {}})
    assert empty.status_code == 422 and empty.json()["detail"] == "没有要修改的内容：请给出属性或几何"
