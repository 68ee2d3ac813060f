"""Export every match of a map search, not only the listed page (issue 11).

``GET /api/export?format=…&search=<the search's query string>`` (web/routes/imports.py
hands the ``search`` parameter here) and ``POST /api/export`` with ``{"format", "search",
"geometry"}`` for a drawn polygon. The search is run again with the same parameters
(paging dropped) and at most ``MAX_SEARCH_EXPORT`` matches are written; more is a 422
saying how many matched and how to narrow the search.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import psycopg
from fastapi import APIRouter, Body, Depends
from fastapi.responses import FileResponse
from starlette.background import BackgroundTask

from importers.export import FORMATS, MEDIA_TYPE, SUFFIX, ExportOptionError, export_selection
from registry.catalog import LayerCatalog
from registry.errors import InvalidParameter, RegistryError
from registry.permissions import Action
from registry.search import search
from web.auth import require
from web.deps import CatalogDep, ConnDep
from web.routes.search import build_query

router = APIRouter(prefix="/api", tags=["imports"], dependencies=[Depends(require(Action.READ))])

MAX_SEARCH_EXPORT = 20_000
# paging and output format belong to the listed page, not to what is exported
_PAGE_PARAMS = ("limit", "offset", "f")


class ExportTooLarge(RegistryError):
    """A search export that would hold more than MAX_SEARCH_EXPORT assets."""

    status = 422
    code = "export_too_large"


def search_selection(
    conn: psycopg.Connection, catalog: LayerCatalog, query: str, geometry: Any = None
) -> tuple[list[tuple[Any, list[str]]], str]:
    """Every match of the search ``query`` (a query string, as /api/search takes it),
    grouped by layer in catalogue order, and the file's name."""
    params: dict[str, Any] = {}
    for key, value in parse_qsl(query.lstrip("?"), keep_blank_values=False):
        if key in _PAGE_PARAMS:
            continue
        params[key] = f"{params[key]},{value}" if key in params else value
    q = build_query(params, catalog, polygon=geometry)
    q.offset = 0
    q.limit = MAX_SEARCH_EXPORT + 1
    if q.nearest is not None:
        q.limit = min(q.limit, q.nearest)
    result = search(conn, catalog, q)
    if result.total > MAX_SEARCH_EXPORT:
        raise ExportTooLarge("").with_message(
            "export_too_many_matches", total=result.total, max=MAX_SEARCH_EXPORT
        )
    found: dict[str, list[str]] = {}
    for row in result.rows:
        found.setdefault(row["layer"], []).append(str(row["id"]))
    selection = [(catalog.get(n), found[n]) for n in catalog.names() if n in found]
    if not selection:
        raise ExportTooLarge("").with_message("export_nothing")
    name = selection[0][0].name if len(selection) == 1 else "search"
    return selection, name


def file_response(
    conn: psycopg.Connection,
    selection: list[tuple[Any, list[str] | None]],
    name: str,
    fmt: str,
    csv_geometry: str,
    *,
    labels: str | None = None,
    error: type[InvalidParameter] = InvalidParameter,
) -> FileResponse:
    """The export file of ``selection`` (removed once sent): every export download of the
    API goes through here. ``error`` is the problem a bad format or option is said as."""
    if fmt not in FORMATS:
        raise error("format", "").with_message("export_format", formats=", ".join(FORMATS))
    tmp = Path(tempfile.mkdtemp(prefix="registry-export-"))
    out = tmp / f"{name}{SUFFIX[fmt]}"
    try:
        export_selection(conn, selection, fmt, out, csv_geometry=csv_geometry, labels=labels)
    except ExportOptionError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise error("format", "").with_message(exc.code, **exc.params) from None
    return FileResponse(
        out,
        media_type=MEDIA_TYPE[fmt],
        filename=out.name,
        background=BackgroundTask(shutil.rmtree, tmp, ignore_errors=True),
    )


@router.post("/export", summary="Export every match of a search (drawn polygon too) 导出全部搜索结果")
def export_search_post(
    conn: ConnDep,
    catalog: CatalogDep,
    body: dict[str, Any] = Body(  # noqa: B008
        ..., description='{"format": "csv", "search": "<query string>", "geometry": <GeoJSON polygon>}'
    ),
) -> FileResponse:
    """Like ``GET /api/export?search=…``, with the drawn polygon of a POST search."""
    fmt = body.get("format") or "gpkg"
    query = body.get("search") or ""
    if not isinstance(fmt, str) or not isinstance(query, str):
        raise InvalidParameter("search", "").with_message("export_body_text")
    geometry = body.get("geometry")
    selection, name = search_selection(conn, catalog, query, geometry)
    return file_response(conn, selection, name, fmt, str(body.get("csv_geometry") or "wkt"))
