"""Imports and exports over HTTP: upload a survey file, get the per-row report (or poll
a long import's progress), download the report, undo, export a layer.

Who may: importing needs the IMPORT permission on the layer; undo needs the UNDO
permission, or to be the importing account and still hold IMPORT on that layer;
reading reports and exporting need READ (see registry/permissions).
"""

from __future__ import annotations

import json
import shutil
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Annotated, Any

import psycopg
from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import JSONResponse, Response

from importers import ImportOptions, get_import, run_import, undo
from importers.checks import parse_set
from importers.errors import FileTooLarge, ImportNotFound
from importers.export import FORMATS
from importers.mapping import load_mapping
from importers.pipeline import create_import_record
from importers.report import label_of, reason_of, rows_to_csv
from importers.safety import sha256_of
from registry import permissions
from registry.db import connect, dsn_for
from registry.errors import InvalidParameter, RegistryError, shown
from registry.messages import render
from registry.permissions import Action
from registry.spec import LayerSpec
from web.auth import CurrentUser, require
from web.deps import CatalogDep, ConnDep
from web.routes import export_search

Reader = Depends(require(Action.READ))

router = APIRouter(prefix="/api", tags=["imports"])


@router.post("/imports")
def create_import(
    request: Request,
    conn: ConnDep,
    user: CurrentUser,
    catalog: CatalogDep,
    file: Annotated[UploadFile, File(description="Survey file")],
    layer: Annotated[str, Form()],
    crs: Annotated[str | None, Form()] = None,
    encoding: Annotated[str | None, Form()] = None,
    mapping: Annotated[str | None, Form(description='JSON {"source column": "attribute"}')] = None,
    dry_run: Annotated[bool, Form()] = False,
    skip_rejected: Annotated[bool, Form()] = False,
    source_layer: Annotated[str | None, Form()] = None,
    repair_geometry: Annotated[bool, Form()] = False,
    background: Annotated[bool, Form(description="Run in a thread; poll GET /api/imports/{id}")] = False,
    lang: Annotated[str, Query()] = "zh",
    set_: Annotated[
        list[str] | None,
        Form(
            alias="set",
            description="Defaults for the run, each attribute=value (e.g. status=in_service), "
            "repeated or one per line: fill absent columns and blank cells",
        ),
    ] = None,
    x_column: Annotated[str | None, Form(description="Column holding x (easting/longitude)")] = None,
    y_column: Annotated[str | None, Form(description="Column holding y (northing/latitude)")] = None,
    swap_xy: Annotated[bool, Form(description="Exchange x and y (survey convention X = north)")] = False,
) -> Any:
    """Upload and import (or dry-run); returns the report, or the id when ``background``."""
    spec = catalog.get(layer)
    permissions.check(user.role, Action.IMPORT, spec)
    actor = user.username
    settings = request.app.state.settings
    options = ImportOptions(
        crs=crs,
        encoding=encoding,
        mapping=load_mapping(mapping),
        dry_run=dry_run,
        skip_rejected=skip_rejected,
        layer_name=source_layer,
        repair_geometry=repair_geometry,
        defaults=parse_set(set_),
        x_column=x_column or None,
        y_column=y_column or None,
        swap_xy=swap_xy,
    )
    upload_dir = Path(tempfile.mkdtemp(prefix="registry-upload-"))
    name = Path(file.filename or "upload").name
    path = upload_dir / ("upload" + Path(name).suffix.lower())
    written = 0
    with path.open("wb") as out:
        while chunk := file.file.read(1 << 20):
            written += len(chunk)
            if written > settings.import_max_bytes:
                shutil.rmtree(upload_dir, ignore_errors=True)
                raise FileTooLarge.of("upload_too_large", max=settings.import_max_bytes)
            out.write(chunk)
    if not background:
        # Its own connection: the record commits before any row is read (the request's
        # connection is already inside a transaction), and a long import is not bound
        # by the request statement timeout.
        try:
            with connect(settings) as own:
                rep = run_import(
                    own,
                    spec,
                    path,
                    settings=settings,
                    actor=actor,
                    actor_id=user.id,
                    options=options,
                    file_name=name,
                )
        finally:
            shutil.rmtree(upload_dir, ignore_errors=True)
        return JSONResponse(rep.as_dict(lang), status_code=200 if rep.status != "rejected" else 422)
    import_id = str(uuid.uuid4())
    # The session that records the import is the one that runs it (the thread below):
    # were it another, the recorded session would end first and the import would read
    # as interrupted while it runs.
    worker_conn = psycopg.connect(dsn_for(settings))
    try:
        create_import_record(
            worker_conn,
            actor=actor,
            actor_id=user.id,
            file_name=name,
            sha256=sha256_of(path),
            size=written,
            layer=spec.name,
            options=options,
            import_id=import_id,
        )
    except BaseException:
        worker_conn.close()
        raise
    pool = request.app.state.pool

    def work() -> None:
        last = [0.0]

        def progress(n: int, total: int | None) -> None:
            if time.monotonic() - last[0] < 0.5:
                return
            last[0] = time.monotonic()
            with pool.connection() as pc:
                pc.execute(
                    "UPDATE imports SET rows_read = %s, rows_total = %s WHERE id = %s", (n, total, import_id)
                )

        try:
            with worker_conn:
                run_import(
                    worker_conn,
                    spec,
                    path,
                    settings=settings,
                    actor=actor,
                    options=options,
                    file_name=name,
                    import_id=import_id,
                    progress=progress,
                )
        except RegistryError:
            pass  # recorded as failed in the imports table
        finally:
            shutil.rmtree(upload_dir, ignore_errors=True)

    threading.Thread(target=work, name=f"import-{import_id}", daemon=True).start()
    return JSONResponse(
        {"import_id": import_id, "status": "running", "url": f"/api/imports/{import_id}"}, status_code=202
    )


def _record(conn: Any, import_id: str, lang: str) -> dict[str, Any]:
    try:
        uuid.UUID(import_id)
    except ValueError:
        raise ImportNotFound.of("import_not_found", id=shown(import_id)) from None
    rec = get_import(conn, import_id)
    report = rec.get("report") or {}
    for r in report.get("rows", []):
        r["reason"] = reason_of(r, lang)
        r["field_label"] = label_of(report.get("field_labels") or {}, r.get("field") or "", lang)
    if rec.get("error"):
        error = rec["error"]
        if error.get("msg"):
            error["detail"] = render(error["msg"], error.get("params") or {}, lang)
        else:
            error["detail"] = error.get(lang, error.get("en"))
    return rec


@router.get("/imports/{import_id}", dependencies=[Reader])
def import_status(import_id: str, conn: ConnDep, lang: str = "zh") -> Any:
    """Status, progress (rows_read of rows_total), counts and the report of an import."""
    rec = _record(conn, import_id, lang)
    return JSONResponse(json.loads(json.dumps(rec, default=str, ensure_ascii=False)))


@router.get("/imports/{import_id}/report.{ext}", dependencies=[Reader])
def import_report(import_id: str, ext: str, conn: ConnDep, lang: str = "zh") -> Any:
    """The report as CSV (UTF-8 with BOM, opens in Excel) or JSON."""
    rec = _record(conn, import_id, lang)
    report = rec.get("report") or {"rows": []}
    if ext == "json":
        return JSONResponse(report)
    if ext == "csv":
        return Response(
            rows_to_csv(report["rows"], lang),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="import-{import_id}.csv"'},
        )
    raise InvalidParameter("ext", "").with_message("report_format", value=shown(ext))


@router.post("/imports/{import_id}/undo")
def undo_import(
    import_id: str,
    conn: ConnDep,
    catalog: CatalogDep,
    user: CurrentUser,
    force: bool = False,
    lang: str = "zh",
) -> Any:
    """Undo a committed import: anyone with the undo right, or the account that imported
    it while it still may import into that layer (never decided by a name)."""
    rec = _record(conn, import_id, lang)
    own = rec.get("actor_id") is not None and rec["actor_id"] == user.id
    permissions.check_undo(user.role, own=own, rights=[(Action.IMPORT, catalog.get(rec["layer"]))])
    return undo(conn, catalog, import_id, actor=user.username, force=force)


MAX_EXPORT_IDS = 5000


class InvalidExportRequest(InvalidParameter):
    """An export request that names no layer, a bad format or bad asset ids."""

    status = 422
    code = "invalid_export"


class AssetsNotFound(RegistryError):
    """Ids asked for in an export that are not live assets (of the layer)."""

    status = 404
    code = "assets_not_found"


def _parse_ids(ids: str) -> list[str]:
    """Comma-separated asset ids, each a UUID; a bad one is named in the 422."""
    out: list[str] = []
    for raw in ids.split(","):
        raw = raw.strip()
        if not raw:
            continue
        try:
            out.append(str(uuid.UUID(raw)))
        except ValueError:
            raise InvalidExportRequest("ids", "").with_message("export_not_an_id", value=shown(raw)) from None
    if len(out) > MAX_EXPORT_IDS:
        raise InvalidExportRequest("ids", "").with_message(
            "export_too_many_ids", max=MAX_EXPORT_IDS, n=len(out)
        )
    return list(dict.fromkeys(out))


@router.get("/export", dependencies=[Reader])
def export_layer(
    request: Request,
    conn: ConnDep,
    catalog: CatalogDep,
    layer: str | None = None,
    format: str = "gpkg",
    ids: str | None = None,
    csv_geometry: str = "wkt",
    search: str | None = None,
    labels: Annotated[
        str | None, Query(description="zh (Chinese headers and labels; default for csv/xlsx) or codes")
    ] = None,
) -> Any:
    """Download a layer, or exactly the assets ``ids=uuid,uuid`` (e.g. a map search result,
    of one or several layers; ``layer`` may then be left out), as gpkg, geojson, shp (zip),
    csv or xlsx. Ids that are not live assets (of ``layer``, when given) are a 404 naming
    them, so an export never silently holds less than was asked for. ``search=<query
    string of /api/search>`` exports every match of that search (web/routes/export_search)."""
    if format not in FORMATS:
        raise InvalidExportRequest("format", "").with_message("export_format", formats=", ".join(FORMATS))
    if search is not None:
        selected, name = export_search.search_selection(conn, catalog, search)
        return export_search.file_response(
            conn, selected, name, format, csv_geometry, labels=labels, error=InvalidExportRequest
        )
    if not layer and not ids:  # (an empty layer= is no layer)
        raise InvalidExportRequest("layer", "").with_message("export_needs_layer_or_ids")
    id_list = _parse_ids(ids) if ids else None
    if ids is not None and not id_list:
        raise InvalidExportRequest("ids", "").with_message("export_no_ids")
    spec = catalog.get(layer) if layer else None
    selection: list[tuple[Any, list[str] | None]]
    if id_list is None:
        assert spec is not None
        selection = [(spec, None)]
        name = spec.name
    else:
        found: dict[str, list[str]] = {}
        for asset_id, asset_layer in conn.execute(
            "SELECT id::text, layer FROM assets WHERE id = ANY(%s::uuid[]) AND deleted_at IS NULL",
            (id_list,),
        ):
            if spec is None or asset_layer == spec.name:
                found.setdefault(asset_layer, []).append(asset_id)
        missing = sorted(set(id_list) - {i for v in found.values() for i in v})
        if missing:
            listed = f"{', '.join(missing[:10])}{' …' if len(missing) > 10 else ''}"
            if spec is None:
                raise AssetsNotFound("").with_message("assets_not_live", ids=listed)
            raise AssetsNotFound("").with_message(
                "assets_not_live_in_layer", layer=spec.name, layer_zh=spec.zh, ids=listed
            )
        for asset_layer in found:
            permissions_check_read(request, catalog.get(asset_layer))
        selection = [(catalog.get(n), found[n]) for n in catalog.names() if n in found]
        name = spec.name if spec else (selection[0][0].name if len(selection) == 1 else "search")
    return export_search.file_response(
        conn, selection, name, format, csv_geometry, labels=labels, error=InvalidExportRequest
    )


def permissions_check_read(request: Request, layer: LayerSpec) -> None:
    """READ on every layer in the export (anonymous callers only reach here with public read)."""
    principal = getattr(request.state, "principal", None)
    if principal is not None:
        permissions.check(principal.user.role, Action.READ, layer)
