"""Check and normalise one asset's attributes and geometry against its layer spec.

The database enforces the same rules (CHECK constraints); checking here first lets
the importer and the API say *which field, which value, why* in the user's language
instead of surfacing a constraint name.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

import shapely
from shapely.geometry.base import BaseGeometry

from registry.spec import Attr, AttrType, LayerSpec, Problem

_TRUE = {"true", "t", "yes", "y", "1", "是", "有", "已安装", "√"}
_FALSE = {"false", "f", "no", "n", "0", "否", "无", "未安装", "×"}
_DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y%m%d", "%Y年%m月%d日")
# Integer attributes are PostgreSQL ``integer`` columns.
_INT_MIN, _INT_MAX = -(2**31), 2**31 - 1


def _blank(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()


def _coerce(attr: Attr, value: Any) -> Any:
    """Convert a raw value to the attribute's type or raise ValueError with a reason."""
    if attr.type is AttrType.TEXT:
        if isinstance(value, dict | list | tuple | set):
            # str() would store a Python repr such as "{'a': 1}"
            raise ValueError("expected text, not a JSON object or list")
        text = str(value).strip()
        if attr.choices:
            return _choice_code(attr, text)
        return text
    if attr.type is AttrType.INTEGER:
        if isinstance(value, bool):
            raise ValueError("expected a whole number")
        number = Decimal(str(value).strip())
        # (infinity would otherwise crash int() with OverflowError)
        if not number.is_finite() or number != number.to_integral_value():
            raise ValueError("expected a whole number")
        if not _INT_MIN <= number <= _INT_MAX:
            raise ValueError(f"expected a whole number between {_INT_MIN} and {_INT_MAX}")
        return int(number)
    if attr.type is AttrType.NUMBER:
        if isinstance(value, bool):
            raise ValueError("expected a number")
        number = float(Decimal(str(value).strip()))
        if not math.isfinite(number):
            raise ValueError("expected a finite number")
        return number
    if attr.type is AttrType.DATE:
        if isinstance(value, dt.datetime):
            return value.date()
        if isinstance(value, dt.date):
            return value
        text = str(value).strip()
        for fmt in _DATE_FORMATS:
            try:
                return dt.datetime.strptime(text[: len(text)], fmt).date()
            except ValueError:
                continue
        try:
            return dt.datetime.fromisoformat(text).date()
        except ValueError:
            raise ValueError("expected a date such as 2025-03-31") from None
    if attr.type is AttrType.BOOLEAN:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise ValueError("expected yes/no (是/否)")
    raise AssertionError(attr.type)


def _choice_code(attr: Attr, text: str) -> str:
    """Accept the code or either label (surveyors type Chinese), store the code."""
    lowered = text.lower()
    for c in attr.choices:
        if lowered in (c.code.lower(), c.en.lower()) or text == c.zh:
            return c.code
    allowed = ", ".join(f"{c.code} ({c.zh})" for c in attr.choices)
    raise ValueError(f"not an allowed value; allowed: {allowed}")


def validate_properties(
    spec: LayerSpec, props: Mapping[str, Any], *, partial: bool = False
) -> tuple[dict[str, Any], list[Problem]]:
    """Normalise writable attributes; return the clean values and every problem found.

    With ``partial`` (a PATCH), absent attributes are left alone instead of being
    reported as missing.
    """
    clean: dict[str, Any] = {}
    problems: list[Problem] = []
    for attr in spec.writable_attrs:
        if attr.name not in props:
            if attr.required and not partial:
                problems.append(Problem(attr.name, "required field is missing"))
            continue
        value, problem = check_value(attr, props[attr.name])
        if problem is not None:
            problems.append(problem)
        else:
            clean[attr.name] = value
    return clean, problems


def check_value(attr: Attr, raw: Any) -> tuple[Any, Problem | None]:
    """One present value of ``attr``: ``(clean value, None)`` or ``(None, problem)``.

    A blank optional value is ``(None, None)``. The result depends only on the value
    (its type and content), which lets bulk callers (the importer) check each distinct
    value of a column once instead of once per row.
    """
    if _blank(raw):
        if attr.required:
            return None, Problem(attr.name, "required field is empty", raw)
        return None, None
    try:
        value = _coerce(attr, raw)
    except (ValueError, InvalidOperation) as exc:
        reason = str(exc) if isinstance(exc, ValueError) and str(exc) else "unreadable value"
        if isinstance(exc, InvalidOperation):
            reason = "expected a number"
        return None, Problem(attr.name, reason, raw)
    if isinstance(value, str) and len(value) > attr.max_length:
        return None, Problem(
            attr.name, f"至多 {attr.max_length} 个字符 / at most {attr.max_length} characters", raw
        )
    if attr.min is not None and isinstance(value, int | float) and value < attr.min:
        return None, Problem(attr.name, f"must be ≥ {attr.min:g}", raw)
    if attr.max is not None and isinstance(value, int | float) and value > attr.max:
        return None, Problem(attr.name, f"must be ≤ {attr.max:g}", raw)
    return value, None


def validate_geometry(spec: LayerSpec, geom: BaseGeometry | None) -> list[Problem]:
    """Geometry type allowed by the layer, non-empty and valid (with GEOS's reason)."""
    if geom is None or geom.is_empty:
        return [Problem("geometry", "geometry is missing or empty")]
    if geom.geom_type not in spec.geometry_types:
        allowed = ", ".join(spec.geometry_types)
        return [Problem("geometry", f"{geom.geom_type} not allowed in this layer; expected {allowed}")]
    if (n := shapely.get_num_coordinates(geom)) > spec.max_vertices:
        return [
            Problem(
                "geometry",
                f"顶点过多：{n}，本图层至多 {spec.max_vertices} 个 / "
                f"{n} vertices, at most {spec.max_vertices} in this layer",
            )
        ]
    if not geom.is_valid:
        return [Problem("geometry", f"invalid geometry: {shapely.is_valid_reason(geom)}")]
    return []


def validate_asset(
    spec: LayerSpec, props: Mapping[str, Any], geom: BaseGeometry | None, *, partial: bool = False
) -> tuple[dict[str, Any], list[Problem]]:
    """Attributes, geometry and the layer's own cross-field rules together."""
    clean, problems = validate_properties(spec, props, partial=partial)
    if geom is not None or not partial:
        problems += validate_geometry(spec, geom)
    if spec.validate is not None and not problems:
        problems += spec.validate(clean, geom)
    return clean, problems
