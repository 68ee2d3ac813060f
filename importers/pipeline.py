"""The shared import stages every format goes through:
read → CRS → transform to EPSG:4490 → map columns → validate per row → report → write.

One database transaction covers the whole write: with errors nothing is committed
(unless the user asks to skip rejected rows), a dry run rolls back after computing
exactly what would happen, and a killed process leaves the registry untouched.
"""

from __future__ import annotations

import logging
import tempfile
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import shapely
from psycopg.pq import TransactionStatus
from psycopg.types.json import Jsonb
from shapely.geometry.base import BaseGeometry

from importers import photos as photos_mod
from importers import writer
from importers.base import Batch, Source
from importers.checks import (
    RunState,
    area_m2,
    checked_defaults,
    is_projected,
    outside_problem,
    refuse_wrong_crs,
    repair,
    resolve_crs,
    set_checks,
    swap_xy,
)
from importers.columns import extra_json, memoised, validate_batch
from importers.errors import EmptyFile, ImportFileError
from importers.mapping import ColumnMap, clean_extra, map_columns
from importers.nearby import StagedPoints
from importers.ogr import list_layers
from importers.records import import_via, mark_interrupted
from importers.report import ImportReport, ReportRow
from importers.safety import check_size, sha256_of
from importers.sources import open_source
from registry import coords
from registry.context import set_actor
from registry.messages import problem
from registry.settings import Settings
from registry.spec import LayerSpec, Problem

logger = logging.getLogger(__name__)
Progress = Callable[[int, int | None], None]
_MULTI = {"MultiPoint": "Point", "MultiLineString": "LineString", "MultiPolygon": "Polygon"}
_TRUE = {"true", "t", "1", "yes", "是"}


@dataclass
class ImportOptions:
    """What the user chose for one import (stored with the import record)."""

    crs: str | None = None
    encoding: str | None = None
    mapping: dict[str, str] | None = None
    dry_run: bool = False
    skip_rejected: bool = False
    layer_name: str | None = None
    repair_geometry: bool = False
    photos: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    # Values for the whole run (``--set status=in_service``): fill absent columns and
    # blank cells; checked once before any row is read.
    defaults: dict[str, str] = field(default_factory=dict)
    x_column: str | None = None
    y_column: str | None = None
    swap_xy: bool = False

    def as_json(self) -> dict[str, Any]:
        """JSON-ready copy for the ``imports.options`` column."""
        return {k: v for k, v in asdict(self).items() if v not in (None, False, {}, [])}


def create_import_record(
    conn: psycopg.Connection,
    *,
    actor: str,
    file_name: str,
    sha256: str,
    size: int,
    layer: str,
    options: ImportOptions,
    import_id: str | None = None,
    actor_id: int | None = None,
) -> str:
    """Insert the ``imports`` row in its own committed transaction, before any row is read.

    ``actor_id`` is the signed-in account (NULL for the CLI): undo rights follow the
    account, never the free-text ``actor`` name.
    """
    _require_idle(conn)
    import_id = import_id or str(uuid.uuid4())
    with conn.transaction():
        mark_interrupted(conn)
        # The session recorded here is the one that will run the data transaction
        # (run_import uses this same connection): see importers.records.
        conn.execute(
            "INSERT INTO imports (id, actor, actor_id, file_name, sha256, size_bytes, layer, options, "
            "backend_pid, backend_start) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, pg_backend_pid(), "
            "(SELECT backend_start FROM pg_stat_activity WHERE pid = pg_backend_pid()))",
            (import_id, actor, actor_id, file_name, sha256, size, layer, Jsonb(options.as_json())),
        )
    return import_id


def _require_idle(conn: psycopg.Connection) -> None:
    """Refuse a connection inside a transaction: ``conn.transaction()`` would then be a
    savepoint, and the import record invisible while it runs and gone after a kill."""
    if conn.info.transaction_status != TransactionStatus.IDLE:
        raise RuntimeError("imports need a connection of their own, outside any transaction")


def _stored_error(error: ImportFileError) -> dict[str, Any]:
    """The error as the import record keeps it: its message code and parameters (to render
    in any language) and both renderings (for readers of the table)."""
    return {
        "code": error.code,
        "msg": error.message_code,
        "params": error.params,
        "zh": error.message_zh,
        "en": error.message_en,
    }


def _finish_record(
    conn: psycopg.Connection, import_id: str, report: ImportReport, error: ImportFileError | None = None
) -> None:
    conn.execute(
        "UPDATE imports SET status = %s, finished_at = now(), counts = %s, rows_read = %s, report = %s, "
        "error = %s WHERE id = %s",
        (
            report.status,
            Jsonb(report.summary()),
            report.rows_read,
            Jsonb(report.as_dict("en")),
            Jsonb(_stored_error(error)) if error else None,
            import_id,
        ),
    )


def run_import(
    conn: psycopg.Connection,
    spec: LayerSpec,
    path: Path,
    *,
    settings: Settings,
    actor: str,
    options: ImportOptions | None = None,
    file_name: str | None = None,
    import_id: str | None = None,
    progress: Progress | None = None,
    actor_id: int | None = None,
) -> ImportReport:
    """Import ``path`` into ``spec``'s layer and return the report.

    ``conn`` must be idle (not inside a transaction): the import record is committed
    first, then all data in one transaction. File-level problems raise an
    ``ImportFileError`` (and are recorded as a failed import); row problems are in
    the report, whose ``status`` is committed, dry_run or rejected.
    """
    options = options or ImportOptions()
    name = file_name or path.name
    size = check_size(path, settings.import_max_bytes, name)
    digest = sha256_of(path)
    if import_id is None:
        import_id = create_import_record(
            conn,
            actor=actor,
            file_name=name,
            sha256=digest,
            size=size,
            layer=spec.name,
            options=options,
            actor_id=actor_id,
        )
    else:
        # Created and committed elsewhere (a background HTTP import): this session runs it.
        _require_idle(conn)
        with conn.transaction():
            conn.execute(
                "UPDATE imports SET backend_pid = pg_backend_pid(), backend_start = "
                "(SELECT backend_start FROM pg_stat_activity WHERE pid = pg_backend_pid()) WHERE id = %s",
                (import_id,),
            )
    report = ImportReport(layer=spec.name, file_name=name, import_id=import_id, dry_run=options.dry_run)
    report.field_labels = field_labels(spec)
    try:
        with tempfile.TemporaryDirectory(prefix="registry-import-") as tmp:
            source = _open(path, Path(tmp), settings, options, options.layer_name, name, spec)
            _run(
                conn,
                spec,
                source,
                report,
                settings=settings,
                actor=actor,
                options=options,
                import_id=import_id,
                progress=progress,
            )
    except ImportFileError as exc:
        report.status = "failed"
        with conn.transaction():
            _finish_record(conn, import_id, report, exc)
        raise
    except BaseException:
        # A crash (or KeyboardInterrupt) rolled the data back; say so in the record.
        if not conn.closed and conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE:
            report.status = "failed"
            with conn.transaction():
                _finish_record(conn, import_id, report)
        raise
    return report


def _open(
    path: Path,
    tmp: Path,
    settings: Settings,
    options: ImportOptions,
    layer_name: str | None,
    name: str,
    target: LayerSpec,
) -> Source:
    """The file as a source of batches, with the photos of a separate zip added; of
    several layers with none chosen, the one named like the target layer is taken."""
    source = open_source(
        path,
        tmp,
        encoding=options.encoding,
        layer_name=layer_name,
        prefer=(target.name, target.zh, target.en),
        max_unzipped=settings.import_max_unzipped_bytes,
        max_ratio=settings.import_max_zip_ratio,
        display_name=name,
        xy_columns=(options.x_column, options.y_column),
    )
    if options.photos:
        source.photos |= photos_mod.open_photo_zip(Path(options.photos), tmp, settings)
    return source


def _run(
    conn: psycopg.Connection,
    spec: LayerSpec,
    source: Source,
    report: ImportReport,
    *,
    settings: Settings,
    actor: str,
    options: ImportOptions,
    import_id: str,
    progress: Progress | None,
) -> None:
    photo_rows: list[tuple[int, str, list[str]]] = []
    with conn.transaction():
        _write(
            conn,
            spec,
            source,
            report,
            settings=settings,
            actor=actor,
            options=options,
            import_id=import_id,
            progress=progress,
            photo_rows=photo_rows,
        )
        if report.status != "committed":
            # Rejected or dry run: undo everything; the outcome is recorded below.
            raise psycopg.Rollback()
    if report.status != "committed":
        with conn.transaction():
            _finish_record(conn, import_id, report)


def _write(
    conn: psycopg.Connection,
    spec: LayerSpec,
    source: Source,
    report: ImportReport,
    *,
    settings: Settings,
    actor: str,
    options: ImportOptions,
    import_id: str,
    progress: Progress | None,
    photo_rows: list[tuple[int, str, list[str]]],
) -> None:
    run = RunState(defaults=checked_defaults(spec, options.defaults))
    via = import_via(import_id)
    set_actor(conn, actor, via=via)
    writer.create_stage(conn, spec)
    boundary = _boundary(conn)
    crs: str | None = None
    maps: dict[tuple[str, ...], ColumnMap] = {}
    points = StagedPoints()
    for batch in source.batches():
        if source.field_names:
            batch.frame = batch.frame.rename(columns=source.field_names)
        if options.swap_xy:
            batch.geoms = swap_xy(batch.geoms)
        if crs is None:
            crs = resolve_crs(source, batch, options.crs, boundary, options.swap_xy)
            report.crs = coords.crs_label(crs)
        key = tuple(batch.frame.columns)
        if key not in maps:
            maps[key] = map_columns(spec, list(key), options.mapping)
            report.mapping.update(maps[key].attrs)
            report.extra_columns = sorted(set(report.extra_columns) | set(maps[key].extra))
        staged = _process(
            conn, spec, batch, maps[key], crs, boundary, report, options, source, photo_rows, run, points
        )
        writer.copy_rows(conn, spec, staged)
        report.rows_read += len(batch.frame)
        if progress:
            progress(report.rows_read, source.total)
    if report.rows_read == 0:
        raise EmptyFile.of("no_records", file=source.name)
    report.codes_generated = list(run.generated)
    set_checks(conn, spec, report, points)
    errors = report.error_rows
    report.counts["rejected"] = len(errors)
    report.counts["warnings"] = len({r.row for r in report.rows if r.level == "warning"})
    if errors:
        writer.drop_rows(conn, errors)
    if errors and not options.skip_rejected and not options.dry_run:
        report.status = "rejected"
        return
    try:
        report.counts.update(writer.upsert_from_stage(conn, spec))
    except (psycopg.errors.IntegrityError, psycopg.errors.RaiseException) as exc:
        # A rule only the database knows refused a row the checks above let through:
        # one clear error (the transaction rolls back), never a traceback or a 500.
        detail = (exc.diag.message_primary or type(exc).__name__)[:300]
        raise ImportFileError.of("database_refused", detail=detail) from None
    for rownum, code, action in writer.row_actions(conn, spec, via, 5000):
        report.add(ReportRow(row=rownum, level="ok", code=code, action=action))
    if options.dry_run:
        report.status = "dry_run"
        report.counts["photos"] = sum(len(n) for r, _, n in photo_rows if r not in errors)
        return
    report.counts["photos"] = photos_mod.attach(
        conn, spec, [(c, n) for r, c, n in photo_rows if r not in errors], source.photos, settings, import_id
    )
    report.status = "committed"
    _finish_record(conn, import_id, report)


def _boundary(conn: psycopg.Connection) -> BaseGeometry:
    row = conn.execute("SELECT ST_AsBinary(ST_Union(geom)) FROM districts").fetchone()
    if row is None or row[0] is None:
        raise ImportFileError.of("no_districts")
    geom = shapely.from_wkb(bytes(row[0]))
    shapely.prepare(geom)
    return geom


def _to_storage_geoms(geoms: np.ndarray[Any, Any], crs: str) -> np.ndarray[Any, Any]:
    def fn(xy: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        with np.errstate(all="ignore"):
            lon, lat = coords.to_storage(xy[:, 0], xy[:, 1], crs)
        return np.column_stack([lon, lat])

    return shapely.transform(geoms, fn)


def field_labels(spec: LayerSpec) -> dict[str, dict[str, str]]:
    """The layer's attribute labels, and the geometry's, for the report."""
    out = {a.name: {"zh": a.zh, "en": a.en} for a in spec.all_attrs}
    out["geometry"] = {"zh": "几何", "en": "Geometry"}
    return out


def _geographic(crs: str) -> bool:
    """Degrees (lon/lat), where ±180/±90 bound the numbers."""
    if coords.offset_system(crs):
        return True
    try:
        return bool(coords.parse_crs(crs).is_geographic)
    except ValueError:
        return False


def _process(
    conn: psycopg.Connection,
    spec: LayerSpec,
    batch: Batch,
    cmap: ColumnMap,
    crs: str,
    boundary: BaseGeometry,
    report: ImportReport,
    options: ImportOptions,
    source: Source,
    photo_rows: list[tuple[int, str, list[str]]],
    run: RunState,
    points: StagedPoints,
) -> list[tuple[Any, ...]]:
    """Transform, validate and check one batch; return the rows to stage (and add its
    staged points to ``points``)."""
    n = len(batch.frame)
    src_geoms = batch.geoms
    warnings: dict[int, list[Problem]] = {}
    # Rows whose geometry already has its one error (no "outside Jiaozuo" on top).
    geo_error: dict[int, Problem] = {}
    # force_2d copies every geometry: only pay for it when there is a Z to drop.
    has_z = shapely.has_z(src_geoms)
    if has_z.any():
        geoms = shapely.force_2d(src_geoms)
        for i in np.flatnonzero(has_z):
            warnings.setdefault(int(i), []).append(problem("geometry", "z_dropped", level="warning"))
    else:
        geoms = src_geoms.copy()
    # Single-part multi-geometries (Shapefile and KML write them) → simple ones.
    types = shapely.get_type_id(geoms)
    single_multi = np.isin(types, (4, 5, 6)) & (shapely.get_num_geometries(geoms) == 1)
    if single_multi.any():
        geoms[single_multi] = shapely.get_geometry(geoms[single_multi], 0)
    if _geographic(crs):
        bounds = shapely.bounds(geoms)
        with np.errstate(invalid="ignore"):
            bad = (np.abs(bounds[:, [0, 2]]) > 180).any(axis=1) | (np.abs(bounds[:, [1, 3]]) > 90).any(axis=1)
        for i in np.flatnonzero(bad):
            x, y = shapely.get_coordinates(geoms[i])[0]
            swapped = abs(y) <= 180 and abs(x) <= 90 and bool(shapely.contains_xy(boundary, y, x))
            code = "lonlat_out_of_range_swap" if swapped else "lonlat_out_of_range"
            geo_error[int(i)] = problem("geometry", code, f"{x:g}, {y:g}", x=f"{x:g}", y=f"{y:g}")
    stored = _to_storage_geoms(geoms, crs)
    if not run.crs_checked and options.crs and is_projected(crs):
        refuse_wrong_crs(source, src_geoms, stored, crs, boundary)
    run.crs_checked = True
    geoms = stored
    coords_xy = shapely.get_coordinates(geoms)
    if len(coords_xy) and not np.isfinite(coords_xy).all():
        counts = shapely.get_num_coordinates(geoms)
        finite = np.isfinite(coords_xy).all(axis=1)
        row_of = np.repeat(np.arange(n), counts)
        for i in np.unique(row_of[~finite]):
            geo_error.setdefault(int(i), problem("geometry", "coords_not_finite", crs=crs))
    if geo_error:
        geoms[list(geo_error)] = None
    invalid = ~shapely.is_missing(geoms) & ~shapely.is_valid(geoms)
    if options.repair_geometry and invalid.any():
        for i in np.flatnonzero(invalid):
            fixed, note = repair(geoms[i], spec)
            if fixed is not None and note is not None:
                geoms[i] = fixed
                warnings.setdefault(int(i), []).append(note)
    # Inside the prefecture: fast vectorised test, then the exact trigger rule for the rest.
    present = ~shapely.is_missing(geoms) & ~shapely.is_empty(geoms)
    probes = np.full(n, None, dtype=object)
    probes[present] = shapely.point_on_surface(geoms[present])
    inside = np.zeros(n, dtype=bool)
    inside[present] = shapely.contains(boundary, probes[present])
    candidates = np.flatnonzero(present & ~inside)
    outside: set[int] = set()
    if len(candidates):
        hexes = shapely.to_wkb(shapely.set_srid(geoms[candidates], 4490), hex=True, include_srid=True)
        outside = {int(candidates[j]) for j in writer.outside_jiaozuo(conn, list(hexes))}
    implausible = _too_large(spec, geoms, present)
    cols = {attr: batch.frame[col].tolist() for col, attr in cmap.attrs.items()}
    _apply_defaults(conn, spec, cols, n, run)
    extras = {col: batch.frame[col].tolist() for col in cmap.extra}
    photos = batch.frame[cmap.photo].tolist() if cmap.photo else None
    demo = batch.frame[cmap.is_demo].tolist() if cmap.is_demo else None
    clean, row_problems = validate_batch(spec, cols, geoms, n)
    for i, found in geo_error.items():
        kept = [p for p in row_problems.get(i, []) if p.field != "geometry"]
        row_problems[i] = [found, *kept]
    for i, found in implausible.items():
        row_problems.setdefault(i, []).append(found)
    hex_geoms = shapely.to_wkb(shapely.set_srid(geoms, 4490), hex=True, include_srid=True)
    extra_texts = extra_json(extras, n, clean_extra)
    demo_flags = memoised(lambda v: str(v).strip().lower() in _TRUE, demo) if demo else None
    raw_codes = cols.get("code")
    clean_codes = clean.get("code")
    attr_names = [a.name for a in spec.writable_attrs]
    absent = [None] * n
    attr_cols = [clean.get(a, absent) for a in attr_names]
    rows = batch.rows.tolist()
    # Only rows that have something to report (or photos) need per-row work here.
    flagged = set(row_problems) | set(warnings) | outside
    flagged.update(i for i, r in enumerate(rows) if r in batch.problems)
    if photos is not None:
        flagged.update(i for i, v in enumerate(photos) if v not in (None, "") and v == v)
    rejected: set[int] = set()
    hinted = 0
    for i in sorted(flagged):
        rownum = rows[i]
        problems = list(batch.problems.get(rownum, ())) + row_problems.get(i, []) + warnings.get(i, [])
        if i in outside:
            value = shapely.to_wkt(geoms[i], rounding_precision=6)
            src = src_geoms[i] if hinted < 1000 else None
            hinted += 1
            problems.append(outside_problem(src, crs, boundary, value))
        raw_code = raw_codes[i] if raw_codes is not None else None
        code = (clean_codes[i] if clean_codes is not None else None) or (
            str(raw_code) if raw_code is not None else None
        )
        names: list[str] = []
        if photos is not None and photos[i] not in (None, "") and photos[i] == photos[i]:
            names, photo_problems = photos_mod.names_for(str(photos[i]), source.photos)
            problems += [problem(cmap.photo or "photo", m, v, name=v) for m, v in photo_problems]
        has_error = False
        for p in problems:
            report.add(ReportRow.of(rownum, p, code=code))
            has_error |= p.level == "error"
        if has_error:
            rejected.add(i)
        elif names:
            photo_rows.append((rownum, str(code), names))
    flags = [bool(f) for f in demo_flags] if demo_flags else [False] * n
    staged: list[tuple[Any, ...]] = list(
        zip(rows, *attr_cols, hex_geoms.tolist(), extra_texts, flags, strict=True)
    )
    keep = shapely.get_type_id(geoms) == 0
    if rejected:
        staged = [t for i, t in enumerate(staged) if i not in rejected]
        keep[list(rejected)] = False
    points.add(shapely.get_x(geoms[keep]), shapely.get_y(geoms[keep]), np.asarray(rows)[keep])
    return staged


def _apply_defaults(
    conn: psycopg.Connection, spec: LayerSpec, cols: dict[str, list[Any]], n: int, run: RunState
) -> None:
    """The run's defaults fill absent columns and blank cells; rows without a code get
    a generated one (``<prefix>-<year>-<serial>``)."""
    for name, value in run.defaults.items():
        col = cols.get(name)
        cols[name] = [value] * n if col is None else [value if _blank(v) else v for v in col]
    codes = cols.get("code")
    if codes is None:
        cols["code"] = [run.new_code(conn, spec) for _ in range(n)]
    elif any(_blank(v) for v in codes):
        cols["code"] = [run.new_code(conn, spec) if _blank(v) else v for v in codes]


def _blank(value: Any) -> bool:
    return (
        value is None
        or (isinstance(value, float) and value != value)
        or (isinstance(value, str) and not value.strip())
    )


def _too_large(
    spec: LayerSpec, geoms: np.ndarray[Any, Any], present: np.ndarray[Any, Any]
) -> dict[int, Problem]:
    """The layer's plausibility rule: an area beyond ``LayerSpec.max_area_m2``."""
    if spec.max_area_m2 is None:
        return {}
    polygonal = present & np.isin(shapely.get_type_id(geoms), (3, 6))
    if not polygonal.any():
        return {}
    # Cheap bound first (degrees² → m² at the row's latitude), exact area for the few.
    idx = np.flatnonzero(polygonal)
    lat = np.radians(shapely.get_y(shapely.centroid(geoms[idx])))
    rough = shapely.area(geoms[idx]) * 111_320.0 * 110_574.0 * np.cos(lat)
    out: dict[int, Problem] = {}
    for j in np.flatnonzero(rough > spec.max_area_m2 * 0.9):
        i = int(idx[j])
        m2 = area_m2(geoms[i])
        if m2 > spec.max_area_m2:
            out[i] = problem(
                "geometry", "area_too_large", f"{m2:,.0f}", area=f"{m2:,.0f}", max=f"{spec.max_area_m2:,.0f}"
            )
    return out


def layers_by_name(path: Path, layer_names: list[str]) -> list[str]:
    """The layers of a multi-layer GeoPackage, each named after a registry layer.

    Raises ``ImportFileError`` when the file is not a GeoPackage or a layer matches no
    registry layer (nothing is skipped silently: the user picks one with --gpkg-layer).
    """
    if path.suffix.lower() != ".gpkg":
        raise ImportFileError.of("gpkg_needs_layer", file=path.name)
    found = list_layers(path)
    unknown = [n for n in found if n not in layer_names]
    if unknown or not found:
        listed, allowed = ", ".join(unknown) or "-", ", ".join(layer_names)
        raise ImportFileError.of("gpkg_unknown_layers", file=path.name, layers=listed, allowed=allowed)
    return found


def run_multi_import(
    conn: psycopg.Connection,
    specs: list[LayerSpec],
    path: Path,
    *,
    settings: Settings,
    actor: str,
    options: ImportOptions | None = None,
    file_name: str | None = None,
    progress: Progress | None = None,
    actor_id: int | None = None,
) -> list[ImportReport]:
    """Import every layer of a GeoPackage into the registry layer of the same name.

    Each layer gets its own import record and report (and can be undone on its own),
    but the data of all layers is written in ONE transaction: if any layer has errors
    (and rejected rows are not skipped) nothing at all is written, as for one layer.
    ``specs`` are the registry layers the file's layers may name.
    """
    options = options or ImportOptions()
    by_name = {s.name: s for s in specs}
    name = file_name or path.name
    size = check_size(path, settings.import_max_bytes, name)
    digest = sha256_of(path)
    layer_names = layers_by_name(path, list(by_name))
    jobs: list[tuple[LayerSpec, ImportReport]] = []
    for layer in layer_names:
        opts = ImportOptions(**{**asdict(options), "layer_name": layer})
        iid = create_import_record(
            conn,
            actor=actor,
            file_name=name,
            sha256=digest,
            size=size,
            layer=layer,
            options=opts,
            actor_id=actor_id,
        )
        rep = ImportReport(layer=layer, file_name=name, import_id=iid, dry_run=opts.dry_run)
        rep.field_labels = field_labels(by_name[layer])
        jobs.append((by_name[layer], rep))
    try:
        with tempfile.TemporaryDirectory(prefix="registry-import-") as tmp, conn.transaction():
            for spec, report in jobs:
                source = _open(path, Path(tmp), settings, options, spec.name, name, spec)
                assert report.import_id is not None
                _write(
                    conn,
                    spec,
                    source,
                    report,
                    settings=settings,
                    actor=actor,
                    options=options,
                    import_id=report.import_id,
                    progress=progress,
                    photo_rows=[],
                )
            if any(r.status != "committed" for _, r in jobs):
                raise psycopg.Rollback()
    except ImportFileError as exc:
        with conn.transaction():
            for _, report in jobs:
                report.status = "failed"
                assert report.import_id is not None
                _finish_record(conn, report.import_id, report, exc)
        raise
    except BaseException:
        if not conn.closed and conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE:
            with conn.transaction():
                for _, report in jobs:
                    report.status = "failed"
                    assert report.import_id is not None
                    _finish_record(conn, report.import_id, report)
        raise
    if any(r.status != "committed" for _, r in jobs):
        # A layer that would have been written is not: say so (another layer was rejected).
        with conn.transaction():
            for _, report in jobs:
                if report.status == "committed":
                    report.status = "rejected"
                assert report.import_id is not None
                _finish_record(conn, report.import_id, report)
    return [r for _, r in jobs]
