"""Helpers for the tests of measures that count an asset on its declared day (启用日期,
登记日期), not on the day the registry recorded it: one to record an asset now, one to
read a measure's row of the current month's report, one to read that report as its
reader gets it (XLSX, PDF). Shared so that every such measure
is tested the same way, whatever its layer.
"""

from __future__ import annotations

import io
from typing import Any

import psycopg
from openpyxl import load_workbook
from pypdf import PdfReader

from registry import clock
from registry.assets import AssetRow, upsert_assets
from registry.catalog import LayerCatalog
from registry.dashboard import monthly_report
from registry.spec import LayerSpec
from tests.factories import CENTRE, make_properties, sample_geometry_for
from web.reports.monthly import to_pdf, to_xlsx

TODAY = clock.today()
MONTH = f"{TODAY.year}-{TODAY.month:02d}"


def record_now(conn: psycopg.Connection, spec: LayerSpec, n: int, **props: Any) -> None:
    """Asset ``n`` of ``spec`` with ``props``, recorded (created_at) now and committed;
    placed ``n`` apart from the others, since some layers forbid overlaps."""
    values = make_properties(spec, n, **props)
    geom = sample_geometry_for(spec, values, x=CENTRE[0] + n * 0.001)
    upsert_assets(conn, spec, [AssetRow(values, geom)])
    conn.commit()


def month_row(conn: psycopg.Connection, catalog: LayerCatalog, layer: str, measure: str) -> dict[str, Any]:
    """The current month's report row of ``layer``'s ``measure`` (本月, 年度累计, the
    count left out for want of its date and the note saying so)."""
    data = monthly_report(conn, catalog, month=MONTH, today=TODAY)
    return next(r for r in data["trend"] if (r["layer"], r["measure"]) == (layer, measure))


def report_as_read(conn: psycopg.Connection, catalog: LayerCatalog) -> tuple[list[list[Any]], str]:
    """The current month's report as its reader gets it: the cells of the XLSX overview
    sheet (月报概览), and the text of the PDF."""
    data = monthly_report(conn, catalog, month=MONTH, today=TODAY)
    summary = load_workbook(io.BytesIO(to_xlsx(data)))["月报概览"]
    cells = [[c.value for c in r] for r in summary.iter_rows()]
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(to_pdf(data))).pages)
    return cells, text
