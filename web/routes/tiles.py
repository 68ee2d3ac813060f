"""Vector tiles (OGC API – Tiles, WebMercatorQuad) and TileJSON for the map.

``/ogc/collections/{id}/tiles/WebMercatorQuad/{z}/{x}/{y}`` serves one layer,
``/ogc/tiles/WebMercatorQuad/{z}/{x}/{y}`` all layers as separate MVT layers.
Empty tiles are 204; tiles carry an ETag (content hash) and a short cache lifetime,
since assets are edited during the day. Built tiles are kept in the database until a
write to one of their layers (registry/tile_cache.py), and each process keeps the
tiles it served in memory under the same generations; ``X-Tile-Cache`` says hit or miss.
"""

from __future__ import annotations

from typing import Any

import psycopg
from fastapi import APIRouter, Depends, Request, Response

from registry.errors import InvalidParameter, RegistryError
from registry.permissions import Action
from registry.spec import LayerSpec
from registry.tile_cache import MemoryTiles, cached_tile, etag_of
from registry.tiles import MAX_ZOOM, tile
from web.auth import authorized_read, refuse_anonymous, require
from web.deps import CatalogDep
from web.ogc.common import base_url

# Reading needs an account (or REGISTRY_PUBLIC_READ=true); GIS clients send an API token.
# The tile routes check it themselves, in the one thread-pool hop that also reads the
# tile (web/auth.authorized_read); the TileJSON routes through the dependency.
router = APIRouter(prefix="/ogc", tags=["Vector tiles 矢量瓦片"], dependencies=[Depends(refuse_anonymous)])
READ = [Depends(require(Action.READ))]

MVT = "application/vnd.mapbox-vector-tile"
# Tiles need an account unless the deployment opens reading: a shared cache (a proxy,
# a GIS client's disk cache) must then not hand one user's tile to another.
CACHE_PRIVATE = "private, max-age=60"
CACHE_PUBLIC = "public, max-age=60"
JIAOZUO_BOUNDS = [112.5, 34.8, 113.7, 35.5]


class TileNotFound(RegistryError):
    """A tile address outside the tile matrix."""

    status = 404
    code = "tile_not_found"


def _respond(request: Request, data: bytes, etag: str, cache: str) -> Response:
    public = request.app.state.settings.public_read
    headers = {
        "ETag": etag,
        "Cache-Control": CACHE_PUBLIC if public else CACHE_PRIVATE,
        "Vary": "Authorization",
        "X-Tile-Cache": cache,
    }
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    if not data:
        return Response(status_code=204, headers=headers)
    return Response(data, media_type=MVT, headers=headers)


async def _tile(request: Request, specs: list[LayerSpec], z: int, x: int, y: int) -> Response:
    use_cache = request.app.state.settings.tile_cache
    memory: MemoryTiles | None = request.app.state.tile_memory if use_cache else None

    def read(conn: psycopg.Connection) -> tuple[bytes, str, str]:
        if memory is not None:
            cached = cached_tile(conn, specs, z, x, y, memory)
            return cached.data, cached.etag, "hit" if cached.hit else "miss"
        data = tile(conn, specs, z, x, y)
        return data, etag_of(data), "off"

    try:
        data, etag, state = await authorized_read(request, read)
    except InvalidParameter as exc:
        raise TileNotFound(exc.message) from None
    return _respond(request, data, etag, state)


def _vector_layer(spec: LayerSpec) -> dict[str, Any]:
    fields = {"id": "String"}
    for name in spec.tile_attrs:
        attr = spec.attr(name)
        fields[name] = {"integer": "Number", "numeric": "Number", "boolean": "Boolean"}.get(
            attr.type.value, "String"
        )
    return {
        "id": spec.name,
        "description": f"{spec.zh} {spec.en}",
        "fields": fields,
        "minzoom": 0,
        "maxzoom": MAX_ZOOM,
    }


def _tilejson(url: str, name: str, specs: list[LayerSpec]) -> dict[str, Any]:
    return {
        "tilejson": "3.0.0",
        "name": name,
        "tiles": [url + "/{z}/{x}/{y}"],
        "minzoom": 0,
        "maxzoom": MAX_ZOOM,
        "bounds": JIAOZUO_BOUNDS,
        "center": [113.24, 35.22, 12],
        "vector_layers": [_vector_layer(s) for s in specs],
        "attribution": "焦作市城市管理局",
    }


@router.get(
    "/collections/{collection_id}/tiles/WebMercatorQuad", summary="TileJSON of one layer", dependencies=READ
)
def layer_tilejson(request: Request, collection_id: str, catalog: CatalogDep) -> dict[str, Any]:
    """Where the layer's tiles are and which attributes they carry."""
    spec = catalog.get(collection_id)
    url = f"{base_url(request)}/collections/{spec.name}/tiles/WebMercatorQuad"
    return _tilejson(url, f"{spec.zh} {spec.en}", [spec])


@router.get(
    "/collections/{collection_id}/tiles/WebMercatorQuad/{z}/{x}/{y}", summary="Vector tile of one layer"
)
async def layer_tile(
    request: Request, collection_id: str, z: int, x: int, y: int, catalog: CatalogDep
) -> Response:
    """One layer's MVT tile; 204 when empty."""
    return await _tile(request, [catalog.get(collection_id)], z, x, y)


@router.get("/tiles/WebMercatorQuad", summary="TileJSON of all layers", dependencies=READ)
def all_tilejson(request: Request, catalog: CatalogDep) -> dict[str, Any]:
    """All layers in one tile set, one MVT layer each."""
    return _tilejson(
        f"{base_url(request)}/tiles/WebMercatorQuad", "焦作市城市管理资产 Jiaozuo assets", list(catalog)
    )


@router.get("/tiles/WebMercatorQuad/{z}/{x}/{y}", summary="Vector tile with every layer")
async def all_tile(request: Request, z: int, x: int, y: int, catalog: CatalogDep) -> Response:
    """Every layer as its own MVT layer in one tile."""
    return await _tile(request, list(catalog), z, x, y)
