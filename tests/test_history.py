"""History kept by the database: every write recorded, time travel, restore, undo,
optimistic concurrency — against a real PostGIS."""

from __future__ import annotations

import datetime as dt
from typing import Any

import psycopg
import pytest
from shapely.geometry import Point, shape

from registry import history, store
from registry.catalog import LayerCatalog
from registry.context import set_actor
from registry.permissions import Role
from registry.spec import LayerSpec
from tests.factories import CENTRE, make_properties, sample_geometry_for


def _now(conn: psycopg.Connection) -> dt.datetime:
    row = conn.execute("SELECT clock_timestamp()").fetchone()
    assert row is not None
    return row[0]


def _create(conn: psycopg.Connection, spec: LayerSpec, n: int = 1, **overrides: Any) -> dict[str, Any]:
    props = make_properties(spec, n, **overrides)
    record = store.create_asset(
        conn, spec, props=props, geom=sample_geometry_for(spec, props), actor="alice", via="api"
    )
    conn.commit()
    return record


@pytest.fixture
def voids(catalog: LayerCatalog) -> LayerSpec:
    return catalog.get("road_voids")


def test_every_layer_table_records_history_and_new_layers_get_the_trigger(
    conn: psycopg.Connection, catalog: LayerCatalog
) -> None:
    triggers = {
        r[0]
        for r in conn.execute(
            "SELECT tgrelid::regclass::text FROM pg_trigger "
            "WHERE tgname LIKE '%\\_history' AND NOT tgisinternal"
        )
    }
    assert set(catalog.names()) | {"water_tests"} <= triggers
    # a seventh layer created the documented way gets history without asking
    conn.execute("CREATE TABLE kiosks_test () INHERITS (assets)")
    conn.execute("SELECT registry_attach_layer('kiosks_test', ARRAY['POINT'])")
    conn.execute(
        "INSERT INTO kiosks_test (code, geom, status) "
        "VALUES ('K-1', ST_SetSRID(ST_MakePoint(%s, %s), 4490), 'x')",
        CENTRE,
    )
    row = conn.execute("SELECT layer, action, via FROM asset_history WHERE layer = 'kiosks_test'").fetchone()
    assert row == ("kiosks_test", "create", "sql")


def test_write_done_directly_in_sql_shows_up_in_history(conn: psycopg.Connection, voids: LayerSpec) -> None:
    record = _create(conn, voids)
    conn.execute(
        "UPDATE road_voids SET road_name = '塔南路', void_height_m = 0.8 WHERE id = %s", (record["id"],)
    )
    conn.commit()
    entries = history.asset_history(conn, record["id"])
    assert [e.action for e in entries] == ["create", "update"]
    last = entries[-1]
    assert last.via == "sql"
    assert last.actor == conn.execute("SELECT session_user").fetchone()[0]  # type: ignore[index]
    assert last.version == 2
    changed = {c.field: (c.before, c.after) for c in last.changes}
    assert changed == {"road_name": ("测试", "塔南路"), "void_height_m": (1.5, 0.8)}
    assert entries[0].actor == "alice" and entries[0].via == "api"


def test_geometry_change_is_a_field_level_difference_kept_as_geojson(
    conn: psycopg.Connection, voids: LayerSpec
) -> None:
    record = _create(conn, voids)
    moved = Point(CENTRE[0] + 0.001, CENTRE[1])
    store.update_asset(
        conn, voids, record["id"], geom=moved, expected_version=1, actor="bob", via="map", comment="位置校正"
    )
    conn.commit()
    last = history.asset_history(conn, record["id"])[-1]
    assert last.comment == "位置校正" and last.actor == "bob" and last.via == "map"
    geom_change = next(c for c in last.changes if c.field == "geom")
    assert shape(geom_change.before).equals(Point(CENTRE))
    assert shape(geom_change.after).equals(moved)
    # GeoJSON with full precision: the stored geometry round-trips exactly
    same = conn.execute(
        "SELECT ST_Equals(geom, ST_SetSRID(ST_GeomFromGeoJSON(%s), 4490)) FROM road_voids WHERE id = %s",
        (psycopg.types.json.Jsonb(geom_change.after), record["id"]),
    ).fetchone()
    assert same == (True,)


def test_as_of_query_returns_a_deleted_asset_as_it_was(conn: psycopg.Connection, voids: LayerSpec) -> None:
    record = _create(conn, voids, 1)
    other = _create(conn, voids, 2)
    store.update_asset(
        conn, voids, record["id"], props={"road_name": "人民路"}, expected_version=1, actor="alice"
    )
    conn.commit()
    before_delete = _now(conn)
    store.delete_asset(conn, voids, record["id"], expected_version=2, actor="alice", comment="重复录入")
    conn.commit()

    with pytest.raises(store.AssetNotFound):
        store.get_asset(conn, voids, record["id"])
    then = history.asset_as_of(conn, record["id"], before_delete)
    assert then is not None and then["road_name"] == "人民路" and then["version"] == 2
    assert history.asset_as_of(conn, record["id"], _now(conn)) is None
    layer_then = history.layer_as_of(conn, "road_voids", before_delete)
    assert [a["id"] for a in layer_then] == [record["id"], other["id"]]
    layer_now = history.layer_as_of(conn, "road_voids", _now(conn))
    assert [a["id"] for a in layer_now] == [other["id"]]
    entries = history.asset_history(conn, record["id"])
    assert entries[-1].action == "delete" and entries[-1].comment == "重复录入"


def test_as_of_before_creation_is_empty_and_bbox_filters(conn: psycopg.Connection, voids: LayerSpec) -> None:
    start = _now(conn)
    near = _create(conn, voids, 1)
    props = make_properties(voids, 2)
    store.create_asset(
        conn, voids, props=props, geom=Point(CENTRE[0] + 0.05, CENTRE[1] + 0.05), actor="alice"
    )
    conn.commit()
    assert history.layer_as_of(conn, "road_voids", start) == []
    assert history.asset_as_of(conn, near["id"], start) is None
    x, y = CENTRE
    box = (x - 0.001, y - 0.001, x + 0.001, y + 0.001)
    assert [a["code"] for a in history.layer_as_of(conn, "road_voids", _now(conn), bbox=box)] == [
        near["code"]
    ]


def test_concurrent_edit_gets_version_conflict_and_nothing_changes(
    conn: psycopg.Connection, voids: LayerSpec
) -> None:
    record = _create(conn, voids)
    # two clients read version 1; the first saves
    store.update_asset(conn, voids, record["id"], props={"road_name": "A"}, expected_version=1, actor="a")
    conn.commit()
    with pytest.raises(store.VersionConflict) as err:
        store.update_asset(conn, voids, record["id"], props={"road_name": "B"}, expected_version=1, actor="b")
    conn.rollback()
    assert err.value.current_version == 2 and err.value.status == 409
    current = store.get_asset(conn, voids, record["id"])
    assert current["road_name"] == "A" and current["version"] == 2
    assert len(history.asset_history(conn, record["id"])) == 2


def test_invalid_update_names_the_field_and_changes_nothing(
    conn: psycopg.Connection, voids: LayerSpec
) -> None:
    record = _create(conn, voids)
    with pytest.raises(store.InvalidFeature) as err:
        store.update_asset(
            conn, voids, record["id"], props={"risk_grade": "V"}, expected_version=1, actor="a"
        )
    conn.rollback()
    assert err.value.errors[0]["field"] == "risk_grade"
    assert store.get_asset(conn, voids, record["id"])["version"] == 1


def test_restore_brings_a_deleted_asset_back_and_is_recorded(
    conn: psycopg.Connection, voids: LayerSpec
) -> None:
    record = _create(conn, voids)
    store.delete_asset(conn, voids, record["id"], expected_version=None, actor="alice")
    conn.commit()
    restored = store.restore_asset(conn, voids, record["id"], actor="admin", comment="误删")
    conn.commit()
    assert restored["deleted_at"] is None and restored["version"] == 3
    assert [e.action for e in history.asset_history(conn, record["id"])] == ["create", "delete", "restore"]
    with pytest.raises(store.NotDeleted):
        store.restore_asset(conn, voids, record["id"], actor="admin")


def test_undo_of_an_import_restores_every_touched_record(
    conn: psycopg.Connection, catalog: LayerCatalog, voids: LayerSpec
) -> None:
    kept = _create(conn, voids, 1)
    deleted_later = _create(conn, voids, 2)
    # the "import": updates one asset, creates another, soft-deletes a third
    imp = {"actor": "surveyor1", "via": "import:7", "comment": "3月普查"}
    store.update_asset(
        conn,
        voids,
        kept["id"],
        props={"road_name": "改名路", "risk_grade": "I"},
        expected_version=None,
        **imp,
    )
    props3 = make_properties(voids, 3)
    store.create_asset(conn, voids, props=props3, geom=sample_geometry_for(voids, props3), **imp)
    conn.execute(
        "UPDATE road_voids SET deleted_at = now(), deleted_by = 'surveyor1' WHERE id = %s",
        (deleted_later["id"],),
    )
    conn.commit()
    by_import = history.changes(conn, via="import:7")
    assert sorted(e.action for e in by_import) == ["create", "delete", "update"]
    assert {e.actor for e in by_import} == {"surveyor1"}

    report = history.undo(conn, "import:7", actor="admin")
    conn.commit()
    assert (report.reverted, report.deleted) == (2, 1)
    now = history.layer_as_of(conn, "road_voids", _now(conn))
    assert sorted(a["code"] for a in now) == sorted([kept["code"], deleted_later["code"]])
    back = store.get_asset(conn, voids, kept["id"])
    assert back["road_name"] == "测试" and back["risk_grade"] == kept["risk_grade"]
    assert shape(back["geom"]).equals(shape(kept["geom"]))
    undo_entries = history.changes(conn, via="undo:import:7")
    assert len(undo_entries) == 3 and {e.actor for e in undo_entries} == {"admin"}
    with pytest.raises(history.UndoConflict):
        history.undo(conn, "import:7", actor="admin")


def test_undo_refuses_when_records_changed_afterwards(conn: psycopg.Connection, voids: LayerSpec) -> None:
    props = make_properties(voids, 1)
    store.create_asset(
        conn, voids, props=props, geom=sample_geometry_for(voids, props), actor="surveyor1", via="import:8"
    )
    conn.commit()
    asset = history.changes(conn, via="import:8")[0]
    store.update_asset(
        conn, voids, asset.asset_id, props={"road_name": "后改"}, expected_version=1, actor="bob"
    )
    conn.commit()
    with pytest.raises(history.UndoConflict) as err:
        history.undo(conn, "import:8", actor="admin")
    conn.rollback()
    assert err.value.errors[0]["id"] == str(asset.asset_id)
    assert store.get_asset(conn, voids, asset.asset_id)["road_name"] == "后改"
    report = history.undo(conn, "import:8", actor="admin", force=True)
    conn.commit()
    assert report.deleted == 1


def test_undo_recreates_a_hard_deleted_asset(conn: psycopg.Connection, voids: LayerSpec) -> None:
    record = _create(conn, voids)
    set_actor(conn, "dba", via="cleanup:1")
    conn.execute("DELETE FROM road_voids WHERE id = %s", (record["id"],))
    conn.commit()
    assert history.asset_history(conn, record["id"])[-1].action == "delete"
    report = history.undo(conn, "cleanup:1", actor="admin")
    conn.commit()
    assert report.recreated == 1
    back = store.get_asset(conn, voids, record["id"])
    assert back["code"] == record["code"] and back["created_by"] == "admin"


def test_water_tests_are_part_of_the_site_history(conn: psycopg.Connection, catalog: LayerCatalog) -> None:
    spec = catalog.get("water_supply")
    site = _create(conn, spec)
    set_actor(conn, "inspector", via="api")
    conn.execute(
        "INSERT INTO water_tests (site_id, tested_on, turbidity_ntu, free_chlorine_mg_l, "
        "total_coliforms_mpn, total_bacteria_cfu_ml, ph) VALUES (%s, '2025-04-01', 0.5, 0.3, 0, 20, 7.2)",
        (site["id"],),
    )
    conn.commit()
    entries = history.asset_history(conn, site["id"])
    test_entry = next(e for e in entries if e.child_table == "water_tests")
    assert test_entry.action == "create" and test_entry.after["passed"] is True  # type: ignore[index]
    site_update = entries[-1] if entries[-1].child_table is None else entries[-2]
    assert "last_tested_on" in {c.field for c in site_update.changes}
    # the site's as-of state is not confused by its tests
    assert history.asset_as_of(conn, site["id"], _now(conn))["last_tested_on"] == "2025-04-01"  # type: ignore[index]
    assert len(history.asset_history(conn, site["id"], include_children=False)) == 2


def test_what_one_user_changed(conn: psycopg.Connection, voids: LayerSpec) -> None:
    a = _create(conn, voids, 1)
    store.update_asset(conn, voids, a["id"], props={"notes": "x"}, expected_version=1, actor="carol")
    conn.commit()
    mine = history.changes(conn, actor="carol")
    assert [(str(e.asset_id), e.action) for e in mine] == [(a["id"], "update")]
    assert history.changes(conn, actor="nobody") == []


# ---------------------------------------------------------------- over HTTP


@pytest.fixture
def api(db: Any, conn: psycopg.Connection) -> Any:
    from fastapi.testclient import TestClient

    from tests.authkit import make_accounts
    from web.app import create_app

    users = make_accounts(conn)
    with TestClient(create_app(db)) as client:
        client.headers.update(users[Role.ADMIN].bearer)
        yield client, users


def test_history_endpoint_shows_a_direct_sql_write(
    api: Any, conn: psycopg.Connection, voids: LayerSpec
) -> None:
    client, _ = api
    record = _create(conn, voids)
    conn.execute("UPDATE road_voids SET risk_grade = 'III' WHERE id = %s", (record["id"],))
    conn.commit()
    body = client.get(f"/api/assets/road_voids/{record['id']}/history").json()
    last = body["entries"][-1]
    assert last["via"] == "sql" and last["action"] == "update"
    assert last["changes"] == [{"field": "risk_grade", "before": record["risk_grade"], "after": "III"}]
    assert client.get(f"/api/assets/manholes/{record['id']}/history").status_code == 404


def test_concurrent_edit_over_http_gets_412_or_409_and_changes_nothing(
    api: Any, conn: psycopg.Connection, voids: LayerSpec
) -> None:
    client, _ = api
    record = _create(conn, voids)
    url = f"/api/assets/road_voids/{record['id']}"
    first = client.patch(url, json={"properties": {"road_name": "甲"}}, headers={"If-Match": '"1"'})
    assert first.status_code == 200 and first.headers["ETag"] == '"2"'
    stale = client.patch(url, json={"properties": {"road_name": "乙"}}, headers={"If-Match": '"1"'})
    assert stale.status_code == 412
    assert stale.json()["code"] == "version_mismatch" and stale.json()["current_version"] == 2
    stale_body = client.patch(url, json={"properties": {"road_name": "乙"}, "version": 1})
    assert stale_body.status_code == 409 and stale_body.json()["current_version"] == 2
    assert stale_body.json()["code"] == "version_conflict"
    # a malformed If-Match is the same 400 as on the OGC API, never a 422
    bad = client.patch(url, json={"properties": {"road_name": "乙"}}, headers={"If-Match": "v1"})
    assert bad.status_code == 400 and bad.json()["parameter"] == "If-Match"
    ogc_bad = client.patch(
        f"/ogc/collections/road_voids/items/{record['id']}",
        json={"type": "Feature", "properties": {"road_name": "乙"}},
        headers={"If-Match": "v1"},
    )
    assert ogc_bad.status_code == 400 and ogc_bad.json()["parameter"] == "If-Match"
    stale_delete = client.delete(url, headers={"If-Match": '"1"'})
    assert stale_delete.status_code == 412
    current = store.get_asset(conn, voids, record["id"])
    assert current["road_name"] == "甲" and current["version"] == 2
    assert len(history.asset_history(conn, record["id"])) == 2


def test_invalid_edit_over_http_names_the_field_and_rolls_back(
    api: Any, conn: psycopg.Connection, voids: LayerSpec
) -> None:
    client, _ = api
    record = _create(conn, voids)
    response = client.patch(
        f"/api/assets/road_voids/{record['id']}", json={"properties": {"road_name": "x", "void_height_m": -2}}
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "void_height_m"
    assert store.get_asset(conn, voids, record["id"])["road_name"] == "测试"


def test_delete_asof_restore_and_undo_over_http(api: Any, conn: psycopg.Connection, voids: LayerSpec) -> None:
    client, _ = api
    record = _create(conn, voids)
    t_alive = _now(conn).isoformat()
    conn.rollback()
    assert (
        client.delete(f"/api/assets/road_voids/{record['id']}", params={"comment": "误报"}).status_code == 200
    )
    asof = client.get("/api/layers/road_voids/asof", params={"t": t_alive})
    assert [f["id"] for f in asof.json()["features"]] == [record["id"]]
    assert asof.json()["features"][0]["geometry"]["type"] == "Point"
    assert "crs" not in asof.json()["features"][0]["geometry"]
    one = client.get(f"/api/assets/road_voids/{record['id']}/asof", params={"t": t_alive})
    assert one.status_code == 200 and one.json()["properties"]["deleted_at"] is None
    assert (
        client.get("/api/layers/road_voids/asof", params={"t": "2100-01-01T00:00:00"}).json()["features"]
        == []
    )
    restored = client.post(f"/api/assets/road_voids/{record['id']}/restore")
    assert restored.status_code == 200 and restored.json()["properties"]["version"] == 3
    assert client.post("/api/undo/api").status_code == 422  # a channel, not a batch
    # a surveyor's import, undone by the admin once a later edit is out of the way
    set_actor(conn, "surveyor", via="import:5")
    conn.execute("UPDATE road_voids SET road_name = '导入改' WHERE id = %s", (record["id"],))
    conn.commit()
    later = client.patch(f"/api/assets/road_voids/{record['id']}", json={"properties": {"notes": "复核"}})
    assert later.status_code == 200
    conflict = client.post("/api/undo/import:5")
    assert conflict.status_code == 409 and conflict.json()["errors"][0]["id"] == record["id"]
    undone = client.post("/api/undo/import:5", params={"force": "true"})
    assert undone.status_code == 200 and undone.json()["reverted"] == 1
    back = store.get_asset(conn, voids, record["id"])
    assert back["road_name"] == "测试" and back["notes"] == "测试"  # the forced undo wins
    assert client.post("/api/undo/import:404").status_code == 404
