"""OGC API – Features Part 4: create, replace, update and delete items.

Every write goes through ``registry.store`` (validation, actor, optimistic lock,
history): PUT/PATCH/DELETE need ``If-Match`` with the version the client read (the
ETag of GET item); a stale version gets 412 with the current one. Who may do what
is decided by ``registry.permissions`` (a role's rights on the collection's layer).
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import shapely
import shapely.geometry
from fastapi import APIRouter, Body, Depends, Request, Response

from registry import crs as crs_mod
from registry import store
from registry.accounts import User
from registry.crs import STORAGE_SRID
from registry.errors import InvalidFeature, VersionRequired
from registry.permissions import Action, check_update
from registry.spec import LayerSpec
from web.auth import CurrentUser, require
from web.deps import CatalogDep, ConnDep
from web.errors import field_errors, request_lang
from web.ogc.common import base_url
from web.preconditions import parse_if_match, versioned

router = APIRouter(prefix="/ogc", tags=["OGC API – Features (transactions)"])


def _feature_body(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict) or body.get("type") != "Feature":
        raise InvalidFeature("").with_message("not_a_feature")
    props = body.get("properties")
    if props is not None and not isinstance(props, dict):
        raise InvalidFeature("", errors=[{"field": "properties", "code": "not_an_object"}]).with_message(
            "field_not_object", field="properties"
        )
    return body


FeatureBody = Annotated[Any, Body(media_type="application/geo+json")]


def _geometry(
    conn: Any, request: Request, body: dict[str, Any], warnings: list[dict[str, str]], *, required: bool
) -> Any:
    """The body's geometry in storage CRS (Content-Crs says what it was sent in), in 2D:
    a height is dropped with a note in ``warnings``."""
    raw = body.get("geometry")
    if raw is None:
        if required:
            raise InvalidFeature("", errors=[{"field": "geometry", "code": "required_missing"}]).with_message(
                "geometry_empty"
            )
        return None
    try:
        geom = shapely.geometry.shape(raw)
    except Exception:
        raise InvalidFeature(
            "", errors=[{"field": "geometry", "code": "geometry_unreadable", "params": {"field": "geometry"}}]
        ).with_message("geometry_unreadable", field="geometry") from None
    if shapely.has_z(geom):
        geom = store.planar(geom)
        warnings.append(store.Z_DROPPED)
    in_crs = crs_mod.resolve(request.headers.get("content-crs"), "Content-Crs")
    if not geom.is_empty:
        x0, y0, x1, y1 = geom.bounds
        bounds = (y0, x0, y1, x1) if in_crs.swap_axes else (x0, y0, x1, y1)
        if in_crs.geographic:
            # a latitude of 113 is a swapped pair, said as the geometry's problem
            if params := crs_mod.outside_message(in_crs, bounds, "geometry"):
                raise InvalidFeature(
                    "", errors=[{"field": "geometry", "code": "coords_outside_crs", "params": params}]
                ).with_message("coords_outside_crs", **params)
        else:
            # outside a projection's valid area its inverse fails (or lies): a bad Content-Crs
            crs_mod.check_inside(in_crs, bounds, "Content-Crs")
    if in_crs.srid == STORAGE_SRID and not in_crs.swap_axes:
        return geom
    row = conn.execute(
        "SELECT ST_AsBinary(ST_Transform(CASE WHEN %(swap)s THEN ST_FlipCoordinates(g) ELSE g END, 4490)) "
        "FROM (SELECT ST_GeomFromWKB(%(wkb)s, %(srid)s) AS g) s",
        {"swap": in_crs.swap_axes, "wkb": geom.wkb, "srid": in_crs.srid},
    ).fetchone()
    return shapely.from_wkb(bytes(row[0]))


def _expected(conn: Any, spec: LayerSpec, feature_id: str, request: Request) -> int:
    """The version the client edits: If-Match is required (428 without it)."""
    value = parse_if_match(request.headers.get("if-match"))
    current = store.get_asset(conn, spec, feature_id)["version"]
    if value is None:
        raise VersionRequired("", current_version=current).with_message("if_match_required")
    return current if value == "*" else value  # type: ignore[return-value]


def _written(
    request: Request,
    spec: LayerSpec,
    record: dict[str, Any],
    status: int,
    warnings: list[dict[str, str]] | None = None,
) -> Response:
    href = f"{base_url(request)}/collections/{spec.name}/items/{record['id']}"
    doc: dict[str, Any] = {"id": str(record["id"]), "version": record["version"], "href": href}
    if warnings:
        doc["warnings"] = field_errors(warnings, request_lang(request))
    body = json.dumps(doc, ensure_ascii=False)
    return Response(
        body,
        status_code=status,
        media_type="application/json",
        headers={"Location": href, "ETag": f'"{record["version"]}"'},
    )


def _may_update(user: User, spec: LayerSpec, fields: set[str]) -> None:
    check_update(user.role, spec, fields)


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
    warnings: list[dict[str, str]] = []
    geom = _geometry(conn, request, feature, warnings, required=True)
    props = feature.get("properties") or {}
    record = store.create_asset(conn, spec, props=props, geom=geom, actor=user.username, via="api")
    return _written(request, spec, record, 201, warnings)


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
    warnings: list[dict[str, str]] = []
    geom = _geometry(conn, request, feature, warnings, required=True)
    given = feature.get("properties") or {}
    props = {a.name: given.get(a.name) for a in spec.writable_attrs} | given
    expected = _expected(conn, spec, feature_id, request)
    record = versioned(
        lambda: store.update_asset(
            conn,
            spec,
            feature_id,
            props=props,
            geom=geom,
            expected_version=expected,
            actor=user.username,
            via="api",
        ),
        from_header=True,
    )
    return _written(request, spec, record, 200, warnings)


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
    warnings: list[dict[str, str]] = []
    geom = _geometry(conn, request, feature, warnings, required=False)
    expected = _expected(conn, spec, feature_id, request)
    record = versioned(
        lambda: store.update_asset(
            conn,
            spec,
            feature_id,
            props=props,
            geom=geom,
            expected_version=expected,
            actor=user.username,
            via="api",
        ),
        from_header=True,
    )
    return _written(request, spec, record, 200, warnings)


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
    versioned(
        lambda: store.delete_asset(
            conn, spec, feature_id, expected_version=expected, actor=user.username, via="api"
        ),
        from_header=True,
    )
    return Response(status_code=204)
