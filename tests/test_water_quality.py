"""Water-quality tests judged by the database against the one table of GB 5749-2022
limits (sql/0070): each parameter at, just inside and just outside its limit; a
missing value; the site's last result and next due date; the configurable interval;
a changed limit re-judges; the search flags ``water_failing`` and ``test_overdue``."""

from __future__ import annotations

import datetime as dt
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from layers import water_supply
from registry.catalog import LayerCatalog
from registry.settings import Settings
from tests.authkit import make_asset, reader_headers
from web.app import create_app

GOOD = {
    "turbidity_ntu": 0.5,
    "free_chlorine_mg_l": 0.3,
    "total_coliforms_mpn": 0,
    "total_bacteria_cfu_ml": 20,
    "ph": 7.2,
}

# (parameter, value, passes): at each limit (inclusive), a hair inside and outside.
CASES = [
    ("turbidity_ntu", 1.0, True),
    ("turbidity_ntu", 0.99, True),
    ("turbidity_ntu", 1.01, False),
    ("free_chlorine_mg_l", 0.05, True),
    ("free_chlorine_mg_l", 0.049, False),
    ("free_chlorine_mg_l", 0.051, True),
    ("free_chlorine_mg_l", 2.0, True),
    ("free_chlorine_mg_l", 2.01, False),
    ("free_chlorine_mg_l", 1.99, True),
    ("total_coliforms_mpn", 0, True),
    ("total_coliforms_mpn", 1, False),
    ("total_bacteria_cfu_ml", 100, True),
    ("total_bacteria_cfu_ml", 99, True),
    ("total_bacteria_cfu_ml", 101, False),
    ("ph", 6.5, True),
    ("ph", 6.49, False),
    ("ph", 6.51, True),
    ("ph", 8.5, True),
    ("ph", 8.51, False),
    ("ph", 8.49, True),
]


def _site(conn: psycopg.Connection, catalog: LayerCatalog, n: int = 1) -> Any:
    return make_asset(conn, catalog, "water_supply", n)["id"]


def _test(conn: psycopg.Connection, site: Any, day: dt.date, **values: Any) -> tuple[bool, dict[str, bool]]:
    row = {**GOOD, **values}
    cols = list(row)
    test_id, passed = conn.execute(
        f"INSERT INTO water_tests (site_id, tested_on, {', '.join(cols)}) "
        f"VALUES (%s, %s, {', '.join(['%s'] * len(cols))}) RETURNING id, passed",
        (site, day, *row.values()),
    ).fetchone()
    per = dict(
        conn.execute("SELECT parameter, passed FROM water_test_judgements WHERE test_id = %s", (test_id,))
    )
    return passed, per


def test_the_layer_keeps_no_copy_of_the_limits() -> None:
    assert not hasattr(water_supply, "LIMITS")
    assert not hasattr(water_supply, "TEST_INTERVAL_MONTHS")


def test_limits_table_holds_gb5749(conn: psycopg.Connection) -> None:
    rows = {
        r[0]: (r[1], r[2])
        for r in conn.execute(
            "SELECT parameter, min_value::float8, max_value::float8 FROM water_quality_limits"
        )
    }
    assert rows == {
        "turbidity_ntu": (None, 1),
        "free_chlorine_mg_l": (0.05, 2),
        "total_coliforms_mpn": (None, 0),
        "total_bacteria_cfu_ml": (None, 100),
        "ph": (6.5, 8.5),
    }


@pytest.mark.parametrize(("parameter", "value", "passes"), CASES)
def test_each_parameter_at_and_around_its_limit(
    conn: psycopg.Connection, catalog: LayerCatalog, parameter: str, value: float, passes: bool
) -> None:
    site = _site(conn, catalog)
    passed, per = _test(conn, site, dt.date(2026, 3, 1), **{parameter: value})
    assert passed is passes
    assert per[parameter] is passes
    # the other parameters are judged on their own and pass
    assert all(ok for name, ok in per.items() if name != parameter)


def test_a_missing_measurement_does_not_pass(conn: psycopg.Connection, catalog: LayerCatalog) -> None:
    passed, per = _test(conn, _site(conn, catalog), dt.date(2026, 3, 1), ph=None)
    assert passed is False and per["ph"] is False


def test_passed_cannot_be_typed(conn: psycopg.Connection, catalog: LayerCatalog) -> None:
    site = _site(conn, catalog)
    _test(conn, site, dt.date(2026, 3, 1), turbidity_ntu=3)
    conn.execute("UPDATE water_tests SET passed = true WHERE site_id = %s", (site,))
    assert conn.execute("SELECT passed FROM water_tests WHERE site_id = %s", (site,)).fetchone()[0] is False


def test_site_keeps_last_result_and_due_date(conn: psycopg.Connection, catalog: LayerCatalog) -> None:
    site = _site(conn, catalog)
    _test(conn, site, dt.date(2026, 3, 10))
    _test(conn, site, dt.date(2026, 6, 10), total_coliforms_mpn=2)
    row = conn.execute(
        "SELECT last_tested_on, last_test_passed, next_test_due FROM water_supply WHERE id = %s", (site,)
    ).fetchone()
    assert row == (dt.date(2026, 6, 10), False, dt.date(2026, 9, 10))


def test_interval_is_configurable(conn: psycopg.Connection, catalog: LayerCatalog) -> None:
    site = _site(conn, catalog)
    _test(conn, site, dt.date(2026, 3, 10))
    conn.execute("UPDATE water_test_schedule SET test_interval = interval '1 month'")
    due = conn.execute("SELECT next_test_due FROM water_supply WHERE id = %s", (site,)).fetchone()[0]
    assert due == dt.date(2026, 4, 10)
    _test(conn, site, dt.date(2026, 4, 1))
    due = conn.execute("SELECT next_test_due FROM water_supply WHERE id = %s", (site,)).fetchone()[0]
    assert due == dt.date(2026, 5, 1)


def test_a_changed_limit_rejudges_and_is_recorded(conn: psycopg.Connection, catalog: LayerCatalog) -> None:
    site = _site(conn, catalog)
    _test(conn, site, dt.date(2026, 3, 10), turbidity_ntu=1.5)
    last = "SELECT last_test_passed FROM water_supply WHERE id = %s"
    assert conn.execute(last, (site,)).fetchone()[0] is False
    conn.execute("UPDATE water_quality_limits SET max_value = 3 WHERE parameter = 'turbidity_ntu'")
    assert conn.execute(last, (site,)).fetchone()[0] is True
    updates = conn.execute(
        "SELECT count(*) FROM asset_history "
        "WHERE asset_id = %s AND child_table = 'water_tests' AND action = 'update'",
        (site,),
    ).fetchone()[0]
    assert updates == 1


def test_a_limit_must_name_a_measured_column(conn: psycopg.Connection) -> None:
    with pytest.raises(psycopg.errors.CheckViolation):
        conn.execute(
            "INSERT INTO water_quality_limits (parameter, zh, en, max_value) VALUES ('lab', 'x', 'x', 1)"
        )


def test_search_flags_failing_and_overdue(db: Settings, catalog: LayerCatalog) -> None:
    assert db.database_url
    today = dt.date.today()
    with psycopg.connect(db.database_url) as conn:
        failing, overdue, fine, never = (_site(conn, catalog, n) for n in (1, 2, 3, 4))
        _test(conn, failing, today - dt.timedelta(days=10), ph=9.0)
        _test(conn, overdue, today - dt.timedelta(days=200))
        _test(conn, fine, today - dt.timedelta(days=10))
        conn.commit()
    headers = reader_headers(db)
    with TestClient(create_app(db, catalog)) as client:

        def ids(**params: str) -> set[str]:
            r = client.get("/api/search", params={"layers": "water_supply", **params}, headers=headers)
            assert r.status_code == 200, r.text
            return {f["id"] for f in r.json()["features"]}

        assert ids(water_failing="true") == {str(failing)}
        assert ids(test_overdue="true") == {str(overdue), str(never)}
        assert ids(water_failing="true", test_overdue="true") == set()
        assert str(fine) in ids()
        bad = client.get("/api/search", params={"water_failing": "perhaps"}, headers=headers)
        assert bad.status_code == 400
