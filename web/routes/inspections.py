"""Inspections of any asset (巡查记录): ``POST``/``GET /api/assets/{layer}/{id}/inspections``.

A POST is JSON (``inspected_at``, ``inspector``, ``result``, ``notes``) or a multipart
form with the same fields and ``photos`` files (a phone's camera). Recording needs the
INSPECT right on the layer (``LayerSpec.grants``); every inspection is in the asset's
history.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from importers.photos import IMAGE_SUFFIXES, store
from registry.accounts import User
from registry.catalog import LayerCatalog
from registry.errors import InvalidParameter
from registry.inspections import RESULTS, add_inspection, list_inspections, outcomes
from registry.permissions import Action
from registry.properties import parse_instant
from web.auth import require
from web.deps import CatalogDep, ConnDep

router = APIRouter(prefix="/api/assets", tags=["inspections 巡查记录"])

MAX_PHOTOS = 10
MAX_PHOTO_BYTES = 25 * 1024**2


def _instant(raw: Any) -> dt.datetime:
    if not raw:
        return dt.datetime.now(dt.UTC)
    try:
        return parse_instant(str(raw))
    except ValueError:
        raise InvalidParameter("inspected_at", "").with_message("inspection_time_format") from None


async def _photos(files: list[Any], settings: Any) -> list[dict[str, Any]]:
    """Store the uploaded images (content-addressed) and describe them."""
    if len(files) > MAX_PHOTOS:
        raise InvalidParameter("photos", "").with_message("photos_at_most", max=MAX_PHOTOS)
    out = []
    for f in files:
        if not isinstance(f, UploadFile) or not f.filename:
            continue
        suffix = Path(f.filename).suffix.lower()
        if suffix not in IMAGE_SUFFIXES:
            raise InvalidParameter("photos", "").with_message(
                "photo_not_image", name=f.filename[:100], suffixes=", ".join(sorted(IMAGE_SUFFIXES))
            )
        data = await f.read(MAX_PHOTO_BYTES + 1)
        if len(data) > MAX_PHOTO_BYTES:
            raise InvalidParameter("photos", "").with_message(
                "photo_too_large_mb", name=f.filename[:100], max_mb=MAX_PHOTO_BYTES // 2**20
            )
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / f"upload{suffix}"
            path.write_bytes(data)
            digest, _ = store(path, settings)
        out.append(
            {
                "sha256": digest,
                "file_name": Path(f.filename).name[:200],
                "content_type": f.content_type or "application/octet-stream",
                "size_bytes": len(data),
            }
        )
    return out


def _outcome(body: dict[str, Any], key: str) -> dict[str, Any]:
    """``set``/``raise`` as a JSON object, or as dotted form fields (``set.condition``)."""
    nested = body.get(key)
    if nested is not None and not isinstance(nested, dict):
        raise InvalidParameter(key, "").with_message("value_not_object", field=key)
    dotted = {k[len(key) + 1 :]: v for k, v in body.items() if k.startswith(f"{key}.")}
    return {**(nested or {}), **dotted}


@router.post("/{layer}/{asset_id}/inspections", status_code=201, summary="Record an inspection 记录巡查")
async def post_inspection(
    layer: str,
    asset_id: UUID,
    request: Request,
    conn: ConnDep,
    catalog: CatalogDep,
    user: Annotated[User, Depends(require(Action.INSPECT))],
) -> dict[str, Any]:
    """``result``: ``normal`` 正常, ``problem`` 发现问题, ``hazard`` 发现隐患; ``inspector``
    defaults to the signed-in user; ``inspected_at`` to now.

    The outcome, as the layers declare it (``GET`` lists what this layer offers):
    ``set`` changes attributes of the asset (``{"condition": "damaged"}``; form fields
    ``set.condition``) and ``raise`` creates a hazard at its location (``{"layer":
    "road_voids", "risk_grade": "II"}``; form fields ``raise.layer``, ``raise.risk_grade``),
    with ``result`` ``hazard``. Both are in the history with this inspection as the reason.
    """
    spec = catalog.get(layer)
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    files: list[Any] = []
    if kind == "application/json":
        body = await request.json()
        if not isinstance(body, dict):
            raise InvalidParameter("body", "").with_message("field_body_not_object")
    elif kind in ("multipart/form-data", "application/x-www-form-urlencoded"):
        form = await request.form()
        body = {k: v for k, v in form.items() if not isinstance(v, UploadFile)}
        files = form.getlist("photos")
    else:
        raise InvalidParameter("content-type", "").with_message("inspection_form")
    args = inspection_args(body, catalog, user)
    photos = await _photos(files, request.app.state.settings)
    # the database work runs in the threadpool, as in the synchronous routes
    return await run_in_threadpool(
        add_inspection, conn, spec, asset_id, photos=photos, actor=user.username, **args
    )


def inspection_args(body: dict[str, Any], catalog: LayerCatalog, user: User) -> dict[str, Any]:
    """What a request's fields ask of :func:`add_inspection` (when, who, result, notes,
    the outcome): one reading of an inspection for this route and the field app's."""
    changes = _outcome(body, "set")
    raising = _outcome(body, "raise")
    target = catalog.get(str(raising.pop("layer"))) if raising.get("layer") else None
    if raising and target is None:
        raise InvalidParameter("raise.layer", "").with_message("inspection_raise_layer")
    return {
        "inspected_at": _instant(body.get("inspected_at")),
        "inspector": str(body.get("inspector") or user.username),
        "result": str(body.get("result") or ""),
        "notes": (str(body["notes"]) if body.get("notes") else None),
        "changes": changes,
        "raise_in": target,
        "raise_props": raising,
    }


@router.get(
    "/{layer}/{asset_id}/inspections",
    summary="An asset's inspections, newest first 巡查记录",
    dependencies=[Depends(require(Action.READ))],
)
def get_inspections(layer: str, asset_id: UUID, conn: ConnDep, catalog: CatalogDep) -> dict[str, Any]:
    """Every inspection with its result (and labels), notes and photo links."""
    spec = catalog.get(layer)
    return {
        "layer": spec.name,
        "asset_id": str(asset_id),
        "results": [{"code": c.code, "zh": c.zh, "en": c.en} for c in RESULTS],
        **outcomes(catalog, spec),
        "inspections": list_inspections(conn, spec, asset_id),
    }
