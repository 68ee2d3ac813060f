"""Demo generators for the street hazards: road voids, manholes, poles and wires.

Numbers follow the bureau's 2025 report (see DESIGN.md): 294 road voids, about 2,000
manholes, 1,500 poles with their wires, and the 158 abandoned poles, 101 abandoned
wires and 262 flying wires it cleared (status ``removed`` with a ``removed_on`` date).
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
import random
from collections.abc import Sequence
from typing import Any

from shapely.geometry import LineString, Point

from layers.demo_common import (
    AS_OF,
    YEAR,
    DistrictIndex,
    Draft,
    capped,
    city_unit,
    day,
    exact_mix,
    note,
    people,
    rng_for,
)
from layers.demo_streets import (
    STREETS,
    Street,
    clear_spot,
    describe,
    frame,
    metric_line,
    point_lonlat,
    to_lonlat,
)
from layers.road_voids import ROAD_VOIDS as ROAD_VOIDS_LAYER

ROAD_VOIDS = 294
MANHOLES = 2000
POLES = 1500
CLEARED_POLES, CLEARED_WIRES, CLEARED_FLYING = 158, 101, 262
# still waiting to be cleared at the end of the year
PENDING_POLES, PENDING_WIRES, PENDING_FLYING = 17, 9, 23


def spread(rng: random.Random, n: int, streets: Sequence[Street] = STREETS) -> list[tuple[Street, float]]:
    """``n`` spots spread uniformly over the total length of the streets."""
    lengths = [metric_line(s).length for s in streets]
    total = sum(lengths)
    spots = []
    for _ in range(n):
        r = rng.uniform(0, total)
        for street, length in zip(streets, lengths, strict=True):
            if r <= length:
                spots.append((street, r))
                break
            r -= length
        else:
            spots.append((streets[-1], lengths[-1]))
    return spots


def _district(districts: DistrictIndex, geom: Point | LineString, what: str) -> str:
    code = districts.of(geom)
    if code is None:
        raise RuntimeError(
            f"demo {what} at {geom.wkt} lies outside the urban districts: fix the street sketch"
        )
    return code


# --- road voids --------------------------------------------------------------------

_SURROUNDINGS = (
    "临近学校，下方有DN600给水管",
    "公交站台旁，早晚高峰车流量大",
    "下方有DN800雨水管，管节接口渗漏",
    "邻近中压燃气管线（DN300）",
    "人行道下为通信管群，管沟回填不密实",
    "临近医院出入口，救护车通行",
    "十字路口，重载车辆频繁通行",
    "下方有DN1000污水主管",
    "临近商场，地下为停车场出入口",
    "道路改扩建回填区，压实度不足",
    "临近河道，地下水位较高",
    "电力排管上方，井周路面沉陷",
)
_GRADE_SIZE = {  # length, width, void height, cover depth (m): larger and shallower = worse
    "I": ((3.0, 8.0), (2.0, 5.0), (0.5, 1.5), (0.3, 0.8)),
    "II": ((2.0, 5.0), (1.5, 3.5), (0.3, 0.8), (0.5, 1.2)),
    "III": ((1.0, 3.0), (0.8, 2.0), (0.15, 0.5), (0.8, 1.8)),
    "IV": ((0.5, 2.0), (0.4, 1.2), (0.05, 0.3), (1.0, 2.5)),
}
_DEADLINE_DAYS = {"I": 7, "II": 30, "III": 60, "IV": 90}
# grouting for small voids, digging out and backfilling the large shallow ones
_REMEDIATION_METHODS = {
    "I": ("excavation_backfill", "excavation_backfill", "replacement"),
    "II": ("excavation_backfill", "grouting", "grouting"),
    "III": ("grouting",) * 4 + ("excavation_backfill",),
    "IV": ("grouting",),
}
_CONTRACTORS = ("焦作市市政工程有限公司", "焦作市路桥建设有限公司", "河南省豫通路面工程有限公司")
_VOID_OWNERS = (
    "焦作市市政工程管理处",
    "焦作市供水公司",
    "焦作市排水管理处",
    "焦作中裕燃气有限公司",
    "国网焦作供电公司",
)


def workflow_days(grade: str) -> tuple[int, int, int]:
    """Days the road voids' workflow allows (as layers.road_voids declares them): 确权
    after 排查, 整治 after 确权 (by risk grade), 销号 after 整治."""
    wf = ROAD_VOIDS_LAYER.workflow
    assert wf is not None
    by_start = {d.start: d for d in wf.deadlines}

    def days(start: str) -> int:
        d = by_start[start]
        return d.days_by.get(grade, d.days or 0) if d.days_by else d.days or 0

    return days("found"), days("assigned"), days("remediated")


def _other(rng: random.Random, pool: Sequence[str], not_: Any) -> str:
    """Someone from the pool other than ``not_`` (the second person of a 销号)."""
    return rng.choice([p for p in pool if p != not_])


def carry_forward(
    props: dict[str, Any], today: dt.date, officers: Sequence[str], builders: Sequence[str]
) -> None:
    """Take a void still open at the end of the 2025 campaign (``AS_OF``) through its
    next steps up to ``today``, each within its deadline, so the old backlog is worked
    off instead of lying overdue for ever. Each void's future is its own fixed stream:
    the same steps on the same days whatever day the demo is seeded (only how far it
    has got depends on today)."""
    status = props["status"]
    if status == "closed" or today <= AS_OF:
        return
    rng = rng_for(f"road_voids_after/{props['code']}")
    assign, fix, close = workflow_days(str(props["risk_grade"]))
    dated = [props[f] for f in ("found_on", "assigned_on", "remediated_on") if props.get(f)]
    last = max(dated)
    # the first step after the campaign's year, then each within its deadline
    first = AS_OF + dt.timedelta(days=rng.randint(1, 10))

    def next_day(days: int) -> dt.date:
        return max(last + dt.timedelta(days=rng.randint(1, max(1, days - 2))), first)

    if status == "found":
        when = next_day(assign)
        if when > today:
            return
        props |= {"status": "assigned", "assigned_on": when, "assigned_by": rng.choice(officers)}
        props["responsible_unit"] = rng.choice(_VOID_OWNERS)
        last = when
    if props["status"] in ("assigned", "remediating"):
        when = next_day(fix)
        if when > today:
            props["status"] = "remediating" if today > last + dt.timedelta(days=1) else props["status"]
            return
        props |= {"status": "remediated", "remediated_on": when, "remediated_by": rng.choice(builders)}
        props["remediation_method"] = rng.choice(_REMEDIATION_METHODS[str(props["risk_grade"])])
        props["remediation_contractor"] = rng.choice(_CONTRACTORS)
        last = when
    when = next_day(close)
    if when <= today:
        props |= {
            "status": "closed",
            "closed_on": when,
            "closed_by": _other(rng, officers, props["remediated_by"]),
        }


def road_voids(districts: DistrictIndex, today: dt.date = AS_OF) -> list[Draft]:
    """294 voids along the streets with grades, lifecycle stages and ordered dates, as
    the 2025 campaign left them (``AS_OF``), then carried forward to ``today``."""
    rng = rng_for("road_voids")
    surveyors, officers, builders = people(rng, 8), people(rng, 6), people(rng, 10)
    grades = exact_mix(rng, {"I": 12, "II": 58, "III": 126, "IV": 98})
    stages = exact_mix(rng, {"closed": 150, "remediated": 52, "remediating": 20, "assigned": 28, "found": 44})
    # the remediation record of each remediated void (its own generator: the rest stays put)
    works = rng_for("road_voids_remediation")
    methods = ("gpr",) * 16 + ("endoscope", "endoscope", "borehole", "visual")
    drafts = []
    for i, (street, s) in enumerate(spread(rng, ROAD_VOIDS), start=1):
        left = rng.uniform(-street.half_width_m + 1, street.half_width_m - 1)
        geom = point_lonlat(street, s, left)
        district = _district(districts, geom, "road void")
        grade, stage = grades[i - 1], stages[i - 1]
        (l0, l1), (w0, w1), (h0, h1), (c0, c1) = _GRADE_SIZE[grade]
        detected = day(rng, dt.date(YEAR, 3, 1), dt.date(YEAR, 10, 31))
        found = detected + dt.timedelta(days=rng.randint(1, 7))
        props = {
            "code": f"KD-{YEAR}-{i:04d}",
            "status": stage,
            "road_name": street.name,
            "location_desc": describe(street, s, left, "机动车道下方"),
            "length_m": round(rng.uniform(l0, l1), 1),
            "width_m": round(rng.uniform(w0, w1), 1),
            "void_height_m": round(rng.uniform(h0, h1), 2),
            "cover_depth_m": round(rng.uniform(c0, c1), 2),
            "surroundings": "；".join(rng.sample(_SURROUNDINGS, rng.randint(1, 2))),
            "detection_method": rng.choice(methods),
            "detected_on": detected,
            "risk_grade": grade,
            "found_on": found,
            "found_by": rng.choice(surveyors),
            "remediation_deadline": found + dt.timedelta(days=_DEADLINE_DAYS[grade]),
        }
        steps = ("assigned", "remediated", "closed")
        # 整治中 (remediating): assigned, remediation under way but not yet recorded
        reached = steps[: {"found": 0, "assigned": 1, "remediating": 1, "remediated": 2, "closed": 3}[stage]]
        when = found
        for step, (d0, d1), pool in zip(
            reached,
            ((2, 12), (3, _DEADLINE_DAYS[grade]), (5, 20)),
            (officers, builders, officers),
            strict=False,
        ):
            when = capped(when + dt.timedelta(days=rng.randint(d0, d1)))
            props[f"{step}_on"] = when
            props[f"{step}_by"] = rng.choice(pool)
        props["responsible_unit"] = rng.choice(_VOID_OWNERS) if reached else None
        if "remediated" in reached:
            props["remediation_method"] = works.choice(_REMEDIATION_METHODS[grade])
            props["remediation_contractor"] = works.choice(_CONTRACTORS)
        props["notes"] = note(f"{districts.name(district)}道路脱空隐患，一患一档")
        carry_forward(props, today, officers, builders)
        drafts.append(Draft("road_voids", props, geom))
    return drafts


# --- manholes ----------------------------------------------------------------------

# kind -> (weight, GB/T 30428.2 small class of the cover, owner units)
_MANHOLE_KINDS: dict[str, tuple[int, str, tuple[str, ...]]] = {
    "water_supply": (15, "0101", ("焦作市供水公司",)),
    "sewage": (20, "0102", ("焦作市排水管理处",)),
    "rain": (22, "0103", ("焦作市排水管理处",)),
    "power": (12, "0105", ("国网焦作供电公司",)),
    "street_lighting": (4, "0106", ("焦作市城市照明管理处",)),
    "telecom": (14, "0107", ("中国联通焦作分公司", "中国移动焦作分公司", "中国电信焦作分公司")),
    "heat": (4, "0110", ("焦作市热力有限公司",)),
    "gas": (6, "0111", ("焦作中裕燃气有限公司",)),
    "traffic": (2, "0112", ("焦作市公安局交通管理支队",)),
    "other": (1, "0127", ("权属待确认",)),
}
_DEFECTS = ("damaged", "missing", "sunken", "rattling")


def manholes(districts: DistrictIndex) -> list[Draft]:
    """2,000 manholes along the streets; a quarter remediated in 2025 with dates."""
    rng = rng_for("manholes")
    kinds = list(_MANHOLE_KINDS)
    weights = [_MANHOLE_KINDS[k][0] for k in kinds]
    drafts = []
    for street, s in spread(rng, MANHOLES):
        # on the carriageway or the pavement next to it
        left = rng.uniform(-street.half_width_m - 3, street.half_width_m + 3)
        geom = point_lonlat(street, s, left)
        district = _district(districts, geom, "manhole")
        kind = rng.choices(kinds, weights)[0]
        _, cls, owners = _MANHOLE_KINDS[kind]
        r = rng.random()
        remediated_on = None
        if r < 0.01:
            status, condition = "decommissioned", rng.choice(("intact", "damaged"))
        elif r < 0.30:
            status, condition = "remediated", "intact"
            remediated_on = day(rng, dt.date(YEAR, 3, 1), dt.date(YEAR, 11, 30))
        elif r < 0.42:
            status, condition = "pending", rng.choice(_DEFECTS)
        else:
            status, condition = "in_service", "intact"
        owner = rng.choice(owners)
        size = rng.choice(
            (600, 700, 700, 700, 800, 1000) if kind in ("power", "telecom") else (700, 700, 800)
        )
        props = {
            "code": districts.component_code(district, cls),
            "status": status,
            "responsible_unit": owner,
            "notes": note(
                "2025年窨井设施专项整治：更换井盖并加装防坠网" if remediated_on else "2025年窨井设施普查"
            ),
            "kind": kind,
            "owner_unit": owner,
            "road_name": street.name,
            "cover_material": rng.choice(
                ("ductile_iron", "ductile_iron", "ductile_iron", "composite", "cast_iron", "concrete")
            ),
            "cover_size_mm": size,
            "anti_fall_net": True if remediated_on else rng.random() < 0.4,
            "condition": condition,
            "remediated_on": remediated_on,
        }
        drafts.append(Draft("manholes", props, geom))
    return drafts


# --- poles and wires ---------------------------------------------------------------

# kind -> (GB/T 30428.2 class, owner units, height range m)
_POLE_KINDS: dict[str, tuple[str, tuple[str, ...], tuple[float, float]]] = {
    "power": ("0117", ("国网焦作供电公司",), (12.0, 18.0)),
    "telecom": ("0117", ("中国联通焦作分公司", "中国移动焦作分公司", "中国电信焦作分公司"), (7.0, 9.0)),
    "street_light": ("0118", ("焦作市城市照明管理处",), (8.0, 12.0)),
    "cctv": ("0117", ("焦作市公安局",), (6.0, 8.0)),
    "sign": ("0117", ("焦作市公安局交通管理支队",), (4.0, 6.0)),
    "multi_function": ("0117", ("焦作市城市照明管理处",), (10.0, 12.0)),
}
_WIRED = ("power", "telecom")
# a street's pole line: street, kind of the line, kerb offset (m, + = left), (pole, metres along)
_Line = tuple[Street, str, float, list[tuple[Draft, float]]]


def _allocate(total: int, weights: Sequence[float]) -> list[int]:
    """Split ``total`` in proportion to ``weights`` (largest remainder: sums exactly)."""
    raw = [total * w / sum(weights) for w in weights]
    counts = [math.floor(r) for r in raw]
    for i in sorted(range(len(raw)), key=lambda i: counts[i] - raw[i])[: total - sum(counts)]:
        counts[i] += 1
    return counts


def poles_wires(districts: DistrictIndex) -> list[Draft]:
    """1,500 poles in one line per street, wires between consecutive wired poles,
    flying wires from poles to buildings, and the abandoned ones the bureau cleared."""
    rng = rng_for("poles_wires")
    per_street = _allocate(POLES, [metric_line(s).length for s in STREETS])
    pole_fate = exact_mix(rng, {"removed": CLEARED_POLES, "abandoned": PENDING_POLES, "in_use": 0})
    pole_fate += ["in_use"] * (POLES - len(pole_fate))
    rng.shuffle(pole_fate)
    poles: list[Draft] = []
    lines: list[_Line] = []
    for street, n in zip(STREETS, per_street, strict=True):
        length = metric_line(street).length
        spacing = min(rng.uniform(38.0, 50.0), length / n)
        start = rng.uniform(0, length - spacing * (n - 1))
        side = rng.choice((-1, 1)) * (street.half_width_m + 2.0)
        line_kind = rng.choices(("power", "telecom", "street_light"), (45, 35, 20))[0]
        members = []
        for k in range(n):
            s = start + k * spacing + rng.uniform(-2.0, 2.0)
            left = side + rng.uniform(-0.3, 0.3)
            s = clear_spot(street, s, left, besides=street)  # not in the middle of a crossing road
            geom = point_lonlat(street, s, left)
            district = _district(districts, geom, "pole")
            r = rng.random()
            kind = "cctv" if r < 0.06 else "sign" if r < 0.09 else "multi_function" if r < 0.11 else line_kind
            cls, owners, (h0, h1) = _POLE_KINDS[kind]
            fate = pole_fate[len(poles)]
            owner = rng.choice(owners)
            props = {
                "code": districts.component_code(district, "0118" if kind == "street_light" else cls),
                "status": fate,
                "responsible_unit": owner,
                "element": "pole",
                "kind": kind,
                "owner_unit": owner,
                "road_name": street.name,
                "height_m": round(rng.uniform(h0, h1), 1),
                "flying_wire": False,
                "removed_on": day(rng, dt.date(YEAR, 4, 1), dt.date(YEAR, 11, 30))
                if fate == "removed"
                else None,
                "notes": note(
                    {
                        "removed": "废弃杆已拆除（2025年杆线专项整治）",
                        "abandoned": "废弃杆，待拆除",
                        "in_use": "2025年杆线普查",
                    }[fate]
                ),
            }
            draft = Draft("poles_wires", props, geom)
            poles.append(draft)
            members.append((draft, s))
        lines.append((street, line_kind, side, members))
    wires = _wires(rng, districts, lines)
    return poles + wires


def _wires(
    rng: random.Random,
    districts: DistrictIndex,
    lines: list[_Line],
) -> list[Draft]:
    """Spans between consecutive standing poles of a wired line, then flying wires."""
    spans: list[tuple[Street, str, LineString, str]] = []
    anchors: list[tuple[Street, float, float, Draft]] = []
    for street, line_kind, side, members in lines:
        standing = [(d, xy) for d, xy in members if d.props["status"] == "in_use"]
        # a span joins two standing poles of the line's kind at most one pole apart
        # (it passes a CCTV or sign pole, never a gap left by a removed one)
        wired = [
            (k, d)
            for k, (d, _) in enumerate(members)
            if d.props["status"] == "in_use" and d.props["kind"] == line_kind and line_kind in _WIRED
        ]
        for (ka, a), (kb, b) in itertools.pairwise(wired):
            if kb - ka <= 2 and all(members[k][0].props["status"] == "in_use" for k in range(ka, kb + 1)):
                spans.append((street, line_kind, LineString([a.geom, b.geom]), b.props["owner_unit"]))
        anchors += [(street, side, s, d) for d, s in standing]
    fates = exact_mix(rng, {"removed": CLEARED_WIRES, "abandoned": PENDING_WIRES})
    fates += ["in_use"] * (len(spans) - len(fates))
    rng.shuffle(fates)
    drafts = []
    serial = 0
    for (street, kind, geom, owner), fate in zip(spans, fates, strict=True):
        serial += 1
        _district(districts, geom, "wire")
        drafts.append(
            Draft(
                "poles_wires",
                {
                    "code": f"GX-{YEAR}-{serial:04d}",
                    "status": fate,
                    "responsible_unit": owner,
                    "element": "wire",
                    "kind": kind,
                    "owner_unit": owner,
                    "road_name": street.name,
                    "flying_wire": False,
                    "removed_on": day(rng, dt.date(YEAR, 4, 1), dt.date(YEAR, 11, 30))
                    if fate == "removed"
                    else None,
                    "notes": note(
                        {
                            "removed": "废弃线缆已清理（2025年杆线专项整治）",
                            "abandoned": "废弃线缆，待清理",
                            "in_use": "架空线路",
                        }[fate]
                    ),
                },
                geom,
            )
        )
    flying = exact_mix(rng, {"removed": CLEARED_FLYING, "in_use": PENDING_FLYING})
    for fate, (street, side, s, pole) in zip(flying, rng.sample(anchors, len(flying)), strict=True):
        serial += 1
        # from the pole across the pavement to a shop front: 8-30 m, away from the road
        away = math.copysign(1.0, side)
        end = to_lonlat(*frame(street, s).at(rng.uniform(-12, 12), side + away * rng.uniform(8, 30)))
        geom = LineString([pole.geom, end])
        district = _district(districts, geom, "flying wire")
        kind = rng.choice(("power", "power", "power", "telecom"))
        props = {
            "code": f"GX-{YEAR}-{serial:04d}",
            "status": fate,
            "responsible_unit": city_unit(district),
            "element": "wire",
            "kind": kind,
            "owner_unit": "沿街商户私拉",
            "road_name": street.name,
            "flying_wire": True,
            "removed_on": day(rng, dt.date(YEAR, 3, 15), dt.date(YEAR, 11, 30))
            if fate == "removed"
            else None,
            "notes": note(
                "飞线已清理（2025年杆线专项整治）" if fate == "removed" else "私拉飞线，已告知商户限期整改"
            ),
        }
        drafts.append(Draft("poles_wires", props, geom))
    return drafts
