"""Generic valid assets for any layer, built from its spec (no per-layer factories)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from shapely.geometry import LineString, Point, Polygon
from shapely.geometry.base import BaseGeometry

from registry.spec import AttrType, LayerSpec

# 人民广场-ish, well inside 解放区 (410802)
CENTRE = (113.2418, 35.2155)


def sample_geometry(geometry_type: str, x: float = CENTRE[0], y: float = CENTRE[1]) -> BaseGeometry:
    """A small valid geometry of the given OGC type at (x, y)."""
    if geometry_type == "Point":
        return Point(x, y)
    if geometry_type == "LineString":
        return LineString([(x, y), (x + 0.0005, y + 0.0002)])
    if geometry_type == "Polygon":
        d = 0.00005
        return Polygon([(x, y), (x + 2 * d, y), (x + 2 * d, y + d), (x, y + d), (x, y)])
    raise ValueError(geometry_type)


_SAMPLE = {
    AttrType.TEXT: "测试",
    AttrType.INTEGER: 3,
    AttrType.NUMBER: 1.5,
    AttrType.DATE: dt.date(2025, 3, 1),
    AttrType.BOOLEAN: False,
}


def make_properties(spec: LayerSpec, n: int = 1, **overrides: Any) -> dict[str, Any]:
    """Valid attributes for ``spec``: the first allowed value of each enumeration,
    a small positive number for measures, and every lifecycle date filled in order."""
    props: dict[str, Any] = {}
    for attr in spec.writable_attrs:
        if attr.choices:
            props[attr.name] = attr.choices[0].code
        else:
            props[attr.name] = _SAMPLE[attr.type]
    props["code"] = f"{spec.code_prefix}-TEST-{n:04d}"
    # Dates that lifecycle/season rules order: keep them ascending by name order.
    for i, attr in enumerate(a for a in spec.writable_attrs if a.type is AttrType.DATE):
        props[attr.name] = dt.date(2025, 1, 1) + dt.timedelta(days=10 * i)
    if "valid_from" in props and "valid_to" in props:
        props["valid_to"] = props["valid_from"] + dt.timedelta(days=30)
    props.update(overrides)
    return props


def make_json_properties(spec: LayerSpec, n: int = 1, **overrides: Any) -> dict[str, Any]:
    """:func:`make_properties` as a JSON body carries them (dates as ISO text)."""
    props = make_properties(spec, n, **overrides)
    return {k: (v.isoformat() if isinstance(v, dt.date) else v) for k, v in props.items()}


def sample_geometry_for(spec: LayerSpec, props: dict[str, Any] | None = None, **kw: float) -> BaseGeometry:
    """The first geometry type the layer allows (a wire needs a line)."""
    gtype = spec.geometry_types[0]
    if props and props.get("element") == "wire":
        gtype = "LineString"
    return sample_geometry(gtype, **kw)
