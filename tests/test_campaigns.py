"""Campaign figures on the demo: every dashboard figure against a count computed
independently in SQL, the published shape of the demo's targets, map links that list
exactly the assets behind a figure, the monthly report (XLSX and PDF, API and CLI) and
targets entered by an admin only.

The demo is seeded once per module (a few seconds) with a fixed ``today``.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import psycopg
import pypdfium2
import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from psycopg import sql
from pypdf import PdfReader

from layers.demo import seed_demo
from registry.catalog import LayerCatalog
from registry.cluster import Cluster
from registry.permissions import Role
from registry.settings import PROJECT_ROOT, Settings
from tests.authkit import Account, make_accounts
from tests.conftest import template_copy
from web.app import create_app

TODAY = dt.date.today()
YEAR = 2025


@pytest.fixture(scope="module")
def demo(cluster: Cluster, template_db: str) -> Iterator[Settings]:
    with template_copy(cluster, template_db, "test_campaigns") as url:
        settings = Settings(_env_file=None, database_url=url)  # type: ignore[call-arg]
        with psycopg.connect(url) as conn:
            seed_demo(conn, today=TODAY)
            conn.commit()
        yield settings


@pytest.fixture(scope="module")
def accounts(demo: Settings) -> dict[Role, Account]:
    assert demo.database_url
    with psycopg.connect(demo.database_url) as conn:
        return make_accounts(conn)


@pytest.fixture(scope="module")
def client(demo: Settings, catalog: LayerCatalog) -> Iterator[TestClient]:
    with TestClient(create_app(demo, catalog)) as c:
        yield c


@pytest.fixture(scope="module")
def sqlconn(demo: Settings) -> Iterator[psycopg.Connection]:
    assert demo.database_url
    with psycopg.connect(demo.database_url, autocommit=True) as c:
        yield c


def one(conn: psycopg.Connection, query: str, *params: Any) -> Any:
    row = conn.execute(query, params).fetchone()
    assert row is not None
    return row[0]


def dashboard(client: TestClient, accounts: dict[Role, Account], year: int) -> dict[str, Any]:
    r = client.get(
        "/api/dashboard",
        params={"year": year, "today": TODAY.isoformat()},
        headers=accounts[Role.VIEWER].bearer,
    )
    assert r.status_code == 200, r.text
    return r.json()


# The same figures, written by hand against the tables (not through registry.campaigns).
DONE_SQL = {
    ("manholes", "remediated"): "SELECT count(*) FROM manholes WHERE deleted_at IS NULL "
    "AND remediated_on BETWEEN make_date(%(y)s, 1, 1) AND make_date(%(y)s, 12, 31) {d}",
    ("poles_wires", "cleared"): "SELECT count(*) FROM poles_wires WHERE deleted_at IS NULL "
    "AND extract(year FROM removed_on) = %(y)s {d}",
    ("poles_wires", "flying_wires_removed"): "SELECT count(*) FROM poles_wires WHERE deleted_at IS NULL "
    "AND flying_wire AND extract(year FROM removed_on) = %(y)s {d}",
    ("water_supply", "sites_tested"): "SELECT count(DISTINCT s.id) FROM water_supply s JOIN water_tests w "
    "ON w.site_id = s.id WHERE s.deleted_at IS NULL AND extract(year FROM w.tested_on) = %(y)s {d}",
    # bays that came into use in the year, not the rows recorded in it
    ("parking", "bays_added"): "SELECT COALESCE(sum(capacity), 0) FROM parking WHERE deleted_at IS NULL "
    "AND extract(year FROM opened_on) = %(y)s {d}",
    ("road_voids", "found"): "SELECT count(*) FROM road_voids WHERE deleted_at IS NULL "
    "AND extract(year FROM found_on) = %(y)s {d}",
    ("road_voids", "closed"): "SELECT count(*) FROM road_voids WHERE deleted_at IS NULL "
    "AND extract(year FROM closed_on) = %(y)s {d}",
    # markets and stalls registered in the year, not the rows recorded in it
    ("markets", "recorded"): "SELECT count(*) FROM markets WHERE deleted_at IS NULL "
    "AND extract(year FROM registered_on) = %(y)s {d}",
}
FLAG_SQL = {
    # the workflow's deadlines as declared: 确权 within 7 days of 排查, 整治 by grade from
    # 确权 (Ⅰ 7, Ⅱ 15, Ⅲ 30, Ⅳ 60 days), 销号 within 15 days of 已整治
    "deadline_overdue": "SELECT count(*) FROM road_voids WHERE deleted_at IS NULL AND ("
    "(status = 'found' AND found_on + 7 < %(t)s) OR (status IN ('assigned', 'remediating') AND "
    "assigned_on + CASE risk_grade WHEN 'I' THEN 7 WHEN 'II' THEN 15 WHEN 'III' THEN 30 ELSE 60 END < %(t)s) "
    "OR (status = 'remediated' AND remediated_on + 15 < %(t)s))",
    "water_failing": "SELECT count(*) FROM water_supply WHERE deleted_at IS NULL "
    "AND last_test_passed = false",
    "test_overdue": "SELECT count(*) FROM water_supply WHERE deleted_at IS NULL AND status = 'in_service' "
    "AND (next_test_due IS NULL OR next_test_due < %(t)s)",
}


def _done(conn: psycopg.Connection, layer: str, measure: str, year: int, district: str | None) -> float:
    query = DONE_SQL[(layer, measure)].format(d="AND district_code = %(dc)s" if district else "")
    if layer == "water_supply" and district:
        query = query.replace("AND district_code", "AND s.district_code")
    row = conn.execute(query, {"y": year, "dc": district}).fetchone()
    assert row is not None
    return float(row[0])


@pytest.mark.parametrize("year", [YEAR, TODAY.year])
def test_every_target_figure_matches_sql(
    client: TestClient, accounts: dict[Role, Account], sqlconn: psycopg.Connection, year: int
) -> None:
    data = dashboard(client, accounts, year)
    assert data["targets"], "the demo sets targets for this year"
    for t in data["targets"]:
        expected = _done(sqlconn, t["layer"], t["measure"], year, t["district"])
        assert t["done"] == expected, t
        target = float(
            sqlconn.execute(
                "SELECT target FROM campaign_targets WHERE year = %s AND layer = %s AND measure = %s "
                "AND district_code IS NOT DISTINCT FROM %s",
                (year, t["layer"], t["measure"], t["district"]),
            ).fetchone()[0]
        )
        assert t["target"] == target
        assert t["percent"] == round(100 * expected / target, 1)


def test_the_demo_has_the_published_shape(client: TestClient, accounts: dict[Role, Account]) -> None:
    data = dashboard(client, accounts, YEAR)
    by = {(t["layer"], t["measure"], t["district"]): t for t in data["targets"]}
    manholes = by[("manholes", "remediated", None)]
    assert manholes["done"] > manholes["target"]  # 11,269 against 8,000 in the report
    assert by[("poles_wires", "cleared", None)]["percent"] == 129.6  # 521 against 402
    flags = {f["flag"]: f for f in data["flags"]}
    open_voids = sum(c["n"] for c in data["counts"] if c["layer"] == "road_voids" and c["status"] != "closed")
    # some hazards overdue, but not all; some water sites failing or overdue, not all
    assert 0 < flags["deadline_overdue"]["total"] < open_voids
    sites = sum(c["n"] for c in data["counts"] if c["layer"] == "water_supply")
    assert 0 < flags["water_failing"]["total"] < sites // 4
    assert 0 < flags["test_overdue"]["total"] < sites // 4


def test_a_demo_seeded_today_is_mostly_on_time(
    client: TestClient, accounts: dict[Role, Account], sqlconn: psycopg.Connection
) -> None:
    """Dated relative to the day it is seeded: a handful of voids past a deadline, most
    open ones on time, some closed this month, water tests recent (issue 10)."""
    data = dashboard(client, accounts, TODAY.year)
    overdue = {f["flag"]: f["total"] for f in data["flags"]}["deadline_overdue"]
    assert overdue == one(sqlconn, FLAG_SQL["deadline_overdue"].replace("%(t)s", "%s"), *[TODAY] * 3)
    open_voids = one(sqlconn, "SELECT count(*) FROM road_voids WHERE status <> 'closed'")
    assert 1 <= overdue <= 8 and open_voids >= 3 * overdue, (overdue, open_voids)
    closed_this_month = one(
        sqlconn,
        "SELECT count(*) FROM road_voids "
        "WHERE closed_on >= date_trunc('month', %s::date) AND closed_on <= %s",
        TODAY,
        TODAY,
    )
    assert closed_this_month >= 1
    assert (
        one(
            sqlconn,
            "SELECT count(*) FROM road_voids WHERE greatest(found_on, assigned_on, remediated_on, "
            "closed_on) > %s",
            TODAY,
        )
        == 0
    )
    # the last test of every site but a few lies within its quarterly interval
    stale = one(sqlconn, "SELECT count(*) FROM water_supply WHERE last_tested_on < %s::date - 90", TODAY)
    assert 0 < stale <= 20


def test_the_deadline_range_agrees_with_the_deadlines_counted_in_sql(
    client: TestClient, accounts: dict[Role, Account], sqlconn: psycopg.Connection
) -> None:
    """``deadline_from``/``deadline_to`` filter on the workflow deadline: the voids due
    before today are the overdue ones, those due today or later the rest of the open ones."""
    overdue = one(sqlconn, FLAG_SQL["deadline_overdue"].replace("%(t)s", "%s"), *[TODAY] * 3)
    open_voids = one(sqlconn, "SELECT count(*) FROM road_voids WHERE status <> 'closed'")

    def matched(**params: str) -> int:
        r = client.get(
            "/api/search",
            params={"layers": "road_voids", "limit": 1, **params},
            headers=accounts[Role.VIEWER].bearer,
        )
        assert r.status_code == 200, r.text
        return r.json()["numberMatched"]

    yesterday = (TODAY - dt.timedelta(days=1)).isoformat()
    assert matched(deadline_to=yesterday) == overdue
    assert matched(deadline_from=TODAY.isoformat()) == open_voids - overdue
    assert matched(deadline_from=TODAY.isoformat(), deadline_to=yesterday) == 0
    bad = client.get("/api/search", params={"deadline_from": "soon"}, headers=accounts[Role.VIEWER].bearer)
    assert bad.status_code == 400


def test_every_count_matches_sql(
    client: TestClient, accounts: dict[Role, Account], sqlconn: psycopg.Connection, catalog: LayerCatalog
) -> None:
    data = dashboard(client, accounts, TODAY.year)
    got = {(c["layer"], c["district"], c["status"]): c["n"] for c in data["counts"]}
    expected = {}
    for spec in catalog:
        q = sql.SQL(
            "SELECT district_code, status, count(*) FROM {} WHERE deleted_at IS NULL GROUP BY 1, 2"
        ).format(sql.Identifier(spec.name))
        for district, status, n in sqlconn.execute(q):
            expected[(spec.name, district, status)] = n
    assert got == expected


def test_every_flag_matches_sql(
    client: TestClient, accounts: dict[Role, Account], sqlconn: psycopg.Connection
) -> None:
    data = dashboard(client, accounts, TODAY.year)
    for f in data["flags"]:
        row = sqlconn.execute(FLAG_SQL[f["flag"]], {"t": TODAY}).fetchone()
        assert row is not None and f["total"] == row[0], f["flag"]
        assert sum(f["by_district"].values()) == f["total"]
        assert len(f["items"]) == min(f["total"], 200)


def test_monthly_trend_matches_sql(
    client: TestClient, accounts: dict[Role, Account], sqlconn: psycopg.Connection
) -> None:
    data = dashboard(client, accounts, YEAR)
    trend = {(s["layer"], s["measure"]): s["values"] for s in data["trend"]}
    months = dict(
        sqlconn.execute(
            "SELECT extract(month FROM remediated_on)::int, count(*) FROM manholes "
            "WHERE extract(year FROM remediated_on) = %s GROUP BY 1",
            (YEAR,),
        ).fetchall()
    )
    assert trend[("manholes", "remediated")] == [months.get(m, 0) for m in range(1, 13)]
    tested = dict(
        sqlconn.execute(
            "SELECT extract(month FROM tested_on)::int, count(DISTINCT site_id) FROM water_tests "
            "WHERE extract(year FROM tested_on) = %s GROUP BY 1",
            (YEAR,),
        ).fetchall()
    )
    assert trend[("water_supply", "sites_tested")] == [tested.get(m, 0) for m in range(1, 13)]


def _search_total(client: TestClient, accounts: dict[Role, Account], href: str) -> int:
    hash_params = dict(parse_qsl(urlsplit(href).fragment))
    assert hash_params["layers"]
    params = dict(parse_qsl(hash_params["search"]))
    params.setdefault("today", TODAY.isoformat())
    r = client.get("/api/search", params=params, headers=accounts[Role.VIEWER].bearer)
    assert r.status_code == 200, (href, r.text)
    return r.json()["numberMatched"]


def test_figures_link_to_the_map_listing_the_same_assets(
    client: TestClient, accounts: dict[Role, Account]
) -> None:
    data = dashboard(client, accounts, YEAR)
    for t in data["targets"]:
        if t["layer"] != "parking":  # capacity is a sum of bays, the map lists zones
            assert _search_total(client, accounts, t["href"]) == t["done"], t
    for c in data["counts"][:12]:
        assert c["href"].startswith("/#") and f"status={c['status']}" in c["href"]
        assert _search_total(client, accounts, c["href"]) == c["n"], c
    for f in data["flags"]:
        if f["total"] <= 1000:
            assert _search_total(client, accounts, f["href"]) == f["total"], f["flag"]


@pytest.mark.parametrize("fmt", ["xlsx", "pdf"])
def test_monthly_report_holds_the_figures(
    client: TestClient, accounts: dict[Role, Account], sqlconn: psycopg.Connection, fmt: str
) -> None:
    month = f"{YEAR}-11"
    r = client.get(
        "/api/reports/monthly", params={"month": month, "format": fmt}, headers=accounts[Role.VIEWER].bearer
    )
    assert r.status_code == 200, r.text
    opened = one(
        sqlconn, "SELECT count(*) FROM road_voids WHERE found_on >= '2025-11-01' AND found_on < '2025-12-01'"
    )
    closed = one(
        sqlconn,
        "SELECT count(*) FROM road_voids WHERE closed_on >= '2025-11-01' AND closed_on < '2025-12-01'",
    )
    manholes = _done(sqlconn, "manholes", "remediated", YEAR, None)
    if fmt == "xlsx":
        wb = load_workbook(io.BytesIO(r.content))
        summary = wb["月报概览"]
        assert summary["A1"].value == "焦作市城市管理专项整治月报（2025年11月）"
        rows = [[c.value for c in row] for row in summary.iter_rows()]
        manhole_row = next(row for row in rows if row[1] == "窨井整治" and row[2] == "全市")
        assert manhole_row[3:5] == [410, manholes]
        assert wb["本月新发现隐患"].max_row - 2 == opened
        assert wb["本月销号隐患"].max_row - 2 == closed
    else:
        assert r.content.startswith(b"%PDF")
        text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(r.content)).pages)
        assert "焦作市城市管理专项整治月报（2025年11月）" in text
        assert "窨井整治" in text and f"{int(manholes):,}" in text


_CJK = re.compile(r"[\u3400-\u9fff\uff00-\uffef\u2160-\u216b]")
_LATIN_WORD = re.compile(r"[A-Za-z]{2,}")
# what is not a word: asset codes, dates, numbers
_NOT_WORDS = re.compile(r"\b[A-Z]{2}-[0-9A-Z]+-[0-9]+(-[0-9]+)?\b")


def _english_first(text: str) -> bool:
    """A line (or cell) whose first word is English, before any Chinese."""
    text = _NOT_WORDS.sub("", text)
    latin, cjk = _LATIN_WORD.search(text), _CJK.search(text)
    return latin is not None and (cjk is None or latin.start() < cjk.start())


def test_the_monthly_report_reads_chinese_first_and_its_first_page_is_drawn(
    client: TestClient, accounts: dict[Role, Account]
) -> None:
    """Every word a reader sees in the 月报 (PDF and XLSX) is Chinese first; the PDF's
    first page, rendered with PDFium, is the README's picture."""
    month = f"{TODAY.year}-{TODAY.month:02d}"
    viewer = accounts[Role.VIEWER].bearer
    pdf = client.get("/api/reports/monthly", params={"month": month, "format": "pdf"}, headers=viewer)
    xlsx = client.get("/api/reports/monthly", params={"month": month, "format": "xlsx"}, headers=viewer)
    assert pdf.status_code == 200 and xlsx.status_code == 200
    pages = [page.extract_text() for page in PdfReader(io.BytesIO(pdf.content)).pages]
    assert pages[0].startswith(f"焦作市城市管理专项整治月报（{TODAY.year}年{TODAY.month}月）")
    lines = [line for page in pages for line in page.splitlines() if line.strip()]
    assert [line for line in lines if _english_first(line)] == []
    assert sum(bool(_CJK.search(line)) for line in lines) > len(lines) // 2
    wb = load_workbook(io.BytesIO(xlsx.content))
    cells = [
        str(c.value) for ws in wb.worksheets for row in ws.iter_rows() for c in row if c.value is not None
    ]
    assert [c for c in cells if _english_first(c)] == []
    assert all(_CJK.search(ws.title) for ws in wb.worksheets)

    doc = pypdfium2.PdfDocument(pdf.content)
    image = doc[0].render(scale=1.6).to_pil().convert("RGB")
    doc.close()
    # a drawn page: the tables' ink, not a blank sheet
    assert image.width > 900 and len(image.getcolors(1 << 24) or []) > 50
    out = PROJECT_ROOT / "docs" / "screenshots" / "report-page1.png"
    image.save(out, optimize=True)
    assert out.stat().st_size > 20_000


def test_report_refuses_a_bad_month(client: TestClient, accounts: dict[Role, Account]) -> None:
    r = client.get(
        "/api/reports/monthly",
        params={"month": "2025-13", "format": "pdf"},
        headers=accounts[Role.VIEWER].bearer,
    )
    assert r.status_code == 400


def test_cli_writes_the_report(demo: Settings, tmp_path: Any) -> None:
    from typer.testing import CliRunner

    from web.cli import app

    out = tmp_path / "report.xlsx"
    result = CliRunner().invoke(
        app,
        ["report", "--month", f"{YEAR}-11", "--format", "xlsx", "--output", str(out)],
        env={"DATABASE_URL": demo.database_url or ""},
    )
    assert result.exit_code == 0, result.output
    assert load_workbook(out)["月报概览"]["A1"].value.startswith("焦作市城市管理专项整治月报")


def test_only_an_admin_sets_targets(
    client: TestClient, accounts: dict[Role, Account], sqlconn: psycopg.Connection
) -> None:
    body = {"year": 2030, "layer": "manholes", "measure": "remediated", "target": 8000, "district": "410802"}
    assert client.put("/api/targets", json=body, headers=accounts[Role.OFFICER].bearer).status_code == 403
    r = client.put("/api/targets", json=body, headers=accounts[Role.ADMIN].bearer)
    assert r.status_code == 200, r.text
    assert r.json()["done"] == 0
    assert one(sqlconn, "SELECT set_by FROM campaign_targets WHERE year = 2030") == "admin"
    bad = client.put(
        "/api/targets", json={**body, "measure": "polished"}, headers=accounts[Role.ADMIN].bearer
    )
    assert bad.status_code == 422 and bad.json()["code"] == "unknown_measure"
    listed = client.get("/api/targets", params={"year": 2030}, headers=accounts[Role.VIEWER].bearer).json()
    assert listed["targets"][0]["target"] == 8000
    gone = client.delete(
        "/api/targets",
        params={"year": 2030, "layer": "manholes", "measure": "remediated", "district": "410802"},
        headers=accounts[Role.ADMIN].bearer,
    )
    assert gone.status_code == 204
    assert one(sqlconn, "SELECT count(*) FROM campaign_targets WHERE year = 2030") == 0


def test_a_second_demo_seed_keeps_the_targets(demo: Settings) -> None:
    assert demo.database_url
    with psycopg.connect(demo.database_url) as conn:
        counts = seed_demo(conn, today=TODAY)
        conn.rollback()
    assert set(counts["campaign_targets"]) == {"unchanged"}
    assert counts["water_tests"]["created"] == 0 and "removed" not in counts["water_tests"]
