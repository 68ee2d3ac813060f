"""Districts: the ten real boundaries are loaded, and every asset's district is
derived from its geometry on insert and on every geometry change."""

from __future__ import annotations

import psycopg
from shapely.geometry import Point

from layers import ALL_LAYERS
from registry.assets import AssetRow, upsert_assets
from registry.districts import JIAOZUO, load_districts
from tests.factories import make_properties

ROAD_VOIDS = ALL_LAYERS[0]


def test_ten_districts_with_gb_codes_are_loaded(conn: psycopg.Connection) -> None:
    rows = conn.execute(
        "SELECT code, name_zh, ST_IsValid(geom), ST_SRID(geom) FROM districts ORDER BY code"
    ).fetchall()
    assert [r[0] for r in rows] == sorted(d.code for d in JIAOZUO)
    assert {r[1] for r in rows} >= {"解放区", "中站区", "马村区", "山阳区", "沁阳市", "孟州市"}
    assert all(r[2] and r[3] == 4490 for r in rows)


def test_reloading_districts_changes_nothing(conn: psycopg.Connection) -> None:
    assert load_districts(conn) == 0


def test_district_boundaries_tile_the_prefecture_without_overlap(conn: psycopg.Connection) -> None:
    overlap_m2 = conn.execute(
        "SELECT COALESCE(sum(ST_Area(ST_Intersection(a.geom, b.geom)::geography)), 0) "
        "FROM districts a JOIN districts b ON a.code < b.code AND ST_Intersects(a.geom, b.geom)"
    ).fetchone()[0]
    total_m2 = conn.execute("SELECT sum(ST_Area(geom::geography)) FROM districts").fetchone()[0]
    # ~4,000 km² in all; generalised outlines may overlap by slivers only
    assert 3.5e9 < total_m2 < 4.5e9
    assert overlap_m2 < total_m2 * 0.001


def test_moving_a_point_across_a_border_changes_its_district(conn: psycopg.Connection) -> None:
    props = make_properties(ROAD_VOIDS)
    in_jiefang, in_shanyang = Point(113.2418, 35.2155), Point(113.2700, 35.2000)
    upsert_assets(conn, ROAD_VOIDS, [AssetRow(props, in_jiefang)])
    assert conn.execute("SELECT district_code FROM road_voids").fetchone() == ("410802",)
    upsert_assets(conn, ROAD_VOIDS, [AssetRow(props, in_shanyang)])
    assert conn.execute("SELECT district_code, version FROM road_voids").fetchone() == ("410811", 2)
    # a change that leaves the geometry alone keeps the district
    upsert_assets(conn, ROAD_VOIDS, [AssetRow({**props, "notes": "复核"}, in_shanyang)])
    assert conn.execute("SELECT district_code, version FROM road_voids").fetchone() == ("410811", 3)


def test_district_typed_by_hand_is_overwritten_by_the_derived_one(conn: psycopg.Connection) -> None:
    conn.execute(
        "INSERT INTO road_voids (code, geom, status, road_name, risk_grade, found_on, district_code) "
        "VALUES ('KD-H', ST_SetSRID(ST_MakePoint(113.2418, 35.2155), 4490), 'found', '解放路', 'I', "
        "'2025-01-01', '410883')"
    )
    assert conn.execute("SELECT district_code FROM road_voids").fetchone() == ("410802",)
    conn.execute("UPDATE road_voids SET district_code = '410883'")
    assert conn.execute("SELECT district_code FROM road_voids").fetchone() == ("410802",)


def test_each_county_derives_its_own_code(conn: psycopg.Connection) -> None:
    # a point on the surface of each boundary must come back as that boundary's code
    probes = conn.execute(
        "SELECT code, ST_X(p), ST_Y(p) FROM (SELECT code, ST_PointOnSurface(geom) p FROM districts) s"
    ).fetchall()
    for i, (code, x, y) in enumerate(probes):
        props = make_properties(ROAD_VOIDS, n=i)
        upsert_assets(conn, ROAD_VOIDS, [AssetRow(props, Point(x, y))])
        got = conn.execute(
            "SELECT district_code FROM road_voids WHERE code = %s", (props["code"],)
        ).fetchone()
        assert got == (code,)
