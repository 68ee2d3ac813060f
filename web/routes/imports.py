"""Imports and exports over HTTP: upload a survey file, get the per-row report (or poll
a long import's progress), download the report, undo, export a layer.

Who may: importing needs the IMPORT permission on the layer, undo the importing
user or an admin; reading reports and exporting need READ (see registry/permissions).
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

from fastapi import APIRouter, Depends, File, Form, HTTPException, Query, Request, UploadFile
from fastapi.responses import FileResponse, JSONResponse, Response
from starlette.background import BackgroundTask

from importers import ImportOptions, get_import, run_import, undo
from importers.errors import ImportFileError
from importers.export import FORMATS, MEDIA_TYPE, SUFFIX, export
from importers.mapping import load_mapping
from importers.report import rows_to_csv, translate
from importers.safety import sha256_of
from registry import permissions
from registry.errors import RegistryError
from registry.permissions import Action
from web.auth import CurrentUser, require
from web.deps import CatalogDep, ConnDep

Reader = Depends(require(Action.READ))

router = APIRouter(prefix="/api", tags=["imports"])


def _error(exc: RegistryError, lang: str) -> JSONResponse:
    text = exc.text(lang) if isinstance(exc, ImportFileError) else exc.message
    return JSONResponse({"code": exc.code, "detail": text, "errors": exc.errors}, status_code=exc.status)


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
) -> Any:
    """Upload and import (or dry-run); returns the report, or the id when ``background``."""
    permissions.check(user.role, Action.IMPORT, layer)
    actor = user.username
    settings = request.app.state.settings
    try:
        spec = catalog.get(layer)
        options = ImportOptions(
            crs=crs,
            encoding=encoding,
            mapping=load_mapping(mapping),
            dry_run=dry_run,
            skip_rejected=skip_rejected,
            layer_name=source_layer,
            repair_geometry=repair_geometry,
        )
    except RegistryError as exc:
        return _error(exc, lang)
    upload_dir = Path(tempfile.mkdtemp(prefix="registry-upload-"))
    name = Path(file.filename or "upload").name
    path = upload_dir / ("upload" + Path(name).suffix.lower())
    written = 0
    with path.open("wb") as out:
        while chunk := file.file.read(1 << 20):
            written += len(chunk)
            if written > settings.import_max_bytes:
                shutil.rmtree(upload_dir, ignore_errors=True)
                return JSONResponse(
                    {
                        "code": "import_file_too_large",
                        "detail": "文件超过大小上限" if lang == "zh" else "file over the size limit",
                        "errors": [],
                    },
                    status_code=413,
                )
            out.write(chunk)
    if not background:
        try:
            rep = run_import(
                conn, spec, path, settings=settings, actor=actor, options=options, file_name=name
            )
        except RegistryError as exc:
            return _error(exc, lang)
        finally:
            shutil.rmtree(upload_dir, ignore_errors=True)
        return JSONResponse(rep.as_dict(lang), status_code=200 if rep.status != "rejected" else 422)
    import_id = str(uuid.uuid4())
    from importers.pipeline import create_import_record

    create_import_record(
        conn,
        actor=actor,
        file_name=name,
        sha256=sha256_of(path),
        size=written,
        layer=spec.name,
        options=options,
        import_id=import_id,
    )
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
            with pool.connection() as wc:
                run_import(
                    wc,
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
        raise HTTPException(404, "no such import") from None
    rec = get_import(conn, import_id)
    report = rec.get("report") or {}
    for r in report.get("rows", []):
        r["reason"] = translate(r["reason"], lang)
    if rec.get("error"):
        rec["error"]["detail"] = rec["error"].get(lang, rec["error"].get("en"))
    return rec


@router.get("/imports/{import_id}", dependencies=[Reader])
def import_status(import_id: str, conn: ConnDep, lang: str = "zh") -> Any:
    """Status, progress (rows_read of rows_total), counts and the report of an import."""
    try:
        rec = _record(conn, import_id, lang)
    except RegistryError as exc:
        return _error(exc, lang)
    return JSONResponse(json.loads(json.dumps(rec, default=str, ensure_ascii=False)))


@router.get("/imports/{import_id}/report.{ext}", dependencies=[Reader])
def import_report(import_id: str, ext: str, conn: ConnDep, lang: str = "zh") -> Any:
    """The report as CSV (UTF-8 with BOM, opens in Excel) or JSON."""
    try:
        rec = _record(conn, import_id, lang)
    except RegistryError as exc:
        return _error(exc, lang)
    report = rec.get("report") or {"rows": []}
    if ext == "json":
        return JSONResponse(report)
    if ext == "csv":
        return Response(
            rows_to_csv(report["rows"], lang),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="import-{import_id}.csv"'},
        )
    raise HTTPException(404, "report formats: csv, json")


@router.post("/imports/{import_id}/undo")
def undo_import(
    import_id: str,
    conn: ConnDep,
    catalog: CatalogDep,
    user: CurrentUser,
    force: bool = False,
    lang: str = "zh",
) -> Any:
    """Undo a committed import (the user who imported it, or anyone allowed to undo)."""
    try:
        importer = _record(conn, import_id, lang).get("actor")
        if importer != user.username:
            permissions.check(user.role, Action.UNDO)
        return undo(conn, catalog, import_id, actor=user.username, force=force)
    except RegistryError as exc:
        return _error(exc, lang)


@router.get("/export", dependencies=[Reader])
def export_layer(
    conn: ConnDep,
    catalog: CatalogDep,
    layer: str,
    format: str = "gpkg",
    ids: str | None = None,
    csv_geometry: str = "wkt",
) -> Any:
    """Download a layer (or ``ids=uuid,uuid``) as gpkg, geojson, shp (zip), csv or xlsx."""
    if format not in FORMATS:
        raise HTTPException(422, f"format must be one of {', '.join(FORMATS)}")
    try:
        spec = catalog.get(layer)
    except RegistryError as exc:
        return _error(exc, "zh")
    tmp = Path(tempfile.mkdtemp(prefix="registry-export-"))
    out = tmp / f"{spec.name}{SUFFIX[format]}"
    id_list = [i.strip() for i in ids.split(",") if i.strip()] if ids else None
    export(conn, spec, format, out, ids=id_list, csv_geometry=csv_geometry)
    return FileResponse(
        out,
        media_type=MEDIA_TYPE[format],
        filename=out.name,
        background=BackgroundTask(shutil.rmtree, tmp, ignore_errors=True),
    )
