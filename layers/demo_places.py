"""Demo generators for places along the streets: parking, markets and stalls, and
secondary-water-supply sites with their 2025 quarterly water tests.

Numbers follow the bureau's 2025 report (see DESIGN.md): 1,448 new on-street bays
(270 around 恩州驿古街) opened in 2025, a few lots opened years before, and after 2025
the bays opened so far in the current year; 150 roadside markets, 60 Spring Festival markets
(11 fairs, 49 sale points), 60 convenience zones, 30 fruit-and-vegetable stall areas,
48 kiosks and sanitation stations registered in 2024 and 2025, and after 2025 the stalls
registered so far in the current year; and 210 secondary-water-supply sites.
"""

from __future__ import annotations

import datetime as dt
import itertools
import random
from collections import Counter
from collections.abc import Callable
from typing import Any

from shapely import STRtree
from shapely.geometry import Polygon
from shapely.geometry.base import BaseGeometry

from layers.demo_common import AS_OF, YEAR, DistrictIndex, Draft, city_unit, day, note, rng_for
from layers.demo_hazards import spread
from layers.demo_streets import (
    ALL_STREETS,
    ENZHOUYI,
    STREETS,
    Street,
    clear_spot,
    describe,
    frame,
    metric_line,
    on_carriageway,
    point_lonlat,
    rectangle,
    to_lonlat_polygon,
)

BAYS, ENZHOUYI_BAYS = 1448, 270
BAY_LENGTH, BAY_DEPTH, BAY_GAP = 6.0, 2.5, 0.5
MARKET_KINDS = {
    "roadside_market": 150,
    "spring_fair": 11,
    "flexible_sale_point": 49,
    "convenience_zone": 60,
    "fruit_veg_stall_area": 30,
    "kiosk_station": 48,
}
WATER_SITES = 210
# 2025 quarterly sampling months
TEST_MONTHS = (3, 6, 9, 12)


def _district(districts: DistrictIndex, geom: BaseGeometry, what: str) -> str:
    code = districts.of(geom)
    if code is None:
        raise RuntimeError(
            f"demo {what} at {geom.wkt} lies outside the urban districts: fix the street sketch"
        )
    return code


# --- parking -----------------------------------------------------------------------


class _Kerb:
    """Bays placed so far (metric), refusing a candidate that overlaps one of them or
    lies on another street's carriageway (near a crossing)."""

    def __init__(self) -> None:
        carriageways = [metric_line(s).buffer(s.half_width_m + 3) for s in ALL_STREETS]
        self._roads = STRtree(carriageways)
        self._road_of = [s.name for s in ALL_STREETS]
        self._own = {s.name: metric_line(s).buffer(s.half_width_m - 0.2) for s in ALL_STREETS}
        self._grid: dict[tuple[int, int], list[Polygon]] = {}

    def _cells(self, poly: Polygon) -> list[tuple[int, int]]:
        x0, y0, x1, y1 = poly.bounds
        return [
            (i, j)
            for i in range(int(x0 // 50), int(x1 // 50) + 1)
            for j in range(int(y0 // 50), int(y1 // 50) + 1)
        ]

    def fits(self, street: Street, poly: Polygon) -> bool:
        """No other bay within 0.3 m, not on any carriageway."""
        if poly.intersects(self._own[street.name]):
            return False
        for i in self._roads.query(poly, predicate="intersects"):
            if self._road_of[i] != street.name:
                return False
        guard = poly.buffer(0.3)
        return not any(guard.intersects(p) for c in self._cells(poly) for p in self._grid.get(c, ()))

    def add(self, poly: Polygon) -> None:
        """Remember a placed bay or lot."""
        for c in self._cells(poly):
            self._grid.setdefault(c, []).append(poly)


_FEES = (
    "首30分钟免费，之后每小时2元；20:00至次日8:00免费",
    "每小时2元，全天封顶20元",
    "工作日8:00-20:00每小时3元，其余时段免费",
)
_OPERATOR = "焦作市城市停车管理服务中心"


def parking(districts: DistrictIndex, today: dt.date = AS_OF) -> list[Draft]:
    """A few lots, then 270 bays along 恩州驿古街 and 1,178 along other streets, opened in
    2025, and after 2025 the bays opened so far this year (:func:`_current_bays`).

    Bays are painted a street's run at a time, so every bay of a run opens on the same
    day (``opened_on``, what "bays added" counts); a planned bay has not opened."""
    rng = rng_for("parking")
    # a stream of its own, so the dates do not move the bays
    opened = _opening_days(rng_for("parking_opened"), today)
    kerb = _Kerb()
    drafts: list[Draft] = []
    bays: list[tuple[Street, Polygon, int]] = []
    run = 0

    def try_bay(street: Street, s: float, side: int) -> bool:
        f = frame(street, s)
        left = side * (street.half_width_m + BAY_DEPTH / 2)
        poly = rectangle(f, 0.0, left, BAY_LENGTH, BAY_DEPTH)
        if not kerb.fits(street, poly):
            return False
        kerb.add(poly)
        bays.append((street, poly, run))
        return True

    # 恩州驿古街: fill the north kerb, then the south one, until 270
    length = metric_line(ENZHOUYI).length
    for side in (1, -1):
        s = 10.0
        while s < length - 10 and len(bays) < ENZHOUYI_BAYS:
            try_bay(ENZHOUYI, s, side)
            s += BAY_LENGTH + BAY_GAP
    if len(bays) != ENZHOUYI_BAYS:
        raise RuntimeError(f"only {len(bays)} bays fit along {ENZHOUYI.name}; lengthen its sketch")
    # elsewhere: runs of 8-30 bays at random spots of random streets
    attempts = 0
    while len(bays) < BAYS:
        attempts += 1
        run += 1
        if attempts > 20_000:
            raise RuntimeError(f"could only place {len(bays)} of {BAYS} parking bays")
        street = rng.choice(STREETS)
        length = metric_line(street).length
        s, side = rng.uniform(20, length - 20), rng.choice((-1, 1))
        for _ in range(rng.randint(8, 30)):
            if len(bays) >= BAYS or s > length - 10:
                break
            try_bay(street, s, side)
            s += BAY_LENGTH + BAY_GAP
    for n, (street, poly, run_of_bay) in enumerate(bays, start=1):
        geom = to_lonlat_polygon(poly)
        _district(districts, geom, "parking bay")
        old_street = street is ENZHOUYI
        r = rng.random()
        status = "in_use" if r < 0.9 else "planned" if r < 0.98 else "suspended"
        props = {
            "code": f"TC-{YEAR}-{n:04d}",
            "status": status,
            "responsible_unit": "焦作市城市管理局",
            "notes": note("2025年新增路内泊位" + ("（恩州驿古街周边）" if old_street else "")),
            "kind": "on_street_bay",
            "name": f"{street.name}路内泊位",
            "road_name": street.name,
            "capacity": 1,
            "vehicle_type": "car",
            "charging_points": 1 if rng.random() < 0.05 else 0,
            "fee_rule": "古街周边：每小时3元，节假日每小时5元" if old_street else rng.choice(_FEES),
            "operator": _OPERATOR,
            "opened_on": None if status == "planned" else opened(run_of_bay),
        }
        drafts.append(Draft("parking", props, geom))
    drafts += _lots(rng, districts, len(drafts))
    return drafts + _current_bays(districts, kerb, today)


def _opening_days(rng: random.Random, today: dt.date) -> Callable[[int], dt.date]:
    """The day each 2025 run of bays opened (fixed, one per run). Run as of a day inside
    2025, the year's openings are squeezed into the days before it, so no bay has
    opened in the future."""
    days: dict[int, dt.date] = {}
    first = dt.date(YEAR, 1, 1)

    def of(run: int) -> dt.date:
        while run not in days:
            days[len(days)] = day(rng, first, AS_OF)
        return _squeezed(days[run], first, today)

    return of


def _squeezed(d: dt.date, first: dt.date, today: dt.date) -> dt.date:
    """``d``, a day between ``first`` and the demo's as-of day, as the demo run as of
    ``today`` inside that span has it: the span squeezed into the days up to ``today``,
    in the same order, so nothing opened or was registered in the future."""
    if first <= today < AS_OF:
        return first + (d - first) * (today - first).days // (AS_OF - first).days
    return d


def _this_years_runs(stream: str, today: dt.date, every: int) -> tuple[random.Random, list[dt.date]]:
    """The random stream of this year's runs (of bays, of stalls) and their days: one in
    each ``every`` days, at a random day within them, the whole year's whatever today
    is; none while the demo's own year lasts (its assets are that year's)."""
    rng = rng_for(f"{stream}/{today.year}")
    if today.year <= YEAR:
        return rng, []
    first = dt.date(today.year, 1, 1)
    days = [first + dt.timedelta(days=k * every + rng.randint(0, every - 1)) for k in range(366 // every)]
    return rng, days


# This year's bays (after 2025): a run of 8-30 bays opened about every ten days
# (about 700 a year, the demo's yearly target), the runs of one year always the same.
CURRENT_RUN_EVERY_DAYS = 10


def _current_bays(districts: DistrictIndex, kerb: _Kerb, today: dt.date) -> list[Draft]:
    """The bays opened this year up to ``today`` (none while the demo's own year lasts:
    its 1,448 bays are that year's). The runs, their days and spots are drawn for the
    whole year whatever the day, so a later day's demo adds the runs opened since and
    moves none of the earlier ones."""
    rng, runs = _this_years_runs("parking_current", today, CURRENT_RUN_EVERY_DAYS)
    drafts: list[Draft] = []
    for opened_on in runs:
        street = rng.choice(STREETS)
        length = metric_line(street).length
        s, side = rng.uniform(20, length - 20), rng.choice((-1, 1))
        for _ in range(rng.randint(8, 30)):
            if s > length - 10:
                break
            f = frame(street, s)
            poly = rectangle(f, 0.0, side * (street.half_width_m + BAY_DEPTH / 2), BAY_LENGTH, BAY_DEPTH)
            s += BAY_LENGTH + BAY_GAP
            if opened_on > today or not kerb.fits(street, poly):
                continue
            kerb.add(poly)
            geom = to_lonlat_polygon(poly)
            _district(districts, geom, "parking bay")
            drafts.append(
                Draft(
                    "parking",
                    {
                        "code": f"TC-{today.year}-{len(drafts) + 1:04d}",
                        "status": "in_use",
                        "responsible_unit": "焦作市城市管理局",
                        "notes": note(f"{today.year}年新增路内泊位"),
                        "kind": "on_street_bay",
                        "name": f"{street.name}路内泊位",
                        "road_name": street.name,
                        "capacity": 1,
                        "vehicle_type": "car",
                        "charging_points": 0,
                        "fee_rule": _FEES[len(drafts) % len(_FEES)],
                        "operator": _OPERATOR,
                        "opened_on": opened_on,
                    },
                    geom,
                )
            )
    return drafts


_LOTS = (  # street, metres along (share of length), side, name, capacity
    ("解放路", 0.55, 1, "解放路公共停车场"),
    ("人民路", 0.40, -1, "人民路立体停车场"),
    ("塔南路", 0.50, 1, "塔南路公共停车场"),
    ("山阳路", 0.35, -1, "山阳路公共停车场"),
    ("新安路", 0.45, 1, "中站区新安路停车场"),
    ("东环路", 0.70, -1, "东环路公共停车场"),
)


def _lots(rng: random.Random, districts: DistrictIndex, serial: int) -> list[Draft]:
    """Off-street lots 60 m behind the kerb, away from every bay, opened years before
    the bays."""
    by_name = {s.name: s for s in STREETS}
    # a stream of its own, so the dates do not change the lots' capacities
    opened = rng_for("parking_lots_opened")
    drafts = []
    for street_name, share, side, name in _LOTS:
        street = by_name[street_name]
        f = frame(street, metric_line(street).length * share)
        poly = rectangle(f, 0.0, side * (street.half_width_m + 60), 50.0, 30.0)
        geom = to_lonlat_polygon(poly)
        serial += 1
        _district(districts, geom, "parking lot")
        drafts.append(
            Draft(
                "parking",
                {
                    "code": f"TC-{YEAR}-{serial:04d}",
                    "status": "in_use",
                    "responsible_unit": "焦作市城市管理局",
                    "notes": note("路外公共停车场"),
                    "kind": "off_street_lot",
                    "name": name,
                    "road_name": street.name,
                    "capacity": rng.randint(48, 60),
                    "vehicle_type": "car",
                    "charging_points": rng.randint(4, 12),
                    "fee_rule": rng.choice(_FEES),
                    "operator": _OPERATOR,
                    "opened_on": day(opened, dt.date(2012, 1, 1), dt.date(YEAR - 2, 12, 31)),
                },
                geom,
            )
        )
    return drafts


# --- markets -----------------------------------------------------------------------

# kind -> (name suffix, share drawn as a polygon, (length, depth) m, stalls, hours, season)
_MARKET_RULES: dict[str, tuple[str, float, tuple[float, float], tuple[int, int], str, Any]] = {
    "roadside_market": ("马路市场", 0.8, (60.0, 4.0), (20, 80), "06:00-10:00", None),
    "spring_fair": ("春节大集", 1.0, (80.0, 30.0), (100, 300), "07:00-18:00", "spring"),
    "flexible_sale_point": ("年货销售点", 0.0, (0.0, 0.0), (5, 20), "08:00-20:00", "spring"),
    "convenience_zone": ("便民疏导区", 0.7, (40.0, 5.0), (10, 40), "07:00-21:00", None),
    "fruit_veg_stall_area": ("果蔬临时销售点", 0.5, (20.0, 4.0), (4, 12), "06:00-21:00", "year"),
    "kiosk_station": ("", 0.0, (0.0, 0.0), (0, 0), "全天", None),
}
# Spring Festival 2025 fell on 29 January; markets ran from mid-腊月 to 元宵节.
_SEASONS = {
    "spring": (dt.date(YEAR, 1, 18), dt.date(YEAR, 2, 12)),
    "year": (dt.date(YEAR, 6, 1), dt.date(YEAR + 1, 5, 31)),
}


# The 2025 markets and stalls were registered (登记日期) in the days before they opened
# or their season began, the earliest in the spring of 2024.
_FIRST_REGISTERED = dt.date(2024, 2, 1)


def markets(districts: DistrictIndex, today: dt.date = AS_OF) -> list[Draft]:
    """348 markets, stalls and stations: points for stalls, small polygons for areas;
    after 2025 the stalls registered so far this year (:func:`_current_stalls`).

    Each is registered (``registered_on``, what 登记市场摊点 counts) up to two weeks
    before it opened or its season began."""
    rng = rng_for("markets")
    # a stream of its own, so the dates do not move the markets
    registered = rng_for("markets_registered")
    kinds = [k for k, n in MARKET_KINDS.items() for _ in range(n)]
    names: Counter[str] = Counter()
    drafts = []
    areas: list[Polygon] = []
    for n, (kind, (street, s)) in enumerate(zip(kinds, spread(rng, len(kinds)), strict=True), start=1):
        suffix, polygon_share, (length, depth), (st0, st1), hours, season = _MARKET_RULES[kind]
        side = rng.choice((-1, 1))
        left = side * (street.half_width_m + 3 + depth / 2)
        area = None
        if rng.random() < polygon_share:
            scale = rng.uniform(1.0, 2.5) if kind == "roadside_market" else rng.uniform(0.8, 1.3)
            area, s = _market_area(street, s, left, length * scale, depth, areas)
        if area is not None:
            areas.append(area)
            geom: BaseGeometry = to_lonlat_polygon(area)
        else:
            s = clear_spot(street, s, left)
            geom = point_lonlat(street, s, left)
        district = _district(districts, geom, "market")
        if kind == "kiosk_station":
            suffix = "城管岗亭" if n % 2 else "环卫驿站"
        names[street.name + suffix] += 1
        name = f"{street.name}{suffix}" + (
            f"{names[street.name + suffix]}号" if names[street.name + suffix] > 1 else ""
        )
        valid_from, valid_to = (
            _SEASONS[season] if season else (day(rng, dt.date(2024, 3, 1), dt.date(YEAR, 6, 30)), None)
        )
        if kind == "spring_fair":
            status = "closed"  # the 2025 season is over
        elif kind == "flexible_sale_point":
            status = "closed"
        else:
            status = rng.choices(("active", "suspended"), (92, 8))[0]
        props = {
            "code": f"SC-{YEAR}-{n:04d}",
            "status": status,
            "responsible_unit": city_unit(district),
            "notes": note(describe(street, s, left)),
            "kind": kind,
            "name": name,
            "road_name": street.name,
            "stall_count": rng.randint(st0, st1) if st1 else None,
            "opening_hours": "17:00-22:00" if kind == "roadside_market" and rng.random() < 0.3 else hours,
            "valid_from": valid_from,
            "valid_to": valid_to,
            "managing_unit": city_unit(district),
            "registered_on": _squeezed(
                valid_from - dt.timedelta(days=registered.randint(0, 14)), _FIRST_REGISTERED, today
            ),
        }
        drafts.append(Draft("markets", props, geom))
    return drafts + _current_stalls(districts, today)


# This year's stalls (after 2025): a street's run of 2-6 stalls registered on one day
# about every two weeks, the runs of one year always the same.
CURRENT_STALL_RUN_EVERY_DAYS = 14
_CURRENT_STALL_KINDS = ("convenience_zone", "roadside_market")


def _current_stalls(districts: DistrictIndex, today: dt.date) -> list[Draft]:
    """The stalls registered this year up to ``today`` (none while the demo's own year
    lasts: its 348 are that year's), each a point of its own. The runs, their days and
    spots are drawn for the whole year whatever the day, so a later day's demo adds the
    runs registered since and moves none of the earlier ones."""
    rng, runs = _this_years_runs("markets_current", today, CURRENT_STALL_RUN_EVERY_DAYS)
    drafts: list[Draft] = []
    for registered_on in runs:
        street = rng.choice(STREETS)
        kind = rng.choice(_CURRENT_STALL_KINDS)
        suffix, _, (_, depth), (st0, st1), hours, _ = _MARKET_RULES[kind]
        length = metric_line(street).length
        s, side = rng.uniform(20, length - 20), rng.choice((-1, 1))
        left = side * (street.half_width_m + 3 + depth / 2)
        for _ in range(rng.randint(2, 6)):
            spot = clear_spot(street, min(s, length), left)
            stalls = rng.randint(st0, st1)
            s += 30.0
            if registered_on > today:
                continue
            geom = point_lonlat(street, spot, left)
            district = _district(districts, geom, "market stall")
            n = len(drafts) + 1
            drafts.append(
                Draft(
                    "markets",
                    {
                        "code": f"SC-{today.year}-{n:04d}",
                        "status": "active",
                        "responsible_unit": city_unit(district),
                        "notes": note(f"{today.year}年登记摊点：" + describe(street, spot, left)),
                        "kind": kind,
                        "name": f"{street.name}{suffix}（{today.year}年第{n}号摊点）",
                        "road_name": street.name,
                        "stall_count": stalls,
                        "opening_hours": hours,
                        "valid_from": registered_on,
                        "valid_to": None,
                        "managing_unit": city_unit(district),
                        "registered_on": registered_on,
                    },
                    geom,
                )
            )
    return drafts


def _market_area(
    street: Street, s: float, left: float, length: float, depth: float, taken: list[Polygon]
) -> tuple[Polygon | None, float]:
    """A market strip on the pavement, off every carriageway and clear of other market
    areas, searched in 25 m steps along the street (None: draw it as a point)."""
    line_length = metric_line(street).length
    for step in (0, 25, -25, 50, -50, 75, -75, 100, -100):
        t = min(max(s + step, length / 2), line_length - length / 2)
        area = rectangle(frame(street, t), 0.0, left, length, depth)
        if not on_carriageway(area, 0.5) and not any(area.intersects(p) for p in taken):
            return area, t
    return None, s


# --- secondary water supply ----------------------------------------------------------

_PREFIXES = (
    "建业 山阳 锦江 东方 焦煤 矿务局 电厂 华润 绿城 正弘 鑫源 和谐 幸福 丰收 民主 塔南 世纪 阳光 兴业 "
    "金色 鸿福 怡景 新华 太行 云台 月季 龙源 凯旋 盛世 翰林 书香 康馨 福润 嘉禾 润城 中原 怀府 健康 "
    "铁路 化电"
).split()
_SUFFIXES = ("小区", "花园", "家园", "苑", "新城", "名门", "公寓", "佳苑", "雅居", "城")
_LABS = ("焦作市疾病预防控制中心", "焦作市供水水质监测站", "焦作市产品质量检验检测中心")


def _compound_names(rng: random.Random, n: int) -> list[str]:
    combos = [p + s for p, s in itertools.product(_PREFIXES, _SUFFIXES) if p[-1] != s[0]]
    fixed = ["建业小区", "山阳花园"]
    rest = rng.sample([c for c in combos if c not in fixed], n - len(fixed))
    return fixed + rest


def water_supply(districts: DistrictIndex) -> tuple[list[Draft], dict[str, list[dict[str, Any]]]]:
    """210 sites in the blocks behind the streets and four 2025 tests per site (code →
    tests); about one test in sixteen fails GB 5749-2022 on one measure."""
    rng = rng_for("water_supply")
    drafts: list[Draft] = []
    tests: dict[str, list[dict[str, Any]]] = {}
    # which tests fail, fixed up front so some sites fail their latest (December) test
    failing = set(rng.sample([(i, q) for i in range(WATER_SITES) for q in range(3)], 40))
    failing |= {(i, 3) for i in rng.sample(range(WATER_SITES), 12)}
    names = _compound_names(rng, WATER_SITES)
    for i, (street, s) in enumerate(spread(rng, WATER_SITES)):
        left = rng.choice((-1, 1)) * rng.uniform(40, 180)
        s = clear_spot(street, s, left, 10.0)
        geom = point_lonlat(street, s, left)
        if districts.of(geom) is None:  # the block behind lies across the urban edge
            left = -left
            s = clear_spot(street, s, left, 10.0)
            geom = point_lonlat(street, s, left)
        district = _district(districts, geom, "water supply site")
        code = f"GS-{YEAR}-{i + 1:04d}"
        supply = rng.choices(("roof_tank", "variable_frequency", "pressure_superposed"), (25, 55, 20))[0]
        volume = {"roof_tank": (8, 30), "variable_frequency": (20, 60), "pressure_superposed": (2, 6)}[supply]
        managing = f"{names[i]}物业服务中心" if rng.random() < 0.7 else "焦作市供水公司二次供水管理所"
        props = {
            "code": code,
            "status": "in_service" if rng.random() < 0.97 else "suspended",
            "responsible_unit": managing,
            "notes": note("二次供水设施，按季度检测水质"),
            "compound_name": names[i],
            "address": f"{districts.name(district)}{street.name}{rng.randint(1, 400)}号",
            "supply_type": supply,
            "tank_volume_m3": float(rng.randint(*volume)),
            "households": rng.randint(120, 1600),
            "managing_unit": managing,
        }
        drafts.append(Draft("water_supply", props, geom))
        lab = rng.choice(_LABS)
        tests[code] = [_water_test(rng, q, lab, (i, q) in failing) for q in range(4)]
    return drafts, tests


def _water_test(rng: random.Random, quarter: int, lab: str, fails: bool) -> dict[str, Any]:
    test = {
        "tested_on": dt.date(YEAR, TEST_MONTHS[quarter], rng.randint(3, 26)),
        "turbidity_ntu": round(rng.uniform(0.1, 0.6), 2),
        "free_chlorine_mg_l": round(rng.uniform(0.1, 0.8), 2),
        "total_coliforms_mpn": 0,
        "total_bacteria_cfu_ml": rng.randint(0, 40),
        "ph": round(rng.uniform(7.0, 8.0), 1),
        "lab": lab,
    }
    if fails:
        measure, value = rng.choice(
            (
                ("turbidity_ntu", round(rng.uniform(1.2, 2.5), 2)),
                ("free_chlorine_mg_l", round(rng.uniform(0.0, 0.04), 2)),
                ("total_coliforms_mpn", rng.randint(1, 3)),
                ("total_bacteria_cfu_ml", rng.randint(120, 300)),
                ("ph", 8.7),
            )
        )
        test[measure] = value
    return test
