"""Checks and helpers of the import stages that are about a raw survey file as a whole:
which CRS its numbers are in, defaults and generated codes for a run, geometry repair,
why a point lies outside, and the checks that need the staged file or the database.
Every message is a code of ``registry.messages``."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import psycopg
import shapely
from shapely.geometry.base import BaseGeometry

from importers import writer
from importers.base import Batch, Source
from importers.errors import BadOption, CrsInvalid, CrsLooksOffset, CrsMissing, CrsWrong
from importers.mapping import norm
from importers.nearby import StagedPoints
from importers.report import ImportReport, ReportRow
from registry import coords, store
from registry.coords import GEOD
from registry.messages import nested, problem
from registry.spec import LayerSpec, Problem
from registry.validation import check_value

# Column or file names of phone map apps' exports, whose coordinates are GCJ-02.
_APP_MARKERS = ("gcj", "高德", "amap", "腾讯", "tencent", "火星", "qq地图", "autonavi", "mapabc")
_DEGREE_LIKE = ("经度", "纬度", "lon", "lat", "lng", "longitude", "latitude")


@dataclass
class RunState:
    """What one import run carries from batch to batch: the user's defaults (checked
    once), the code generator and whether the CRS was checked against the numbers."""

    defaults: dict[str, Any] = field(default_factory=dict)
    stem: str = ""
    serial: int | None = None
    generated: list[str] = field(default_factory=list)
    crs_checked: bool = False

    def new_code(self, conn: psycopg.Connection, spec: LayerSpec) -> str:
        """The next free code ``<prefix>-<year>-<serial>`` (the first needs one query)."""
        if self.serial is None:
            self.stem = f"{spec.code_prefix}-{dt.date.today().year}-"
            self.serial = store.next_serial(conn, spec, self.stem)
        code = f"{self.stem}{self.serial:04d}"
        self.serial += 1
        self.generated.append(code)
        return code


def checked_defaults(spec: LayerSpec, given: dict[str, str] | None) -> dict[str, Any]:
    """``--set attr=value`` of a run, each checked once against the layer (a wrong one
    stops the import before any row is read, naming the attribute and why). The
    attribute may be named by its label too (``状态=在用``), as the upload page offers."""
    out: dict[str, Any] = {}
    writable = {a.name: a for a in spec.writable_attrs if a.name != "code"}
    by_label = {norm(label): a for a in writable.values() for label in (a.zh, a.en)}
    for name, value in (given or {}).items():
        attr = writable.get(name) or by_label.get(norm(name))
        if attr is None:
            raise BadOption.of("unknown_default", name=name, layer=spec.name, allowed=", ".join(writable))
        clean, found = check_value(attr, value)
        if found is not None:
            reason = nested(found.code, found.params) if found.code else found.message
            raise BadOption.of("bad_default", name=name, value=value, reason=reason)
        if clean is not None:
            out[attr.name] = value
    return out


def parse_set(items: list[str] | None) -> dict[str, str]:
    """``["status=in_service", "kind=rain"]`` → a dict (the CLI's and the form's ``set``)."""
    out: dict[str, str] = {}
    for item in items or []:
        for part in str(item).splitlines():
            if not part.strip():
                continue
            name, sep, value = part.partition("=")
            if not sep or not name.strip():
                raise BadOption.of("bad_set_syntax", value=part)
            out[name.strip()] = value.strip()
    return out


def swap_xy(geoms: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """x and y exchanged (the Chinese survey convention writes X = north first)."""
    return shapely.transform(geoms, lambda xy: xy[:, ::-1])


def resolve_crs(
    source: Source, batch: Batch, crs_option: str | None, boundary: BaseGeometry, swapped: bool
) -> str:
    """User's CRS, else the file's, else one the table states, else degrees → EPSG:4490;
    numbers that are not degrees stop the import with the ranked guess (never applied)."""
    if crs_option:
        return _named_crs(crs_option)
    if source.crs:
        return source.crs
    stated = _stated_crs(batch)
    if stated:
        return stated
    sample = batch.geoms[:1000]
    xy = shapely.get_coordinates(sample[~shapely.is_missing(sample)])
    if not len(xy):
        return "EPSG:4490"
    x, y = xy[:, 0], xy[:, 1]
    degrees = float(np.median(np.abs(x))) <= 180 and float(np.median(np.abs(y))) <= 90
    ranked = coords.rank_crs(x, y, lambda lon, lat: shapely.contains_xy(boundary, lon, lat))
    best = ranked[0] if ranked else None
    if degrees and (best is None or (best.crs == "EPSG:4490" and not best.swapped)):
        _refuse_phone_app_export(source, batch)
        return "EPSG:4490"
    example = f"{x[0]:.2f}, {y[0]:.2f}"
    if best is None:
        raise CrsMissing.of("crs_missing_unknown", file=source.name, example=example)
    code = best.crs.removeprefix("EPSG:")
    if best.swapped and not swapped:
        raise CrsMissing.of(
            "crs_missing_swapped", file=source.name, example=example, guess=best.crs, code=code
        )
    raise CrsMissing.of("crs_missing", file=source.name, example=example, guess=best.crs, code=code)


def _refuse_phone_app_export(source: Source, batch: Batch) -> None:
    """Degrees from a phone map app are GCJ-02 (~580 m off at Jiaozuo), which no number
    shows: a table whose column or file names say so must be imported with --crs."""
    if source.format not in ("csv", "xlsx"):
        return
    names = [source.name, *map(str, batch.frame.columns)]
    hits = [n for n in names if any(m in norm(n) for m in _APP_MARKERS)]
    if hits:
        raise CrsLooksOffset.of("gcj02_hint", file=source.name, why=", ".join(hits[:3]))


def _stated_crs(batch: Batch) -> str | None:
    """The CRS a table states in a 坐标系/crs column (our CSV and XLSX exports do)."""
    for col in batch.frame.columns:
        if norm(str(col)) in ("坐标系", "crs"):
            values = {str(v).strip() for v in batch.frame[col] if v is not None and str(v).strip()}
            if len(values) == 1:
                return _named_crs(values.pop())
    return None


def _named_crs(name: str) -> str:
    """A CRS the user or the table names: an offset system (gcj02, bd09) as its
    canonical name, else as given once PROJ reads it; unreadable is the user's error."""
    offset = coords.offset_system(name)
    if offset:
        return offset
    try:
        coords.parse_crs(name)
    except ValueError:
        raise CrsInvalid.of("crs_invalid", crs=name) from None
    return name


def is_projected(crs: str) -> bool:
    """A projected CRS (Gauss-Krüger, Web Mercator…), not degrees nor an offset system."""
    if coords.offset_system(crs):
        return False
    try:
        return bool(coords.parse_crs(crs).is_projected)
    except ValueError:
        return False


def refuse_wrong_crs(
    source: Source, src: np.ndarray[Any, Any], geoms: np.ndarray[Any, Any], crs: str, boundary: BaseGeometry
) -> None:
    """A projected --crs under which not one point lands (finite) inside the prefecture is
    the wrong one: one clear error instead of a report of Infinity coordinates."""
    present = ~shapely.is_missing(geoms) & ~shapely.is_empty(geoms)
    if not present.any():
        return
    xy = shapely.get_coordinates(geoms[present])
    finite = np.isfinite(xy).all(axis=1)
    if finite.any() and shapely.contains_xy(boundary, xy[finite, 0], xy[finite, 1]).any():
        return
    raw = shapely.get_coordinates(src[present])
    ranked = coords.rank_crs(raw[:, 0], raw[:, 1], lambda lon, lat: shapely.contains_xy(boundary, lon, lat))
    guess = next((c for c in ranked if c.crs != crs), None)
    hint: Any = ""
    if guess is not None:
        hint = nested("crs_hint_guess", {"guess": guess.crs + (" --swap-xy" if guess.swapped else "")})
    raise CrsWrong.of(
        "crs_wrong_projected",
        crs=crs,
        file=source.name,
        example=f"{raw[0, 0]:.6g}, {raw[0, 1]:.6g}",
        hint=hint,
    )


def repair(geom: BaseGeometry, spec: LayerSpec) -> tuple[BaseGeometry | None, Problem | None]:
    """``make_valid``; a shape that falls apart (a bow-tie) keeps every part as a
    MultiPolygon where the layer allows it, else its largest part, saying how much
    area was dropped."""
    reason = shapely.is_valid_reason(geom)
    fixed = shapely.make_valid(geom)
    if fixed.geom_type in spec.geometry_types:
        return fixed, problem("geometry", "geometry_repaired", level="warning", reason=reason)
    parts = [g for g in getattr(fixed, "geoms", [fixed]) if g.geom_type in spec.geometry_types]
    polygons = [g for g in getattr(fixed, "geoms", [fixed]) if g.geom_type == "Polygon"]
    if len(polygons) > 1 and "MultiPolygon" in spec.geometry_types:
        multi = shapely.MultiPolygon(polygons)
        note = problem(
            "geometry", "geometry_repaired_multi", level="warning", reason=reason, parts=len(polygons)
        )
        return multi, note
    if not parts:
        return None, None
    largest = max(parts, key=lambda g: (g.area, g.length))
    dropped = sum(area_m2(g) for g in parts if g is not largest)
    note = problem(
        "geometry",
        "geometry_repaired_dropped",
        level="warning",
        reason=reason,
        parts=len(parts),
        dropped_m2=f"{dropped:,.2f}",
    )
    return largest, note


def area_m2(geom: BaseGeometry) -> float:
    """Area on the CGCS2000 ellipsoid, m² (lon/lat input)."""
    return abs(GEOD.geometry_area_perimeter(geom)[0])


def outside_problem(src: BaseGeometry | None, crs: str, boundary: BaseGeometry, value: str) -> Problem:
    """Outside Jiaozuo, with why when the numbers tell: swapped axes, or another CRS."""
    if src is not None:
        p = shapely.get_coordinates(src)[:1]
        if len(p):
            x, y = float(p[0, 0]), float(p[0, 1])
            inside = lambda lon, lat: shapely.contains_xy(boundary, lon, lat)  # noqa: E731
            for c in coords.rank_crs([x], [y], inside, candidates=(crs, *coords.JIAOZUO_CANDIDATES)):
                if c.crs == crs and c.swapped:
                    return problem("geometry", "outside_jiaozuo_swap", value)
                if c.crs != crs:
                    label = c.crs + (" --swap-xy" if c.swapped else "")
                    return problem("geometry", "outside_jiaozuo_crs", value, crs=label)
    return problem("geometry", "outside_jiaozuo", value)


def set_checks(
    conn: psycopg.Connection, spec: LayerSpec, report: ImportReport, points: StagedPoints | None = None
) -> None:
    """Checks that need the whole file or the database: duplicate codes, near points
    (existing ones and other rows of the file: ``points``, the staged points, lets the
    latter be found in memory), overlaps the layer forbids."""
    for code, rows in writer.duplicate_codes(conn):
        listed = ", ".join(map(str, rows[:20])) + (" …" if len(rows) > 20 else "")
        for r in rows:
            found = problem("code", "duplicate_code_in_file", code, rows=listed)
            report.add(ReportRow.of(r, found, code=code))
    metres = f"{writer.NEAR_METRES:g}"
    for rownum, code, other in writer.near_duplicates(conn, spec):
        found = problem("geometry", "near_existing", other, level="warning", metres=metres, other=other)
        report.add(ReportRow.of(rownum, found, code=code))
    for rownum, code, other_row in writer.near_in_file(conn, spec, points):
        found = problem(
            "geometry", "near_in_file", other_row, level="warning", metres=metres, other=other_row
        )
        report.add(ReportRow.of(rownum, found, code=code))
    exempt = spec.overlap_exempt[0] if spec.overlap_exempt else ""
    exempt_zh = next((c.zh for c in spec.statuses if c.code == exempt), exempt)
    for rownum, code, other, m2 in writer.overlaps(conn, spec):
        found = problem(
            "geometry",
            "overlaps_existing",
            other,
            other=other,
            area=f"{m2:,.2f}",
            exempt=exempt,
            exempt_zh=exempt_zh,
        )
        report.add(ReportRow.of(rownum, found, code=code))
