"""The database itself refuses what must never be stored, for every layer: wrong
geometry type, invalid geometry, unknown enumeration values, negative measures,
duplicate codes, points outside Jiaozuo. The spec and the schema must agree."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from psycopg import errors, sql
from shapely.geometry import LineString, Point, Polygon

from layers import ALL_LAYERS
from registry.assets import AssetRow, upsert_assets
from registry.spec import AttrType, LayerSpec
from tests.factories import make_properties, sample_geometry, sample_geometry_for

LAYER_IDS = [s.name for s in ALL_LAYERS]


def _insert(conn: psycopg.Connection, spec: LayerSpec, props: dict[str, Any], geom) -> None:
    upsert_assets(conn, spec, [AssetRow(props, geom)])


def _refused(conn: psycopg.Connection, spec: LayerSpec, props, geom, exc=errors.CheckViolation):
    with pytest.raises(exc) as err, conn.transaction():
        _insert(conn, spec, props, geom)
    return err.value


@pytest.mark.parametrize("spec", ALL_LAYERS, ids=LAYER_IDS)
def test_valid_sample_asset_is_accepted(conn: psycopg.Connection, spec: LayerSpec) -> None:
    props = make_properties(spec)
    _insert(conn, spec, props, sample_geometry_for(spec, props))
    row = conn.execute(
        sql.SQL("SELECT layer, district_code, version FROM {} WHERE code = %s").format(
            sql.Identifier(spec.name)
        ),
        (props["code"],),
    ).fetchone()
    assert row == (spec.name, "410802", 1)


@pytest.mark.parametrize("spec", ALL_LAYERS, ids=LAYER_IDS)
def test_wrong_geometry_type_is_refused(conn: psycopg.Connection, spec: LayerSpec) -> None:
    wrong = next(
        g
        for t, g in (
            ("Polygon", sample_geometry("Polygon")),
            ("LineString", sample_geometry("LineString")),
            ("Point", sample_geometry("Point")),
        )
        if t not in spec.geometry_types
    )
    err = _refused(conn, spec, make_properties(spec), wrong)
    assert "geom" in (err.diag.constraint_name or "")


@pytest.mark.parametrize("spec", ALL_LAYERS, ids=LAYER_IDS)
def test_invalid_geometry_is_refused_not_repaired(conn: psycopg.Connection, spec: LayerSpec) -> None:
    x, y = 113.2418, 35.2155
    bowtie = Polygon([(x, y), (x + 1e-4, y + 1e-4), (x + 1e-4, y), (x, y + 1e-4), (x, y)])
    err = _refused(conn, spec, make_properties(spec), bowtie)
    # either invalid (polygon layers) or the wrong type (point/line layers): never stored
    assert err.diag.constraint_name in ("assets_geom_valid", f"{spec.name}_geom_type")
    count = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(spec.name)))
    assert count.fetchone() == (0,)


def test_self_intersecting_parking_polygon_names_the_validity_constraint(
    conn: psycopg.Connection,
) -> None:
    spec = next(s for s in ALL_LAYERS if s.name == "parking")
    x, y = 113.2418, 35.2155
    bowtie = Polygon([(x, y), (x + 1e-4, y + 1e-4), (x + 1e-4, y), (x, y + 1e-4), (x, y)])
    err = _refused(conn, spec, make_properties(spec), bowtie)
    assert err.diag.constraint_name == "assets_geom_valid"
    assert "violates check constraint" in err.diag.message_primary


@pytest.mark.parametrize("spec", ALL_LAYERS, ids=LAYER_IDS)
def test_every_enumeration_accepts_its_codes_and_refuses_others(
    conn: psycopg.Connection, spec: LayerSpec
) -> None:
    """Schema/spec drift check: each declared code stores, an undeclared one is refused."""
    props = make_properties(spec)
    _insert(conn, spec, props, sample_geometry_for(spec, props))
    table = sql.Identifier(spec.name)
    for attr in spec.writable_attrs:
        if not attr.choices or attr.name == "status":
            continue
        for choice in attr.choices:
            if attr.name == "element":
                continue  # element and geometry type go together; covered below
            with conn.transaction():
                conn.execute(
                    sql.SQL("UPDATE {} SET {} = %s WHERE code = %s").format(table, sql.Identifier(attr.name)),
                    (choice.code, props["code"]),
                )
        with pytest.raises(errors.CheckViolation) as err, conn.transaction():
            conn.execute(
                sql.SQL("UPDATE {} SET {} = %s WHERE code = %s").format(table, sql.Identifier(attr.name)),
                ("not_a_value", props["code"]),
            )
        assert err.value.diag.constraint_name == f"{spec.name}_{attr.name}_allowed"


@pytest.mark.parametrize("spec", ALL_LAYERS, ids=LAYER_IDS)
def test_unknown_status_is_refused(conn: psycopg.Connection, spec: LayerSpec) -> None:
    err = _refused(conn, spec, make_properties(spec, status="bogus"), sample_geometry_for(spec))
    assert err.diag.constraint_name == f"{spec.name}_status_allowed"


@pytest.mark.parametrize(
    ("spec", "attr"),
    [
        (s, a.name)
        for s in ALL_LAYERS
        for a in s.writable_attrs
        if a.type in (AttrType.NUMBER, AttrType.INTEGER) and a.min is not None
    ],
    ids=lambda v: v if isinstance(v, str) else v.name,
)
def test_negative_measure_is_refused(conn: psycopg.Connection, spec: LayerSpec, attr: str) -> None:
    props = make_properties(spec, **{attr: -1})
    err = _refused(conn, spec, props, sample_geometry_for(spec, props))
    assert err.diag.constraint_name.startswith(f"{spec.name}_")


@pytest.mark.parametrize("spec", ALL_LAYERS, ids=LAYER_IDS)
def test_duplicate_code_in_a_layer_is_refused(conn: psycopg.Connection, spec: LayerSpec) -> None:
    props = make_properties(spec)
    geom = sample_geometry_for(spec, props)
    _insert(conn, spec, props, geom)
    columns = [a.name for a in spec.writable_attrs]
    with pytest.raises(errors.UniqueViolation) as err, conn.transaction():
        conn.execute(
            sql.SQL("INSERT INTO {t} ({cols}, geom) SELECT {cols}, geom FROM {t} WHERE code = %s").format(
                t=sql.Identifier(spec.name), cols=sql.SQL(", ").join(map(sql.Identifier, columns))
            ),
            (props["code"],),
        )
    assert err.value.diag.constraint_name == f"{spec.name}_code_unique"


def test_same_code_may_exist_in_two_layers(conn: psycopg.Connection) -> None:
    a, b = ALL_LAYERS[0], ALL_LAYERS[1]
    for spec in (a, b):
        props = make_properties(spec, code="SHARED-001")
        _insert(conn, spec, props, sample_geometry_for(spec, props))
    assert conn.execute("SELECT count(*) FROM assets WHERE code = 'SHARED-001'").fetchone() == (2,)


def test_point_outside_jiaozuo_is_refused_with_a_hint(conn: psycopg.Connection) -> None:
    spec = ALL_LAYERS[0]
    # Beijing: a valid coordinate, just not in Jiaozuo
    err = _refused(conn, spec, make_properties(spec), Point(116.40, 39.90))
    assert "outside Jiaozuo" in err.diag.message_primary
    assert "swapped" in (err.diag.message_hint or "")


def test_wire_must_be_a_line_and_pole_a_point(conn: psycopg.Connection) -> None:
    spec = next(s for s in ALL_LAYERS if s.name == "poles_wires")
    props = make_properties(spec, element="wire")
    err = _refused(conn, spec, props, sample_geometry("Point"))
    assert err.diag.constraint_name == "poles_wires_element_geometry"
    _insert(conn, spec, props, LineString([(113.24, 35.21), (113.241, 35.2105)]))
    length = conn.execute("SELECT length_m FROM poles_wires").fetchone()[0]
    assert 95 < float(length) < 115  # ~105 m on the spheroid


def test_road_void_stage_needs_its_dates(conn: psycopg.Connection) -> None:
    spec = ALL_LAYERS[0]
    props = make_properties(spec, status="closed", closed_on=None)
    err = _refused(conn, spec, props, sample_geometry("Point"))
    assert err.diag.constraint_name == "road_voids_stage_dates"


def test_computed_area_and_lifecycle_fields_are_derived_by_the_database(
    conn: psycopg.Connection,
) -> None:
    spec = ALL_LAYERS[0]
    props = make_properties(spec, length_m=3, width_m=2.5)
    _insert(conn, spec, props, sample_geometry("Point"))
    assert conn.execute("SELECT area_m2 FROM road_voids").fetchone()[0] == 7.5
    parking = next(s for s in ALL_LAYERS if s.name == "parking")
    props = make_properties(parking)
    _insert(conn, parking, props, sample_geometry("Polygon"))
    area = float(conn.execute("SELECT area_m2 FROM parking").fetchone()[0])
    assert 40 < area < 60  # 0.0001° × 0.00005° at 35°N ≈ 9.1 m × 5.6 m


def test_direct_insert_into_the_abstract_parent_is_refused(conn: psycopg.Connection) -> None:
    with pytest.raises(errors.CheckViolation):
        conn.execute(
            "INSERT INTO assets (layer, code, geom, district_code, status) "
            "VALUES ('x', 'x', ST_SetSRID(ST_MakePoint(113.24, 35.21), 4490), '410802', 'x')"
        )


def test_srid_other_than_4490_is_refused(conn: psycopg.Connection) -> None:
    with pytest.raises(errors.InvalidParameterValue):
        conn.execute(
            "INSERT INTO road_voids (code, geom, status, road_name, risk_grade, found_on) "
            "VALUES ('KD-X', ST_SetSRID(ST_MakePoint(113.24, 35.21), 4326), 'found', 'x', 'I', "
            "'2025-01-01')"
        )


def test_every_geometry_column_has_a_gist_index(conn: psycopg.Connection) -> None:
    indexed = {
        r[0]
        for r in conn.execute("SELECT tablename FROM pg_indexes WHERE indexdef ILIKE '%USING gist (geom)%'")
    }
    assert {s.name for s in ALL_LAYERS} | {"districts"} <= indexed


@pytest.mark.parametrize("spec", ALL_LAYERS, ids=LAYER_IDS)
def test_schema_has_a_column_for_every_declared_attribute(conn: psycopg.Connection, spec: LayerSpec) -> None:
    columns = {
        r[0]: r[1]
        for r in conn.execute(
            "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = %s",
            (spec.name,),
        )
    }
    expected_type = {
        AttrType.TEXT: "text",
        AttrType.INTEGER: "integer",
        AttrType.NUMBER: "numeric",
        AttrType.DATE: "date",
        AttrType.BOOLEAN: "boolean",
    }
    for attr in spec.all_attrs:
        assert columns.get(attr.name) == expected_type[attr.type], attr.name
    for child in spec.children:
        child_columns = {
            r[0]
            for r in conn.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = %s",
                (child.name,),
            )
        }
        assert {a.name for a in child.attrs} <= child_columns


def test_geometry_column_types_match_the_spec(conn: psycopg.Connection) -> None:
    for spec in ALL_LAYERS:
        props = make_properties(spec)
        for gtype, geom in (
            ("Point", Point(113.24, 35.21)),
            ("LineString", LineString([(113.24, 35.21), (113.2405, 35.2102)])),
            ("Polygon", sample_geometry("Polygon")),
        ):
            if spec.name == "poles_wires":
                props = make_properties(spec, element="wire" if gtype == "LineString" else "pole")
            allowed = gtype in spec.geometry_types
            try:
                with conn.transaction():
                    _insert(conn, spec, {**props, "code": f"G-{gtype}"}, geom)
                stored = True
            except errors.CheckViolation:
                stored = False
            assert stored == allowed, (spec.name, gtype)
