"""Deterministic demo data for Jiaozuo: ``registry seed-demo`` loads it idempotently.

The numbers mirror the bureau's 2025 report (DESIGN.md). Rows are generated from
fixed seeds and fixed dates (the same rows on every run), placed along approximate
sketches of real streets (``layers.demo_streets``), marked as demo (``is_demo`` and
notes starting with ``演示数据 DEMO``), validated against the layer specs before
anything is written, and written in one transaction through ``upsert_assets`` (by
code, a no-op for unchanged rows), so a second run creates and changes nothing.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

import psycopg
import shapely
from psycopg import sql

from layers import ALL_LAYERS
from layers.demo_campaigns import current_road_voids, current_water_tests, targets
from layers.demo_common import DEMO_MARK, DistrictIndex, Draft
from layers.demo_gazetteer import seed_gazetteer
from layers.demo_hazards import manholes, poles_wires, road_voids
from layers.demo_places import markets, parking, water_supply
from registry import campaigns, clock
from registry.assets import AssetRow, asset_id_by_code, insert_children, upsert_assets
from registry.catalog import LayerCatalog
from registry.context import set_actor
from registry.messages import problem, render
from registry.spec import AttrType, ChildTable, LayerSpec
from registry.validation import validate_asset

logger = logging.getLogger(__name__)

WATER_TESTS_KEY = "water_tests"


class DemoDataInvalid(RuntimeError):
    """A generated demo row breaks its layer's rules: the generator drifted from the spec."""


def _load_districts(conn: psycopg.Connection) -> DistrictIndex:
    rows = conn.execute("SELECT code, ST_AsBinary(geom) FROM districts").fetchall()
    return DistrictIndex((code, shapely.from_wkb(bytes(wkb))) for code, wkb in rows)


def _validated(spec: LayerSpec, drafts: list[Draft]) -> list[AssetRow]:
    """Every draft checked with the layer's own validation; any problem is fatal."""
    rows = []
    for d in drafts:
        clean, problems = validate_asset(spec, d.props, d.geom)
        if not str(d.props.get("notes", "")).startswith(DEMO_MARK):
            problems.append(problem("notes", "demo_notes", mark=DEMO_MARK))
        if problems:
            detail = "; ".join(f"{p.field}: {p.message} ({p.value!r})" for p in problems)
            raise DemoDataInvalid(f"demo {spec.name} row {d.props.get('code')}: {detail}")
        rows.append(AssetRow(props=clean, geom=d.geom, extra=d.extra, is_demo=True))
    codes = Counter(r.props["code"] for r in rows)
    duplicates = [c for c, n in codes.items() if n > 1]
    if duplicates:
        raise DemoDataInvalid(f"demo {spec.name} codes repeat: {duplicates[:5]}")
    return rows


def _validated_child(child: ChildTable, code: str, record: Mapping[str, Any]) -> None:
    """Child records have no spec-level validator: check the declared ranges here."""
    for attr in child.attrs:
        value = record.get(attr.name)
        if attr.computed:
            if value is not None:
                raise DemoDataInvalid(f"demo {child.name} of {code}: {attr.name} is computed by the database")
            continue
        if attr.required and value is None:
            raise DemoDataInvalid(f"demo {child.name} of {code}: {attr.name} is required")
        if value is None or attr.type not in (AttrType.NUMBER, AttrType.INTEGER):
            continue
        if (attr.min is not None and value < attr.min) or (attr.max is not None and value > attr.max):
            raise DemoDataInvalid(f"demo {child.name} of {code}: {attr.name}={value} out of range")


def build(
    conn: psycopg.Connection, today: dt.date | None = None
) -> tuple[dict[str, list[AssetRow]], dict[str, list[dict[str, Any]]]]:
    """All demo rows per layer (validated) and the water tests per site code; no writes.

    The 2025 rows are fixed as the year left them; what happened since (the void
    backlog worked off, this year's campaign, this quarter's water tests:
    layers.demo_campaigns) is dated relative to ``today`` (default: the registry's
    clock, ``registry.clock.today()``)."""
    today = today or clock.today()
    districts = _load_districts(conn)
    sites, tests = water_supply(districts)
    for code, recent in current_water_tests([d.props["code"] for d in sites], today).items():
        tests[code] = tests[code] + [
            t for t in recent if t["tested_on"] not in {x["tested_on"] for x in tests[code]}
        ]
    drafts = {
        "road_voids": road_voids(districts, today) + current_road_voids(districts, today),
        "manholes": manholes(districts),
        "poles_wires": poles_wires(districts),
        "parking": parking(districts, today),
        "markets": markets(districts, today),
        "water_supply": sites,
    }
    specs = {s.name: s for s in ALL_LAYERS}
    missing = set(specs) - set(drafts)
    if missing:
        raise DemoDataInvalid(f"no demo generator for layers {sorted(missing)}")
    return {name: _validated(specs[name], rows) for name, rows in drafts.items()}, tests


def seed_demo(
    conn: psycopg.Connection,
    progress: Callable[[str], None] | None = None,
    today: dt.date | None = None,
    lang: str = "zh",
) -> dict[str, Counter[str]]:
    """Load the demo in one transaction; per layer, how many rows were created,
    updated or left unchanged (plus ``water_tests``: created / unchanged).

    Re-running changes nothing: assets are upserted by code and identical rows are
    skipped; a water test already stored for that site and day is skipped. ``progress``
    gets one line per step in ``lang`` (the CLI's language).
    """

    def say(code: str, **params: Any) -> None:
        if progress is not None:
            progress(render(code, params, lang))

    specs = {s.name: s for s in ALL_LAYERS}
    counts: dict[str, Counter[str]] = {}
    with conn.transaction():
        t0 = time.perf_counter()
        today = today or clock.today()
        rows, tests = build(conn, today)
        say("demo_built", s=f"{time.perf_counter() - t0:.1f}")
        set_actor(conn, "demo", via="demo", comment="registry seed-demo")
        for name, layer_rows in rows.items():
            t0 = time.perf_counter()
            counts[name] = upsert_assets(conn, specs[name], layer_rows)
            removed = _remove_stale(conn, specs[name], [r.props["code"] for r in layer_rows])
            if removed:
                counts[name]["removed"] = removed
            took = f"{time.perf_counter() - t0:.1f}"
            spec = specs[name]
            say(
                "demo_layer",
                layer_zh=spec.zh,
                layer_en=spec.en,
                rows=len(layer_rows),
                s=took,
                **_tally(counts[name]),
            )
        counts[WATER_TESTS_KEY] = _seed_water_tests(conn, specs["water_supply"], tests)
        say("demo_water_tests", **_tally(counts[WATER_TESTS_KEY]))
        counts[TARGETS_KEY] = _seed_targets(conn, today)
        say("demo_targets", **_tally(counts[TARGETS_KEY]))
        # the gazetteer of the map's place search: the demo streets and named places
        loaded = seed_gazetteer(conn)
        say("demo_places", roads=loaded["roads"], places=loaded["places"])
    return counts


TARGETS_KEY = "campaign_targets"


def _seed_targets(conn: psycopg.Connection, today: dt.date) -> Counter[str]:
    """The demo's targets (marked is_demo), replacing earlier demo targets; targets an
    admin entered are never touched."""
    wanted = targets(today)
    before = {
        (y, d, la, m, float(n))
        for y, d, la, m, n in conn.execute(
            "SELECT year, district_code, layer, measure, target FROM campaign_targets WHERE is_demo"
        )
    }
    now = {(t["year"], t["district"], t["layer"], t["measure"], float(t["target"])) for t in wanted}
    if before == now:
        return Counter({"unchanged": len(now)})
    conn.execute("DELETE FROM campaign_targets WHERE is_demo")
    catalog = LayerCatalog().register(*ALL_LAYERS)
    for t in wanted:
        taken = conn.execute(
            "SELECT 1 FROM campaign_targets WHERE year = %s AND district_code IS NOT DISTINCT FROM %s "
            "AND layer = %s AND measure = %s",
            (t["year"], t["district"], t["layer"], t["measure"]),
        ).fetchone()
        if taken is None:  # an admin's own target for the same figure wins
            campaigns.set_target(conn, catalog, is_demo=True, **t)
    # (unary + drops the zero counts)
    return +Counter(
        {"created": len(now - before), "unchanged": len(now & before), "removed": len(before - now)}
    )


def _remove_stale(conn: psycopg.Connection, spec: LayerSpec, codes: list[str]) -> int:
    """Drop demo rows an earlier version of the generator wrote under codes it no longer
    makes, so the demo in the database is exactly the current one (real rows, with
    ``is_demo`` false, are never touched)."""
    cur = conn.execute(
        sql.SQL("DELETE FROM {} WHERE is_demo AND NOT (code = ANY(%s))").format(sql.Identifier(spec.name)),
        (codes,),
    )
    return cur.rowcount


def _seed_water_tests(
    conn: psycopg.Connection, spec: LayerSpec, tests: dict[str, list[dict[str, Any]]]
) -> Counter[str]:
    (child,) = spec.children
    records = []
    for code, site_tests in tests.items():
        site_id = asset_id_by_code(conn, spec, code)
        if site_id is None:
            raise DemoDataInvalid(f"water supply site {code} was not written")
        for record in site_tests:
            _validated_child(child, code, record)
            records.append({**record, "site_id": site_id})
    created = insert_children(conn, child, "site_id", records)
    # tests of demo sites that an earlier day's demo wrote and today's does not
    wanted = [(r["site_id"], r["tested_on"]) for r in records]
    removed = conn.execute(
        "DELETE FROM water_tests w USING water_supply s WHERE s.id = w.site_id AND s.is_demo "
        "AND (w.site_id, w.tested_on) NOT IN (SELECT * FROM unnest(%s::uuid[], %s::date[]))",
        ([w[0] for w in wanted], [w[1] for w in wanted]),
    ).rowcount
    result = Counter({"created": created, "unchanged": len(records) - created})
    if removed:
        result["removed"] = removed
    return result


def _tally(counter: Counter[str]) -> dict[str, int]:
    return {k: counter[k] for k in ("created", "updated", "unchanged", "removed")}
