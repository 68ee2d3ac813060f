"""Field capture over HTTP (issue 14): the form configuration, photo uploads, and the
submissions a phone sends from its offline queue, each once.

``POST /api/field/submissions`` needs ``Idempotency-Key: <uuid>``; the key, the write
and its answer commit in one transaction (registry/field.py), so a resend answers the
same status and body (``Idempotent-Replayed: true``) and writes nothing. Every write goes
through the same store functions, permission checks and messages as the API's own
endpoints (create, PATCH, inspections, steps), recorded in history with
``via = 'field:<batch>'``; errors are the app's one problem shape (web/errors.py).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Form, Header, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from shapely.geometry import Point
from shapely.geometry.base import BaseGeometry
from starlette.concurrency import run_in_threadpool

from registry import clock, field, store, workflow_store
from registry.accounts import User
from registry.catalog import LayerCatalog
from registry.errors import FeatureNotFound, InvalidFeature, InvalidParameter, RegistryError
from registry.inspections import RESULTS, add_inspection
from registry.permissions import (
    Action,
    PermissionDenied,
    action_for_update,
    allowed,
    check,
    check_update,
    role_words,
)
from registry.permissions import permissions_of as rights_of
from registry.properties import parse_instant
from registry.settings import Settings
from registry.spec import LayerSpec
from registry.workflow_store import Photo
from web.auth import CurrentUser
from web.catalog_view import layer_json
from web.deps import CatalogDep, ConnDep
from web.errors import field_errors, request_lang
from web.geometry_input import request_geometry
from web.photo_upload import keep_photo, may_attach
from web.routes.inspections import inspection_args
from web.routes.workflow import StepBody

router = APIRouter(prefix="/api/field", tags=["field 外业采集"])

_DEVICE = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
MAX_PHOTOS = 10
REPLAYED = "Idempotent-Replayed"


class Position(BaseModel):
    """Where the phone was (or the point tapped on the map), EPSG:4490 lon/lat."""

    lon: float = Field(ge=-180, le=180)
    lat: float = Field(ge=-90, le=90)
    accuracy_m: float | None = Field(default=None, ge=0)
    source: Literal["gps", "map"]
    at: dt.datetime | None = None


class PhotoRef(BaseModel):
    """A photo uploaded first (``POST /api/field/photos``), with its own place and time."""

    sha256: str = Field(pattern=r"^[0-9a-fA-F]{64}$")
    taken_at: dt.datetime | None = None
    lon: float | None = Field(default=None, ge=-180, le=180)
    lat: float | None = Field(default=None, ge=-90, le=90)


class Submission(BaseModel):
    """One recorded item of a phone's queue."""

    model_config = ConfigDict(extra="ignore")

    kind: Literal["create", "update", "inspection", "step"]
    layer: str = Field(min_length=1, max_length=100)
    asset_id: str | None = Field(default=None, max_length=100)
    base_version: int | None = Field(default=None, ge=1)
    geometry: dict[str, Any] | None = None
    properties: dict[str, Any] = Field(default_factory=dict)
    position: Position | None = None
    photos: list[PhotoRef] = Field(default_factory=list, max_length=MAX_PHOTOS)
    inspection: dict[str, Any] | None = None
    step: StepBody | None = None
    comment: str | None = Field(default=None, max_length=1000)
    recorded_at: dt.datetime | None = None


# ---------------------------------------------------------------- configuration


@router.get("/config", summary="Field forms: the layers you may record in, from their declarations")
def config(request: Request, catalog: CatalogDep, user: CurrentUser) -> dict[str, Any]:
    """For each layer the caller may create in or inspect: the same declaration the map's
    forms are built from (``/api/layers``: attributes with labels, types, required,
    choices, ranges, max lengths, geometry types, workflow), with what the caller may do."""
    settings: Settings = request.app.state.settings
    rights = rights_of(user.role, catalog)
    layers = []
    for spec in catalog:
        may = rights[spec.name]
        if Action.CREATE not in may and Action.INSPECT not in may:
            continue
        steps = spec.workflow is not None and any(
            workflow_store.may_take(user.role.value, spec, s) for s in spec.workflow.steps
        )
        layers.append({**layer_json(spec), "permissions": may, "may_take_steps": steps})
    return {
        "max_accuracy_m": settings.field_max_accuracy_m,
        "inspection_results": [{"code": c.code, "zh": c.zh, "en": c.en} for c in RESULTS],
        "layers": layers,
    }


# ---------------------------------------------------------------- photos


def _number(name: str, raw: str | None, low: float, high: float) -> float | None:
    if raw is None or raw.strip() == "":
        return None
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not low <= value <= high:  # NaN fails too
        raise field.InvalidFieldParameter(name, "field_bad_number", name=name, value=raw[:50])
    return value


@router.post("/photos", status_code=201, summary="Upload a photo taken in the field (idempotent by content)")
def upload_photo(
    request: Request,
    conn: ConnDep,
    catalog: CatalogDep,
    user: CurrentUser,
    file: Annotated[UploadFile | None, File(description="one photo (JPEG, PNG, HEIC…)")] = None,
    taken_at: Annotated[str | None, Form()] = None,
    lon: Annotated[str | None, Form()] = None,
    lat: Annotated[str | None, Form()] = None,
    accuracy_m: Annotated[str | None, Form()] = None,
) -> JSONResponse:
    """Kept in the one photo store (by SHA-256, checked to be an image as the workflow's
    uploads are); 201 the first time, 200 with the same body when these bytes were sent
    before. A submission then names it by ``sha256``."""
    if not any(may_attach(user, spec) for spec in catalog):
        raise field.FieldPermissionDenied("field_no_right", role=user.role.value)
    if file is None:
        raise field.InvalidFieldParameter("file", "field_photo_required")
    when = None
    if taken_at:
        try:
            when = parse_instant(taken_at)
        except ValueError:
            raise InvalidParameter("taken_at", "").with_message("field_taken_at_format") from None
    x = _number("lon", lon, -180, 180)
    y = _number("lat", lat, -90, 90)
    accuracy = _number("accuracy_m", accuracy_m, 0, 1e7)
    stored: Photo = keep_photo(file, request)
    new = field.record_upload(
        conn,
        account_id=user.id,
        photo=field.UploadedPhoto(
            stored.sha256, stored.file_name, stored.content_type, stored.size_bytes, when, x, y, accuracy
        ),
    )
    url = f"/api/photos/{stored.sha256}"
    return JSONResponse(
        {"sha256": stored.sha256, "url": url, "thumb_url": f"{url}/thumb"}, status_code=201 if new else 200
    )


# ---------------------------------------------------------------- submissions


def _key(raw: str | None) -> uuid.UUID:
    if raw is None or not raw.strip():
        raise field.IdempotencyKeyRequired("field_key_required")
    try:
        return uuid.UUID(raw.strip())
    except ValueError:
        raise field.InvalidFieldParameter("Idempotency-Key", "field_key_invalid", value=raw[:50]) from None


def _device(raw: str | None) -> str:
    if raw is None or raw == "":
        return ""
    if not _DEVICE.match(raw):
        raise field.InvalidFieldParameter("X-Field-Device", "field_device_invalid", value=raw[:70])
    return raw


def _asset_id(sub: Submission, spec: LayerSpec) -> uuid.UUID:
    if not sub.asset_id:
        raise field.FieldError(
            "field_asset_required",
            kind=sub.kind,
            errors=[field.error_entry("asset_id", "field_asset_required", kind=sub.kind)],
        )
    try:
        return uuid.UUID(sub.asset_id)
    except ValueError:
        raise FeatureNotFound("").with_message(
            "asset_not_found", layer=spec.name, layer_zh=spec.zh, id=sub.asset_id[:80]
        ) from None


def _base_version(sub: Submission) -> int:
    if sub.base_version is None:
        raise field.BaseVersionRequired(
            "field_base_version_required",
            errors=[field.error_entry("base_version", "field_base_version_required")],
        )
    return sub.base_version


def _comment(sub: Submission) -> str:
    """The history's reason: what the surveyor wrote, or how it was recorded."""
    if sub.comment:
        return sub.comment
    words = "外业采集 field capture"
    if sub.position is not None:
        how = "GPS" if sub.position.source == "gps" else "地图点选 map"
        accuracy = f" ±{sub.position.accuracy_m:g} m" if sub.position.accuracy_m is not None else ""
        words += f" · {how}{accuracy}"
    if sub.recorded_at is not None:
        words += f" · {parse_instant(sub.recorded_at).isoformat()}"
    return words


def _new_geometry(sub: Submission, max_accuracy_m: float, warnings: list[dict[str, str]]) -> BaseGeometry:
    """A new asset's shape: the geometry sent, else the position; a GPS position worse
    than the configured accuracy is refused (a tapped one never is)."""
    pos = sub.position
    if (
        pos is not None
        and pos.source == "gps"
        and (pos.accuracy_m is None or pos.accuracy_m > max_accuracy_m)
    ):
        shown = "?" if pos.accuracy_m is None else f"{pos.accuracy_m:g}"
        raise field.PositionInaccurate(
            "field_position_inaccurate",
            accuracy=shown,
            max=f"{max_accuracy_m:g}",
            errors=[
                field.error_entry(
                    "position.accuracy_m",
                    "field_position_inaccurate",
                    pos.accuracy_m,
                    accuracy=shown,
                    max=f"{max_accuracy_m:g}",
                )
            ],
        )
    if sub.geometry is not None:
        return request_geometry(sub.geometry, "geometry", warnings)
    if pos is not None:
        return request_geometry(Point(pos.lon, pos.lat).__geo_interface__, "position", warnings)
    raise field.FieldError(
        "field_geometry_missing", errors=[field.error_entry("geometry", "field_geometry_missing")]
    )


def _photo_rows(photos: list[field.UploadedPhoto]) -> list[Photo]:
    return [Photo(p.sha256, p.file_name, p.content_type, p.size_bytes) for p in photos]


def _yours(sub: Submission) -> dict[str, Any]:
    return {
        "base_version": sub.base_version,
        "properties": sub.properties if sub.kind == "update" else (sub.step.fields if sub.step else {}),
        "geometry": sub.geometry,
        "step": sub.step.step if sub.step else None,
    }


def _fields(sub: Submission) -> set[str]:
    return set(sub.properties) | ({"geom"} if sub.geometry is not None else set())


def _check_rights(user: User, spec: LayerSpec, sub: Submission) -> Action:
    """The right the API's own endpoint asks for, checked (a step's: the workflow's, in
    take_step; an update of photos only: may_attach's), and returned to be kept with the
    key (the undo of a batch asks for the same rights)."""
    if sub.kind == "create":
        check(user.role, Action.CREATE, spec)
        return Action.CREATE
    if sub.kind == "inspection":
        check(user.role, Action.INSPECT, spec)
        return Action.INSPECT
    if sub.kind == "step":
        return Action.LIFECYCLE
    fields = _fields(sub)
    if not fields:
        return Action.UPDATE
    check_update(user.role, spec, fields)
    return action_for_update(spec, fields)


def _write(
    conn: Any, catalog: LayerCatalog, settings: Settings, user: User, device: str, sub: Submission
) -> tuple[dict[str, Any], field.Outcome]:
    """Do what the submission asks, in a savepoint of the request's transaction (a
    refusal leaves nothing of it), through the API's own store functions and rights."""
    spec = catalog.get(sub.layer)
    action = _check_rights(user, spec, sub)
    photos = field.uploaded(conn, account_id=user.id, refs=[p.model_dump() for p in sub.photos])
    if photos and not may_attach(user, spec):
        raise PermissionDenied("").with_message(
            "permission_denied_layer",
            **role_words(user.role),
            action="attach photos",
            action_zh="上传照片到",
            layer=spec.name,
            layer_zh=spec.zh,
        )
    warnings: list[dict[str, str]] = []
    asset_id = None if sub.kind == "create" else _asset_id(sub, spec)
    try:
        with conn.transaction():
            batch = field.batch_for(
                conn, account_id=user.id, actor=user.username, device=device, day=clock.today()
            )
            via = field.via_of(batch)
            record, extra = _apply(conn, catalog, settings, user, spec, sub, asset_id, photos, via, warnings)
    except store.VersionConflict as exc:
        assert asset_id is not None
        theirs = field.theirs(conn, spec, asset_id)
        raise field.FieldConflict(yours=_yours(sub), theirs=theirs) from exc
    body: dict[str, Any] = {
        "kind": sub.kind,
        "layer": spec.name,
        "asset": {"id": str(record["id"]), "code": record["code"], "version": record["version"]},
        "batch": batch,
        "via": via,
        "photos": [p.sha256 for p in photos],
    }
    body.update(extra)
    if warnings:
        body["warnings"] = warnings
    outcome = field.Outcome(
        201,
        "application/json",
        "",
        batch_id=batch,
        kind=sub.kind,
        layer=spec.name,
        action=action.value,
        asset_id=str(record["id"]),
        photos=len(photos),
        recorded_at=parse_instant(sub.recorded_at) if sub.recorded_at else None,
    )
    return body, outcome


def _apply(
    conn: Any,
    catalog: LayerCatalog,
    settings: Settings,
    user: User,
    spec: LayerSpec,
    sub: Submission,
    asset_id: uuid.UUID | None,
    photos: list[field.UploadedPhoto],
    via: str,
    warnings: list[dict[str, str]],
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The write of one kind: (the asset as written, what else the answer says: the
    inspection's id and the hazard it raised)."""
    comment = _comment(sub)
    rows = _photo_rows(photos)
    extra: dict[str, Any] = {}
    if sub.kind == "create":
        geom = _new_geometry(sub, settings.field_max_accuracy_m, warnings)
        record = store.create_asset(
            conn, spec, props=sub.properties, geom=geom, actor=user.username, via=via, comment=comment
        )
        workflow_store.attach_photos(conn, spec, record["id"], rows, actor=user.username)
    elif sub.kind == "update":
        expected = _base_version(sub)
        if not _fields(sub) and not photos:
            raise InvalidFeature("").with_message("nothing_to_change")
        geom = None if sub.geometry is None else request_geometry(sub.geometry, "geometry", warnings)
        record = store.update_asset(
            conn,
            spec,
            asset_id,
            props=sub.properties,
            geom=geom,
            expected_version=expected,
            actor=user.username,
            via=via,
            comment=comment,
        )
        workflow_store.attach_photos(conn, spec, record["id"], rows, actor=user.username)
    elif sub.kind == "inspection":
        assert asset_id is not None
        args = inspection_args(sub.inspection or {}, catalog, user)
        listed = [dataclasses.asdict(p) for p in rows]
        done = add_inspection(conn, spec, asset_id, photos=listed, actor=user.username, via=via, **args)
        extra["inspection_id"] = str(done["id"])
        if done.get("raised"):  # the hazard it raised (a new asset, in this batch too)
            extra["raised"] = done["raised"]
        record = store.get_asset(conn, spec, asset_id)
    else:
        expected = _base_version(sub)
        if sub.step is None:
            raise field.FieldError(
                "field_step_required", errors=[field.error_entry("step", "field_step_required")]
            )
        record = workflow_store.take_step(
            conn,
            spec,
            asset_id,
            step=sub.step.step,
            fields=sub.step.fields,
            comment=sub.step.comment or sub.comment,
            role=user.role.value,
            actor=user.username,
            expected_version=expected,
            photos=rows,
            via=via,
        )
    field.place_photos(conn, record["id"], photos)
    return record, extra


async def _problem(request: Request, exc: Exception) -> Response:
    """The app's own problem response for ``exc`` (the handler web/errors.py registered),
    so a stored and replayed refusal has the one error shape."""
    handlers = request.app.exception_handlers
    handler = next(handlers[c] for c in type(exc).__mro__ if c in handlers)
    response: Response = await handler(request, exc)
    if isinstance(exc, field.FieldConflict):
        doc = json.loads(bytes(response.body))
        doc["yours"], doc["theirs"] = exc.yours, exc.theirs
        response = JSONResponse(doc, status_code=response.status_code, media_type=response.media_type)
    return response


def _inline(schema: dict[str, Any]) -> dict[str, Any]:
    """The JSON Schema with its ``$defs`` written in place (an operation's own schema in
    the OpenAPI document cannot point into a ``$defs`` of its own)."""
    defs = schema.pop("$defs", {})

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                return walk(defs[node["$ref"].rsplit("/", 1)[-1]])
            return {k: walk(v) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    return walk(schema)


# The body is read by the route itself (a malformed one is answered, and kept with its
# key, like any refusal), so its schema is documented here rather than by a parameter.
_BODY_DOC = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": _inline(Submission.model_json_schema())}},
    }
}


@router.post(
    "/submissions",
    status_code=201,
    summary="Send one recorded item (create, update, inspection, step), once per Idempotency-Key",
    openapi_extra=_BODY_DOC,
)
async def submit(
    request: Request,
    conn: ConnDep,
    catalog: CatalogDep,
    user: CurrentUser,
    idempotency_key: Annotated[str | None, Header(description="a UUID per recorded item")] = None,
    x_field_device: Annotated[
        str | None, Header(description="the phone's id (a batch per device and day)")
    ] = None,
) -> Response:
    """201 ``{kind, layer, asset: {id, code, version}, inspection_id?, raised?, batch, via}``; the
    same key again answers the same status and body with ``Idempotent-Replayed: true``;
    the key with another body is 422 ``idempotency_key_reused``; a stale ``base_version``
    is 409 ``version_conflict`` with ``yours`` and ``theirs``."""
    key = _key(idempotency_key)
    device = _device(x_field_device)
    try:
        parsed = json.loads(await request.body())
    except (ValueError, UnicodeDecodeError):
        raise InvalidParameter("body", "").with_message("field_body_not_object") from None
    if not isinstance(parsed, dict):
        raise InvalidParameter("body", "").with_message("field_body_not_object")
    stored = await run_in_threadpool(
        field.claim, conn, account_id=user.id, key=key, digest=field.request_digest(parsed)
    )
    if stored is not None:
        return Response(
            stored.body, status_code=stored.status, media_type=stored.media_type, headers={REPLAYED: "true"}
        )
    error: Exception | None = None
    try:
        sub = Submission.model_validate(parsed)
        body, outcome = await run_in_threadpool(
            _write, conn, catalog, request.app.state.settings, user, device, sub
        )
    except ValidationError as exc:
        error = RequestValidationError(
            [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)]
        )
    except RegistryError as exc:
        error = exc
    if error is not None:
        response = await _problem(request, error)
        outcome = field.Outcome(response.status_code, response.media_type or "application/problem+json", "")
    else:
        if body.get("warnings"):  # (in the reader's language, as a problem would be)
            body["warnings"] = field_errors(body["warnings"], request_lang(request))
        response = JSONResponse(body, status_code=201)
    kept = dataclasses.replace(outcome, body=bytes(response.body).decode("utf-8"))
    await run_in_threadpool(field.finish, conn, account_id=user.id, key=key, outcome=kept)
    return response


# ---------------------------------------------------------------- batches


@router.get("/batches", summary="Field batches (one per account, device and day) with their counts")
def batches(conn: ConnDep, user: CurrentUser) -> dict[str, Any]:
    """Your batches; everyone's for a role that reads the audit trail (admin). Undo one
    with ``POST /api/undo/field:<id>``."""
    everyone = allowed(user.role, Action.AUDIT)
    return {"batches": field.list_batches(conn, account_id=None if everyone else user.id)}
