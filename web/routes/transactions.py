"""OGC API – Features Part 4: create, replace, update and delete items.

Every write goes through ``registry.store`` (validation, actor, optimistic lock,
history): PUT/PATCH/DELETE need ``If-Match`` with the version the client read (the
ETag of GET item); a stale version gets 412 with the current one. Who may do what
is decided by ``registry.permissions`` (a role's rights on the collection's layer).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated, Any

import shapely
import shapely.geometry
from fastapi import APIRouter, Body, Depends, Request, Response

from registry import crs as crs_mod
from registry import store
from registry.accounts import User
from registry.crs import STORAGE_SRID
from registry.errors import InvalidFeature, InvalidParameter, VersionMismatch, VersionRequired
from registry.permissions import Action, PermissionDenied, can_update
from registry.spec import LayerSpec
from web.auth import CurrentUser, require
from web.deps import CatalogDep, ConnDep
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


def _expected(conn: Any, spec: LayerSpec, feature_id: str, request: Request) -> int:
    """The version the client edits: If-Match is required (428 without it)."""
    value = _if_match(request)
    current = store.get_asset(conn, spec, feature_id)["version"]
    if value is None:
        raise VersionRequired(
            "send If-Match with the ETag you read, so two edits cannot overwrite each other",
            current_version=current,
        )
    return current if value == "*" else value  # type: ignore[return-value]


def _versioned(call: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    try:
        return call()
    except store.VersionConflict as exc:
        raise VersionMismatch(exc.message, current_version=exc.current_version) from None


def _written(request: Request, spec: LayerSpec, record: dict[str, Any], status: int) -> Response:
    href = f"{base_url(request)}/collections/{spec.name}/items/{record['id']}"
    body = json.dumps({"id": str(record["id"]), "version": record["version"], "href": href})
    return Response(
        body,
        status_code=status,
        media_type="application/json",
        headers={"Location": href, "ETag": f'"{record["version"]}"'},
    )


def _may_update(user: User, spec: LayerSpec, fields: set[str]) -> None:
    if not can_update(user.role, spec, frozenset(fields)):
        raise PermissionDenied(f"role {user.role} may not change {', '.join(sorted(fields))} of {spec.name}")


@router.post("/collections/{collection_id}/items", status_code=201, summary="Create a feature 新增要素")
def create_item(
    request: Request,
    collection_id: str,
    body: FeatureBody,
    conn: ConnDep,
    catalog: CatalogDep,
    user: Annotated[User, Depends(require(Action.CREATE))],
) -> Response:
    """Add an asset; 201 with Location and ETag."""
    spec = catalog.get(collection_id)
    feature = _feature_body(body)
    geom = _geometry(conn, request, feature, required=True)
    props = feature.get("properties") or {}
    record = store.create_asset(conn, spec, props=props, geom=geom, actor=user.username, via="api")
    return _written(request, spec, record, 201)


@router.put("/collections/{collection_id}/items/{feature_id}", summary="Replace a feature 替换要素")
def replace_item(
    request: Request,
    collection_id: str,
    feature_id: str,
    body: FeatureBody,
    conn: ConnDep,
    catalog: CatalogDep,
    user: CurrentUser,
) -> Response:
    """Replace attributes and geometry (absent attributes become empty); needs If-Match."""
    spec = catalog.get(collection_id)
    _may_update(user, spec, {a.name for a in spec.writable_attrs} | {"geom"})
    feature = _feature_body(body)
    geom = _geometry(conn, request, feature, required=True)
    given = feature.get("properties") or {}
    props = {a.name: given.get(a.name) for a in spec.writable_attrs} | given
    expected = _expected(conn, spec, feature_id, request)
    record = _versioned(
        lambda: store.update_asset(
            conn,
            spec,
            feature_id,
            props=props,
            geom=geom,
            expected_version=expected,
            actor=user.username,
            via="api",
        )
    )
    return _written(request, spec, record, 200)


@router.patch("/collections/{collection_id}/items/{feature_id}", summary="Update a feature 修改要素")
def patch_item(
    request: Request,
    collection_id: str,
    feature_id: str,
    body: FeatureBody,
    conn: ConnDep,
    catalog: CatalogDep,
    user: CurrentUser,
) -> Response:
    """Change some attributes (and optionally the geometry); needs If-Match."""
    spec = catalog.get(collection_id)
    feature = _feature_body(body)
    props = feature.get("properties") or {}
    _may_update(user, spec, set(props) | ({"geom"} if feature.get("geometry") is not None else set()))
    geom = _geometry(conn, request, feature, required=False)
    expected = _expected(conn, spec, feature_id, request)
    record = _versioned(
        lambda: store.update_asset(
            conn,
            spec,
            feature_id,
            props=props,
            geom=geom,
            expected_version=expected,
            actor=user.username,
            via="api",
        )
    )
    return _written(request, spec, record, 200)


@router.delete(
    "/collections/{collection_id}/items/{feature_id}", status_code=204, summary="Delete a feature 删除要素"
)
def delete_item(
    request: Request,
    collection_id: str,
    feature_id: str,
    conn: ConnDep,
    catalog: CatalogDep,
    user: Annotated[User, Depends(require(Action.DELETE))],
) -> Response:
    """Soft-delete (kept for history, an admin can restore); needs If-Match."""
    spec = catalog.get(collection_id)
    expected = _expected(conn, spec, feature_id, request)
    _versioned(
        lambda: store.delete_asset(
            conn, spec, feature_id, expected_version=expected, actor=user.username, via="api"
        )
    )
    return Response(status_code=204)
