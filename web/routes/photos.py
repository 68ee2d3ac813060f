"""Photos of an asset (一患一档): the list for the file panel, and the image files.

The importers keep each photo once, by SHA-256, under ``<data_dir>/photos/<2 hex>/``
and record which asset it belongs to in ``asset_photos`` (sql/0020). A photo is
served only by its hex digest, and only when ``asset_photos`` knows it: no file name
or path from the request ever reaches the file system.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse

from importers.photos import thumbnail
from registry import field, permissions
from registry.errors import RegistryError
from registry.permissions import Action
from web.auth import PrincipalDep, require
from web.deps import CatalogDep, ConnDep

router = APIRouter(prefix="/api", tags=["photos"])

_HEX64 = re.compile(r"^[0-9a-f]{64}$")


class PhotoNotFound(RegistryError):
    """No photo with that digest is recorded (or its file is missing from the store)."""

    status = 404
    code = "photo_not_found"


def photo_path(data_dir: Path, sha256: str) -> Path | None:
    """The stored file of a digest (any image suffix), or None.

    ``sha256`` must already be 64 lowercase hex characters, so the glob below can
    only look inside ``photos/<first two hex>/``.
    """
    folder = data_dir / "photos" / sha256[:2]
    found = sorted(folder.glob(f"{sha256}.*")) if folder.is_dir() else []
    return next((p for p in found if not p.name.endswith(".tmp")), None)


def _url(sha256: str) -> str:
    return f"/api/photos/{sha256}"


# content-addressed: the bytes behind a digest never change
_HEADERS = {"Cache-Control": "private, max-age=31536000, immutable", "X-Content-Type-Options": "nosniff"}


@router.get("/assets/{layer}/{asset_id}/photos", summary="An asset's photos (newest first)")
def list_photos(
    layer: str,
    asset_id: UUID,
    conn: ConnDep,
    catalog: CatalogDep,
    _: Annotated[Any, Depends(require(Action.READ))],
) -> dict[str, Any]:
    """File name, type, size, who added them and when, and the URL of each image."""
    spec = catalog.get(layer)
    rows = conn.execute(
        """
        SELECT sha256, file_name, content_type, size_bytes, created_at, created_by, import_id,
               taken_at, ST_X(position), ST_Y(position), accuracy_m
        FROM asset_photos WHERE asset_id = %s AND layer = %s
        ORDER BY created_at DESC, file_name
        """,
        (asset_id, spec.name),
    ).fetchall()
    return {
        "asset_id": str(asset_id),
        "layer": spec.name,
        "photos": [
            {
                "sha256": r[0],
                "file_name": r[1],
                "content_type": r[2],
                "size_bytes": r[3],
                "created_at": r[4].isoformat(),
                "created_by": r[5],
                "import_id": str(r[6]) if r[6] else None,
                "url": _url(r[0]),
                "thumb_url": _url(r[0]) + "/thumb",
                # where and when the camera took it (photos sent from the field)
                "taken_at": r[7].isoformat() if r[7] else None,
                "position": None if r[8] is None else {"lon": r[8], "lat": r[9], "accuracy_m": r[10]},
            }
            for r in rows
        ],
    }


def _recorded_photo(
    sha256: str, request: Request, conn: ConnDep, principal: PrincipalDep
) -> tuple[str, Path, str]:
    """(digest, stored file, content type) of a photo the caller may read, or 404."""
    digest = sha256.lower()
    if not _HEX64.match(digest):
        raise PhotoNotFound("").with_message("photo_name_form")
    rows = conn.execute(
        "SELECT layer, content_type, file_name FROM asset_photos WHERE sha256 = %s ORDER BY created_at",
        (digest,),
    ).fetchall()
    if principal is not None:
        layers = request.app.state.catalog.layers
        role = principal.user.role
        rows = [r for r in rows if r[0] in layers and permissions.allowed(role, Action.READ, layers[r[0]])]
    if not rows and principal is not None:
        # a photo sent from the field before its record: its uploader may see it
        pending = field.pending_photo(conn, account_id=principal.user.id, sha256=digest)
        rows = [(None, pending, None)] if pending else []
    if not rows:
        raise PhotoNotFound("").with_message("photo_not_found", sha256=digest)
    path = photo_path(request.app.state.settings.data_dir, digest)
    if path is None:
        raise PhotoNotFound("").with_message("photo_file_missing", sha256=digest)
    return digest, path, rows[0][1]


RecordedPhoto = Annotated[tuple[str, Path, str], Depends(_recorded_photo)]


@router.get("/photos/{sha256}", summary="A photo file, by its SHA-256 (hex)")
def get_photo(_: Annotated[Any, Depends(require(Action.READ))], photo: RecordedPhoto) -> FileResponse:
    """The image as stored; READ on a layer the photo belongs to is required."""
    _, path, content_type = photo
    return FileResponse(path, media_type=content_type, headers=_HEADERS)


@router.get("/photos/{sha256}/thumb", summary="A photo's thumbnail (JPEG, long side 320 px)")
def get_thumbnail(
    _: Annotated[Any, Depends(require(Action.READ))], photo: RecordedPhoto, request: Request
) -> FileResponse:
    """Made on first request and kept; an image Pillow cannot read is served as stored."""
    digest, path, content_type = photo
    small = thumbnail(path, digest, request.app.state.settings)
    if small is None:
        return FileResponse(path, media_type=content_type, headers=_HEADERS)
    return FileResponse(small, media_type="image/jpeg", headers=_HEADERS)
