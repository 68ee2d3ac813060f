"""Defences run before any parser sees an uploaded file: size limits, safe archive
extraction (path traversal, zip bombs), XML entity attacks and text encodings."""

from __future__ import annotations

import codecs
import hashlib
import re
import stat
import zipfile
from pathlib import Path, PurePosixPath

from importers.errors import (
    BadEncoding,
    CorruptFile,
    EmptyFile,
    FileTooLarge,
    UnsafeArchive,
    XmlEntities,
    ZipBomb,
)

SAMPLE_BYTES = 4 * 1024 * 1024
_SAFE_NAME = re.compile(r"^[^\x00-\x1f/\\:*?\"<>|]{1,200}$")


def check_size(path: Path, max_bytes: int, name: str | None = None) -> int:
    """The file's size; empty and over-limit files are refused before reading. ``name``
    is the file's name as the user knows it (an upload is stored under another)."""
    size = path.stat().st_size
    name = name or path.name
    if size == 0:
        raise EmptyFile.of("file_empty", file=name)
    if size > max_bytes:
        raise FileTooLarge.of("file_too_large", file=name, size=size, max=max_bytes)
    return size


def sha256_of(path: Path) -> str:
    """SHA-256 of the file, streamed (recorded with each import)."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def is_safe_member_name(name: str) -> bool:
    """Relative, no ``..``, no drive letter or backslash tricks."""
    if not name or name.startswith(("/", "\\")) or "\\" in name or "\x00" in name:
        return False
    if re.match(r"^[A-Za-z]:", name):
        return False
    return ".." not in PurePosixPath(name).parts


def safe_file_name(name: str) -> bool:
    """A bare file name (photos): no folders, no control characters."""
    return bool(_SAFE_NAME.match(name)) and name not in (".", "..")


def safe_extract(zip_path: Path, dest: Path, *, max_total: int, max_ratio: float) -> list[Path]:
    """Extract ``zip_path`` into ``dest`` after checking every member; return the files.

    Checked before anything is written: each name is relative and stays inside
    ``dest``, no symlinks, the declared total size is under ``max_total`` and the
    compression ratio is plausible. While extracting, the bytes actually written are
    counted too (a lying header cannot expand past the limit).
    """
    try:
        zf = zipfile.ZipFile(zip_path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise CorruptFile.of("zip_invalid", file=zip_path.name, reason=str(exc)) from None
    with zf:
        infos = zf.infolist()
        total = 0
        compressed = 0
        for info in infos:
            name = info.filename
            if not is_safe_member_name(name):
                raise UnsafeArchive.of("zip_unsafe_name", name=name)
            if stat.S_ISLNK(info.external_attr >> 16):
                raise UnsafeArchive.of("zip_symlink", name=name)
            total += info.file_size
            compressed += info.compress_size
            ratio = info.file_size / max(info.compress_size, 1)
            if info.file_size > 1024 * 1024 and ratio > max_ratio:
                raise ZipBomb.of("zip_ratio", name=name, ratio=f"{ratio:.0f}")
        if total > max_total:
            raise ZipBomb.of("zip_too_big", size=total, max=max_total)
        root = dest.resolve()
        out: list[Path] = []
        written = 0
        for info in infos:
            target = (dest / info.filename).resolve()
            if not target.is_relative_to(root):
                raise UnsafeArchive.of("zip_escapes", name=info.filename)
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                with zf.open(info) as src, target.open("wb") as dst:
                    for chunk in iter(lambda: src.read(1 << 20), b""):
                        written += len(chunk)
                        if written > max_total:
                            raise ZipBomb.of("zip_expands_beyond")
                        dst.write(chunk)
            except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError) as exc:
                raise CorruptFile.of("zip_member_damaged", name=info.filename, reason=str(exc)) from None
            out.append(target)
        return out


def check_xml_safe(path: Path) -> None:
    """Refuse XML (KML) with a DOCTYPE or entity declarations before GDAL parses it,
    then parse it once with defusedxml to catch malformed files early."""
    import defusedxml.ElementTree as DET
    from defusedxml import DefusedXmlException

    with path.open("rb") as f:
        head = f.read(SAMPLE_BYTES)
    if re.search(rb"<!DOCTYPE|<!ENTITY", head, re.IGNORECASE):
        raise XmlEntities.of("xml_doctype", file=path.name)
    try:
        DET.parse(str(path), forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException:
        raise XmlEntities.of("xml_dtd", file=path.name) from None
    except Exception as exc:  # ParseError and friends: a damaged or truncated KML
        raise CorruptFile.of("xml_invalid", file=path.name, reason=str(exc)) from None


_CJK = re.compile(r"[\u4e00-\u9fff]")
_LIKELY_MOJIBAKE = re.compile(r"[\ufffd鍙鏈鐨绗涓锛銆璇鎴浠闂瀛帰庣]")


def _decodes(data: bytes, encoding: str) -> bool:
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    try:
        decoder.decode(data, final=False)
    except UnicodeDecodeError:
        return False
    return True


def detect_encoding(data: bytes, forced: str | None = None, *, what: str = "text") -> str:
    """The encoding of ``data`` (a sample): UTF-8 (with or without BOM) or GB18030.

    With ``forced``, check it instead and refuse when it would produce mojibake: GBK
    bytes read as UTF-8 fail to decode; UTF-8 bytes read as GBK decode "successfully"
    into rare characters, which we catch because the same bytes are valid UTF-8.
    """
    has_bom = data.startswith(codecs.BOM_UTF8)
    non_ascii = any(b >= 0x80 for b in data)
    utf8_ok = _decodes(data, "utf-8")
    if forced:
        enc = forced.strip().lower().replace("_", "-")
        try:
            codecs.lookup(enc)
        except LookupError:
            raise BadEncoding.of("encoding_unknown", encoding=forced) from None
        if enc in ("gbk", "gb2312", "gb18030", "cp936") and non_ascii and utf8_ok:
            raise BadEncoding.of("encoding_is_utf8", file=what, encoding=forced)
        if not _decodes(data, enc):
            code = "encoding_invalid_gbk" if _decodes(data, "gb18030") else "encoding_invalid"
            raise BadEncoding.of(code, file=what, encoding=forced)
        return "utf-8-sig" if enc in ("utf-8", "utf8") and has_bom else enc
    if has_bom:
        return "utf-8-sig"
    if utf8_ok:
        return "utf-8"
    if _decodes(data, "gb18030"):
        return "gb18030"
    raise BadEncoding.of("encoding_undetected", file=what)


def looks_like_mojibake(texts: list[str]) -> bool:
    """Replacement characters, or many rare characters typical of UTF-8 read as GBK."""
    joined = "".join(texts)
    if "\ufffd" in joined:
        return True
    cjk = _CJK.findall(joined)
    return len(cjk) >= 6 and len(_LIKELY_MOJIBAKE.findall(joined)) / len(cjk) > 0.3
