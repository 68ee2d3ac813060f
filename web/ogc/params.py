"""Parse an ``/items`` query string into a validated ItemQuery (400 problems on error)."""

from __future__ import annotations

import uuid

from starlette.datastructures import QueryParams

from registry import crs as crs_mod
from registry.cql import compile_filter
from registry.errors import InvalidParameter
from registry.features import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    ItemQuery,
    parse_bbox,
    parse_datetime,
    parse_properties,
    parse_sortby,
)
from registry.properties import coerce, properties_of
from registry.spec import LayerSpec

RESERVED = {
    "f",
    "bbox",
    "bbox-crs",
    "crs",
    "limit",
    "offset",
    "datetime",
    "filter",
    "filter-lang",
    "filter-crs",
    "sortby",
    "properties",
    "overdue",
    "after",
}


def _int(params: QueryParams, name: str, default: int, low: int, high: int) -> int:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidParameter(name, "").with_message(
            "parameter_whole_number", name=name, value=repr(raw)
        ) from None
    if not low <= value <= high:
        raise InvalidParameter(name, "").with_message(
            "parameter_range", name=name, low=low, high=high, value=value
        )
    return value


def item_query(spec: LayerSpec, params: QueryParams) -> ItemQuery:
    """Everything ``/collections/{id}/items`` accepts, checked."""
    q = ItemQuery(crs=crs_mod.resolve(params.get("crs"), "crs"))
    q.limit = _int(params, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
    q.offset = _int(params, "offset", 0, 0, 2**31 - 1)
    if params.get("after"):
        # the keyset of a next link (registry/features.py): the last id of the page before
        try:
            q.after = uuid.UUID(params["after"])
        except ValueError:
            raise InvalidParameter("after", "").with_message(
                "after_feature_id", value=repr(params["after"])
            ) from None
    if params.get("bbox"):
        q.bbox_crs = crs_mod.resolve(params.get("bbox-crs"), "bbox-crs")
        q.bbox = parse_bbox(params["bbox"], q.bbox_crs)
    elif params.get("bbox-crs"):
        crs_mod.resolve(params.get("bbox-crs"), "bbox-crs")
    if params.get("datetime"):
        q.interval = parse_datetime(params["datetime"])
    if params.get("sortby"):
        q.sortby = parse_sortby(spec, params["sortby"])
    if "properties" in params:
        q.properties = parse_properties(spec, params["properties"])
    if params.get("overdue"):
        raw = params["overdue"].strip().lower()
        if raw not in ("true", "false"):
            raise InvalidParameter("overdue", "").with_message("overdue_true_false")
        # past a deadline of the layer's declared workflow (registry.workflow)
        q.overdue = raw == "true"
    props = properties_of(spec)
    for key, value in params.multi_items():
        if key in RESERVED or key not in props:
            continue
        q.equals[key] = coerce(props[key], value, key)
    if params.get("filter"):
        filter_crs = crs_mod.resolve(params.get("filter-crs"), "filter-crs")
        q.condition = compile_filter(spec, q.params, params["filter"], params.get("filter-lang"), filter_crs)
    elif params.get("filter-lang") and params["filter-lang"].lower() not in ("cql2-text", "cql2-json"):
        raise InvalidParameter("filter-lang", "").with_message("filter_lang_choice")
    return q
