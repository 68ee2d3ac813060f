"""Check and normalise one asset's attributes and geometry against its layer spec.

The database enforces the same rules (CHECK constraints); checking here first lets
the importer and the API say *which field, which value, why* in the user's language
instead of surfacing a constraint name.
"""

from __future__ import annotations

import datetime as dt
import difflib
import math
import unicodedata
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

import shapely
from shapely.geometry.base import BaseGeometry

from registry.messages import problem
from registry.spec import Attr, AttrType, LayerSpec, Problem


class _Bad(ValueError):
    """A value that cannot become the attribute's type: a message code and parameters."""

    def __init__(self, code: str, **params: Any) -> None:
        super().__init__(code)
        self.code = code
        self.params = params


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
            raise _Bad("not_text")
        text = str(value).strip()
        if attr.choices:
            return _choice_code(attr, text)
        return text
    if attr.type is AttrType.INTEGER:
        if isinstance(value, bool):
            raise _Bad("not_integer")
        number = Decimal(str(value).strip())
        # (infinity would otherwise crash int() with OverflowError)
        if not number.is_finite() or number != number.to_integral_value():
            raise _Bad("not_integer")
        if not _INT_MIN <= number <= _INT_MAX:
            raise _Bad("integer_range", min=_INT_MIN, max=_INT_MAX)
        return int(number)
    if attr.type is AttrType.NUMBER:
        if isinstance(value, bool):
            raise _Bad("not_number")
        number = float(Decimal(str(value).strip()))
        if not math.isfinite(number):
            raise _Bad("not_finite")
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
            raise _Bad("not_date", example="2025-03-31") from None
    if attr.type is AttrType.BOOLEAN:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise _Bad("not_boolean")
    raise AssertionError(attr.type)


def _fold(text: str) -> str:
    """Compare choice values as headers are compared: full-width → half-width, case and
    inner spaces ignored (surveyors type 马路 市场, ＩＶ, In Service)."""
    return "".join(unicodedata.normalize("NFKC", text).lower().split()).replace("_", "")


def _choice_code(attr: Attr, text: str) -> str:
    """Accept the code or either label (surveyors type Chinese), store the code; a value
    close to one allowed value (a doubled or missing character) is refused with a
    "did you mean"."""
    folded = _fold(text)
    for c in attr.choices:
        if folded in (_fold(c.code), _fold(c.en), _fold(c.zh)):
            return c.code
    # the allowed values as each reader knows them (their labels); machines get the codes
    words = {
        "allowed": "、".join(c.zh for c in attr.choices),
        "allowed_en": ", ".join(c.en for c in attr.choices),
        "choices": [c.code for c in attr.choices],
    }
    labels = {_fold(c.zh): c.zh for c in attr.choices} | {_fold(c.en): c.en for c in attr.choices}
    close = difflib.get_close_matches(folded, list(labels), n=1, cutoff=0.75)
    if close:
        raise _Bad("not_allowed_did_you_mean", suggestion=labels[close[0]], **words)
    raise _Bad("not_allowed", **words)


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
                problems.append(problem(attr.name, "required_missing"))
            continue
        value, found = check_value(attr, props[attr.name])
        if found is not None:
            problems.append(found)
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
            return None, problem(attr.name, "required_empty", raw)
        return None, None
    try:
        value = _coerce(attr, raw)
    except _Bad as exc:
        return None, problem(attr.name, exc.code, raw, **exc.params)
    except InvalidOperation:
        return None, problem(attr.name, "not_number", raw)
    except ValueError:
        return None, problem(attr.name, "unreadable_value", raw)
    if isinstance(value, str) and len(value) > attr.max_length:
        return None, problem(attr.name, "too_long", raw, max=attr.max_length)
    if attr.min is not None and isinstance(value, int | float) and value < attr.min:
        return None, problem(attr.name, "below_min", raw, min=f"{attr.min:g}")
    if attr.max is not None and isinstance(value, int | float) and value > attr.max:
        return None, problem(attr.name, "above_max", raw, max=f"{attr.max:g}")
    return value, None


def validate_geometry(spec: LayerSpec, geom: BaseGeometry | None) -> list[Problem]:
    """Geometry type allowed by the layer, non-empty and valid (with GEOS's reason)."""
    if geom is None or geom.is_empty:
        return [problem("geometry", "geometry_empty")]
    if geom.geom_type not in spec.geometry_types:
        allowed = ", ".join(spec.geometry_types)
        return [problem("geometry", "geometry_type", got=geom.geom_type, allowed=allowed)]
    if (n := shapely.get_num_coordinates(geom)) > spec.max_vertices:
        return [problem("geometry", "too_many_vertices", n=n, max=spec.max_vertices)]
    if not geom.is_valid:
        return [problem("geometry", "geometry_invalid", reason=shapely.is_valid_reason(geom))]
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
