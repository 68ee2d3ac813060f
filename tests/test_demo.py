"""The Jiaozuo demo data: the bureau's 2025 numbers, deterministic, idempotent,
marked as demo, and geometrically sane (bays never overlap, everything in the urban
districts).

Seeding takes a few seconds, so one database is seeded (twice) per module and the
read-only checks share it; each check is its own test.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest
from psycopg import sql

from layers import ALL_LAYERS
from layers.demo import build, seed_demo
from layers.demo_campaigns import CURRENT_VOIDS, all_site_codes, current_water_tests
from registry import clock
from registry.assets import AssetRow, upsert_assets
from registry.cluster import Cluster
from registry.settings import PROJECT_ROOT
from tests.factories import make_properties, sample_geometry_for

URBAN = {"410802", "410803", "410804", "410811"}
# the 2025 tests, plus each site's latest test of this year (layers.demo_campaigns: early
# in the year, the few sites that missed this quarter's have none yet)
WATER_TESTS = 840 + sum(len(t) for t in current_water_tests(all_site_codes(), clock.today()).values())
ROW_SNAPSHOT = "SELECT layer, code, version, updated_at, md5(a::text) FROM assets a ORDER BY layer, code"
TEST_SNAPSHOT = (
    "SELECT s.code, t.tested_on, t.passed, t.created_at FROM water_tests t "
    "JOIN water_supply s ON s.id = t.site_id ORDER BY 1, 2"
)


@dataclass
class Seeded:
    conn: psycopg.Connection
    first: dict[str, Counter[str]]
    second: dict[str, Counter[str]]
    rows_after_first: list[tuple[Any, ...]]
    rows_after_second: list[tuple[Any, ...]]
    tests_after_first: list[tuple[Any, ...]]
    tests_after_second: list[tuple[Any, ...]]
    progress: list[str]
    progress_en: list[str]

    def one(self, query: str, *params: Any) -> Any:
        row = self.conn.execute(query, params).fetchone()
        assert row is not None
        return row[0] if len(row) == 1 else row


@pytest.fixture(scope="module")
def seeded(cluster: Cluster, template_db: str) -> Iterator[Seeded]:
    """A fresh copy of the template with one real (non-demo) asset, seeded twice."""
    name = f"test_demo_{os.getpid()}"
    base = f"postgresql://{cluster.settings.pg_user}@127.0.0.1:{cluster.port}"
    with psycopg.connect(f"{base}/postgres", autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        admin.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(name), sql.Identifier(template_db)
            )
        )
    try:
        with psycopg.connect(f"{base}/{name}") as conn:
            from layers.parking import PARKING

            real = make_properties(PARKING, code="TC-REAL-0001")
            upsert_assets(conn, PARKING, [AssetRow(real, sample_geometry_for(PARKING, real))])
            conn.commit()
            said: list[str] = []
            first = seed_demo(conn, progress=said.append)
            conn.commit()
            rows1 = conn.execute(ROW_SNAPSHOT).fetchall()
            tests1 = conn.execute(TEST_SNAPSHOT).fetchall()
            said_en: list[str] = []
            second = seed_demo(conn, progress=said_en.append, lang="en")
            conn.commit()
            yield Seeded(
                conn,
                first,
                second,
                rows1,
                conn.execute(ROW_SNAPSHOT).fetchall(),
                tests1,
                conn.execute(TEST_SNAPSHOT).fetchall(),
                said,
                said_en,
            )
    finally:
        with psycopg.connect(f"{base}/postgres", autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def _kinds(seeded: Seeded, query: str) -> dict[Any, int]:
    return {tuple(r[:-1]) if len(r) > 2 else r[0]: r[-1] for r in seeded.conn.execute(query)}


def test_first_seed_creates_every_demo_row(seeded: Seeded) -> None:
    created = {layer: c["created"] for layer, c in seeded.first.items()}
    assert created["road_voids"] == 294 + CURRENT_VOIDS
    assert created["manholes"] == 2000
    # the 2025 report's 348, plus the stalls registered so far this year
    assert created["markets"] == seeded.one("SELECT count(*) FROM markets WHERE is_demo")
    assert seeded.one("SELECT count(*) FROM markets WHERE code LIKE 'SC-2025-%%'") == 348
    assert created["water_supply"] == 210
    assert created["water_tests"] == WATER_TESTS
    assert all(set(c) <= {"created", "unchanged"} for c in seeded.first.values())


def test_progress_reports_one_line_per_layer_in_chinese_and_in_english_when_asked(seeded: Seeded) -> None:
    for spec in ALL_LAYERS:
        assert sum(line.startswith(f"{spec.zh}：") for line in seeded.progress) == 1, spec.name
        assert sum(line.startswith(f"{spec.en}: ") for line in seeded.progress_en) == 1, spec.name
    assert sum(line.startswith("水质检测：") for line in seeded.progress) == 1
    assert sum(line.startswith("water tests: ") for line in seeded.progress_en) == 1
    assert not any(re.search(r"[A-Za-z]{3,}", line) for line in seeded.progress), seeded.progress
    assert not any(re.search(r"[\u4e00-\u9fff]", line) for line in seeded.progress_en), seeded.progress_en


def test_second_seed_changes_nothing(seeded: Seeded) -> None:
    for layer, counter in seeded.second.items():
        if layer == "water_tests":
            assert counter == Counter({"created": 0, "unchanged": WATER_TESTS})
        else:
            assert set(counter) == {"unchanged"}, (layer, counter)
            assert counter["unchanged"] == seeded.first[layer]["created"]
    assert seeded.rows_after_second == seeded.rows_after_first
    assert seeded.tests_after_second == seeded.tests_after_first
    # Versions stay 1; a site's version counts the refreshes of its last-test columns
    # by the water_tests trigger (one per test, all during the first seed: four in 2025
    # and this quarter's).
    assert seeded.one("SELECT max(version) FROM assets WHERE layer <> 'water_supply'") == 1
    assert seeded.one("SELECT max(version) FROM water_supply") == 6


def test_generated_rows_are_the_same_on_every_build(seeded: Seeded) -> None:
    a, tests_a = build(seeded.conn)
    b, tests_b = build(seeded.conn)
    assert tests_a == tests_b
    for layer in a:
        assert [(r.props, r.geom.wkb) for r in a[layer]] == [(r.props, r.geom.wkb) for r in b[layer]]


_DIGEST = """
import hashlib, sys
import psycopg
from layers.demo import build
with psycopg.connect(sys.argv[1]) as conn:
    rows, tests = build(conn)
h = hashlib.sha256()
for layer, layer_rows in rows.items():
    for r in layer_rows:
        h.update(repr((layer, sorted(r.props.items()), r.geom.wkb_hex, sorted(r.extra.items()))).encode())
h.update(repr(sorted(tests.items())).encode())
print(h.hexdigest())
"""


def test_generated_rows_do_not_depend_on_the_process(seeded: Seeded) -> None:
    """Two interpreters with different hash seeds generate byte-identical rows."""
    dsn = seeded.conn.info.dsn
    digests = {
        subprocess.run(
            [sys.executable, "-c", _DIGEST, dsn],
            env={**os.environ, "PYTHONHASHSEED": seed},
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        for seed in ("1", "2")
    }
    assert len(digests) == 1 and len(digests.pop()) == 64


def test_every_demo_row_is_marked_and_real_rows_are_untouched(seeded: Seeded) -> None:
    total, demo, noted, by_demo = seeded.one(
        "SELECT count(*), count(*) FILTER (WHERE is_demo), "
        "count(*) FILTER (WHERE notes LIKE '演示数据 DEMO%%'), count(*) FILTER (WHERE created_by = 'demo') "
        "FROM assets WHERE code <> 'TC-REAL-0001'"
    )
    assert total == demo == noted == by_demo
    assert seeded.one("SELECT is_demo FROM parking WHERE code = 'TC-REAL-0001'") is False


def test_road_voids_cover_every_urban_district_grade_and_stage(seeded: Seeded) -> None:
    # the 2025 voids (this year's, found relative to today, are layers.demo_campaigns')
    per_district = _kinds(
        seeded, "SELECT district_code, count(*) FROM road_voids WHERE code LIKE 'KD-2025-%' GROUP BY 1"
    )
    assert set(per_district) == URBAN
    assert min(per_district.values()) >= 20
    assert sum(per_district.values()) == 294
    assert set(_kinds(seeded, "SELECT risk_grade, count(*) FROM road_voids GROUP BY 1")) == {
        "I",
        "II",
        "III",
        "IV",
    }
    stages = _kinds(seeded, "SELECT status, count(*) FROM road_voids GROUP BY 1")
    assert set(stages) == {"found", "assigned", "remediating", "remediated", "closed"}
    # the workflow's record: remediated voids have their method, contractor and date, and
    # whoever recorded a remediation did not also verify (close) it
    assert (
        seeded.one(
            "SELECT count(*) FROM road_voids WHERE status IN ('remediated', 'closed') AND "
            "(remediation_method IS NULL OR remediation_contractor IS NULL OR responsible_unit IS NULL "
            " OR closed_by = remediated_by)"
        )
        == 0
    )
    # each reached step has its date and person, in order
    assert (
        seeded.one(
            "SELECT count(*) FROM road_voids WHERE found_by IS NULL "
            "OR (status IN ('assigned', 'remediated', 'closed') "
            "    AND (assigned_by IS NULL OR assigned_on < found_on)) "
            "OR (status IN ('remediated', 'closed') "
            "    AND (remediated_by IS NULL OR remediated_on < assigned_on)) "
            "OR (status = 'closed' AND (closed_by IS NULL OR closed_on < remediated_on))"
        )
        == 0
    )


def test_manholes_and_poles_carry_national_component_codes(seeded: Seeded) -> None:
    assert seeded.one("SELECT count(*) FROM manholes") == 2000
    assert (
        seeded.one("SELECT count(*) FROM manholes WHERE status = 'remediated' AND remediated_on IS NOT NULL")
        > 0
    )
    assert len(_kinds(seeded, "SELECT kind, count(*) FROM manholes GROUP BY 1")) == 10
    bad = seeded.one(
        "SELECT count(*) FROM ("
        " SELECT code, district_code FROM manholes UNION ALL"
        " SELECT code, district_code FROM poles_wires WHERE element = 'pole') c "
        "WHERE code !~ '^[0-9]{16}$' OR left(code, 6) <> district_code"
    )
    assert bad == 0
    assert (
        seeded.one(
            "SELECT count(*) FROM poles_wires WHERE kind = 'street_light' AND substr(code, 7, 4) <> '0118'"
        )
        == 0
    )


def test_poles_wires_show_what_the_bureau_cleared(seeded: Seeded) -> None:
    counts = _kinds(seeded, "SELECT element, status, flying_wire, count(*) FROM poles_wires GROUP BY 1, 2, 3")
    assert sum(n for (element, _, _), n in counts.items() if element == "pole") == 1500
    assert counts[("pole", "removed", False)] == 158
    assert counts[("wire", "removed", False)] == 101
    assert counts[("wire", "removed", True)] == 262
    assert counts[("wire", "in_use", False)] > 500
    assert seeded.one("SELECT count(*) FROM poles_wires WHERE status = 'removed' AND removed_on IS NULL") == 0
    assert (
        seeded.one(
            "SELECT count(*) FROM poles_wires WHERE element = 'wire' AND GeometryType(geom) <> 'LINESTRING'"
        )
        == 0
    )
    # spans join neighbouring poles: tens of metres, not kilometres
    assert seeded.one("SELECT max(length_m) FROM poles_wires WHERE element = 'wire'") < 120


def test_parking_bays_are_small_rectangles_that_never_overlap(seeded: Seeded) -> None:
    # the 2025 report's bays (later years add the bays opened since)
    kinds = _kinds(
        seeded, "SELECT kind, count(*) FROM parking WHERE is_demo AND code LIKE 'TC-2025-%' GROUP BY 1"
    )
    assert kinds["on_street_bay"] == 1448
    assert 1 <= kinds["off_street_lot"] <= 10
    lo, hi = seeded.one(
        "SELECT min(area_m2), max(area_m2) FROM parking WHERE is_demo AND kind = 'on_street_bay'"
    )
    assert 14 <= lo <= hi <= 16  # 2.5 m x 6 m
    overlapping = seeded.one(
        "SELECT count(*) FROM parking a JOIN parking b ON a.id < b.id AND a.geom && b.geom "
        "WHERE ST_Overlaps(a.geom, b.geom) OR ST_Relate(a.geom, b.geom, 'T********')"
    )
    assert overlapping == 0


def test_demo_bays_opened_in_2025_and_this_year_up_to_today(seeded: Seeded) -> None:
    """New bays are dated by the day they opened: the 2025 report's in 2025, lots years
    before, this year's in runs up to today; a planned bay has not opened."""
    today = clock.today()
    by_year = dict(
        seeded.conn.execute(
            "SELECT extract(year FROM opened_on)::int, sum(capacity)::int FROM parking "
            "WHERE is_demo AND opened_on IS NOT NULL GROUP BY 1"
        ).fetchall()
    )
    assert max(by_year) == today.year and min(by_year) < 2025
    assert seeded.one("SELECT max(opened_on) FROM parking WHERE is_demo") <= today
    assert (
        seeded.one(
            "SELECT count(*) FROM parking WHERE is_demo AND status = 'planned' AND opened_on IS NOT NULL"
        )
        == 0
    )
    assert (
        seeded.one("SELECT count(*) FROM parking WHERE is_demo AND status <> 'planned' AND opened_on IS NULL")
        == 0
    )
    if today.year > 2025 and today.month >= 4:  # a month is a small part of the year so far
        this_month = seeded.one(
            "SELECT COALESCE(sum(capacity), 0) FROM parking WHERE is_demo AND opened_on >= %s",
            today.replace(day=1),
        )
        assert this_month < by_year[today.year] / 3


def test_270_bays_lie_around_enzhouyi_old_street(seeded: Seeded) -> None:
    n, spread_m = seeded.one(
        "SELECT count(*), max(ST_Distance(geom::geography, c::geography)) FROM parking, "
        "(SELECT ST_Centroid(ST_Collect(geom)) c FROM parking WHERE road_name = '恩州驿古街') centre "
        "WHERE road_name = '恩州驿古街' AND kind = 'on_street_bay'"
    )
    assert n == 270
    assert spread_m < 800


def test_markets_match_the_bureau_counts(seeded: Seeded) -> None:
    # the 2025 report's markets (later years add the stalls registered since)
    kinds = _kinds(seeded, "SELECT kind, count(*) FROM markets WHERE code LIKE 'SC-2025-%' GROUP BY 1")
    assert kinds == {
        "roadside_market": 150,
        "spring_fair": 11,
        "flexible_sale_point": 49,
        "convenience_zone": 60,
        "fruit_veg_stall_area": 30,
        "kiosk_station": 48,
    }
    shapes = _kinds(seeded, "SELECT GeometryType(geom), count(*) FROM markets GROUP BY 1")
    assert shapes["POINT"] > 0 and shapes["POLYGON"] > 0
    # Spring Festival markets are seasonal
    assert (
        seeded.one(
            "SELECT count(*) FROM markets WHERE kind IN ('spring_fair', 'flexible_sale_point') "
            "AND (valid_from IS NULL OR valid_to IS NULL OR valid_to - valid_from > 60)"
        )
        == 0
    )


def test_demo_stalls_registered_in_2024_2025_and_this_year_up_to_today(seeded: Seeded) -> None:
    """Markets and stalls are dated by the day they were registered: the 2025 report's
    in 2024 and 2025, before they opened, this year's in runs up to today; every one
    carries the date, so the report leaves none out."""
    today = clock.today()
    by_year = dict(
        seeded.conn.execute(
            "SELECT extract(year FROM registered_on)::int, count(*)::int FROM markets "
            "WHERE is_demo GROUP BY 1"
        ).fetchall()
    )
    assert None not in by_year
    assert min(by_year) == 2024 and max(by_year) == today.year
    assert seeded.one("SELECT max(registered_on) FROM markets WHERE is_demo") <= today
    assert seeded.one("SELECT count(*) FROM markets WHERE is_demo AND registered_on > valid_from") == 0
    if today.year > 2025 and today.month >= 4:  # a month is a small part of the year so far
        this_month = seeded.one(
            "SELECT count(*) FROM markets WHERE is_demo AND registered_on >= %s", today.replace(day=1)
        )
        assert 0 < this_month < by_year[today.year] / 3


def test_a_later_days_demo_adds_the_stalls_registered_since_and_moves_none(seeded: Seeded) -> None:
    today = clock.today()
    year = max(today.year, 2026)
    earlier, _ = build(seeded.conn, dt.date(year, 3, 31))
    later, _ = build(seeded.conn, dt.date(year, 9, 30))
    before = {r.props["code"]: (r.props, r.geom.wkb) for r in earlier["markets"]}
    after = {r.props["code"]: (r.props, r.geom.wkb) for r in later["markets"]}
    assert len(after) > len(before) > 348
    assert all(after[code] == row for code, row in before.items())


def test_water_sites_have_four_quarterly_tests_and_some_fail(seeded: Seeded) -> None:
    assert seeded.one("SELECT count(*) FROM water_supply") == 210
    quarters = seeded.one(
        "SELECT count(*) FROM (SELECT site_id FROM water_tests WHERE tested_on < '2026-01-01' "
        "GROUP BY site_id "
        "HAVING count(*) = 4 AND count(DISTINCT extract(quarter FROM tested_on)) = 4 "
        "AND min(tested_on) >= '2025-01-01' AND max(tested_on) <= '2025-12-31') s"
    )
    assert quarters == 210
    failed = seeded.one("SELECT count(*) FROM water_tests WHERE NOT passed")
    assert 0 < failed < 840 // 4
    mismatched = seeded.one(
        "SELECT count(*) FROM water_supply s JOIN LATERAL ("
        " SELECT tested_on, passed FROM water_tests t WHERE t.site_id = s.id ORDER BY tested_on DESC LIMIT 1"
        ") latest ON true "
        "WHERE s.last_tested_on IS DISTINCT FROM latest.tested_on "
        "   OR s.last_test_passed IS DISTINCT FROM latest.passed"
    )
    assert mismatched == 0
    assert seeded.one("SELECT count(*) FROM water_supply WHERE last_test_passed = false") > 0


def test_every_demo_asset_lies_in_an_urban_district(seeded: Seeded) -> None:
    districts = _kinds(seeded, "SELECT district_code, count(*) FROM assets WHERE is_demo GROUP BY 1")
    assert set(districts) == URBAN
