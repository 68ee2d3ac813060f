"""Batch-wise (column-wise) validation: the same rules and messages as
``registry.validation.validate_asset`` row by row, computed per column instead.

Why: the per-row path built a dict per row, re-derived the layer's attribute list per
row and re-checked the same enum label hundreds of thousands of times; that was most
of the importer's Python time. Here each *distinct* value of a column is checked once
(``check_value`` depends only on the value), geometry rules run vectorised in GEOS,
and per-row Python work is left only for rows that actually have a problem (plus the
layer's own cross-field validator, which needs a whole row).

The result is identical to calling ``validate_asset(spec, props, geom)`` for every
row: same clean values, same problems in the same order (attributes in spec order,
then geometry, then the layer's validator when nothing else is wrong).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import numpy as np
import shapely

from registry.messages import problem
from registry.spec import Attr, AttrType, LayerSpec, Problem
from registry.validation import check_value

# shapely type ids of the OGC names the layers declare.
_TYPE_IDS = {
    "Point": 0,
    "LineString": 1,
    "LinearRing": 2,
    "Polygon": 3,
    "MultiPoint": 4,
    "MultiLineString": 5,
    "MultiPolygon": 6,
    "GeometryCollection": 7,
}
_NOT_MEMOISED = object()


def value_key(value: Any) -> Any:
    """A dict key that tells apart values a checker could treat differently.

    ``1``, ``1.0`` and ``True`` are equal in Python but ``str()`` differently, and
    ``-0.0 == 0.0``: the type and, for floats, the exact bits are part of the key.
    Values of other types (dates, timestamps, decimals) are not memoised.
    """
    t = type(value)
    if value is None or t is str or t is int or t is bool:
        return (t, value)
    if t is float:
        return (t, value.hex())
    return _NOT_MEMOISED


def memoised(fn: Callable[[Any], Any], values: list[Any]) -> list[Any]:
    """``[fn(v) for v in values]``, calling ``fn`` once per distinct value."""
    cache: dict[Any, Any] = {}
    out = []
    for v in values:
        k = value_key(v)
        if k is _NOT_MEMOISED:
            out.append(fn(v))
            continue
        r = cache.get(k, _NOT_MEMOISED)
        if r is _NOT_MEMOISED:
            r = cache[k] = fn(v)
        out.append(r)
    return out


def validate_batch(
    spec: LayerSpec, cols: dict[str, list[Any]], geoms: np.ndarray[Any, Any], n: int
) -> tuple[dict[str, list[Any]], dict[int, list[Problem]]]:
    """Validate ``n`` rows given as attribute columns (only the mapped attributes are
    present) and geometries (storage CRS, ``None`` when missing).

    Returns the clean columns (``None`` where absent, blank or wrong) and the problems
    of each row that has any, keyed by position in the batch.
    """
    problems: dict[int, list[Problem]] = {}
    clean: dict[str, list[Any]] = {}
    for attr in spec.writable_attrs:
        if attr.name not in cols:
            if attr.required:
                missing = problem(attr.name, "required_missing")
                for i in range(n):
                    problems.setdefault(i, []).append(missing)
            continue
        if attr.type is AttrType.TEXT and not attr.choices:
            checked = _plain_text(attr, cols[attr.name])
        else:
            checked = memoised(lambda raw, a=attr: check_value(a, raw), cols[attr.name])
        values = [None] * n
        for i, (value, found) in enumerate(checked):
            if found is None:
                values[i] = value
            else:
                problems.setdefault(i, []).append(found)
        clean[attr.name] = values
    for i, found in _geometry_problems(spec, geoms):
        problems.setdefault(i, []).append(found)
    if spec.validate is not None:
        present = list(clean)
        for i in range(n):
            if i in problems:
                continue
            found = spec.validate({a: clean[a][i] for a in present}, geoms[i])
            if found:
                problems[i] = list(found)
    return clean, problems


def _plain_text(attr: Attr, values: list[Any]) -> list[tuple[Any, Problem | None]]:
    """``check_value`` for free text (codes, names): usually unique per row, so not
    memoised; a non-blank ``str`` is just stripped, anything else takes the full path."""
    out: list[tuple[Any, Problem | None]] = []
    for v in values:
        if type(v) is str:
            text = v.strip()
            if text and len(text) <= attr.max_length:  # (a longer one: check_value says why)
                out.append((text, None))
                continue
        out.append(check_value(attr, v))
    return out


def _geometry_problems(spec: LayerSpec, geoms: np.ndarray[Any, Any]) -> list[tuple[int, Problem]]:
    """``validate_geometry`` for a whole array; messages built only for bad rows."""
    empty = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    allowed = [_TYPE_IDS[t] for t in spec.geometry_types]
    wrong_type = ~empty & ~np.isin(shapely.get_type_id(geoms), allowed)
    candidates = ~empty & ~wrong_type
    invalid = np.zeros(len(geoms), dtype=bool)
    invalid[candidates] = ~shapely.is_valid(geoms[candidates])
    out: list[tuple[int, Problem]] = []
    names = ", ".join(spec.geometry_types)
    for i in np.flatnonzero(empty | wrong_type | invalid):
        i = int(i)
        if empty[i]:
            out.append((i, problem("geometry", "geometry_empty")))
        elif wrong_type[i]:
            out.append((i, problem("geometry", "geometry_type", got=geoms[i].geom_type, allowed=names)))
        else:
            out.append((i, problem("geometry", "geometry_invalid", reason=shapely.is_valid_reason(geoms[i]))))
    return out


def extra_json(columns: dict[str, list[Any]], n: int, clean: Callable[[Any], Any]) -> list[str]:
    """Per row, the JSON object of the unmapped columns whose cleaned value is not None.

    Same content as ``json.dumps({col: clean(v) ...})`` per row (keys in column order);
    each distinct value is cleaned and encoded once.
    """
    parts: list[list[str | None]] = []
    for col, values in columns.items():
        key = json.dumps(col) + ": "

        def encode(v: Any, key: str = key) -> str | None:
            c = clean(v)
            return None if c is None else key + json.dumps(c)

        parts.append(memoised(encode, values))
    if not parts:
        return ["{}"] * n
    return ["{" + ", ".join(p for p in row if p is not None) + "}" for row in zip(*parts, strict=True)]
