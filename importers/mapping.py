"""Source columns → layer attributes: automatically through each attribute's name,
labels and ``aliases`` (case-, width- and space-insensitive, Chinese and English), or
as the user maps them. Unmapped columns are kept in the asset's ``extra``."""

from __future__ import annotations

import json
import math
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from importers.errors import MappingError
from registry.spec import LayerSpec

# Columns our exports add that are registry bookkeeping, not data: ignored on import
# so that exported files re-import as "unchanged".
SYSTEM_COLUMNS = frozenset(
    {
        "id",
        "layer",
        "district_code",
        "version",
        "created_at",
        "created_by",
        "updated_at",
        "updated_by",
        "deleted_at",
        "deleted_by",
        "fid",
        "ogc_fid",
        # the same, as the Chinese exports head them (importers.export.META_ZH)
        "系统编号",
        "所属区县",
        "版本",
        "更新时间",
        "更新人",
        "图层",
        # the CRS column of CSV/XLSX exports, read by the pipeline (importers.tabular)
        "坐标系",
        "crs",
    }
)
PHOTO_ALIASES = ("照片", "图片", "照片名称", "照片文件", "photo", "photos", "picture", "image", "images")
IGNORE = "-"


def norm(name: str) -> str:
    """Compare names ignoring case, full/half width, spaces, underscores and hyphens."""
    text = unicodedata.normalize("NFKC", str(name)).lower()
    return "".join(ch for ch in text if not ch.isspace() and ch not in "_-")


@dataclass
class ColumnMap:
    """Decided mapping for one file: source column → attribute, plus the rest."""

    attrs: dict[str, str] = field(default_factory=dict)
    extra: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    photo: str | None = None
    is_demo: str | None = None


def load_mapping(value: str | Mapping[str, str] | None, *, allow_file: bool = False) -> dict[str, str] | None:
    """A mapping given as a dict, JSON text or (``allow_file``, the command line only) a
    path to a JSON file: over HTTP a path would let any importer read server files."""
    if value is None or isinstance(value, Mapping):
        return dict(value) if value is not None else None
    text = value
    if allow_file and not value.lstrip().startswith("{") and Path(value).is_file():
        text = Path(value).read_text(encoding="utf-8-sig")
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise MappingError.of("mapping_not_json", reason=str(exc)) from None
    if not isinstance(data, dict):
        raise MappingError.of("mapping_not_object")
    return {str(k): str(v) for k, v in data.items()}


def map_columns(spec: LayerSpec, columns: list[str], explicit: Mapping[str, str] | None = None) -> ColumnMap:
    """Decide which column feeds which attribute.

    Explicit entries win (``"-"`` drops a column); then, per attribute, the best match:
    its name, then Chinese label, English label, then aliases, layer-specific
    attributes before the shared ones when both claim a name (e.g. 权属单位).
    Computed attributes are recognised and ignored: the database derives them.
    """
    result = ColumnMap()
    writable = {a.name: a for a in spec.writable_attrs}
    computed = {norm(a.name) for a in spec.all_attrs if a.computed} | {
        norm(a.zh) for a in spec.all_attrs if a.computed
    }
    claimed: dict[str, str] = {}
    explicit = dict(explicit or {})
    for src, target in explicit.items():
        if src not in columns:
            raise MappingError.of("mapping_column_missing", column=src, columns=", ".join(columns))
        if target == IGNORE:
            result.ignored.append(src)
            continue
        if target not in writable:
            raise MappingError.of(
                "mapping_target_unknown", target=target, layer=spec.name, allowed=", ".join(writable)
            )
        claimed[target] = src
    # Candidate names per attribute with a rank (lower is better); later attributes
    # in all_attrs are layer-specific, preferred on equal rank.
    ranks: dict[str, list[tuple[int, int, str]]] = {}
    attrs = list(spec.writable_attrs)
    for order, a in enumerate(attrs):
        names = [(0, a.name), (1, a.zh), (2, a.en)] + [(3, al) for al in a.aliases]
        for rank, n in names:
            ranks.setdefault(norm(n), []).append((rank, -order, a.name))
    free = [c for c in columns if c not in explicit]
    best: dict[str, tuple[tuple[int, int], str]] = {}
    for col in free:
        for rank, neg_order, attr in sorted(ranks.get(norm(col), [])):
            if attr in claimed:
                continue
            key = (rank, neg_order)
            if attr not in best or key < best[attr][0]:
                best[attr] = (key, col)
            break
    used: set[str] = set()
    for attr, (_, col) in sorted(best.items(), key=lambda kv: kv[1][0]):
        if col in used or attr in claimed:
            continue
        claimed[attr] = col
        used.add(col)
    result.attrs = {src: attr for attr, src in claimed.items()}
    photo_names = {norm(p) for p in PHOTO_ALIASES}
    for col in columns:
        if col in result.attrs or col in result.ignored:
            continue
        n = norm(col)
        if n in photo_names and result.photo is None:
            result.photo = col
        elif n in ("isdemo", "演示数据"):
            result.is_demo = col
        elif n in {norm(s) for s in SYSTEM_COLUMNS} or n in computed:
            result.ignored.append(col)
        else:
            result.extra.append(col)
    return result


def clean_extra(value: Any) -> Any:
    """A JSON-ready value for ``extra``, normalised so that export → import is stable:
    blanks dropped (None), integral floats → int, numeric text → number, dates → ISO."""
    if value is None:
        return None
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        value = value.item()
    if isinstance(value, bool):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        return int(value) if value.is_integer() and abs(value) < 2**53 else value
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        return _number_or_text(text)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


def _number_or_text(text: str) -> Any:
    try:
        i = int(text)
    except ValueError:
        pass
    else:
        return i if str(i) == text and abs(i) < 2**53 else text
    try:
        f = float(text)
    except ValueError:
        return text
    if not math.isfinite(f) or repr(f) != text:
        return text
    return int(f) if f.is_integer() else f
