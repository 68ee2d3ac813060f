"""The coordinate reference systems the API speaks, by OGC URI, with their axis order.

OGC API – Features Part 2 uses each CRS's *authority* axis order: CRS84 is
longitude/latitude, but EPSG:4490 and EPSG:4326 are latitude/longitude and
EPSG:4547 (Gauss-Krüger) is northing/easting. PostGIS always works in x/y (east/north)
order, so the query layer swaps axes at the boundary when ``swap_axes`` is set.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Any

from pyproj import CRS as ProjCRS
from pyproj import Transformer

from registry.errors import InvalidParameter, shown

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
STORAGE_SRID = 4490
# CGCS2000 and WGS84 agree to centimetres (DESIGN.md), and PROJ has no datum shift
# between them anyway: relabelling the SRID is exact and skips a PROJ call per row.
SAME_AS_STORAGE = frozenset({4326, 4490})


@dataclass(frozen=True)
class ApiCrs:
    """One supported CRS: its URI, PostGIS SRID and whether its first axis is north."""

    uri: str
    srid: int
    swap_axes: bool
    geographic: bool

    @property
    def header(self) -> str:
        """Value of the ``Content-Crs`` header."""
        return f"<{self.uri}>"


def _epsg_uri(code: int) -> str:
    return f"http://www.opengis.net/def/crs/EPSG/0/{code}"


# Storage (4490) first after CRS84 so clients that prefer the storage CRS find it.
SUPPORTED_EPSG = (4490, 4326, 4547, 3857)


@cache
def _north_first(code: int) -> bool:
    axis = ProjCRS.from_epsg(code).axis_info[0]
    return axis.direction.lower() in ("north", "south")


@cache
def supported() -> tuple[ApiCrs, ...]:
    """Every CRS the API accepts and can return, CRS84 first."""
    out = [ApiCrs(CRS84, 4326, False, True)]
    for code in SUPPORTED_EPSG:
        out.append(ApiCrs(_epsg_uri(code), code, _north_first(code), ProjCRS.from_epsg(code).is_geographic))
    return tuple(out)


def supported_uris() -> list[str]:
    """URIs listed in each collection's ``crs`` member."""
    return [c.uri for c in supported()]


def storage_crs() -> ApiCrs:
    """The CRS the rows are stored in (CGCS2000, lat/lon axis order in the API)."""
    return resolve(_epsg_uri(STORAGE_SRID), "crs")


# EPSG codes have at most 6 digits; the bound also keeps int() off a 5,000-digit code.
_EPSG_FORMS = (
    re.compile(r"^https?://www\.opengis\.net/def/crs/EPSG/0/(\d{1,9})$", re.IGNORECASE),
    re.compile(r"^\[?EPSG:(\d{1,9})\]?$", re.IGNORECASE),
    re.compile(r"^urn:ogc:def:crs:EPSG::(\d{1,9})$", re.IGNORECASE),
)
_CRS84_FORMS = {
    CRS84.lower(),
    "https://www.opengis.net/def/crs/ogc/1.3/crs84",
    "crs84",
    "ogc:crs84",
    "[ogc:crs84]",
    "urn:ogc:def:crs:ogc:1.3:crs84",
}


def resolve(value: str | None, parameter: str) -> ApiCrs:
    """The supported CRS named by a URI, CURIE or URN; CRS84 when absent.

    Raises InvalidParameter naming ``parameter`` for anything unsupported.
    """
    if value is None or value.strip() == "":
        return supported()[0]
    text = value.strip().strip("<>")
    if text.lower() in _CRS84_FORMS:
        return supported()[0]
    for form in _EPSG_FORMS:
        m = form.match(text)
        if m:
            code = int(m.group(1))
            for c in supported():
                if c.uri != CRS84 and c.srid == code:
                    return c
            break
    raise InvalidParameter(parameter, "").with_message(
        "crs_unsupported", value=shown(value), supported=", ".join(supported_uris())
    )


@cache
def valid_area(srid: int) -> tuple[float, float, float, float]:
    """Where coordinates in ``srid`` mean something: ``(minx, miny, maxx, maxy)`` in the
    CRS's units, x east and y north (PostGIS order, whatever the axis order).

    Geographic CRSs: the whole globe. Projected ones: their EPSG area of use, projected
    (EPSG:4547, the 114°E Gauss-Krüger zone, covers 112.5°E-115.5°E). Far outside it a
    projection's inverse gives garbage or fails, which PostGIS reports as an error.
    """
    proj = ProjCRS.from_epsg(srid)
    if proj.is_geographic:
        return (-180.0, -90.0, 180.0, 90.0)
    area = proj.area_of_use
    assert area is not None, f"EPSG:{srid} has no area of use"
    to_crs = Transformer.from_crs(4326, proj, always_xy=True)
    x0, y0, x1, y1 = to_crs.transform_bounds(area.west, area.south, area.east, area.north, densify_pts=51)
    return (float(x0), float(y0), float(x1), float(y1))


# What a Chinese message calls the body's geometries (parameters keep their names).
_WHAT_ZH = {"geometry": "几何", "line": "分割线"}


def outside_message(
    crs: ApiCrs, bounds: tuple[float, float, float, float], what: str
) -> dict[str, Any] | None:
    """Why the x/y ``bounds`` (minx, miny, maxx, maxy, in ``crs``) of ``what`` are not
    within the CRS's valid area: the params of the message ``coords_outside_crs``, or
    None when they are; non-finite numbers never are."""
    ax0, ay0, ax1, ay1 = valid_area(crs.srid)
    x0, y0, x1, y1 = bounds
    if ax0 <= x0 <= x1 <= ax1 and ay0 <= y0 <= y1 <= ay1:
        return None
    name = crs.uri.rsplit("/", 1)[-1] if crs.uri != CRS84 else "CRS84"
    if crs.swap_axes:  # say it in the CRS's own axis order, as the client wrote it
        x0, y0, x1, y1, ax0, ay0, ax1, ay1 = y0, x0, y1, x1, ay0, ax0, ay1, ax1
    area = f"[{ax0:.6g}, {ay0:.6g}, {ax1:.6g}, {ay1:.6g}]"
    got = f"[{x0:.6g}, {y0:.6g}, {x1:.6g}, {y1:.6g}]"
    return {"what": what, "what_zh": _WHAT_ZH.get(what, what), "got": got, "crs": name, "area": area}


def check_inside(crs: ApiCrs, bounds: tuple[float, float, float, float], parameter: str) -> None:
    """InvalidParameter naming ``parameter`` unless the x/y ``bounds`` lie within the
    CRS's valid area (see :func:`outside_message`)."""
    params = outside_message(crs, bounds, parameter)
    if params is not None:
        raise InvalidParameter(parameter, "").with_message("coords_outside_crs", **params)


def to_storage(expr: Any, srid: int) -> Any:
    """SQL moving a geometry expression in ``srid`` to the storage CRS."""
    from psycopg import sql

    if srid == STORAGE_SRID:
        return expr
    if srid in SAME_AS_STORAGE:
        return sql.SQL("ST_SetSRID({}, {})").format(expr, sql.Literal(STORAGE_SRID))
    return sql.SQL("ST_Transform({}, {})").format(expr, sql.Literal(STORAGE_SRID))


def from_storage(expr: Any, srid: int) -> Any:
    """SQL moving a stored geometry expression to ``srid``."""
    from psycopg import sql

    if srid == STORAGE_SRID:
        return expr
    if srid in SAME_AS_STORAGE:
        return sql.SQL("ST_SetSRID({}, {})").format(expr, sql.Literal(srid))
    return sql.SQL("ST_Transform({}, {})").format(expr, sql.Literal(srid))
