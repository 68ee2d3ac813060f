"""Basemaps: the admin's configuration (``/api/basemaps``), the tiles of an MBTiles or
PMTiles file served by the registry itself (``/basemaps/{name}/{z}/{x}/{y}.{ext}``), and
the list the page and the Content-Security-Policy read.

The list is kept on ``app.state.basemaps``: rebuilt from the database whenever the map
page or ``/api/config`` is served and after every change here, so the CSP of the page
(web/security.py reads that list when the response starts) always names the hosts of
the basemaps the page offers, in every app process.
"""

from __future__ import annotations

from typing import Annotated, Any

import psycopg
from fastapi import APIRouter, Body, Depends, Request, Response
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from registry import basemaps as store
from registry.context import set_actor
from registry.errors import InvalidParameter
from registry.messages import nested
from registry.permissions import Action
from registry.settings import Basemap, Settings
from registry.tilefiles import MEDIA_TYPES, TileFileError, available_files, open_tile_file
from web.auth import require
from web.deps import ConnDep
from web.errors import pydantic_message, request_lang

router = APIRouter(tags=["basemaps 底图"])
Admin = Depends(require(Action.CONFIGURE_MAP))
Reader = Depends(require(Action.READ))

TILE_CACHE = "public, max-age=86400"


def refresh_basemaps(app: Any, conn: psycopg.Connection) -> list[Basemap]:
    """The page's basemaps, read again from the database and kept on ``app.state``."""
    settings: Settings = app.state.settings
    current = store.page_basemaps(conn, settings)
    app.state.basemaps = current
    app.state.basemap_files = {r["name"]: r["file"] for r in store.configured(conn) if r["file"]}
    return current


def page_basemaps(request: Request) -> list[Basemap]:
    """The page's basemaps, fresh from the database (a pooled connection of its own)."""
    with request.app.state.pool.connection(timeout=request.app.state.settings.pool_timeout) as conn:
        return refresh_basemaps(request.app, conn)


def _actor(conn: psycopg.Connection, user: Any) -> None:
    set_actor(conn, user.username, via="api", comment="basemap configuration")


@router.get("/api/basemaps", summary="Configured basemaps (admin) 底图配置", dependencies=[Admin])
def list_basemaps(request: Request, conn: ConnDep) -> dict[str, Any]:
    """Every configured basemap (key masked, with whether the page can show it), those of
    REGISTRY_BASEMAPS (read-only here), the files of the basemap folder, the kinds."""
    settings: Settings = request.app.state.settings
    return {
        "basemaps": [store.admin_view(r, settings, request_lang(request)) for r in store.configured(conn)],
        "from_settings": [b.model_dump() for b in settings.basemaps],
        "files": available_files(settings.basemap_folder),
        "tianditu_key_set": bool(settings.tianditu_key),
        "kinds": [{"code": k, "zh": zh, "en": en} for k, (zh, en) in store.KIND_LABELS.items()],
    }


def _body_name(body: dict[str, Any]) -> str:
    name = body.get("name")
    if not isinstance(name, str) or not name:
        raise InvalidParameter("name", "").with_message("basemap_name_required")
    return name


def _input(body: dict[str, Any]) -> store.BasemapInput:
    try:
        return store.BasemapInput.model_validate({k: v for k, v in body.items() if k != "name"})
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "body"
        raise store.InvalidBasemap(field, "").with_message(
            "parameter_invalid", parameter=field, reason=nested(*pydantic_message(first))
        ) from None


@router.post("/api/basemaps", status_code=201, summary="Add a basemap (admin) 新增底图")
def create_basemap_route(
    request: Request,
    conn: ConnDep,
    user: Annotated[Any, Admin],
    body: Annotated[dict[str, Any], Body(description="{name, title, kind, url|file|tk, crs, …}")],
) -> JSONResponse:
    """Create a basemap (``name`` in the body; 409 when taken)."""
    name = _body_name(body)
    _actor(conn, user)
    row = store.save(conn, name, _input(body), request.app.state.settings, create=True)
    refresh_basemaps(request.app, conn)
    return JSONResponse(
        store.admin_view(row, request.app.state.settings, request_lang(request)), status_code=201
    )


@router.put("/api/basemaps/{name}", summary="Create or replace a basemap (admin) 修改底图")
def put_basemap(
    name: str,
    request: Request,
    conn: ConnDep,
    user: Annotated[Any, Admin],
    body: Annotated[dict[str, Any], Body(description="{title, kind, url|file|tk, crs, …}")],
) -> dict[str, Any]:
    """Create or replace the basemap ``name``."""
    _actor(conn, user)
    row = store.save(conn, name, _input(body), request.app.state.settings, create=False)
    refresh_basemaps(request.app, conn)
    return store.admin_view(row, request.app.state.settings, request_lang(request))


@router.delete("/api/basemaps/{name}", status_code=204, summary="Remove a basemap (admin) 删除底图")
def delete_basemap(name: str, request: Request, conn: ConnDep, user: Annotated[Any, Admin]) -> Response:
    """Remove the basemap ``name`` (404 when there is none)."""
    _actor(conn, user)
    store.delete(conn, name)
    refresh_basemaps(request.app, conn)
    return Response(status_code=204)


def _find(request: Request, name: str) -> Basemap | None:
    known = getattr(request.app.state, "basemaps", None)
    found = next((b for b in known or [] if b.id == name), None)
    if found is None:
        found = next((b for b in page_basemaps(request) if b.id == name), None)
    return found


@router.get(
    "/basemaps/{name}/{z}/{x}/{y}.{ext}",
    summary="A tile of a basemap file served by the registry (MBTiles/PMTiles) 离线底图瓦片",
    dependencies=[Reader],
    responses={200: {"content": {v: {} for v in MEDIA_TYPES.values()}}, 404: {}},
)
def basemap_tile(request: Request, name: str, z: int, x: int, y: int, ext: str) -> Response:
    """One tile, read from the file (the MBTiles TMS row flipped); 404 outside the file."""
    basemap = _find(request, name)
    if basemap is None or basemap.kind not in ("mbtiles", "pmtiles"):
        return Response(status_code=404, headers={"Cache-Control": "no-store"})
    file = getattr(request.app.state, "basemap_files", {}).get(name)
    try:
        tiles = open_tile_file(request.app.state.settings.basemap_folder, file or "")
    except TileFileError:
        return Response(status_code=404, headers={"Cache-Control": "no-store"})
    if ext != tiles.info.extension:
        return Response(status_code=404, headers={"Cache-Control": "no-store"})
    data = tiles.tile(z, x, y)
    if data is None:
        return Response(status_code=404, headers={"Cache-Control": TILE_CACHE})
    headers = {"Cache-Control": TILE_CACHE}
    if tiles.info.vector and data[:2] == b"\x1f\x8b":
        headers["Content-Encoding"] = "gzip"  # MBTiles/PMTiles vector tiles are usually gzipped
    return Response(data, media_type=MEDIA_TYPES[tiles.info.format], headers=headers)
