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
from importers.columns import extra_json, memoised, validate_batch
from importers.errors import CrsInvalid, CrsMissing, EmptyFile, ImportFileError
from importers.mapping import ColumnMap, clean_extra, map_columns, norm
from importers.ogr import list_layers
from importers.records import mark_interrupted
from importers.report import ImportReport, ReportRow
from importers.safety import check_size, sha256_of
from importers.sources import open_source
from registry import coords
from registry.context import set_actor
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
            Jsonb({"code": error.code, "zh": error.message_zh, "en": error.message_en}) if error else None,
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
    size = check_size(path, settings.import_max_bytes)
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
    set_actor(conn, actor, via=f"import:{import_id}")
    writer.create_stage(conn, spec)
    boundary = _boundary(conn)
    crs: str | None = None
    maps: dict[tuple[str, ...], ColumnMap] = {}
    for batch in source.batches():
        if source.field_names:
            batch.frame = batch.frame.rename(columns=source.field_names)
        if crs is None:
            crs = _resolve_crs(source, batch, options)
            report.crs = coords.crs_label(crs)
        key = tuple(batch.frame.columns)
        if key not in maps:
            maps[key] = map_columns(spec, list(key), options.mapping)
            report.mapping.update(maps[key].attrs)
            report.extra_columns = sorted(set(report.extra_columns) | set(maps[key].extra))
        staged = _process(conn, spec, batch, maps[key], crs, boundary, report, options, source, photo_rows)
        writer.copy_rows(conn, spec, staged)
        report.rows_read += len(batch.frame)
        if progress:
            progress(report.rows_read, source.total)
    if report.rows_read == 0:
        raise EmptyFile(f"{source.name} 中没有任何记录", f"{source.name} contains no records")
    _set_checks(conn, spec, report)
    errors = report.error_rows
    report.counts["rejected"] = len(errors)
    report.counts["warnings"] = len({r.row for r in report.rows if r.level == "warning"})
    if errors:
        writer.drop_rows(conn, errors)
    if errors and not options.skip_rejected and not options.dry_run:
        report.status = "rejected"
        return
    report.counts.update(writer.upsert_from_stage(conn, spec, import_id))
    for rownum, code, action in writer.row_actions(conn, import_id, 5000):
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
        raise ImportFileError(
            "数据库中没有区县边界（请先运行 registry migrate）",
            "no district boundaries in the database (run `registry migrate`)",
        )
    geom = shapely.from_wkb(bytes(row[0]))
    shapely.prepare(geom)
    return geom


def _resolve_crs(source: Source, batch: Batch, options: ImportOptions) -> str:
    """User's CRS, else the file's, else degrees → EPSG:4490, else stop and suggest one."""
    if options.crs:
        try:
            if coords.offset_system(options.crs) is None:
                coords.parse_crs(options.crs)
        except ValueError as exc:
            raise CrsInvalid(f"未知坐标系 {options.crs!r}", str(exc)) from None
        return coords.offset_system(options.crs) or options.crs
    if source.crs:
        return source.crs
    stated = _stated_crs(batch)
    if stated:
        return stated
    xy = shapely.get_coordinates(batch.geoms[:1000][~shapely.is_missing(batch.geoms[:1000])])
    guess = coords.guess_crs(xy[:, 0], xy[:, 1]) if len(xy) else None
    if guess is None:
        return "EPSG:4490"
    example = f"{xy[0, 0]:.2f}, {xy[0, 1]:.2f}"
    code = guess.split(" ")[0]
    raise CrsMissing(
        f"{source.name} 没有坐标系信息，且坐标（如 {example}）不是经纬度；看起来像 {guess}，"
        f"请用 --crs {code} 指定（或 gcj02 / bd09 / 其他 EPSG 代码）",
        f"{source.name} has no coordinate system and its coordinates (e.g. {example}) are not degrees; "
        f"they look like {guess}. Pass it with --crs {code} (or gcj02 / bd09 / another EPSG code)",
    )


def _stated_crs(batch: Batch) -> str | None:
    """The CRS a table states in a 坐标系/crs column (our CSV and XLSX exports do)."""
    for col in batch.frame.columns:
        if norm(str(col)) in ("坐标系", "crs"):
            values = {str(v).strip() for v in batch.frame[col] if v is not None and str(v).strip()}
            if len(values) == 1:
                value = values.pop()
                try:
                    if coords.offset_system(value) is None:
                        coords.parse_crs(value)
                except ValueError as exc:
                    raise CrsInvalid(f"{col} 列中的坐标系 {value!r} 无法识别", str(exc)) from None
                return coords.offset_system(value) or value
    return None


def _to_storage_geoms(geoms: np.ndarray[Any, Any], crs: str) -> np.ndarray[Any, Any]:
    def fn(xy: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        lon, lat = coords.to_storage(xy[:, 0], xy[:, 1], crs)
        return np.column_stack([lon, lat])

    return shapely.transform(geoms, fn)


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
) -> list[tuple[Any, ...]]:
    """Transform, validate and check one batch; return the rows to stage."""
    n = len(batch.frame)
    src_geoms = batch.geoms
    # force_2d copies every geometry: only pay for it when there is a Z to drop.
    geoms = shapely.force_2d(src_geoms) if shapely.has_z(src_geoms).any() else src_geoms.copy()
    # Single-part multi-geometries (Shapefile and KML write them) → simple ones.
    types = shapely.get_type_id(geoms)
    single_multi = np.isin(types, (4, 5, 6)) & (shapely.get_num_geometries(geoms) == 1)
    if single_multi.any():
        geoms[single_multi] = shapely.get_geometry(geoms[single_multi], 0)
    geoms = _to_storage_geoms(geoms, crs)
    warnings: dict[int, list[Problem]] = {}
    invalid = ~shapely.is_missing(geoms) & ~shapely.is_valid(geoms)
    if options.repair_geometry and invalid.any():
        for i in np.flatnonzero(invalid):
            fixed, note = _repair(geoms[i], spec)
            if fixed is not None:
                reason = shapely.is_valid_reason(geoms[i])
                geoms[i] = fixed
                warnings.setdefault(i, []).append(
                    Problem("geometry", f"geometry repaired: {reason}{note}", level="warning")
                )
    # Inside the prefecture: fast vectorised test, then the exact trigger rule for the rest.
    present = ~shapely.is_missing(geoms)
    probes = np.full(n, None, dtype=object)
    probes[present] = shapely.point_on_surface(geoms[present])
    inside = np.zeros(n, dtype=bool)
    inside[present] = shapely.contains(boundary, probes[present])
    candidates = np.flatnonzero(present & ~inside)
    outside: set[int] = set()
    if len(candidates):
        hexes = shapely.to_wkb(shapely.set_srid(geoms[candidates], 4490), hex=True, include_srid=True)
        outside = {int(candidates[j]) for j in writer.outside_jiaozuo(conn, list(hexes))}
    cols = {attr: batch.frame[col].tolist() for col, attr in cmap.attrs.items()}
    extras = {col: batch.frame[col].tolist() for col in cmap.extra}
    photos = batch.frame[cmap.photo].tolist() if cmap.photo else None
    demo = batch.frame[cmap.is_demo].tolist() if cmap.is_demo else None
    clean, row_problems = validate_batch(spec, cols, geoms, n)
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
            hint = _outside_hint(src_geoms[i], crs, boundary) if hinted < 1000 else ""
            hinted += 1
            problems.append(
                Problem(
                    "geometry",
                    f"outside Jiaozuo (no district within 2 km){hint}",
                    shapely.to_wkt(geoms[i], rounding_precision=6),
                )
            )
        raw_code = raw_codes[i] if raw_codes is not None else None
        code = (clean_codes[i] if clean_codes is not None else None) or (
            str(raw_code) if raw_code is not None else None
        )
        names: list[str] = []
        if photos is not None and photos[i] not in (None, "") and photos[i] == photos[i]:
            names, photo_problems = photos_mod.names_for(str(photos[i]), source.photos)
            problems += [Problem(cmap.photo or "photo", m, v) for m, v in photo_problems]
        has_error = False
        for p in problems:
            report.add(
                ReportRow(
                    row=rownum,
                    level=p.level,
                    field=p.field,
                    value=p.value,
                    reason=p.message,
                    code=code,
                    action="rejected" if p.level == "error" else None,
                )
            )
            has_error |= p.level == "error"
        if has_error:
            rejected.add(i)
        elif names:
            photo_rows.append((rownum, str(code), names))
    flags = [bool(f) for f in demo_flags] if demo_flags else [False] * n
    staged: list[tuple[Any, ...]] = list(
        zip(rows, *attr_cols, hex_geoms.tolist(), extra_texts, flags, strict=True)
    )
    if rejected:
        staged = [t for i, t in enumerate(staged) if i not in rejected]
    return staged


def _repair(geom: BaseGeometry, spec: LayerSpec) -> tuple[BaseGeometry | None, str]:
    fixed = shapely.make_valid(geom)
    if fixed.geom_type in spec.geometry_types:
        return fixed, ""
    parts = [g for g in getattr(fixed, "geoms", [fixed]) if g.geom_type in spec.geometry_types]
    if not parts:
        return None, ""
    largest = max(parts, key=lambda g: (g.area, g.length))
    return largest, f" (kept the largest of {len(parts)} parts)"


def _outside_hint(src: BaseGeometry | None, crs: str, boundary: BaseGeometry) -> str:
    """Why a geometry may be outside: swapped axes, or a CRS its numbers suggest."""
    if src is None:
        return ""
    p = shapely.get_coordinates(src)[:1]
    if not len(p):
        return ""
    x, y = float(p[0, 0]), float(p[0, 1])
    try:
        sx, sy = coords.to_storage([y], [x], crs)
        if shapely.contains_xy(boundary, sx[0], sy[0]):
            return "; swapping x and y would put it inside"
    except Exception:
        pass
    guess = coords.guess_crs([x], [y])
    candidates = [guess.split(" ")[0]] if guess and guess.startswith("EPSG") else []
    if guess is None and coords.offset_system(crs) is None:
        candidates = ["EPSG:4490"]
    for cand in candidates:
        if cand == crs:
            continue
        try:
            lon, lat = coords.to_storage([x], [y], cand)
        except ValueError:
            continue
        if shapely.contains_xy(boundary, lon[0], lat[0]):
            return f"; with --crs {cand} it would be inside"
    return ""


def _set_checks(conn: psycopg.Connection, spec: LayerSpec, report: ImportReport) -> None:
    """Checks that need the whole file or the database: duplicate codes, near points."""
    for code, rows in writer.duplicate_codes(conn):
        listed = ", ".join(map(str, rows[:20])) + (" …" if len(rows) > 20 else "")
        for r in rows:
            report.add(
                ReportRow(
                    row=r,
                    level="error",
                    field="code",
                    value=code,
                    code=code,
                    action="rejected",
                    reason=f"duplicate code in the file (rows {listed})",
                )
            )
    for rownum, code, other in writer.near_duplicates(conn, spec):
        report.add(
            ReportRow(
                row=rownum,
                level="warning",
                field="geometry",
                value=other,
                code=code,
                reason=f"within {writer.NEAR_METRES:g} m of existing asset {other} of this layer",
            )
        )


def layers_by_name(path: Path, layer_names: list[str]) -> list[str]:
    """The layers of a multi-layer GeoPackage, each named after a registry layer.

    Raises ``ImportFileError`` when the file is not a GeoPackage or a layer matches no
    registry layer (nothing is skipped silently: the user picks one with --gpkg-layer).
    """
    if path.suffix.lower() != ".gpkg":
        raise ImportFileError(
            f"{path.name}：请用 --layer 指定目标图层（只有 GeoPackage 可按图层名自动对应）",
            f"{path.name}: pass --layer (only a GeoPackage can be mapped by its layer names)",
        )
    found = list_layers(path)
    unknown = [n for n in found if n not in layer_names]
    if unknown or not found:
        listed, allowed = ", ".join(unknown) or "-", ", ".join(layer_names)
        raise ImportFileError(
            f"{path.name} 的图层 {listed} 不是登记图层（可选：{allowed}）；"
            "请用 --gpkg-layer 和 --layer 逐个导入",
            f"{path.name} has layers that are not registry layers: {listed} (registry layers: {allowed}); "
            "import them one by one with --gpkg-layer and --layer",
        )
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
    size = check_size(path, settings.import_max_bytes)
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
        jobs.append(
            (by_name[layer], ImportReport(layer=layer, file_name=name, import_id=iid, dry_run=opts.dry_run))
        )
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
