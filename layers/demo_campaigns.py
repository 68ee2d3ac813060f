"""The demo's campaigns: yearly targets in the bureau's published shape, and a current
slice of work dated relative to today, so the demo never looks entirely overdue.

The 2025 demo (``demo_hazards``, ``demo_places``) is fixed; on its records the 2025
targets reproduce the report's shape: manholes remediated above target (11,269 against
8,000 in the report, scaled to the demo's ~2,000 manholes), poles and wires cleared at
129.6 % of plan (158 + 101 + 262 = 521 against 402), every water site tested (210
against 200). Targets are entered numbers; what was done is always counted from the
records (registry/campaigns.py).

Relative to ``today`` (passed in; the same rows all day): each water site's latest
quarterly test falls in the last ~80 days, a few fail and a few sites miss theirs (so
they are overdue); a batch of road voids found in the last six weeks has deadlines by
risk grade, most still open, some past. Targets for the current year are set on what
this slice (and the parking bays recorded this year) can show.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from layers.demo_common import YEAR, DistrictIndex, Draft, day, exact_mix, note, people, rng_for
from layers.demo_hazards import _DEADLINE_DAYS, _SURROUNDINGS, _district, spread
from layers.demo_places import _LABS, WATER_SITES
from layers.demo_streets import describe, point_lonlat

CURRENT_VOIDS = 24
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
    (None, "parking", "bays_added", 1000),
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
    """One recent test per site (code → tests), dated within the last 80 days; a few
    sites have none (their last test is the 2025 one: overdue) and a few fail."""
    rng = rng_for(f"water_current/{today.isoformat()}")
    codes = sorted(site_codes)
    skipped = set(rng.sample(codes, SKIPPED_SITES))
    tested = [c for c in codes if c not in skipped]
    failing = set(rng.sample(tested, FAILING_TESTS))
    out: dict[str, list[dict[str, Any]]] = {}
    for code in tested:
        test = {
            "tested_on": today - dt.timedelta(days=rng.randint(3, 80)),
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


def current_road_voids(districts: DistrictIndex, today: dt.date) -> list[Draft]:
    """Voids found in the last six weeks (排查发现), deadlines by grade from the day found."""
    rng = rng_for(f"road_voids_current/{today.isoformat()}")
    surveyors = people(rng, 4)
    grades = exact_mix(rng, {"I": 2, "II": 6, "III": 9, "IV": 7})
    drafts = []
    for i, (street, s) in enumerate(spread(rng, CURRENT_VOIDS), start=1):
        left = rng.uniform(-street.half_width_m + 1, street.half_width_m - 1)
        geom = point_lonlat(street, s, left)
        district = _district(districts, geom, "road void")
        grade = grades[i - 1]
        found = day(rng, today - dt.timedelta(days=42), today - dt.timedelta(days=1))
        found = max(found, dt.date(today.year, 1, 1))  # found this year
        detected = max(found - dt.timedelta(days=rng.randint(1, 5)), dt.date(today.year, 1, 1))
        props = {
            "code": f"KD-{today.year}-{900 + i:04d}",
            "status": "found",
            "road_name": street.name,
            "location_desc": describe(street, s, left, "机动车道下方"),
            "length_m": round(rng.uniform(0.8, 4.0), 1),
            "width_m": round(rng.uniform(0.6, 3.0), 1),
            "void_height_m": round(rng.uniform(0.1, 0.8), 2),
            "cover_depth_m": round(rng.uniform(0.4, 1.8), 2),
            "surroundings": rng.choice(_SURROUNDINGS),
            "detection_method": "gpr",
            "detected_on": detected,
            "risk_grade": grade,
            "found_on": found,
            "found_by": rng.choice(surveyors),
            "remediation_deadline": found + dt.timedelta(days=_DEADLINE_DAYS[grade]),
            "notes": note(f"{districts.name(district)}道路脱空隐患（本年度专项排查）"),
        }
        drafts.append(Draft("road_voids", props, geom))
    return drafts


def all_site_codes() -> list[str]:
    """The demo's water-site codes (as demo_places makes them)."""
    return [f"GS-{YEAR}-{i + 1:04d}" for i in range(WATER_SITES)]
