"""Coordinate systems surveyors deliver, converted to storage (CGCS2000, EPSG:4490).

Two Chinese offset systems have no EPSG code and no PROJ definition: GCJ-02 (Amap,
Tencent and most phone apps) and BD-09 (Baidu). They are implemented here exactly as
the widely published algorithms (eviltransform / coordtransform: Krasovsky
a = 6378245.0, ee = 0.00669342162296594323, BD-09 x_pi = π·3000/180), vectorised
over numpy arrays. The GCJ-02 → WGS84 inverse is iterative (the forward formula has
no closed inverse); it converges to well below 1 cm at Jiaozuo.

CGCS2000 coincides with WGS84 to centimetres, so WGS84 lon/lat are stored as they are.
Everything else goes through pyproj.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import numpy.typing as npt
from pyproj import CRS, Geod, Transformer
from pyproj.exceptions import CRSError

# Distances, areas and offsets on CGCS2000's ellipsoid (GRS80): one for the project.
GEOD = Geod(ellps="GRS80")

STORAGE_EPSG = 4490
_A = 6378245.0
_EE = 0.00669342162296594323
_X_PI = math.pi * 3000.0 / 180.0

Array = npt.NDArray[np.float64]
_ALIASES = {
    "gcj02": "gcj02",
    "gcj-02": "gcj02",
    "gcj": "gcj02",
    "火星坐标": "gcj02",
    "amap": "gcj02",
    "bd09": "bd09",
    "bd-09": "bd09",
    "bd09ll": "bd09",
    "baidu": "bd09",
    "百度坐标": "bd09",
}


def _arr(v: Any) -> Array:
    return np.asarray(v, dtype=np.float64)


# The published algorithms leave points outside this rough box unshifted: (west, south,
# east, north), as in eviltransform and gcoord. The map's coords.js has the same box;
# tests/test_coords_parity.py holds the two to each other over a grid crossing it.
CHINA_BOX = (72.004, 0.8293, 137.8347, 55.8271)


def out_of_china(lon: Any, lat: Any) -> npt.NDArray[np.bool_]:
    """Whether GCJ-02/BD-09 leave these points unshifted (outside :data:`CHINA_BOX`)."""
    lon, lat = _arr(lon), _arr(lat)
    west, south, east, north = CHINA_BOX
    return (lon < west) | (lon > east) | (lat < south) | (lat > north)


def _transform_lat(x: Array, y: Array) -> Array:
    ret = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x))
    ret += (20.0 * np.sin(6.0 * x * math.pi) + 20.0 * np.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    ret += (20.0 * np.sin(y * math.pi) + 40.0 * np.sin(y / 3.0 * math.pi)) * 2.0 / 3.0
    ret += (160.0 * np.sin(y / 12.0 * math.pi) + 320.0 * np.sin(y * math.pi / 30.0)) * 2.0 / 3.0
    return ret


def _transform_lon(x: Array, y: Array) -> Array:
    ret = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x))
    ret += (20.0 * np.sin(6.0 * x * math.pi) + 20.0 * np.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    ret += (20.0 * np.sin(x * math.pi) + 40.0 * np.sin(x / 3.0 * math.pi)) * 2.0 / 3.0
    ret += (150.0 * np.sin(x / 12.0 * math.pi) + 300.0 * np.sin(x / 30.0 * math.pi)) * 2.0 / 3.0
    return ret


def _delta(lon: Array, lat: Array) -> tuple[Array, Array]:
    dlat = _transform_lat(lon - 105.0, lat - 35.0)
    dlon = _transform_lon(lon - 105.0, lat - 35.0)
    radlat = lat / 180.0 * math.pi
    magic = 1 - _EE * np.sin(radlat) ** 2
    sqrtmagic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1 - _EE)) / (magic * sqrtmagic) * math.pi)
    dlon = (dlon * 180.0) / (_A / sqrtmagic * np.cos(radlat) * math.pi)
    outside = out_of_china(lon, lat)
    return np.where(outside, 0.0, dlon), np.where(outside, 0.0, dlat)


def wgs84_to_gcj02(lon: Any, lat: Any) -> tuple[Array, Array]:
    """WGS84 (= CGCS2000) lon/lat → GCJ-02, the published forward formula."""
    lon, lat = _arr(lon), _arr(lat)
    dlon, dlat = _delta(lon, lat)
    return lon + dlon, lat + dlat


def gcj02_to_wgs84(
    lon: Any, lat: Any, *, tolerance: float = 1e-10, max_iter: int = 30
) -> tuple[Array, Array]:
    """GCJ-02 → WGS84 by fixed-point iteration on the forward formula.

    The usual one-step inverse (``2·gcj − forward(gcj)``) is off by up to ~1 m; iterating
    until the forward image matches the input to 1e-10° (~0.01 mm) is exact for our use.
    """
    glon, glat = _arr(lon), _arr(lat)
    wlon, wlat = glon.copy(), glat.copy()
    for _ in range(max_iter):
        flon, flat = wgs84_to_gcj02(wlon, wlat)
        elon, elat = flon - glon, flat - glat
        wlon = wlon - elon
        wlat = wlat - elat
        if np.all(np.abs(elon) < tolerance) and np.all(np.abs(elat) < tolerance):
            break
    return wlon, wlat


def gcj02_to_bd09(lon: Any, lat: Any) -> tuple[Array, Array]:
    """GCJ-02 → BD-09 (Baidu's published formula)."""
    x, y = _arr(lon), _arr(lat)
    z = np.sqrt(x * x + y * y) + 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) + 0.000003 * np.cos(x * _X_PI)
    return z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006


def bd09_to_gcj02(lon: Any, lat: Any) -> tuple[Array, Array]:
    """BD-09 → GCJ-02 (the published approximate inverse, as every converter uses)."""
    x, y = _arr(lon) - 0.0065, _arr(lat) - 0.006
    z = np.sqrt(x * x + y * y) - 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _X_PI)
    return z * np.cos(theta), z * np.sin(theta)


def bd09_to_wgs84(lon: Any, lat: Any) -> tuple[Array, Array]:
    """BD-09 → GCJ-02 → WGS84."""
    return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))


def wgs84_to_bd09(lon: Any, lat: Any) -> tuple[Array, Array]:
    """WGS84 → GCJ-02 → BD-09."""
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


def offset_system(crs: str | None) -> str | None:
    """``'gcj02'``/``'bd09'`` when ``crs`` names an offset system (any common spelling)."""
    if crs is None:
        return None
    return _ALIASES.get(str(crs).strip().lower())


def parse_crs(crs: Any) -> CRS:
    """A pyproj CRS from an EPSG code (``4547``, ``'EPSG:4547'``), WKT, PROJ string or CRS.

    Raises ValueError with the input named when pyproj does not know it.
    """
    if isinstance(crs, CRS):
        return crs
    text = str(crs).strip()
    if text.isdigit():
        text = f"EPSG:{text}"
    try:
        return CRS.from_user_input(text)
    except CRSError as exc:
        raise ValueError(f"unknown coordinate system {str(crs)[:80]!r}: {exc}") from None


@lru_cache(maxsize=64)
def _transformer(wkt: str) -> Transformer:
    return Transformer.from_crs(CRS.from_wkt(wkt), CRS.from_epsg(STORAGE_EPSG), always_xy=True)


def is_storage_equivalent(crs: CRS) -> bool:
    """WGS84 / CGCS2000 geographic lon/lat: stored without a datum shift (cm-level)."""
    epsg = crs.to_epsg(min_confidence=70)
    return epsg in (4326, 4490, 4258, 4979) or (crs.is_geographic and crs.name in ("WGS 84", "CGCS2000"))


def to_storage(xs: Any, ys: Any, crs: Any) -> tuple[Array, Array]:
    """Convert coordinates in any supported ``crs`` to EPSG:4490 lon/lat.

    ``crs`` may be an EPSG code, WKT, PROJ string, a pyproj CRS, or ``'gcj02'`` /
    ``'bd09'``. Axis order is always x = easting/longitude, y = northing/latitude
    (pyproj ``always_xy``), which is what files and surveyors' columns carry.
    """
    xs, ys = _arr(xs), _arr(ys)
    offset = offset_system(crs) if not isinstance(crs, CRS) else None
    if offset == "gcj02":
        return gcj02_to_wgs84(xs, ys)
    if offset == "bd09":
        return bd09_to_wgs84(xs, ys)
    parsed = parse_crs(crs)
    if parsed.to_epsg() == STORAGE_EPSG or is_storage_equivalent(parsed):
        return xs, ys
    lon, lat = _transformer(parsed.to_wkt()).transform(xs, ys)
    return _arr(lon), _arr(lat)


def crs_label(crs: Any) -> str:
    """A short name for reports: ``EPSG:4547``, ``gcj02`` or the CRS name."""
    offset = offset_system(crs) if not isinstance(crs, CRS) else None
    if offset:
        return offset
    parsed = parse_crs(crs)
    epsg = parsed.to_epsg(min_confidence=70)
    return f"EPSG:{epsg}" if epsg else parsed.name


def guess_crs(xs: Any, ys: Any) -> str | None:
    """Which CRS unlabelled numbers look like at Jiaozuo, or None when they look like degrees.

    Used only to *suggest* a ``--crs``; the importer never applies a guess silently.
    """
    xs, ys = _arr(xs), _arr(ys)
    ok = np.isfinite(xs) & np.isfinite(ys)
    if not ok.any():
        return None
    x, y = float(np.median(xs[ok])), float(np.median(ys[ok]))
    if -180 <= x <= 180 and -90 <= y <= 90:
        return None
    if 38_000_000 <= x < 39_000_000 and 3_000_000 < y < 5_000_000:
        return "EPSG:4526"
    if 200_000 <= x <= 800_000 and 3_000_000 < y < 5_000_000:
        return "EPSG:4547"
    if 10_000_000 < x < 15_000_000 and 3_000_000 < y < 6_000_000:
        return "EPSG:3857"
    if 3_000_000 < x < 5_000_000 and 200_000 <= y <= 800_000:
        return "EPSG:4547 (x/y swapped?)"
    return "a projected CRS (unknown)"


# Every CGCS2000 Gauss-Krüger zone Jiaozuo (112.6-113.7°E) lies in or next to, with and
# without the zone number in front of the easting, and Web Mercator. Numerically some
# coincide (4546 and 4508 are both CM 111°E without prefix): the first listed wins a tie.
JIAOZUO_CANDIDATES = (
    "EPSG:4547",  # 3-degree CM 114°E
    "EPSG:4546",  # 3-degree CM 111°E
    "EPSG:4526",  # 3-degree zone 38 (CM 114°E), zone prefix
    "EPSG:4525",  # 3-degree zone 37 (CM 111°E), zone prefix
    "EPSG:4548",  # 3-degree CM 117°E
    "EPSG:4527",  # 3-degree zone 39 (CM 117°E), zone prefix
    "EPSG:4508",  # 6-degree CM 111°E
    "EPSG:4497",  # 6-degree zone 19 (CM 111°E), zone prefix
    "EPSG:3857",
    "EPSG:4490",
)


@dataclass(frozen=True)
class Candidate:
    """A CRS the numbers may be in, with or without x and y swapped, and the share of
    the sampled points that then land inside the prefecture."""

    crs: str
    swapped: bool
    inside: float


def rank_crs(
    xs: Any,
    ys: Any,
    inside: Callable[[Array, Array], npt.NDArray[np.bool_]],
    *,
    candidates: tuple[str, ...] = JIAOZUO_CANDIDATES,
    sample: int = 200,
) -> list[Candidate]:
    """Candidates under which the points land inside (``inside(lon, lat)``), best first.

    Only a suggestion for the user (the importer never applies a guess silently):
    each candidate, plain and with x/y swapped (the Chinese survey convention X =
    north), is ranked by the share of points inside the prefecture.
    """
    xs, ys = _arr(xs), _arr(ys)
    ok = np.isfinite(xs) & np.isfinite(ys)
    xs, ys = xs[ok][:sample], ys[ok][:sample]
    if not len(xs):
        return []
    found: list[Candidate] = []
    for crs in candidates:
        for swapped in (False, True):
            a, b = (ys, xs) if swapped else (xs, ys)
            if crs == "EPSG:4490" and not (np.all(np.abs(a) <= 180) and np.all(np.abs(b) <= 90)):
                continue
            with np.errstate(all="ignore"):
                try:
                    lon, lat = to_storage(a, b, crs)
                except Exception:  # (a projection's inverse may refuse far-off numbers)
                    continue
            good = np.isfinite(lon) & np.isfinite(lat)
            share = float(inside(lon[good], lat[good]).sum()) / len(a) if good.any() else 0.0
            if share > 0:
                found.append(Candidate(crs, swapped, share))
    return sorted(found, key=lambda c: -c.inside)
