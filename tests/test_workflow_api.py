"""Campaign workflows over HTTP: the next-step action, photos as evidence, the second
person, reopen, who may do what, problems in Chinese then English, and the overdue
filter on /api/search and the OGC items (generated from the declarations)."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from registry import accounts, clock, store
from registry.catalog import LayerCatalog
from registry.permissions import Role
from tests.authkit import Account, _password_hash, make_accounts
from tests.factories import make_properties, sample_geometry_for
from web.app import create_app


def _second_officer(conn: psycopg.Connection) -> Account:
    conn.execute(
        "INSERT INTO users (username, password_hash, role) VALUES ('officer2', %s, 'officer')",
        (_password_hash(Role.OFFICER),),
    )
    user = accounts.get_user(conn, "officer2")
    token = accounts.create_token(conn, user, name="tests", ttl=dt.timedelta(days=1))
    conn.commit()
    return Account("officer2", "", token.token, Role.OFFICER)


@pytest.fixture
def api(db: Any, conn: psycopg.Connection) -> Iterator[tuple[TestClient, dict[Any, Account]]]:
    users: dict[Any, Account] = dict(make_accounts(conn))
    users["officer2"] = _second_officer(conn)
    with TestClient(create_app(db)) as client:  # start-up writes the workflows into the database
        yield client, users


def _void(conn: psycopg.Connection, catalog: LayerCatalog, n: int = 1, **over: Any) -> dict[str, Any]:
    spec = catalog.get("road_voids")
    props = make_properties(spec, n, **({"status": "found"} | over))
    for f in ("assigned_on", "assigned_by", "remediated_on", "remediated_by", "closed_on", "closed_by"):
        props.setdefault(f, None)
        props[f] = over.get(f)
    props["responsible_unit"] = over.get("responsible_unit")
    props["remediation_method"] = over.get("remediation_method")
    props["remediation_contractor"] = over.get("remediation_contractor")
    record = store.create_asset(conn, spec, props=props, geom=sample_geometry_for(spec), actor="surveyor")
    conn.commit()
    return record


def _png(color: str = "red") -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (40, 30), color).save(buf, "PNG")
    return buf.getvalue()


def test_an_officer_takes_a_void_from_found_to_closed_with_evidence(
    api: tuple[TestClient, dict[Any, Account]], conn: psycopg.Connection, catalog: LayerCatalog
) -> None:
    client, users = api
    officer, officer2 = users[Role.OFFICER].bearer, users["officer2"].bearer
    void = _void(conn, catalog)
    base = f"/api/assets/road_voids/{void['id']}"

    state = client.get(f"{base}/workflow", headers=officer).json()
    assert [s["code"] for s in state["steps"]] == ["found", "assigned", "remediating", "remediated", "closed"]
    assert state["current"]["code"] == "found"
    nxt = state["next"]
    assert nxt["code"] == "assigned" and nxt["zh"] == "确权" and nxt["may_take"]
    assert [f["name"] for f in nxt["fields"]] == ["responsible_unit"] and "officer" in nxt["roles"]

    # a step that is not next, a role that may not, a missing field: refused, nothing written
    skipped = client.post(f"{base}/steps", json={"step": "closed"}, headers=officer)
    assert skipped.status_code == 409 and skipped.json()["code"] == "not_next_step"
    assert skipped.headers["content-type"] == "application/problem+json"
    viewer = client.post(f"{base}/steps", json={"step": "assigned"}, headers=users[Role.VIEWER].bearer)
    assert viewer.status_code == 403
    missing = client.post(f"{base}/steps", json={"step": "assigned"}, headers=officer)
    assert missing.status_code == 422
    problem = missing.json()
    assert problem["code"] == "step_requirements_missing"
    assert problem["detail"] == "办理“确权”前：需要责任单位"  # Chinese only, the default
    assert problem["errors"][0]["field"] == "responsible_unit"
    assert (
        problem["errors"][0]["code"] == "step_needs_field"
        and problem["errors"][0]["message"] == "需要责任单位"
    )
    english = client.post(f"{base}/steps?lang=en", json={"step": "assigned"}, headers=officer).json()
    assert english["detail"].startswith("step assigned: ") and "需要" not in english["detail"]
    assert english["errors"][0]["code"] == "step_needs_field"
    assert english["errors"][0]["message"] == "responsible unit is required"

    assigned = client.post(
        f"{base}/steps",
        json={"step": "assigned", "fields": {"responsible_unit": "焦作市排水管理处"}, "comment": "权属明确"},
        headers=officer,
    )
    assert assigned.status_code == 200, assigned.text
    assert assigned.headers["etag"] == '"2"'
    assert (
        client.post(f"{base}/steps", json={"step": "remediating", "version": 2}, headers=officer).status_code
        == 200
    )
    stale = client.post(f"{base}/steps", json={"step": "remediated", "version": 2}, headers=officer)
    assert stale.status_code == 409 and stale.json()["current_version"] == 3

    record = {"remediation_method": "grouting", "remediation_contractor": "焦作市市政工程公司"}
    no_photo = client.post(f"{base}/steps", json={"step": "remediated", "fields": record}, headers=officer)
    assert no_photo.status_code == 422 and no_photo.json()["errors"][0]["field"] == "photos"
    not_image = client.post(
        f"{base}/photos", files=[("photos", ("x.jpg", b"not an image", "image/jpeg"))], headers=officer
    )
    assert not_image.status_code == 422 and not_image.json()["code"] == "photo_rejected"
    up = client.post(
        f"{base}/photos", files=[("photos", ("注浆后.png", _png(), "image/png"))], headers=officer
    )
    assert up.status_code == 201, up.text
    sha = up.json()["photos"][0]["sha256"]
    assert client.get(f"{base}/workflow", headers=officer).json()["next"]["photos_attached"] == 1
    done = client.post(f"{base}/steps", json={"step": "remediated", "fields": record}, headers=officer)
    assert done.status_code == 200, done.text
    assert done.json()["properties"]["remediated_by"] == "officer"

    state = client.get(f"{base}/workflow", headers=officer).json()
    assert state["next"]["code"] == "closed" and state["next"]["not_by"] == "officer"
    assert state["next"]["may_take"] is False
    same = client.post(f"{base}/steps", json={"step": "closed"}, headers=officer)
    assert same.status_code == 403 and same.json()["code"] == "second_person_required"
    closed = client.post(f"{base}/steps", json={"step": "closed", "comment": "复核合格"}, headers=officer2)
    assert closed.status_code == 200, closed.text
    assert closed.json()["properties"]["closed_by"] == "officer2"

    events = client.get(f"{base}/workflow", headers=officer).json()["events"]
    assert [(e["to_status"], e["actor"]) for e in events] == [
        ("assigned", "officer"),
        ("remediating", "officer"),
        ("remediated", "officer"),
        ("closed", "officer2"),
    ]
    assert events[2]["evidence"]["photos"] == [sha]
    history = client.get(f"{base}/history", headers=officer).json()["entries"]
    assert history[-1]["actor"] == "officer2" and history[-1]["comment"] == "复核合格"


def test_reopen_over_http_is_reasoned_recorded_and_refused_to_others(
    api: tuple[TestClient, dict[Any, Account]], conn: psycopg.Connection, catalog: LayerCatalog
) -> None:
    client, users = api
    void = _void(
        conn,
        catalog,
        status="remediated",
        responsible_unit="排水处",
        assigned_on=dt.date(2025, 3, 1),
        remediated_on=dt.date(2025, 3, 5),
        remediated_by="zhang",
        remediation_method="grouting",
        remediation_contractor="市政",
    )
    base = f"/api/assets/road_voids/{void['id']}"
    surveyor = client.post(f"{base}/reopen", json={"reason": "返工"}, headers=users[Role.SURVEYOR].bearer)
    assert surveyor.status_code == 403
    empty = client.post(f"{base}/reopen", json={"reason": ""}, headers=users[Role.OFFICER].bearer)
    assert empty.status_code == 422
    forward = client.post(
        f"{base}/reopen", json={"reason": "x", "to": "closed"}, headers=users[Role.OFFICER].bearer
    )
    assert forward.status_code == 422 and forward.json()["code"] == "invalid_reopen"
    back = client.post(f"{base}/reopen", json={"reason": "注浆不密实"}, headers=users[Role.OFFICER].bearer)
    assert back.status_code == 200, back.text
    assert back.json()["properties"]["status"] == "remediating"
    assert back.json()["properties"]["remediated_on"] is None
    event = client.get(f"{base}/workflow", headers=users[Role.VIEWER].bearer).json()["events"][-1]
    assert (event["kind"], event["comment"], event["actor"]) == ("reopen", "注浆不密实", "officer")


def test_a_status_edit_is_sent_to_the_workflow(
    api: tuple[TestClient, dict[Any, Account]], conn: psycopg.Connection, catalog: LayerCatalog
) -> None:
    client, users = api
    void = _void(conn, catalog)
    response = client.patch(
        f"/api/assets/road_voids/{void['id']}",
        json={"properties": {"status": "closed"}},
        headers=users[Role.ADMIN].bearer,
    )
    assert response.status_code == 422 and response.json()["code"] == "status_through_workflow"
    assert response.json()["detail"].startswith("状态只能通过流程步骤变更")


def test_steps_of_the_other_campaigns_follow_their_declared_roles(
    api: tuple[TestClient, dict[Any, Account]], conn: psycopg.Connection, catalog: LayerCatalog
) -> None:
    client, users = api
    spec = catalog.get("manholes")
    props = make_properties(spec, 1, status="in_service")
    hole = store.create_asset(conn, spec, props=props, geom=sample_geometry_for(spec), actor="x")
    conn.commit()
    base = f"/api/assets/manholes/{hole['id']}"
    planner = client.post(f"{base}/steps", json={"step": "pending"}, headers=users[Role.PLANNER].bearer)
    assert planner.status_code == 403
    assert (
        client.post(
            f"{base}/steps", json={"step": "pending"}, headers=users[Role.SURVEYOR].bearer
        ).status_code
        == 200
    )
    client.post(
        f"{base}/photos",
        files=[("photos", ("a.png", _png("blue"), "image/png"))],
        headers=users[Role.SURVEYOR].bearer,
    )
    r = client.post(f"{base}/steps", json={"step": "remediated"}, headers=users[Role.SURVEYOR].bearer)
    assert r.status_code == 200, r.text
    surveyor_accepts = client.post(
        f"{base}/steps", json={"step": "accepted"}, headers=users[Role.SURVEYOR].bearer
    )
    assert surveyor_accepts.status_code == 403  # 验收 is an officer's
    assert (
        client.post(
            f"{base}/steps", json={"step": "accepted"}, headers=users[Role.OFFICER].bearer
        ).status_code
        == 200
    )
    declared = client.get("/api/workflows", headers=users[Role.VIEWER].bearer).json()
    assert set(declared) == {"road_voids", "manholes", "poles_wires", "markets"}
    assert [s["zh"] for s in declared["markets"]["steps"]] == ["设置", "规范", "撤销"]


def test_overdue_is_computed_and_filters_search_and_ogc_items(
    api: tuple[TestClient, dict[Any, Account]], conn: psycopg.Connection, catalog: LayerCatalog
) -> None:
    client, users = api
    viewer = users[Role.VIEWER].bearer
    assigned = {"status": "assigned", "responsible_unit": "排水处", "assigned_on": dt.date(2025, 7, 1)}
    late = _void(conn, catalog, 1, risk_grade="I", **assigned)  # due 2025-07-08
    in_time = _void(conn, catalog, 2, risk_grade="IV", **assigned)  # due 2025-08-30
    with clock.fixed_today(dt.date(2025, 7, 10)):
        found = client.get("/api/search", params={"overdue": "true"}, headers=viewer).json()
        assert [f["properties"]["code"] for f in found["features"]] == [late["code"]]
        assert found["features"][0]["properties"]["deadline"] == "2025-07-08"
        others = client.get(
            "/api/search", params={"overdue": "false", "layers": "road_voids"}, headers=viewer
        )
        assert [f["properties"]["code"] for f in others.json()["features"]] == [in_time["code"]]
        items = client.get("/ogc/collections/road_voids/items", params={"overdue": "true"}, headers=viewer)
        assert [f["id"] for f in items.json()["features"]] == [late["id"]]
        one = client.get(f"/ogc/collections/road_voids/items/{in_time['id']}", headers=viewer).json()
        assert one["properties"]["overdue"] is False and one["properties"]["deadline"] == "2025-08-30"
        state = client.get(f"/api/assets/road_voids/{late['id']}/workflow", headers=viewer).json()
        assert state["overdue"] is True and state["deadline"] == "2025-07-08"
        # a layer without deadlines has nothing overdue
        water = client.get(
            "/api/search", params={"overdue": "true", "layers": "water_supply"}, headers=viewer
        )
        assert water.json()["numberMatched"] == 0
    assert client.get("/api/search", params={"overdue": "maybe"}, headers=viewer).status_code == 400
    with clock.fixed_today(dt.date(2025, 7, 8)):  # the deadline day itself is still in time
        assert (
            client.get("/api/search", params={"overdue": "true"}, headers=viewer).json()["numberMatched"] == 0
        )


def test_an_admin_configures_deadline_days(
    api: tuple[TestClient, dict[Any, Account]], conn: psycopg.Connection, catalog: LayerCatalog
) -> None:
    client, users = api
    body = {"due": "remediated", "grade": "IV", "days": 5}
    officer = client.put("/api/workflows/road_voids/deadlines", json=body, headers=users[Role.OFFICER].bearer)
    assert officer.status_code == 403
    ok = client.put("/api/workflows/road_voids/deadlines", json=body, headers=users[Role.ADMIN].bearer)
    assert ok.status_code == 200, ok.text
    rows = {(d["due_step"], d["grade"]): d for d in ok.json()["deadlines"]}
    assert rows[("remediated", "IV")]["days"] == 5 and rows[("remediated", "IV")]["source"] == "configured"
    bad = client.put(
        "/api/workflows/road_voids/deadlines", json={**body, "grade": "V"}, headers=users[Role.ADMIN].bearer
    )
    assert bad.status_code == 400 and bad.json()["parameter"] == "grade"
    void = _void(
        conn,
        catalog,
        3,
        status="assigned",
        risk_grade="IV",
        responsible_unit="x",
        assigned_on=dt.date(2025, 7, 1),
    )
    with clock.fixed_today(dt.date(2025, 7, 7)):
        state = client.get(f"/api/assets/road_voids/{void['id']}/workflow", headers=users[Role.VIEWER].bearer)
    assert state.json()["deadline"] == "2025-07-06" and state.json()["overdue"] is True
