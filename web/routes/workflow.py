"""Campaign workflows over HTTP: an asset's steps, the next step, reopen, evidence photos
and the configured deadlines. Generic over the catalogue: a layer that declares a
workflow (``LayerSpec.workflow``) gets these endpoints with no code of its own.

Refusals are RFC 9457 problems (web/errors.py) with Chinese, then English, text:
409 ``not_next_step`` (skipping or going back), 403 ``permission_denied`` /
``second_person_required``, 422 ``step_requirements_missing`` (``errors`` names each
missing field and the photos), 422 ``invalid_reopen``.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Header, Request, Response, UploadFile
from pydantic import BaseModel, Field

from registry import workflow_store
from registry.accounts import User
from registry.errors import InvalidFeature
from registry.permissions import Action, PermissionDenied, Role, role_words
from web.auth import CurrentUser, require
from web.deps import CatalogDep, ConnDep
from web.photo_upload import keep_photo, may_attach
from web.preconditions import versioned_write

router = APIRouter(prefix="/api", tags=["workflow 流程"])

Reader = Annotated[User | None, Depends(require(Action.READ))]
IfMatch = Annotated[str | None, Header(description='The version the client saw, e.g. "3"')]

MAX_PHOTOS = 10


def _feature(record: dict[str, Any]) -> dict[str, Any]:
    props = {k: v for k, v in record.items() if k != "geom"}
    return {"type": "Feature", "id": record["id"], "geometry": record.get("geom"), "properties": props}


@router.get("/workflows", summary="The workflow each layer declares 各图层流程")
def workflows(catalog: CatalogDep, _: Reader) -> dict[str, Any]:
    """Steps (with requirements and the roles that may take them), reopen roles, deadlines."""
    return workflow_store.catalog_workflows(catalog)


@router.get("/assets/{layer}/{asset_id}/workflow", summary="An asset's workflow: steps, next step, deadline")
def asset_workflow(
    layer: str, asset_id: str, conn: ConnDep, catalog: CatalogDep, user: Reader
) -> dict[str, Any]:
    """Declared steps, the current one, what the next step requires and who may take it,
    the deadline and overdue flag (from the records and the app's clock), and every
    step taken (who, when, evidence)."""
    spec = catalog.get(layer)
    return workflow_store.workflow_state(
        conn,
        spec,
        asset_id,
        role=user.role.value if user else None,
        actor=user.username if user else None,
    )


class StepBody(BaseModel):
    """The next step: its code, the fields it records, a comment; photos go first to
    ``POST …/photos`` (or are already attached)."""

    step: str = Field(description="the status the step leads to, e.g. assigned")
    fields: dict[str, Any] = Field(default_factory=dict)
    comment: str | None = Field(default=None, max_length=1000)
    version: int | None = Field(default=None, description="the version you read (or send If-Match)")


@router.post("/assets/{layer}/{asset_id}/steps", summary="Take the next step 办理下一步")
def take_step(
    layer: str,
    asset_id: str,
    body: StepBody,
    response: Response,
    conn: ConnDep,
    catalog: CatalogDep,
    user: CurrentUser,
    if_match: IfMatch = None,
) -> dict[str, Any]:
    """Who may take it, what it requires and which step is next come from the layer's
    declaration; the database checks the same again and records the event."""
    spec = catalog.get(layer)
    record = versioned_write(
        response,
        if_match,
        body.version,
        lambda expected: workflow_store.take_step(
            conn,
            spec,
            asset_id,
            step=body.step,
            fields=body.fields,
            comment=body.comment,
            role=user.role.value,
            actor=user.username,
            expected_version=expected,
        ),
    )
    return _feature(record)


class ReopenBody(BaseModel):
    """Back to an earlier step (the previous one unless ``to`` names another), with a reason."""

    reason: str = Field(min_length=1, max_length=1000)
    to: str | None = None
    version: int | None = None


@router.post(
    "/assets/{layer}/{asset_id}/reopen", summary="Reopen: back to an earlier step, with a reason 重新打开"
)
def reopen(
    layer: str,
    asset_id: str,
    body: ReopenBody,
    response: Response,
    conn: ConnDep,
    catalog: CatalogDep,
    user: CurrentUser,
    if_match: IfMatch = None,
) -> dict[str, Any]:
    """Admins and the roles the workflow names (officers); recorded as a reopen."""
    spec = catalog.get(layer)
    record = versioned_write(
        response,
        if_match,
        body.version,
        lambda expected: workflow_store.reopen(
            conn,
            spec,
            asset_id,
            reason=body.reason,
            to=body.to,
            role=user.role.value,
            actor=user.username,
            expected_version=expected,
        ),
    )
    return _feature(record)


@router.post(
    "/assets/{layer}/{asset_id}/photos",
    status_code=201,
    summary="Attach photos (evidence for the next step) 上传照片",
)
def attach_photos(
    layer: str,
    asset_id: str,
    request: Request,
    conn: ConnDep,
    catalog: CatalogDep,
    user: CurrentUser,
    photos: Annotated[list[UploadFile], File(description="one or more photos (JPEG, PNG, HEIC…)")],
) -> dict[str, Any]:
    """The photos count for the asset's next step (attached since its current step)."""
    spec = catalog.get(layer)
    if not may_attach(user, spec):
        raise PermissionDenied("").with_message(
            "permission_denied_photos", **role_words(user.role), layer=spec.name, layer_zh=spec.zh
        )
    if not photos or len(photos) > MAX_PHOTOS:
        raise InvalidFeature(
            "",
            errors=[
                {
                    "field": "photos",
                    "code": "photo_count",
                    "params": {"max": MAX_PHOTOS},
                    "value": len(photos),
                }
            ],
        ).with_message("photo_count", max=MAX_PHOTOS)
    stored = [keep_photo(p, request) for p in photos]
    digests = workflow_store.attach_photos(conn, spec, asset_id, stored, actor=user.username)
    return {"photos": [{"sha256": d, "url": f"/api/photos/{d}"} for d in digests]}


class DeadlineBody(BaseModel):
    """Days allowed to reach ``due`` (for one ``grade``; empty: every grade)."""

    due: str
    grade: str = ""
    days: int = Field(ge=1, le=3650)


@router.get("/workflows/{layer}/deadlines", summary="Deadline days in force 期限设置")
def deadlines(layer: str, conn: ConnDep, catalog: CatalogDep, _: Reader) -> dict[str, Any]:
    """Declared defaults and what an admin configured."""
    spec = catalog.get(layer)
    workflow_store.workflow_of(spec)
    return {"layer": spec.name, "deadlines": workflow_store.deadline_days(conn, spec)}


@router.put("/workflows/{layer}/deadlines", summary="Configure deadline days (admin) 设置期限")
def configure_deadline(
    layer: str,
    body: DeadlineBody,
    conn: ConnDep,
    catalog: CatalogDep,
    user: CurrentUser,
) -> dict[str, Any]:
    """Kept across restarts; overdue flags follow at once."""
    spec = catalog.get(layer)
    if user.role is not Role.ADMIN:
        raise PermissionDenied("").with_message("deadline_admin_only", **role_words(user.role))
    workflow_store.configure_deadline(
        conn, spec, due=body.due, grade=body.grade, days=body.days, actor=user.username
    )
    return {
        "layer": spec.name,
        "deadlines": workflow_store.deadline_days(conn, spec),
        "as_of": dt.datetime.now(dt.UTC),
    }
