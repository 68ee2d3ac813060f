"""Photos sent with a request (a workflow step's evidence, the field app's camera shots):
who may attach them and how one upload is checked and kept.

One home for both callers (``web/routes/workflow.py`` and ``web/routes/field.py``), so a
photo is accepted or refused by the same rules whichever way it arrives.
"""

from __future__ import annotations

import mimetypes
import shutil
import tempfile
from pathlib import Path

from fastapi import Request, UploadFile
from PIL import Image, UnidentifiedImageError

from importers.photos import IMAGE_SUFFIXES, store
from registry import workflow_store
from registry.accounts import User
from registry.errors import RegistryError
from registry.permissions import Action, allowed
from registry.spec import LayerSpec
from registry.workflow_store import Photo

MAX_PHOTO_BYTES = 25 * 1024**2  # a phone photo is 3–8 MB


class PhotoRejected(RegistryError):
    """An upload that is not a photo the registry can keep."""

    status = 422
    code = "photo_rejected"


def may_attach(user: User, spec: LayerSpec) -> bool:
    """Whether ``user`` may attach photos to assets of ``spec``: photos are evidence, so
    whoever may take one of the layer's workflow steps, edit, move through the lifecycle
    or inspect it may add them."""
    if spec.workflow is not None and any(
        workflow_store.may_take(user.role.value, spec, s) for s in spec.workflow.steps
    ):
        return True
    return any(allowed(user.role, a, spec) for a in (Action.UPDATE, Action.LIFECYCLE, Action.INSPECT))


def keep_photo(upload: UploadFile, request: Request) -> Photo:
    """Keep one uploaded photo in the store (by SHA-256), after checking it is an image
    of at most MAX_PHOTO_BYTES; a 422 ``photo_rejected`` naming the file otherwise."""
    name = Path(upload.filename or "photo.jpg").name
    suffix = Path(name).suffix.lower()
    if suffix not in IMAGE_SUFFIXES:
        raise PhotoRejected(
            "", errors=[{"field": "photos", "code": "not_an_image", "value": name}]
        ).with_message("photo_not_image", name=name, suffixes=", ".join(sorted(IMAGE_SUFFIXES)))
    workdir = Path(tempfile.mkdtemp(prefix="registry-photo-"))
    try:
        path = workdir / f"upload{suffix}"
        size = 0
        with path.open("wb") as out:
            while chunk := upload.file.read(1 << 20):
                size += len(chunk)
                if size > MAX_PHOTO_BYTES:
                    raise PhotoRejected(
                        "", errors=[{"field": "photos", "code": "image_too_large", "value": name}]
                    ).with_message("photo_too_large_mb", name=name, max_mb=MAX_PHOTO_BYTES >> 20)
                out.write(chunk)
        if suffix != ".heic":  # Pillow cannot read HEIC; the thumbnail falls back to the original
            try:
                with Image.open(path) as img:
                    img.verify()
            except (OSError, UnidentifiedImageError, Image.DecompressionBombError, ValueError):
                raise PhotoRejected(
                    "", errors=[{"field": "photos", "code": "image_unreadable", "value": name}]
                ).with_message("photo_unreadable", name=name) from None
        digest, kept = store(path, request.app.state.settings)
        kind = mimetypes.guess_type(name)[0] or "application/octet-stream"
        return Photo(digest, name, kind, kept.stat().st_size)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
