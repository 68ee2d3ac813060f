"""OGC API – Features Part 3 (CQL2 text and JSON) and the 4xx problems of bad requests."""

from __future__ import annotations

import json
from collections.abc import Iterator

import psycopg
import pytest
from fastapi.testclient import TestClient

from registry.catalog import LayerCatalog
from registry.permissions import Role
from registry.settings import Settings
from tests.authkit import reader_headers
from tests.factories import CENTRE
from tests.ogc_support import seed_layer
from web.app import create_app

ITEMS = "/ogc/collections/road_voids/items"
# a box around the first two assets
X0, Y0, X1, Y1 = CENTRE[0] - 0.0005, CENTRE[1] - 0.0005, CENTRE[0] + 0.0015, CENTRE[1] + 0.0005


@pytest.fixture
def client(db: Settings, conn: psycopg.Connection, catalog: LayerCatalog) -> Iterator[TestClient]:
    spec = catalog.get("road_voids")
    seed_layer(conn, spec, 4)
    # vary attributes so filters have something to tell apart
    conn.execute(
        "UPDATE road_voids SET risk_grade = 'I', road_name = '人民路', length_m = 5 "
        "WHERE code = 'KD-TEST-0001'"
    )
    conn.execute(
        "UPDATE road_voids SET risk_grade = 'II', road_name = '民主路', notes = NULL "
        "WHERE code = 'KD-TEST-0002'"
    )
    conn.execute(
        "UPDATE road_voids SET risk_grade = 'III', notes = 'x'' OR 1=1 --' WHERE code = 'KD-TEST-0003'"
    )
    conn.execute("UPDATE road_voids SET risk_grade = 'IV' WHERE code = 'KD-TEST-0004'")
    conn.commit()
    with TestClient(create_app(db, catalog), headers=reader_headers(db, Role.VIEWER)) as c:
        yield c


def codes(client: TestClient, **params: str) -> list[str]:
    r = client.get(ITEMS, params={"sortby": "code", **params})
    assert r.status_code == 200, r.text
    return [f["properties"]["code"][-1] for f in r.json()["features"]]


@pytest.mark.parametrize(
    ("cql", "expected"),
    [
        ("risk_grade = 'I'", ["1"]),
        ("risk_grade <> 'I' AND risk_grade <> 'II'", ["3", "4"]),
        ("risk_grade = 'I' OR risk_grade = 'II'", ["1", "2"]),
        ("NOT (risk_grade IN ('I', 'II'))", ["3", "4"]),
        ("risk_grade IN ('I', 'II')", ["1", "2"]),
        ("road_name LIKE '%民%'", ["1", "2"]),
        ("code LIKE 'KD-TEST-000_'", ["1", "2", "3", "4"]),
        ("length_m BETWEEN 4 AND 6", ["1"]),
        ("length_m > 4", ["1"]),
        ("notes IS NULL", ["2"]),
        ("notes IS NOT NULL", ["1", "3", "4"]),
        ("notes = 'x'' OR 1=1 --'", ["3"]),
        ("detected_on >= DATE('2025-01-01')", ["1", "2", "3", "4"]),
        ("casei(road_name) = casei('人民路')", ["1"]),
        (
            f"S_INTERSECTS(geometry, POLYGON(({X0} {Y0}, {X1} {Y0}, {X1} {Y1}, {X0} {Y1}, {X0} {Y0})))",
            ["1", "2"],
        ),
        (
            f"S_WITHIN(geometry, ENVELOPE({CENTRE[0] - 0.0005} {CENTRE[1] - 0.0005} {CENTRE[0] + 0.0005} "
            f"{CENTRE[1] + 0.0005}))",
            ["1"],
        ),
        (f"S_DWITHIN(geometry, POINT({CENTRE[0]} {CENTRE[1]}), 100, meters)", ["1", "2"]),
        (f"S_DWITHIN(geometry, POINT({CENTRE[0]} {CENTRE[1]}), 0.2, 'km')", ["1", "2", "3"]),
    ],
)
def test_cql2_text_filters(client: TestClient, cql: str, expected: list[str]) -> None:
    assert codes(client, filter=cql) == expected


def test_cql2_json_filter_with_spatial_and_logical_operators(client: TestClient) -> None:
    f = {
        "op": "and",
        "args": [
            {"op": "in", "args": [{"property": "risk_grade"}, ["I", "II", "III", "IV"]]},
            {
                "op": "s_dwithin",
                "args": [{"property": "geometry"}, {"type": "Point", "coordinates": list(CENTRE)}, 100],
            },
            {"op": "not", "args": [{"op": "=", "args": [{"property": "risk_grade"}, "II"]}]},
        ],
    }
    assert codes(client, filter=json.dumps(f), **{"filter-lang": "cql2-json"}) == ["1"]


def test_filter_crs_epsg_4490_reads_latitude_first(client: TestClient) -> None:
    lon, lat = CENTRE
    cql = f"S_DWITHIN(geometry, POINT({lat} {lon}), 10)"
    crs = "http://www.opengis.net/def/crs/EPSG/0/4490"
    assert codes(client, filter=cql, **{"filter-crs": crs}) == ["1"]


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"bbox": "1,2,3"}, "bbox"),
        ({"bbox": "a,b,c,d"}, "bbox"),
        ({"bbox": "114,35,113,36"}, "bbox"),  # min > max
        ({"bbox": "113,35,114,36", "bbox-crs": "EPSG:9999"}, "bbox-crs"),
        ({"bbox": "35,113,36,114"}, "bbox"),  # latitude out of range: swapped axes
        ({"crs": "EPSG:2000"}, "crs"),
        ({"limit": "0"}, "limit"),
        ({"limit": "10001"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"offset": "-1"}, "offset"),
        ({"datetime": "yesterday"}, "datetime"),
        ({"datetime": "2025-01-02T00:00:00Z/2025-01-01T00:00:00Z"}, "datetime"),
        ({"filter": "risk_grade = "}, "filter"),
        ({"filter": "no_such_attr = 1"}, "filter"),
        ({"filter": "length_m = 'abc'"}, "filter"),
        ({"filter": "{not json", "filter-lang": "cql2-json"}, "filter"),
        ({"filter": "risk_grade = 'I'", "filter-lang": "sql"}, "filter-lang"),
        ({"filter": "S_INTERSECTS(geometry, POINT(1 2))", "filter-crs": "EPSG:1"}, "filter-crs"),
        ({"sortby": "-nope"}, "sortby"),
        ({"properties": "code,nope"}, "properties"),
        ({"length_m": "long"}, "length_m"),
        ({"f": "xml"}, "f"),
    ],
)
def test_bad_requests_are_400_problems_naming_the_parameter(
    client: TestClient, params: dict[str, str], parameter: str
) -> None:
    r = client.get(ITEMS, params=params)
    assert r.status_code == 400, r.text
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["status"] == 400 and body["parameter"] == parameter and body["detail"]
    assert "psycopg" not in r.text and "SELECT" not in r.text


def test_sql_looking_property_value_is_just_a_value(client: TestClient) -> None:
    assert codes(client, notes="x' OR 1=1 --") == ["3"]
    assert codes(client, road_name="'; DROP TABLE road_voids; --") == []
    assert codes(client) == ["1", "2", "3", "4"]


def test_a_reworded_pygeofilter_grammar_fails_loudly_instead_of_losing_s_dwithin() -> None:
    from registry.cql import _patch

    assert _patch("a: b\n?spatial_predicate: x", "?spatial_predicate:", "?y:") == "a: b\n?y: x"
    with pytest.raises(RuntimeError, match="grammar changed"):
        _patch("?spatial_predicate_renamed: x", "?spatial_predicate:", "?y:")
