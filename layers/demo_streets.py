"""Street sketches of central Jiaozuo for the demo data, and the metric helpers that
place assets along them.

The street lines below are APPROXIMATE HAND-DRAWN SKETCHES for demo purposes only:
real street names of the city, drawn as a few straight segments at plausible
positions inside the urban districts as the ``districts`` table outlines them
(generalised Tianditu boundaries). They are not surveyed centre lines and must
never be used as a reference for real positions. Coordinates are CGCS2000
(EPSG:4490, which coincides with WGS84 to centimetres), never GCJ-02.

Positions are worked out in CGCS2000 / 3-degree Gauss-Krüger CM 114°E (EPSG:4547,
metres) so offsets such as "6 m bay, 2.5 m deep, 12 m from the centre line" are real
metres, then converted back and rounded to 1e-7° (~1 cm) so the same floats, hence
the same rows, come out on every run and platform.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from functools import cache

from pyproj import Transformer
from shapely import STRtree
from shapely.geometry import LineString, Point, Polygon
from shapely.geometry.base import BaseGeometry

LonLat = tuple[float, float]


@dataclass(frozen=True)
class Street:
    """One street: its name, half the carriageway width (m) and a sketched polyline."""

    name: str
    half_width_m: float
    points: tuple[LonLat, ...]


# Approximate sketches (see the module docstring). Districts as in the `districts`
# table: 中站区 west (lon < ~113.18), 解放区 centre (~113.18–113.24), 山阳区 east and
# south-east (~113.24–113.31), 马村区 north-east (lon > ~113.31, lat > ~35.22).
STREETS: tuple[Street, ...] = (
    # east-west
    Street(
        "解放路", 15, ((113.1500, 35.2445), (113.1850, 35.2440), (113.2350, 35.2430), (113.3000, 35.2410))
    ),
    Street(
        "人民路", 15, ((113.1760, 35.2230), (113.2400, 35.2225), (113.3050, 35.2230), (113.3350, 35.2290))
    ),
    Street("建设路", 12, ((113.1900, 35.2330), (113.2500, 35.2326), (113.3000, 35.2320))),
    Street("丰收路", 14, ((113.1400, 35.2060), (113.2000, 35.2065), (113.3000, 35.2070))),
    Street("神州路", 12, ((113.2560, 35.1960), (113.3000, 35.1968), (113.3300, 35.1975))),
    Street("天河北路", 10, ((113.3150, 35.2700), (113.3450, 35.2712), (113.3750, 35.2720))),
    Street("站前路", 10, ((113.1200, 35.2340), (113.1720, 35.2345))),
    Street("烈士街", 6, ((113.1920, 35.2385), (113.2320, 35.2380))),
    Street("团结街", 6, ((113.1900, 35.2280), (113.2320, 35.2278))),
    Street("桃园路", 10, ((113.2500, 35.2150), (113.2850, 35.2152), (113.3200, 35.2155))),
    # north-south
    Street("塔北路", 12, ((113.2250, 35.2225), (113.2245, 35.2650))),
    Street("塔南路", 12, ((113.2250, 35.2225), (113.2260, 35.1960))),
    Street("民主路", 11, ((113.2110, 35.2000), (113.2100, 35.2600))),
    Street("新园路", 9, ((113.1970, 35.2160), (113.1960, 35.2550))),
    Street("新安路", 10, ((113.1550, 35.2150), (113.1520, 35.2700))),
    Street("摩登街", 5, ((113.2175, 35.2390), (113.2180, 35.2505))),
    Street("跃进路", 10, ((113.2530, 35.2000), (113.2525, 35.2520))),
    Street("山阳路", 12, ((113.2680, 35.1950), (113.2670, 35.2550))),
    Street("南通路", 11, ((113.2850, 35.1980), (113.2840, 35.2550))),
    Street("东环路", 15, ((113.3180, 35.2000), (113.3220, 35.2350), (113.3350, 35.2900))),
)

# 恩州驿古街 (Enzhouyi old street): its position here is APPROXIMATE — a plausible
# spot in 山阳区 between 建设路 and 解放路, east of 南通路, chosen for the demo only.
ENZHOUYI = Street("恩州驿古街", 5, ((113.2915, 35.2368), (113.2975, 35.2372), (113.3035, 35.2366)))

ALL_STREETS: tuple[Street, ...] = (*STREETS, ENZHOUYI)


@cache
def _to_metric() -> Transformer:
    return Transformer.from_crs("EPSG:4490", "EPSG:4547", always_xy=True)


@cache
def _to_geographic() -> Transformer:
    return Transformer.from_crs("EPSG:4547", "EPSG:4490", always_xy=True)


def to_lonlat(x: float, y: float) -> LonLat:
    """Metric (EPSG:4547) to lon/lat, rounded to 1e-7° so every run writes the same floats."""
    lon, lat = _to_geographic().transform(x, y)
    return (round(lon, 7), round(lat, 7))


@cache
def metric_line(street: Street) -> LineString:
    """The street's centre line in metres (EPSG:4547)."""
    fwd = _to_metric()
    return LineString([fwd.transform(lon, lat) for lon, lat in street.points])


@dataclass(frozen=True)
class Frame:
    """A spot on a street: where it is, and which way is along / to the left."""

    x: float
    y: float
    tx: float
    ty: float

    @property
    def nx(self) -> float:
        """Left-hand normal (x)."""
        return -self.ty

    @property
    def ny(self) -> float:
        """Left-hand normal (y)."""
        return self.tx

    def at(self, along: float = 0.0, left: float = 0.0) -> tuple[float, float]:
        """The metric point ``along`` metres forward and ``left`` metres to the left."""
        return (
            self.x + self.tx * along + self.nx * left,
            self.y + self.ty * along + self.ny * left,
        )


def frame(street: Street, s: float) -> Frame:
    """The position and direction ``s`` metres from the street's first point."""
    line = metric_line(street)
    s = min(max(s, 0.0), line.length)
    p = line.interpolate(s)
    # Direction of the segment containing s (not a smoothed tangent: the sketches are
    # straight segments and kerb-side objects follow them).
    coords = list(line.coords)
    walked = 0.0
    for (x0, y0), (x1, y1) in itertools.pairwise(coords):
        seg = math.hypot(x1 - x0, y1 - y0)
        if walked + seg >= s or (x1, y1) == coords[-1]:
            return Frame(p.x, p.y, (x1 - x0) / seg, (y1 - y0) / seg)
        walked += seg
    raise AssertionError("unreachable")


def point_lonlat(street: Street, s: float, left: float = 0.0) -> Point:
    """A point ``s`` m along the street and ``left`` m to its left, in lon/lat."""
    return Point(to_lonlat(*frame(street, s).at(0.0, left)))


def rectangle(f: Frame, along: float, left: float, length: float, depth: float) -> Polygon:
    """A metric rectangle ``length`` × ``depth`` centred at (along, left) in the frame."""
    hl, hd = length / 2, depth / 2
    corners = [
        f.at(along - hl, left - hd),
        f.at(along + hl, left - hd),
        f.at(along + hl, left + hd),
        f.at(along - hl, left + hd),
    ]
    return Polygon([*corners, corners[0]])


def to_lonlat_polygon(metric: Polygon) -> Polygon:
    """A metric polygon converted to rounded lon/lat."""
    return Polygon([to_lonlat(x, y) for x, y in metric.exterior.coords])


# 塔北路 and 塔南路 are the two halves of one north-south axis, split at 人民路.
_ONE_STREET = {"塔北路", "塔南路"}


@cache
def crossings(street: Street) -> tuple[tuple[float, str], ...]:
    """Where other streets cross or meet this one: (metres along it, other street's name)."""
    line = metric_line(street)
    found: list[tuple[float, str]] = []
    for other in ALL_STREETS:
        if other is street or {street.name, other.name} == _ONE_STREET:
            continue
        # Streets sketched to meet at a T end a few metres apart, so look within 30 m.
        near = line.intersection(metric_line(other).buffer(30))
        if not near.is_empty:
            found.append((line.project(near.centroid), other.name))
    return tuple(sorted(found))


def nearest_crossing(street: Street, s: float) -> tuple[float, str] | None:
    """The crossing closest to ``s``: (signed metres from it along the street, its name)."""
    best = min(crossings(street), key=lambda c: abs(s - c[0]), default=None)
    return None if best is None else (s - best[0], best[1])


def compass(f: Frame) -> tuple[str, str, str, str]:
    """Chinese compass words for (forward, backward, left, right) at this spot."""
    if abs(f.tx) >= abs(f.ty):
        return ("东", "西", "北", "南") if f.tx > 0 else ("西", "东", "南", "北")
    return ("北", "南", "西", "东") if f.ty > 0 else ("南", "北", "东", "西")


def describe(street: Street, s: float, left: float, where: str = "") -> str:
    """A surveyor's location text, e.g. ``解放路与民主路交叉口东约120米北侧机动车道``."""
    f = frame(street, s)
    fwd, back, lft, rgt = compass(f)
    side = lft if left >= 0 else rgt
    near = nearest_crossing(street, s)
    if near is None:
        return f"{street.name}{side}侧{where}"
    offset, other = near
    if abs(offset) > 1500:  # too far from any crossing to count metres from it
        share = s / metric_line(street).length
        part = f"{back}段" if share < 1 / 3 else f"{fwd}段" if share > 2 / 3 else "中段"
        return f"{street.name}{part}{side}侧{where}"
    if abs(offset) < 15:
        return f"{street.name}与{other}交叉口{side}侧{where}"
    direction = fwd if offset > 0 else back
    distance = f"{abs(offset) / 1000:.1f}公里" if abs(offset) >= 1000 else f"{round(abs(offset), -1):.0f}米"
    return f"{street.name}与{other}交叉口{direction}约{distance}{side}侧{where}"


@cache
def _carriageways() -> tuple[STRtree, tuple[Street, ...]]:
    polys = [metric_line(s).buffer(s.half_width_m) for s in ALL_STREETS]
    return STRtree(polys), ALL_STREETS


def on_carriageway(geom: BaseGeometry, margin: float = 0.0, *, besides: Street | None = None) -> bool:
    """Whether a metric geometry comes within ``margin`` m of a carriageway (other than
    ``besides``'s): poles, stalls and compounds are never placed on a road."""
    tree, streets = _carriageways()
    probe = geom.buffer(margin) if margin else geom
    return any(streets[i] is not besides for i in tree.query(probe, predicate="intersects"))


def clear_spot(
    street: Street, s: float, left: float, margin: float = 1.0, *, besides: Street | None = None
) -> float:
    """The nearest ``s`` (in 6 m steps either way) whose spot ``left`` m off the centre
    line keeps ``margin`` m clear of carriageways (other than ``besides``'s)."""
    length = metric_line(street).length
    for step in (0, 6, -6, 12, -12, 18, -18, 24, -24, 30, -30, 36, -36, 42, -42):
        t = min(max(s + step, 0.0), length)
        if not on_carriageway(Point(frame(street, t).at(0.0, left)), margin, besides=besides):
            return t
    raise RuntimeError(f"no spot clear of the roads near {street.name} at {s:.0f} m: fix the sketch")
