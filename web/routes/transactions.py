"""OGC API – Features Part 4: create, replace, update and delete items.

Every write goes through ``registry.store`` (validation, actor, optimistic lock):
PUT/PATCH/DELETE need ``If-Match`` with the version the client read (the ETag of
GET item); a stale version gets 412 with the current one.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import shapely
import shapely.geometry
from fastapi import APIRouter, Body, Request, Response

from registry import crs as crs_mod
from registry import store
from registry.crs import STORAGE_SRID
from registry.errors import InvalidFeature, InvalidParameter
from registry.spec import LayerSpec
from web.deps import ActorDep, CatalogDep, ConnDep
from web.ogc.common import base_url

router = APIRouter(prefix="/ogc", tags=["OGC API – Features (transactions)"])


def _feature_body(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict) or body.get("type") != "Feature":
        raise InvalidFeature("request body must be a GeoJSON Feature")
    props = body.get("properties")
    if props is not None and not isinstance(props, dict):
        raise InvalidFeature(
            "properties must be an object", errors=[{"field": "properties", "message": "not an object"}]
        )
    return body


FeatureBody = Annotated[Any, Body(media_type="application/geo+json")]


def _geometry(conn: Any, request: Request, body: dict[str, Any], *, required: bool) -> Any:
    """The body's geometry in storage CRS (Content-Crs says what it was sent in)."""
    raw = body.get("geometry")
    if raw is None:
        if required:
            raise InvalidFeature("geometry is missing", errors=[{"field": "geometry", "message": "required"}])
        return None
    try:
        geom = shapely.geometry.shape(raw)
    except Exception:
        raise InvalidFeature(
            "geometry is not valid GeoJSON", errors=[{"field": "geometry", "message": "unreadable"}]
        ) from None
    in_crs = crs_mod.resolve(request.headers.get("content-crs"), "Content-Crs")
    if in_crs.srid == STORAGE_SRID and not in_crs.swap_axes:
        return geom
    row = conn.execute(
        "SELECT ST_AsBinary(ST_Transform(CASE WHEN %(swap)s THEN ST_FlipCoordinates(g) ELSE g END, 4490)) "
        "FROM (SELECT ST_GeomFromWKB(%(wkb)s, %(srid)s) AS g) s",
        {"swap": in_crs.swap_axes, "wkb": geom.wkb, "srid": in_crs.srid},
    ).fetchone()
    return shapely.from_wkb(bytes(row[0]))


def _if_match(request: Request) -> int | str | None:
    raw = request.headers.get("if-match")
    if raw is None:
        return None
    value = raw.strip()
    if value == "*":
        return "*"
    value = value.removeprefix("W/").strip('"')
    try:
        return int(value)
    except ValueError:
        raise InvalidParameter("If-Match", f"If-Match must be the ETag of the feature, got {raw!r}") from None


def _expected(conn: Any, spec: LayerSpec, feature_id: str, request: Request) -> int | None:
    value = _if_match(request)
    if value == "*":
        from registry.features import get_item

        found = get_item(conn, spec, feature_id, crs_mod.storage_crs(), [])
        return found[1] if found else None
    return value  # type: ignore[return-value]


def _written(request: Request, spec: LayerSpec, written: store.Written, status: int) -> Response:
    href = f"{base_url(request)}/collections/{spec.name}/items/{written.id}"
    body = json.dumps({"id": str(written.id), "version": written.version, "href": href})
    return Response(
        body,
        status_code=status,
        media_type="application/json",
        headers={"Location": href, "ETag": f'"{written.version}"'},
    )


@router.post("/collections/{collection_id}/items", status_code=201, summary="Create a feature 新增要素")
def create_item(
    request: Request,
    collection_id: str,
    body: FeatureBody,
    conn: ConnDep,
    catalog: CatalogDep,
    actor: ActorDep,
) -> Response:
    """Add an asset; 201 with Location and ETag."""
    spec = catalog.get(collection_id)
    feature = _feature_body(body)
    geom = _geometry(conn, request, feature, required=True)
    return _written(
        request, spec, store.create(conn, spec, feature.get("properties") or {}, geom, actor=actor), 201
    )


@router.put("/collections/{collection_id}/items/{feature_id}", summary="Replace a feature 替换要素")
def replace_item(
    request: Request,
    collection_id: str,
    feature_id: str,
    body: FeatureBody,
    conn: ConnDep,
    catalog: CatalogDep,
    actor: ActorDep,
) -> Response:
    """Replace attributes and geometry; needs If-Match."""
    spec = catalog.get(collection_id)
    feature = _feature_body(body)
    geom = _geometry(conn, request, feature, required=True)
    expected = _expected(conn, spec, feature_id, request)
    written = store.replace(
        conn, spec, feature_id, feature.get("properties") or {}, geom, expected_version=expected, actor=actor
    )
    return _written(request, spec, written, 200)


@router.patch("/collections/{collection_id}/items/{feature_id}", summary="Update a feature 修改要素")
def patch_item(
    request: Request,
    collection_id: str,
    feature_id: str,
    body: FeatureBody,
    conn: ConnDep,
    catalog: CatalogDep,
    actor: ActorDep,
) -> Response:
    """Change some attributes (and optionally the geometry); needs If-Match."""
    spec = catalog.get(collection_id)
    feature = _feature_body(body)
    geom = _geometry(conn, request, feature, required=False)
    expected = _expected(conn, spec, feature_id, request)
    written = store.patch(
        conn, spec, feature_id, feature.get("properties") or {}, geom, expected_version=expected, actor=actor
    )
    return _written(request, spec, written, 200)


@router.delete(
    "/collections/{collection_id}/items/{feature_id}", status_code=204, summary="Delete a feature 删除要素"
)
def delete_item(
    request: Request, collection_id: str, feature_id: str, conn: ConnDep, catalog: CatalogDep, actor: ActorDep
) -> Response:
    """Soft-delete (kept for history); needs If-Match."""
    spec = catalog.get(collection_id)
    store.soft_delete(
        conn, spec, feature_id, expected_version=_expected(conn, spec, feature_id, request), actor=actor
    )
    return Response(status_code=204)
