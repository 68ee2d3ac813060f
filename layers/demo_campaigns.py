"""The demo's campaigns: yearly targets in the bureau's published shape, and a current
slice of work dated relative to today, so the demo never looks entirely overdue.

The 2025 demo (``demo_hazards``, ``demo_places``) is fixed; on its records the 2025
targets reproduce the report's shape: manholes remediated above target (11,269 against
8,000 in the report, scaled to the demo's ~2,000 manholes), poles and wires cleared at
129.6 % of plan (158 + 101 + 262 = 521 against 402), every water site tested (210
against 200). Targets are entered numbers; what was done is always counted from the
records (registry/campaigns.py).

Relative to ``today`` (``registry.clock.today()``, passed in; the same rows all day):
each water site's latest quarterly test falls in the last ~80 days and a few fail; a
few sites missed this quarter's (their last test is one quarter and some weeks old:
overdue). This year's road voids stand at every step of the workflow, each step
taken within its deadline by grade, a handful now past one, some closed this month;
the 2025 backlog is worked off after the year's end (``demo_hazards.carry_forward``).
Targets for the current year are set on what this slice (and the parking bays
opened this year, ``demo_places._current_bays``: about 700 a year) can show.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from layers.demo_common import YEAR, DistrictIndex, Draft, exact_mix, note, people, rng_for
from layers.demo_hazards import (
    _CONTRACTORS,
    _REMEDIATION_METHODS,
    _SURROUNDINGS,
    _VOID_OWNERS,
    _district,
    _other,
    spread,
    workflow_days,
)
from layers.demo_places import _LABS, WATER_SITES
from layers.demo_streets import describe, point_lonlat

# This year's voids by what they show today: the step reached, on time or past its
# deadline (``_late``), closed this month (``_month``) or before.
CURRENT_OUTCOMES = {
    "found": 5,
    "found_late": 1,
    "assigned": 5,
    "assigned_late": 1,
    "remediating": 3,
    "remediating_late": 1,
    "remediated": 4,
    "remediated_late": 1,
    "closed_month": 6,
    "closed": 13,
}
CURRENT_VOIDS = sum(CURRENT_OUTCOMES.values())
CURRENT_GRADES = {"I": 3, "II": 10, "III": 15, "IV": 12}
# about one site in twelve misses its latest test; one test in twelve fails
SKIPPED_SITES, FAILING_TESTS = 17, 16

# (year or None for the current year, layer, measure, target); district targets below
TARGETS: tuple[tuple[int | None, str, str, float], ...] = (
    (YEAR, "manholes", "remediated", 410),
    (YEAR, "poles_wires", "cleared", 402),
    (YEAR, "water_supply", "sites_tested", 200),
    (YEAR, "road_voids", "closed", 140),
    (YEAR, "road_voids", "found", 280),
    (None, "water_supply", "sites_tested", 200),
    (None, "parking", "bays_added", 700),
    (None, "road_voids", "found", 30),
)
# per-district 2025 manhole targets of the four urban districts (the city-wide one above)
DISTRICT_TARGETS = {"410802": 140, "410803": 60, "410804": 50, "410811": 160}


def targets(today: dt.date) -> list[dict[str, Any]]:
    """The demo's targets (year, layer, measure, target, district)."""
    out: list[dict[str, Any]] = []
    seen: set[tuple[int, str, str]] = set()
    for y, layer, m, n in TARGETS:
        year = y or today.year
        if (year, layer, m) not in seen:  # the current year may be the demo's own
            seen.add((year, layer, m))
            out.append({"year": year, "layer": layer, "measure": m, "target": n, "district": None})
    out += [
        {"year": YEAR, "layer": "manholes", "measure": "remediated", "target": n, "district": d}
        for d, n in DISTRICT_TARGETS.items()
    ]
    return out


def current_water_tests(site_codes: list[str], today: dt.date) -> dict[str, list[dict[str, Any]]]:
    """One recent test per site (code → tests), dated within the last 80 days, a few
    failing; a few sites missed this quarter's: their test is 95–125 days old (overdue by
    days or weeks), or, early in the year, they have none (the 2025 one is their last)."""
    rng = rng_for(f"water_current/{today.isoformat()}")
    codes = sorted(site_codes)
    skipped = set(rng.sample(codes, SKIPPED_SITES))
    tested = [c for c in codes if c not in skipped]
    failing = set(rng.sample(tested, FAILING_TESTS))
    out: dict[str, list[dict[str, Any]]] = {}
    for code in codes:
        tested_on = today - dt.timedelta(days=rng.randint(3, 80))
        if code in skipped:
            tested_on = today - dt.timedelta(days=rng.randint(95, 125))
            if tested_on.year != today.year:
                continue  # the year's first quarter: the 2025 tests stay the last
        test = {
            "tested_on": tested_on,
            "turbidity_ntu": round(rng.uniform(0.1, 0.6), 2),
            "free_chlorine_mg_l": round(rng.uniform(0.1, 0.8), 2),
            "total_coliforms_mpn": 0,
            "total_bacteria_cfu_ml": rng.randint(0, 40),
            "ph": round(rng.uniform(7.0, 8.0), 1),
            "lab": rng.choice(_LABS),
        }
        if code in failing:
            measure, value = rng.choice(
                (
                    ("turbidity_ntu", round(rng.uniform(1.2, 2.5), 2)),
                    ("free_chlorine_mg_l", 0.02),
                    ("total_coliforms_mpn", rng.randint(1, 3)),
                    ("total_bacteria_cfu_ml", rng.randint(120, 300)),
                    ("ph", 8.7),
                )
            )
            test[measure] = value
        out[code] = [test]
    return out


def _current_dates(rng: Any, outcome: str, grade: str, today: dt.date) -> dict[str, dt.date]:
    """The step dates of a void of this slice that shows ``outcome`` today: its current
    step dated so it is on time (or, for ``*_late``, past its deadline), the earlier
    steps before it, each taken within its deadline."""
    assign, fix, close = workflow_days(grade)
    stage = outcome.removesuffix("_late").removesuffix("_month")
    late = outcome.endswith("_late")
    month_start = today.replace(day=1)

    def ago(days: int) -> dt.date:
        return today - dt.timedelta(days=days)

    def before(d: dt.date, allowed: int) -> dt.date:
        return d - dt.timedelta(days=rng.randint(1, max(1, allowed - 2)))

    dates: dict[str, dt.date] = {}
    if stage == "closed":
        if outcome == "closed_month":
            dates["closed_on"] = month_start + dt.timedelta(days=rng.randint(0, (today - month_start).days))
        else:
            dates["closed_on"] = month_start - dt.timedelta(days=rng.randint(1, 75))
        dates["remediated_on"] = before(dates["closed_on"], close)
    elif stage == "remediated":
        dates["remediated_on"] = ago(close + rng.randint(2, 12)) if late else ago(rng.randint(0, close - 2))
    if "remediated_on" in dates:
        dates["assigned_on"] = before(dates["remediated_on"], fix)
    elif stage in ("assigned", "remediating"):
        dates["assigned_on"] = ago(fix + rng.randint(2, 15)) if late else ago(rng.randint(1, fix - 2))
    if "assigned_on" in dates:
        dates["found_on"] = before(dates["assigned_on"], assign)
    else:
        dates["found_on"] = ago(assign + rng.randint(2, 12)) if late else ago(rng.randint(0, assign - 2))
    return dates


def current_road_voids(districts: DistrictIndex, today: dt.date) -> list[Draft]:
    """This year's campaign as it stands today: voids found over the last months at
    every step, most on time, a handful past their deadline (``CURRENT_OUTCOMES``), some
    closed this month; every step within the workflow's deadlines by grade."""
    rng = rng_for(f"road_voids_current/{today.isoformat()}")
    surveyors, officers, builders = people(rng, 4), people(rng, 4), people(rng, 5)
    grades = exact_mix(rng, CURRENT_GRADES)
    outcomes = exact_mix(rng, CURRENT_OUTCOMES)
    drafts = []
    for i, (street, s) in enumerate(spread(rng, CURRENT_VOIDS), start=1):
        left = rng.uniform(-street.half_width_m + 1, street.half_width_m - 1)
        geom = point_lonlat(street, s, left)
        district = _district(districts, geom, "road void")
        grade, outcome = grades[i - 1], outcomes[i - 1]
        dates = _current_dates(rng, outcome, grade, today)
        found = dates["found_on"]
        props: dict[str, Any] = {
            "code": f"KD-{today.year}-{900 + i:04d}",
            "status": outcome.removesuffix("_late").removesuffix("_month"),
            "road_name": street.name,
            "location_desc": describe(street, s, left, "机动车道下方"),
            "length_m": round(rng.uniform(0.8, 4.0), 1),
            "width_m": round(rng.uniform(0.6, 3.0), 1),
            "void_height_m": round(rng.uniform(0.1, 0.8), 2),
            "cover_depth_m": round(rng.uniform(0.4, 1.8), 2),
            "surroundings": rng.choice(_SURROUNDINGS),
            "detection_method": "gpr",
            "detected_on": found - dt.timedelta(days=rng.randint(1, 5)),
            "risk_grade": grade,
            "found_on": found,
            "found_by": rng.choice(surveyors),
            "notes": note(f"{districts.name(district)}道路脱空隐患（本年度专项排查）"),
        }
        _, fix, _ = workflow_days(grade)
        if "assigned_on" in dates:
            props |= {
                "assigned_on": dates["assigned_on"],
                "assigned_by": rng.choice(officers),
                "responsible_unit": rng.choice(_VOID_OWNERS),
            }
            props["remediation_deadline"] = dates["assigned_on"] + dt.timedelta(days=fix)
        else:
            props["remediation_deadline"] = found + dt.timedelta(days=workflow_days(grade)[0] + fix)
        if "remediated_on" in dates:
            props |= {
                "remediated_on": dates["remediated_on"],
                "remediated_by": rng.choice(builders),
                "remediation_method": rng.choice(_REMEDIATION_METHODS[grade]),
                "remediation_contractor": rng.choice(_CONTRACTORS),
            }
        if "closed_on" in dates:
            props |= {
                "closed_on": dates["closed_on"],
                "closed_by": _other(rng, officers, props["remediated_by"]),
            }
        drafts.append(Draft("road_voids", props, geom))
    return drafts


def all_site_codes() -> list[str]:
    """The demo's water-site codes (as demo_places makes them)."""
    return [f"GS-{YEAR}-{i + 1:04d}" for i in range(WATER_SITES)]
