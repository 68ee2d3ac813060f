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


def check_size(path: Path, max_bytes: int) -> int:
    """The file's size; empty and over-limit files are refused before reading."""
    size = path.stat().st_size
    if size == 0:
        raise EmptyFile(f"文件 {path.name} 为空", f"file {path.name} is empty")
    if size > max_bytes:
        raise FileTooLarge(
            f"文件 {path.name} 大小 {size} 字节，超过上限 {max_bytes} 字节",
            f"file {path.name} is {size} bytes, over the limit of {max_bytes}",
        )
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
        raise CorruptFile(
            f"{zip_path.name} 不是有效的 zip 压缩包或已损坏：{exc}",
            f"{zip_path.name} is not a valid zip archive or is damaged: {exc}",
        ) from None
    with zf:
        infos = zf.infolist()
        total = 0
        compressed = 0
        for info in infos:
            name = info.filename
            if not is_safe_member_name(name):
                raise UnsafeArchive(
                    f"压缩包内文件名 {name!r} 不安全（路径穿越），已拒绝",
                    f"archive member name {name!r} is unsafe (path traversal); refused",
                )
            if stat.S_ISLNK(info.external_attr >> 16):
                raise UnsafeArchive(
                    f"压缩包内 {name!r} 是符号链接，已拒绝", f"archive member {name!r} is a symlink; refused"
                )
            total += info.file_size
            compressed += info.compress_size
            ratio = info.file_size / max(info.compress_size, 1)
            if info.file_size > 1024 * 1024 and ratio > max_ratio:
                raise ZipBomb(
                    f"压缩包内 {name!r} 压缩比 {ratio:.0f}:1 异常（疑似压缩炸弹），已拒绝",
                    f"archive member {name!r} has a compression ratio of {ratio:.0f}:1 "
                    "(zip bomb suspected); refused",
                )
        if total > max_total:
            raise ZipBomb(
                f"压缩包解压后共 {total} 字节，超过上限 {max_total} 字节（疑似压缩炸弹）",
                f"archive would expand to {total} bytes, over the limit of {max_total} (zip bomb suspected)",
            )
        root = dest.resolve()
        out: list[Path] = []
        written = 0
        for info in infos:
            target = (dest / info.filename).resolve()
            if not target.is_relative_to(root):
                raise UnsafeArchive(
                    f"压缩包内文件名 {info.filename!r} 指向解压目录之外",
                    f"{info.filename!r} escapes the folder",
                )
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                with zf.open(info) as src, target.open("wb") as dst:
                    for chunk in iter(lambda: src.read(1 << 20), b""):
                        written += len(chunk)
                        if written > max_total:
                            raise ZipBomb(
                                "压缩包实际解压大小超过上限（疑似压缩炸弹）",
                                "archive expands beyond the limit (zip bomb suspected)",
                            )
                        dst.write(chunk)
            except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError) as exc:
                raise CorruptFile(
                    f"压缩包内 {info.filename} 已损坏：{exc}",
                    f"archive member {info.filename} is damaged: {exc}",
                ) from None
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
        raise XmlEntities(
            f"{path.name} 含有 DOCTYPE/ENTITY 声明（XML 实体攻击风险），已拒绝",
            f"{path.name} declares a DOCTYPE/ENTITY (XML entity attack); refused",
        )
    try:
        DET.parse(str(path), forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException:
        raise XmlEntities(
            f"{path.name} 含有 DTD/实体声明，已拒绝", f"{path.name} declares a DTD or entities; refused"
        ) from None
    except Exception as exc:  # ParseError and friends: a damaged or truncated KML
        raise CorruptFile(
            f"{path.name} 不是有效的 KML/XML：{exc}", f"{path.name} is not valid KML/XML: {exc}"
        ) from None


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
            raise BadEncoding(f"未知编码 {forced!r}", f"unknown encoding {forced!r}") from None
        if enc in ("gbk", "gb2312", "gb18030", "cp936") and non_ascii and utf8_ok:
            raise BadEncoding(
                f"{what} 是 UTF-8 编码，按 {forced} 读取会产生乱码；请去掉编码选项或选 UTF-8",
                f"{what} is UTF-8; reading it as {forced} would produce mojibake. "
                "Drop the encoding option or use utf-8",
            )
        if not _decodes(data, enc):
            likely = "GBK/GB18030" if _decodes(data, "gb18030") else "unknown"
            raise BadEncoding(
                f"{what} 不是有效的 {forced} 文本（看起来是 {likely}），按此读取会产生乱码",
                f"{what} is not valid {forced} (looks like {likely}); it would come out as mojibake",
            )
        return "utf-8-sig" if enc in ("utf-8", "utf8") and has_bom else enc
    if has_bom:
        return "utf-8-sig"
    if utf8_ok:
        return "utf-8"
    if _decodes(data, "gb18030"):
        return "gb18030"
    raise BadEncoding(
        f"{what} 既不是 UTF-8 也不是 GBK/GB18030，无法识别编码；请用 --encoding 指定",
        f"{what} is neither UTF-8 nor GBK/GB18030; pass --encoding",
    )


def looks_like_mojibake(texts: list[str]) -> bool:
    """Replacement characters, or many rare characters typical of UTF-8 read as GBK."""
    joined = "".join(texts)
    if "\ufffd" in joined:
        return True
    cjk = _CJK.findall(joined)
    return len(cjk) >= 6 and len(_LIKELY_MOJIBAKE.findall(joined)) / len(cjk) > 0.3
