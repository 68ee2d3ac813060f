"""Parking bays are added on the day they came into use (启用日期, ``opened_on``), not on
the day the registry recorded them: the monthly report's 新增泊位 of a month are the
bays opened in it. A bay in use without an opening date falls in no period, and the
figures say so instead of quietly counting less.

Real PostGIS, written through the registry's own upsert and importer; the report is
computed for the registry's current day (rows are recorded now, so "recorded this
month" is the real month).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import psycopg

from importers.pipeline import ImportOptions, run_import
from layers.parking import PARKING
from registry import campaigns
from registry.catalog import LayerCatalog
from registry.settings import Settings
from tests.dated_measures import TODAY, month_row, record_now, report_as_read
from tests.factories import CENTRE


def _bay(conn: psycopg.Connection, n: int, *, capacity: int, opened_on: dt.date | None, status: str) -> None:
    """A lot of ``capacity`` bays recorded now."""
    record_now(conn, PARKING, n, kind="off_street_lot", capacity=capacity, opened_on=opened_on, status=status)


def _bays_added(conn: psycopg.Connection, catalog: LayerCatalog) -> dict[str, Any]:
    """The report's row of 新增泊位 for the current month."""
    return month_row(conn, catalog, "parking", "bays_added")


def test_a_bay_opened_last_year_and_recorded_today_is_not_counted_this_month(
    conn: psycopg.Connection, catalog: LayerCatalog
) -> None:
    _bay(conn, 1, capacity=40, opened_on=dt.date(TODAY.year - 1, 6, 1), status="in_use")
    recorded = conn.execute("SELECT (created_at AT TIME ZONE 'Asia/Shanghai')::date FROM parking").fetchone()
    assert recorded is not None and recorded[0].year == TODAY.year  # recorded this year
    row = _bays_added(conn, catalog)
    assert (row["month"], row["year_to_date"]) == (0, 0)
    spec, m = campaigns.find_measure(catalog, "parking", "bays_added")
    assert campaigns.done(conn, spec, m, year=TODAY.year - 1) == 40
    assert row["undated"] == 0 and row["note"] is None


def test_a_bay_opened_this_month_is_counted_this_month_and_in_the_year(
    conn: psycopg.Connection, catalog: LayerCatalog
) -> None:
    _bay(conn, 1, capacity=40, opened_on=dt.date(TODAY.year - 1, 6, 1), status="in_use")
    _bay(conn, 2, capacity=12, opened_on=TODAY.replace(day=1), status="in_use")
    if TODAY.month > 1:  # a bay opened earlier this year counts in the year, not the month
        _bay(conn, 3, capacity=5, opened_on=dt.date(TODAY.year, 1, 1), status="suspended")
    row = _bays_added(conn, catalog)
    assert row["month"] == 12
    assert row["year_to_date"] == (17 if TODAY.month > 1 else 12)


def test_a_bay_in_use_without_an_opening_date_is_in_no_period_and_the_report_says_so(
    conn: psycopg.Connection, catalog: LayerCatalog
) -> None:
    _bay(conn, 1, capacity=40, opened_on=None, status="in_use")
    _bay(conn, 2, capacity=8, opened_on=None, status="planned")  # not open yet: nothing missing
    _bay(conn, 3, capacity=12, opened_on=TODAY, status="in_use")
    row = _bays_added(conn, catalog)
    assert (row["month"], row["year_to_date"]) == (12, 12)
    assert row["undated"] == 1
    assert row["note"] == {
        "zh": "1 处未填“启用日期”，未计入",
        "en": "1 with no “Opened on” date, not counted",
    }
    cells, text = report_as_read(conn, catalog)
    assert ["停车泊位", "新增泊位", 12, 12, "个", "1 处未填“启用日期”，未计入"] in cells
    assert "备注" in text and "未填" in text and "未计入" in text


def test_a_surveyor_importing_last_years_car_parks_adds_no_bays_this_month(
    db: Settings, conn: psycopg.Connection, catalog: LayerCatalog, tmp_path: Path
) -> None:
    x, y = CENTRE
    d = 0.0003
    opened = dt.date(TODAY.year - 1, 9, 15)
    feature = {
        "type": "Feature",
        "geometry": {
            "type": "Polygon",
            "coordinates": [[[x, y], [x + d, y], [x + d, y + d], [x, y + d], [x, y]]],
        },
        "properties": {
            "编号": "TC-SURVEY-0001",
            "状态": "在用",
            "类型": "路外停车场",
            "泊位数": 60,
            "启用日期": opened.isoformat(),
        },
    }
    path = tmp_path / "car_parks.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [feature]}, ensure_ascii=False))
    conn.commit()
    report = run_import(conn, PARKING, path, settings=db, actor="surveyor", options=ImportOptions())
    assert report.status == "committed", report
    stored = conn.execute("SELECT opened_on FROM parking WHERE code = 'TC-SURVEY-0001'").fetchone()
    assert stored == (opened,)
    row = _bays_added(conn, catalog)
    assert (row["month"], row["year_to_date"]) == (0, 0)
