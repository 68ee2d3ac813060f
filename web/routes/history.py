"""History, time travel, versioned edits, soft delete, restore and undo over HTTP.

Generic over the catalogue (``{layer}`` path parameter); permissions come from
:func:`web.auth.require`. Writes take the version the client saw, as
``If-Match: "<version>"`` (a mismatch is 412) or ``version`` in the body/query (a
mismatch is 409); either way nothing changes and the response carries
``current_version``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from pydantic import BaseModel, Field

from registry import field, history, store
from registry.accounts import User
from registry.errors import InvalidFeature
from registry.permissions import Action, PermissionDenied, allowed, check_undo, check_update, role_words
from registry.properties import parse_instant
from registry.spec import LayerSpec
from web.auth import CurrentUser, require
from web.deps import CatalogDep, ConnDep
from web.errors import field_errors, request_lang
from web.geometry_input import request_geometry
from web.preconditions import expected_version, versioned, versioned_write

router = APIRouter(prefix="/api", tags=["history"])


Reader = Annotated[User | None, Depends(require(Action.READ))]
IfMatch = Annotated[str | None, Header(description='The version the client saw, e.g. "3"')]
MAX_LIMIT = 10_000
MAX_OFFSET = 2**31 - 1  # what PostgreSQL's OFFSET (bigint) and the items routes take


def _layer(catalog: Any, layer: str) -> LayerSpec:
    return catalog.get(layer)


def _etag(record: dict[str, Any]) -> str:
    return f'"{record["version"]}"'


def _versioned_write(
    response: Response,
    if_match: str | None,
    version: int | None,
    write: Callable[[int | None], dict[str, Any]],
) -> dict[str, Any]:
    """Run a versioned write; answer the new record with its ETag (409/412 when stale)."""
    return _feature(versioned_write(response, if_match, version, write))


def _parse_time(t: dt.datetime) -> dt.datetime:
    # one rule for every endpoint (registry.properties.parse_instant): no offset = CST
    return parse_instant(t)


def _parse_bbox(bbox: str | None) -> history.BBox | None:
    if not bbox:
        return None
    try:
        minx, miny, maxx, maxy = (float(v) for v in bbox.split(","))
    except ValueError:
        raise InvalidFeature(
            "", errors=[{"field": "bbox", "code": "bbox_four_numbers", "value": bbox}]
        ).with_message("bbox_four_numbers") from None
    if minx > maxx or miny > maxy:
        raise InvalidFeature(
            "", errors=[{"field": "bbox", "code": "bbox_min_max", "value": bbox}]
        ).with_message("bbox_min_max")
    return minx, miny, maxx, maxy


def _feature(snapshot: dict[str, Any]) -> dict[str, Any]:
    props = {k: v for k, v in snapshot.items() if k != "geom"}
    return {"type": "Feature", "id": snapshot["id"], "geometry": snapshot.get("geom"), "properties": props}


# ---------------------------------------------------------------- reading


@router.get("/assets/{layer}/{asset_id}/history", summary="An asset's history with field-level changes")
def asset_history(
    layer: str,
    asset_id: str,
    conn: ConnDep,
    catalog: CatalogDep,
    _: Reader,
    children: bool = Query(True, description="include child records such as water tests"),
) -> dict[str, Any]:
    """Every create, update, delete and restore, oldest first: who, when, via what, what changed."""
    spec = _layer(catalog, layer)
    entries = [
        e for e in history.asset_history(conn, asset_id, include_children=children) if e.layer == spec.name
    ]
    if not entries:
        raise store.AssetNotFound("").with_message(
            "asset_not_found", layer=spec.name, layer_zh=spec.zh, id=str(asset_id)
        )
    return {"asset_id": asset_id, "layer": spec.name, "entries": [e.as_dict() for e in entries]}


@router.get("/assets/{layer}/{asset_id}/asof", summary="An asset as it was at a moment")
def asset_as_of(
    layer: str,
    asset_id: str,
    conn: ConnDep,
    catalog: CatalogDep,
    _: Reader,
    t: Annotated[dt.datetime, Query(description="ISO 8601 time; without zone, China Standard Time")],
) -> dict[str, Any]:
    """The record's state then (a record deleted later is returned as it was)."""
    spec = _layer(catalog, layer)
    snapshot = history.asset_as_of(conn, asset_id, _parse_time(t))
    if snapshot is None or snapshot.get("layer") != spec.name:
        raise store.AssetNotFound("").with_message(
            "asset_not_at", layer=spec.name, layer_zh=spec.zh, id=str(asset_id), t=t.isoformat()
        )
    return _feature(snapshot)


@router.get("/layers/{layer}/asof", summary="A whole layer as it was at a moment (GeoJSON)")
def layer_as_of(
    layer: str,
    conn: ConnDep,
    catalog: CatalogDep,
    _: Reader,
    t: Annotated[dt.datetime, Query(description="ISO 8601 time; without zone, China Standard Time")],
    bbox: Annotated[str | None, Query(description="minx,miny,maxx,maxy (degrees)")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 1000,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> dict[str, Any]:
    """Rebuilt from the history, so deleted and since-changed assets appear as they were."""
    spec = _layer(catalog, layer)
    rows = history.layer_as_of(
        conn, spec.name, _parse_time(t), bbox=_parse_bbox(bbox), limit=limit, offset=offset
    )
    return {
        "type": "FeatureCollection",
        "features": [_feature(r) for r in rows],
        "numberReturned": len(rows),
        "asOf": _parse_time(t).isoformat(),
    }


@router.get("/history", summary="What one user or one import changed")
def changes(
    conn: ConnDep,
    user: CurrentUser,
    actor: str | None = None,
    via: str | None = None,
    layer: str | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> dict[str, Any]:
    """Anyone may read their own changes; reading others' (the audit trail) needs ``audit``."""
    if not allowed(user.role, Action.AUDIT) and actor != user.username:
        raise PermissionDenied("").with_message(
            "audit_own_only", **role_words(user.role), actor=user.username
        )
    entries = history.changes(
        conn,
        actor=actor,
        via=via,
        layer=layer,
        since=_parse_time(since) if since else None,
        until=_parse_time(until) if until else None,
        limit=limit,
        offset=offset,
    )
    return {"entries": [e.as_dict() for e in entries], "numberReturned": len(entries)}


# ---------------------------------------------------------------- writing


class AssetPatch(BaseModel):
    """Attributes to change and/or a new geometry (GeoJSON, EPSG:4490/4326)."""

    properties: dict[str, Any] = Field(default_factory=dict)
    geometry: dict[str, Any] | None = None
    version: int | None = Field(default=None, description="the version you read (or send If-Match)")
    comment: str | None = Field(default=None, max_length=1000)


@router.patch("/assets/{layer}/{asset_id}", summary="Change an asset (versioned)")
def patch_asset(
    layer: str,
    asset_id: str,
    body: AssetPatch,
    request: Request,
    response: Response,
    conn: ConnDep,
    catalog: CatalogDep,
    user: CurrentUser,
    if_match: IfMatch = None,
) -> dict[str, Any]:
    """UPDATE rights allow any change; LIFECYCLE rights allow only the lifecycle fields."""
    spec = _layer(catalog, layer)
    fields = set(body.properties) | ({"geom"} if body.geometry is not None else set())
    if not fields:
        raise InvalidFeature("").with_message("nothing_to_change")
    check_update(user.role, spec, fields)
    warnings: list[dict[str, str]] = []
    geom = None if body.geometry is None else request_geometry(body.geometry, "geometry", warnings)
    written = _versioned_write(
        response,
        if_match,
        body.version,
        lambda expected: store.update_asset(
            conn,
            spec,
            asset_id,
            props=body.properties,
            geom=geom,
            expected_version=expected,
            actor=user.username,
            via="api",
            comment=body.comment,
        ),
    )
    return {**written, "warnings": field_errors(warnings, request_lang(request))} if warnings else written


class AssetSplit(BaseModel):
    """A line drawn across a polygon asset (GeoJSON LineString, EPSG:4490/4326)."""

    line: dict[str, Any]
    version: int | None = Field(default=None, description="the version you read (or send If-Match)")
    comment: str | None = Field(default=None, max_length=1000)


@router.post(
    "/assets/{layer}/{asset_id}/split",
    summary="Split a polygon asset along a line (the largest piece keeps the id)",
    dependencies=[Depends(require(Action.CREATE))],
)
def split_asset(
    layer: str,
    asset_id: str,
    body: AssetSplit,
    request: Request,
    response: Response,
    conn: ConnDep,
    catalog: CatalogDep,
    user: Annotated[User, Depends(require(Action.UPDATE))],
    if_match: IfMatch = None,
) -> dict[str, Any]:
    """Splitting changes one asset and creates others, so it needs both rights."""
    spec = _layer(catalog, layer)
    warnings: list[dict[str, str]] = []
    blade = request_geometry(body.line, "line", warnings)
    expected, from_header = expected_version(if_match, body.version)
    pieces = versioned(
        lambda: store.split_asset(
            conn,
            spec,
            asset_id,
            blade,
            expected_version=expected,
            actor=user.username,
            via="api",
            comment=body.comment,
        ),
        from_header=from_header,
    )
    response.headers["ETag"] = _etag(pieces[0])
    collection = {"type": "FeatureCollection", "features": [_feature(p) for p in pieces]}
    said = field_errors(warnings, request_lang(request))
    return {**collection, "warnings": said} if warnings else collection


@router.delete("/assets/{layer}/{asset_id}", summary="Delete an asset (soft; an admin can restore it)")
def delete_asset(
    layer: str,
    asset_id: str,
    response: Response,
    conn: ConnDep,
    catalog: CatalogDep,
    user: Annotated[User, Depends(require(Action.DELETE))],
    if_match: IfMatch = None,
    version: int | None = None,
    comment: str | None = None,
) -> dict[str, Any]:
    """The record stays, marked deleted; its history says who deleted it and why."""
    spec = _layer(catalog, layer)
    return _versioned_write(
        response,
        if_match,
        version,
        lambda expected: store.delete_asset(
            conn, spec, asset_id, expected_version=expected, actor=user.username, via="api", comment=comment
        ),
    )


@router.post("/assets/{layer}/{asset_id}/restore", summary="Restore a deleted asset (admin)")
def restore_asset(
    layer: str,
    asset_id: str,
    response: Response,
    conn: ConnDep,
    catalog: CatalogDep,
    user: Annotated[User, Depends(require(Action.RESTORE))],
    if_match: IfMatch = None,
    version: int | None = None,
    comment: str | None = None,
) -> dict[str, Any]:
    """Bring a soft-deleted asset back as it was."""
    spec = _layer(catalog, layer)
    return _versioned_write(
        response,
        if_match,
        version,
        lambda expected: store.restore_asset(
            conn, spec, asset_id, expected_version=expected, actor=user.username, via="api", comment=comment
        ),
    )


@router.post("/undo/{via:path}", summary="Undo everything one import or batch changed")
def undo(
    via: str,
    conn: ConnDep,
    catalog: CatalogDep,
    user: CurrentUser,
    force: bool = False,
    comment: str | None = None,
) -> dict[str, Any]:
    """Every touched record goes back to its state before; recorded as ``undo:<via>``.

    The undo right may undo any batch; a field batch (``field:<id>``) may also be undone
    by the account that recorded it while it still holds the rights its writes needed
    (the rule of an import's undo, registry.permissions.check_undo).
    """
    owner, rights = field.batch_rights(conn, catalog, via)
    check_undo(user.role, own=owner is not None and owner == user.id, rights=rights)
    report = history.undo(conn, via, actor=user.username, comment=comment, force=force)
    return report.as_dict()
