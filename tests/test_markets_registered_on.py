"""Markets and stalls are registered on the day the bureau registered them (登记日期,
``registered_on``), not on the day the registry recorded them: the monthly report's
登记市场摊点 of a month are the markets and stalls registered in it. One that was set up
(open, regulated, suspended or closed since) without a registration date falls in no
period, and the figures say so instead of quietly counting less.

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
from layers.markets import MARKETS
from registry import campaigns
from registry.catalog import LayerCatalog
from registry.settings import Settings
from tests.dated_measures import TODAY, month_row, record_now, report_as_read
from tests.factories import CENTRE


def _stall(conn: psycopg.Connection, n: int, *, registered_on: dt.date | None, status: str) -> None:
    """A stall (a point of its own) recorded now."""
    record_now(conn, MARKETS, n, registered_on=registered_on, status=status)


def _registered(conn: psycopg.Connection, catalog: LayerCatalog) -> dict[str, Any]:
    """The report's row of 登记市场摊点 for the current month."""
    return month_row(conn, catalog, "markets", "recorded")


def test_a_stall_registered_last_year_and_recorded_today_is_not_counted_this_month(
    conn: psycopg.Connection, catalog: LayerCatalog
) -> None:
    _stall(conn, 1, registered_on=dt.date(TODAY.year - 1, 6, 1), status="active")
    recorded = conn.execute("SELECT (created_at AT TIME ZONE 'Asia/Shanghai')::date FROM markets").fetchone()
    assert recorded is not None and recorded[0].year == TODAY.year  # recorded this year
    row = _registered(conn, catalog)
    assert (row["month"], row["year_to_date"]) == (0, 0)
    spec, m = campaigns.find_measure(catalog, "markets", "recorded")
    assert campaigns.done(conn, spec, m, year=TODAY.year - 1) == 1
    assert row["undated"] == 0 and row["note"] is None


def test_a_stall_registered_this_month_is_counted_this_month_and_in_the_year(
    conn: psycopg.Connection, catalog: LayerCatalog
) -> None:
    _stall(conn, 1, registered_on=dt.date(TODAY.year - 1, 6, 1), status="active")
    _stall(conn, 2, registered_on=TODAY.replace(day=1), status="active")
    _stall(conn, 3, registered_on=TODAY, status="regulated")
    if TODAY.month > 1:  # one registered earlier this year counts in the year, not the month
        _stall(conn, 4, registered_on=dt.date(TODAY.year, 1, 1), status="closed")
    row = _registered(conn, catalog)
    assert row["month"] == 2
    assert row["year_to_date"] == (3 if TODAY.month > 1 else 2)


def test_a_set_up_stall_without_a_registration_date_is_in_no_period_and_the_report_says_so(
    conn: psycopg.Connection, catalog: LayerCatalog
) -> None:
    _stall(conn, 1, registered_on=None, status="active")
    _stall(conn, 2, registered_on=None, status="suspended")
    _stall(conn, 3, registered_on=None, status="planned")  # not set up yet: nothing missing
    _stall(conn, 4, registered_on=TODAY, status="active")
    row = _registered(conn, catalog)
    assert (row["month"], row["year_to_date"]) == (1, 1)
    assert row["undated"] == 2
    assert row["note"] == {
        "zh": "2 处未填“登记日期”，未计入",
        "en": "2 with no “Registered on” date, not counted",
    }
    cells, text = report_as_read(conn, catalog)
    assert ["市场摊点", "登记市场摊点", 1, 1, "处", "2 处未填“登记日期”，未计入"] in cells
    assert "备注" in text and "登记日期" in text and "未计入" in text


def test_an_imported_stall_counts_on_its_registration_day_not_on_the_import_day(
    db: Settings, conn: psycopg.Connection, catalog: LayerCatalog, tmp_path: Path
) -> None:
    registered = dt.date(TODAY.year - 1, 9, 15)
    features = [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [CENTRE[0] + i * 0.0005, CENTRE[1]]},
            "properties": {
                "编号": f"SC-SURVEY-{i:04d}",
                "状态": "开放",
                "类型": "便民疏导区",
                "名称": f"人民路便民疏导区{i}号",
                "摊位数": 12,
                "登记日期": registered.isoformat() if i == 1 else TODAY.isoformat(),
            },
        }
        for i in (1, 2)
    ]
    path = tmp_path / "stalls.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False))
    conn.commit()
    report = run_import(conn, MARKETS, path, settings=db, actor="surveyor", options=ImportOptions())
    assert report.status == "committed", report
    stored = conn.execute("SELECT code, registered_on FROM markets ORDER BY code").fetchall()
    assert stored == [("SC-SURVEY-0001", registered), ("SC-SURVEY-0002", TODAY)]
    row = _registered(conn, catalog)
    assert (row["month"], row["year_to_date"]) == (1, 1)
