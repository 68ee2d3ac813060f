"""History written per statement (sql/0110): the entries are the ones the per-row
trigger wrote — same snapshots, same changed fields, same actions — one statement's
rows share its timestamp and are ordered by id, and no write escapes the record."""

from __future__ import annotations

import psycopg
import pytest

from registry import store
from registry.catalog import LayerCatalog
from registry.context import set_actor
from tests.factories import CENTRE, make_properties, sample_geometry_for


def _insert_many(conn: psycopg.Connection, n: int = 50) -> None:
    conn.execute(
        "INSERT INTO manholes (code, geom, status, kind, condition) "
        "SELECT 'S-' || g, ST_SetSRID(ST_MakePoint(%s + g * 1e-5, %s), 4490), 'in_service', 'rain', 'intact' "
        "FROM generate_series(1, %s) g",
        (*CENTRE, n),
    )


def test_one_statement_writes_one_entry_per_row_sharing_its_timestamp_in_row_order(
    conn: psycopg.Connection,
) -> None:
    set_actor(conn, "bulk", via="sql-test", comment="批量")
    _insert_many(conn)
    conn.commit()
    rows = conn.execute(
        "SELECT h.id, h.at, h.actor, h.via, h.comment, h.action, h.after ->> 'code' FROM asset_history h "
        "WHERE h.layer = 'manholes' AND h.via = 'sql-test' ORDER BY h.id"
    ).fetchall()
    assert len(rows) == 50
    assert len({r[1] for r in rows}) == 1
    assert {(r[2], r[3], r[4], r[5]) for r in rows} == {("bulk", "sql-test", "批量", "create")}
    assert [r[6] for r in rows] == [f"S-{g}" for g in range(1, 51)]


@pytest.mark.parametrize("rows", [5, 40], ids=["small statements: static SQL", "large: generated SQL"])
def test_snapshots_and_changed_fields_equal_the_per_row_rules(conn: psycopg.Connection, rows: int) -> None:
    _insert_many(conn, rows)
    conn.execute("UPDATE manholes SET notes = 'x', geom = ST_Translate(geom, 1e-4, 0) WHERE code LIKE 'S-%'")
    # every kind of column once (jsonb, integer, boolean, text set to NULL, unchanged
    # values written again), through the same path
    conn.execute(
        "UPDATE manholes SET extra = extra || '{\"巡查\": 1}', cover_size_mm = 700, anti_fall_net = true, "
        "notes = NULL, kind = kind WHERE code LIKE 'S-%'"
    )
    conn.execute("UPDATE manholes SET deleted_at = now(), deleted_by = 'a' WHERE code = 'S-1'")
    conn.execute("UPDATE manholes SET deleted_at = NULL, deleted_by = NULL WHERE code = 'S-1'")
    conn.execute("DELETE FROM manholes WHERE code = 'S-2'")
    conn.commit()
    # the 0010 functions are still there: the per-row trigger's rules, applied to the rows
    live = conn.execute(
        "SELECT count(*) FROM manholes m JOIN LATERAL (SELECT after FROM asset_history h "
        "WHERE h.asset_id = m.id ORDER BY id DESC LIMIT 1) h ON true "
        "WHERE h.after = registry_history_snapshot(m)"
    ).fetchone()
    assert live == (rows - 1,)
    bad = conn.execute(
        "SELECT id, action FROM asset_history WHERE layer = 'manholes' "
        "AND changed IS DISTINCT FROM registry_history_diff(before, after)"
    ).fetchall()
    assert bad == []
    actions = conn.execute(
        "SELECT COALESCE(after, before) ->> 'code', array_agg(action ORDER BY id) FROM asset_history "
        "WHERE layer = 'manholes' AND COALESCE(after, before) ->> 'code' IN ('S-1', 'S-2') "
        "GROUP BY 1 ORDER BY 1"
    ).fetchall()
    assert actions == [
        ("S-1", ["create", "update", "update", "delete", "restore"]),
        ("S-2", ["create", "update", "update", "delete"]),
    ]
    changed = conn.execute(
        "SELECT changed FROM asset_history WHERE action = 'update' AND after ->> 'code' = 'S-3' ORDER BY id"
    ).fetchall()
    assert changed == [(["geom", "notes"],), (["anti_fall_net", "cover_size_mm", "extra", "notes"],)]
    # a hard delete of every row: its entries hold each row's last state
    conn.execute("DELETE FROM manholes WHERE code LIKE 'S-%'")
    conn.commit()
    mismatched = conn.execute(
        "SELECT d.id FROM asset_history d "
        "WHERE d.layer = 'manholes' AND d.action = 'delete' AND d.after IS NULL "
        "AND (d.before IS DISTINCT FROM (SELECT p.after FROM asset_history p "
        "WHERE p.asset_id = d.asset_id AND p.id < d.id ORDER BY p.id DESC LIMIT 1) "
        "OR d.changed IS DISTINCT FROM registry_history_diff(d.before, NULL))"
    ).fetchall()
    assert mismatched == []
    assert conn.execute(
        "SELECT count(*) FROM asset_history WHERE action = 'delete' AND after IS NULL AND layer = 'manholes'"
    ).fetchone() == (rows,)


def test_child_records_keep_their_parent_and_layer(conn: psycopg.Connection, catalog: LayerCatalog) -> None:
    spec = catalog.get("road_voids")
    props = make_properties(spec, 1)
    record = store.create_asset(conn, spec, props=props, geom=sample_geometry_for(spec, props), actor="a")
    conn.execute(
        "INSERT INTO inspections (asset_id, layer, inspected_at, inspector, result) "
        "VALUES (%s, 'road_voids', now(), '张三', 'normal')",
        (record["id"],),
    )
    conn.execute("UPDATE inspections SET result = 'problem' WHERE asset_id = %s", (record["id"],))
    conn.execute("DELETE FROM inspections WHERE asset_id = %s", (record["id"],))
    conn.commit()
    rows = conn.execute(
        "SELECT layer, child_table, action, changed, version FROM asset_history "
        "WHERE asset_id = %s AND child_table IS NOT NULL ORDER BY id",
        (record["id"],),
    ).fetchall()
    assert [r[:3] for r in rows] == [
        ("road_voids", "inspections", "create"),
        ("road_voids", "inspections", "update"),
        ("road_voids", "inspections", "delete"),
    ]
    assert rows[1][3] == ["result"] and rows[0][4] is None


def test_changing_a_child_records_id_is_refused_not_lost(
    conn: psycopg.Connection, catalog: LayerCatalog
) -> None:
    spec = catalog.get("road_voids")
    props = make_properties(spec, 1)
    record = store.create_asset(conn, spec, props=props, geom=sample_geometry_for(spec, props), actor="a")
    conn.execute(
        "INSERT INTO inspections (asset_id, layer, inspected_at, inspector, result) "
        "VALUES (%s, 'road_voids', now(), '张三', 'normal')",
        (record["id"],),
    )
    conn.commit()
    with pytest.raises(psycopg.errors.CheckViolation, match="cannot change"):
        conn.execute("UPDATE inspections SET id = gen_random_uuid() WHERE asset_id = %s", (record["id"],))
    conn.rollback()


def test_a_write_through_the_assets_parent_is_refused_with_where_to_write(conn: psycopg.Connection) -> None:
    _insert_many(conn, 2)
    conn.commit()
    with pytest.raises(psycopg.errors.FeatureNotSupported, match="layer table"):
        conn.execute("UPDATE assets SET notes = 'x' WHERE code = 'S-1'")
    conn.rollback()
    with pytest.raises(psycopg.errors.FeatureNotSupported):
        conn.execute("DELETE FROM assets WHERE code = 'S-1'")
    conn.rollback()
    assert conn.execute("SELECT count(*) FROM manholes WHERE code LIKE 'S-%'").fetchone() == (2,)


def test_undo_of_a_bulk_batch_puts_every_record_back_in_a_few_statements(conn: psycopg.Connection) -> None:
    from registry import history

    _insert_many(conn, 30)
    conn.commit()
    before = dict(conn.execute("SELECT code, registry_history_snapshot(m) FROM manholes m").fetchall())
    set_actor(conn, "bulk", via="batch:1")
    conn.execute(
        "UPDATE manholes SET notes = 'changed', geom = ST_Translate(geom, 1e-4, 0) WHERE code LIKE 'S-1%'"
    )
    conn.execute("UPDATE manholes SET deleted_at = now(), deleted_by = 'bulk' WHERE code IN ('S-2', 'S-3')")
    conn.execute("DELETE FROM manholes WHERE code = 'S-4'")
    conn.execute(
        "INSERT INTO manholes (code, geom, status, kind, condition) "
        "SELECT 'N-' || g, ST_SetSRID(ST_MakePoint(%s + g * 1e-5, %s + 1e-3), 4490), "
        "'in_service', 'rain', 'intact' "
        "FROM generate_series(1, 5) g",
        CENTRE,
    )
    conn.commit()
    report = history.undo(conn, "batch:1", actor="admin")
    conn.commit()
    assert (report.reverted, report.recreated, report.deleted, report.unchanged) == (13, 1, 5, 0)
    after = dict(
        conn.execute(
            "SELECT code, registry_history_snapshot(m) FROM manholes m WHERE deleted_at IS NULL"
        ).fetchall()
    )
    ignore = {"version", "updated_at", "updated_by", "created_at", "created_by"}
    assert set(after) == set(before)
    for code, snap in before.items():
        assert {k: v for k, v in after[code].items() if k not in ignore} == {
            k: v for k, v in snap.items() if k not in ignore
        }, code
    undo_at = {r[0] for r in conn.execute("SELECT DISTINCT at FROM asset_history WHERE via = 'undo:batch:1'")}
    assert 1 <= len(undo_at) <= 3  # one statement per table and kind of step
