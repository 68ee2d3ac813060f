"""Photos: images shipped in the same zip as the data (or a separate zip), named in a
column of each row, stored once by SHA-256 under ``<data_dir>/photos``."""

from __future__ import annotations

import hashlib
import mimetypes
import os
import re
import shutil
from pathlib import Path

import psycopg
from PIL import Image, ImageOps, UnidentifiedImageError
from psycopg import sql

from importers.safety import safe_extract, safe_file_name
from registry.settings import Settings
from registry.spec import LayerSpec

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".gif", ".heic", ".bmp", ".tif", ".tiff"}
THUMB_PX = 320
_SPLIT = re.compile(r"[;；,，、|\n]+")


def open_photo_zip(path: Path, workdir: Path, settings: Settings) -> dict[str, Path]:
    """Extract a zip of photos safely; file name → path."""
    files = safe_extract(
        path,
        workdir / "photos",
        max_total=settings.import_max_unzipped_bytes,
        max_ratio=settings.import_max_zip_ratio,
    )
    return {f.name: f for f in files if f.suffix.lower() in IMAGE_SUFFIXES}


def names_for(cell: str, available: dict[str, Path]) -> tuple[list[str], list[tuple[str, str]]]:
    """Photo names in one cell (``a.jpg;b.jpg``) and the problems with them, as
    (message code, name) pairs (registry.messages)."""
    names: list[str] = []
    problems: list[tuple[str, str]] = []
    for raw in _SPLIT.split(cell):
        name = raw.strip()
        if not name:
            continue
        base = name.replace("\\", "/").rsplit("/", 1)[-1]
        if not safe_file_name(base) or ".." in name:
            problems.append(("photo_unsafe", name))
        elif base not in available:
            problems.append(("photo_missing", base))
        else:
            names.append(base)
    return names, problems


def store(path: Path, settings: Settings) -> tuple[str, Path]:
    """Copy a photo into the content-addressed store; (sha256, stored path)."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    digest = h.hexdigest()
    suffix = path.suffix.lower() if path.suffix.lower() in IMAGE_SUFFIXES else ".bin"
    target = settings.data_dir / "photos" / digest[:2] / f"{digest}{suffix}"
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(target.suffix + f".{os.getpid()}.tmp")
        shutil.copyfile(path, tmp)
        os.replace(tmp, target)
    return digest, target


def thumbnail(original: Path, digest: str, settings: Settings, max_px: int = THUMB_PX) -> Path | None:
    """A JPEG at most ``max_px`` on its long side, made once and kept next to the store.

    Field photos are 3–8 MB each; the asset file lists several, on a phone, often on
    mobile data. Phones record rotation in EXIF rather than in the pixels, so the
    thumbnail is turned upright. None when Pillow cannot read the image (HEIC, a
    corrupt file, a decompression bomb): the caller then serves the original.
    """
    target = settings.data_dir / "photos" / "thumbs" / digest[:2] / f"{digest}-{max_px}.jpg"
    if target.exists():
        return target
    try:
        with Image.open(original) as img:
            img.draft("RGB", (2 * max_px, 2 * max_px))  # JPEG: decode at a reduced scale
            small = ImageOps.exif_transpose(img)
            small.thumbnail((max_px, max_px))
            if small.mode in ("RGBA", "LA", "P"):  # transparency onto white, not black
                rgba = small.convert("RGBA")
                small = Image.new("RGB", rgba.size, "white")
                small.paste(rgba, mask=rgba.getchannel("A"))
            elif small.mode != "RGB":
                small = small.convert("RGB")
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(f"{target.name}.{os.getpid()}.tmp")
            small.save(tmp, "JPEG", quality=80, optimize=True)
            os.replace(tmp, target)
    except (OSError, UnidentifiedImageError, Image.DecompressionBombError, ValueError):
        return None
    return target


def attach(
    conn: psycopg.Connection,
    spec: LayerSpec,
    rows: list[tuple[str, list[str]]],
    available: dict[str, Path],
    settings: Settings,
    import_id: str,
) -> int:
    """Record photos for assets (by code) in ``asset_photos``; return how many are new."""
    added = 0
    for code, names in rows:
        row = conn.execute(
            sql.SQL("SELECT id FROM {} WHERE code = %s").format(sql.Identifier(spec.name)), (code,)
        ).fetchone()
        if row is None:
            continue
        for name in names:
            src = available[name]
            digest, stored = store(src, settings)
            cur = conn.execute(
                "INSERT INTO asset_photos (asset_id, layer, sha256, file_name, content_type, size_bytes, "
                "import_id) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (asset_id, sha256) DO NOTHING",
                (
                    row[0],
                    spec.name,
                    digest,
                    name,
                    mimetypes.guess_type(name)[0] or "application/octet-stream",
                    stored.stat().st_size,
                    import_id,
                ),
            )
            added += cur.rowcount
    return added
