"""A geometry sent in a request body (GeoJSON, lon/lat): read, checked against the
valid area of its CRS and flattened to 2D, with a 4xx that names the field otherwise.

One home for every route that takes a bare GeoJSON geometry (history edits and splits,
the field app's submissions), so they accept and refuse the same shapes alike.
"""

from __future__ import annotations

from typing import Any

from shapely import has_z
from shapely.errors import GEOSException
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from registry import store
from registry.crs import outside_message, resolve
from registry.errors import InvalidFeature


def request_geometry(geojson: dict[str, Any], field: str, warnings: list[dict[str, str]]) -> BaseGeometry:
    """A GeoJSON geometry (lon/lat) from a request body, in 2D (a height is dropped with a
    note in ``warnings``), or a 4xx naming the field."""
    try:
        geom = shape(geojson)
    except (GEOSException, ValueError, KeyError, TypeError, AttributeError):
        raise InvalidFeature(
            "",
            errors=[
                {"field": field, "code": "geometry_unreadable", "params": {"field": field}, "value": None}
            ],
        ).with_message("geometry_unreadable", field=field) from None
    if not geom.is_empty and (params := outside_message(resolve(None, field), geom.bounds, field)):
        raise InvalidFeature(
            "", errors=[{"field": field, "code": "coords_outside_crs", "params": params, "value": None}]
        ).with_message("coords_outside_crs", **params)
    if has_z(geom):
        warnings.append({**store.Z_DROPPED, "field": field})
        geom = store.planar(geom)
    return geom
