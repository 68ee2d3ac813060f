"""What a client may filter, sort and select on: a layer's attributes plus the shared
bookkeeping columns. This whitelist is the only way a property name reaches SQL."""

from __future__ import annotations

import datetime as dt
import math
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from types import MappingProxyType
from typing import Any

from psycopg import sql

from registry.clock import CHINA
from registry.errors import InvalidParameter, shown
from registry.spec import Choice, LayerSpec

INT4_MIN, INT4_MAX = -(2**31), 2**31 - 1

# JSON-schema type and format for each stored type (queryables, OpenAPI).
_JSON_TYPES = {
    "text": ("string", None),
    "integer": ("integer", None),
    "numeric": ("number", None),
    "date": ("string", "date"),
    "boolean": ("boolean", None),
    "timestamptz": ("string", "date-time"),
    "uuid": ("string", "uuid"),
}


@dataclass(frozen=True)
class Prop:
    """One queryable property: its column, stored type and labels."""

    name: str
    kind: str  # text | integer | numeric | date | boolean | timestamptz | uuid
    zh: str
    en: str
    choices: tuple[Choice, ...] = ()

    @property
    def column(self) -> sql.Composable:
        """``t."name"``: the column in the layer table aliased ``t``."""
        return sql.SQL("t.{}").format(sql.Identifier(self.name))

    def json_schema(self) -> dict[str, Any]:
        """Queryable schema entry (title in Chinese and English)."""
        jtype, fmt = _JSON_TYPES[self.kind]
        out: dict[str, Any] = {"title": f"{self.zh} {self.en}", "type": jtype}
        if fmt:
            out["format"] = fmt
        if self.choices:
            out["enum"] = [c.code for c in self.choices]
        return out


_META = (
    Prop("layer", "text", "图层", "Layer"),
    Prop("district_code", "text", "行政区划代码", "District code"),
    Prop("version", "integer", "版本", "Version"),
    Prop("created_at", "timestamptz", "创建时间", "Created at"),
    Prop("updated_at", "timestamptz", "更新时间", "Updated at"),
    Prop("updated_by", "text", "更新人", "Updated by"),
)


@cache
def properties_of(spec: LayerSpec) -> Mapping[str, Prop]:
    """Every property of the layer's features, in output order.

    Kept per layer (read-only): every items request looked them up three times.
    """
    props = {a.name: Prop(a.name, a.type.value, a.zh, a.en, a.choices) for a in spec.all_attrs}
    for meta in _META:
        props.setdefault(meta.name, meta)
    return MappingProxyType(props)


def lookup(spec: LayerSpec, name: str, parameter: str) -> Prop:
    """The property, or InvalidParameter listing what exists."""
    props = properties_of(spec)
    if name not in props:
        raise InvalidParameter(parameter, "").with_message(
            "property_unknown", name=repr(name), layer=spec.name, known=", ".join(props)
        )
    return props[name]


def coerce(prop: Prop, value: Any, parameter: str) -> Any:
    """Turn a filter value (text from a URL or a CQL2 literal) into the column's type.

    A value that cannot be of that type is the client's mistake (400), not a
    database error; values that look like SQL stay plain values.
    """
    try:
        if prop.kind in ("text", "uuid"):
            # a date or timestamp literal is not text: comparing it as text is never meant
            if isinstance(value, bool | dict | list | dt.date):
                raise ValueError("expected text")
            return str(uuid.UUID(str(value))) if prop.kind == "uuid" else str(value)
        if prop.kind == "integer":
            if isinstance(value, bool):
                raise ValueError
            number = float(value) if not isinstance(value, int) else value
            if isinstance(number, float) and (not math.isfinite(number) or number != int(number)):
                raise ValueError
            if not INT4_MIN <= int(number) <= INT4_MAX:  # the columns are PostgreSQL integer
                raise ValueError
            return int(number)
        if prop.kind == "numeric":
            if isinstance(value, bool):
                raise ValueError
            number = float(value)
            if not math.isfinite(number):
                raise ValueError
            return number
        if prop.kind == "boolean":
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in ("true", "1", "t", "yes"):
                return True
            if text in ("false", "0", "f", "no"):
                return False
            raise ValueError
        if prop.kind == "date":
            if isinstance(value, dt.datetime):
                return value.date()
            if isinstance(value, dt.date):
                return value
            return dt.date.fromisoformat(str(value).strip())
        if prop.kind == "timestamptz":
            return parse_instant(value)
    except (ValueError, TypeError, OverflowError):
        pass
    raise InvalidParameter(parameter, "").with_message(
        "property_value_invalid", value=shown(value), name=prop.name, kind=prop.kind
    )


def parse_instant(value: Any) -> dt.datetime:
    """An RFC 3339 timestamp (or a date, meaning its start) as an aware datetime.

    The one rule of every endpoint: a time without an offset is the bureau's clock,
    China Standard Time (UTC+8, registry.clock.CHINA), the same for a date. Every
    timestamp the API returns carries its offset.
    """
    if isinstance(value, dt.datetime):
        stamp = value
    elif isinstance(value, dt.date):
        stamp = dt.datetime.combine(value, dt.time())
    else:
        text = str(value).strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        stamp = dt.datetime.fromisoformat(text)
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=CHINA)
