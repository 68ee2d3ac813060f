"""An OpenAPI 3.0.3 description of the OGC API, generated from the catalogue.

FastAPI emits OpenAPI 3.1 (at /openapi.json), which several OGC clients and
validators do not read; this document is plain 3.0 and lists every collection,
its query parameters and its queryable properties.
"""

from __future__ import annotations

from typing import Any

from registry import crs as crs_mod
from registry.catalog import LayerCatalog
from registry.features import DEFAULT_LIMIT, MAX_LIMIT
from registry.properties import properties_of


def _param(
    name: str, description: str, schema: dict[str, Any], *, style: str | None = None
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema,
    }
    if style:
        out["style"] = style
        out["explode"] = False
    return out


def _common_params() -> list[dict[str, Any]]:
    crs_schema = {"type": "string", "format": "uri", "enum": crs_mod.supported_uris()}
    return [
        _param(
            "limit",
            "每页要素数 Features per page",
            {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
        ),
        _param("offset", "跳过的要素数 Features to skip", {"type": "integer", "minimum": 0, "default": 0}),
        _param(
            "bbox",
            "范围 minx,miny,maxx,maxy in bbox-crs axis order",
            {"type": "array", "minItems": 4, "maxItems": 6, "items": {"type": "number"}},
            style="form",
        ),
        _param("bbox-crs", "bbox 的坐标系 CRS of bbox", crs_schema),
        _param("crs", "输出坐标系 Output CRS", crs_schema),
        _param("datetime", "更新时间 updated_at instant or interval (RFC 3339)", {"type": "string"}),
        _param("filter", "CQL2 过滤条件 filter", {"type": "string"}),
        _param(
            "filter-lang",
            "cql2-text (default) or cql2-json",
            {"type": "string", "enum": ["cql2-text", "cql2-json"]},
        ),
        _param("filter-crs", "过滤几何坐标系 CRS of filter geometries", crs_schema),
        _param("sortby", "排序 e.g. +code,-updated_at", {"type": "string"}),
        _param("properties", "返回的属性 properties to return (comma-separated)", {"type": "string"}),
        _param("f", "格式 json or html", {"type": "string", "enum": ["json", "html"]}),
    ]


def _problem_response(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/problem+json": {"schema": {"type": "object"}}},
    }


def openapi_document(base: str, catalog: LayerCatalog) -> dict[str, Any]:
    """The whole document; ``base`` is the absolute ``…/ogc`` URL."""
    json_ok = {"200": {"description": "OK", "content": {"application/json": {"schema": {"type": "object"}}}}}
    geojson_ok = {
        "200": {
            "description": "GeoJSON",
            "content": {"application/geo+json": {"schema": {"type": "object"}}},
        },
        "400": _problem_response("bad parameter"),
        "404": _problem_response("unknown collection"),
    }
    paths: dict[str, Any] = {
        "/": {"get": {"operationId": "getLandingPage", "summary": "Landing page", "responses": json_ok}},
        "/conformance": {
            "get": {"operationId": "getConformance", "summary": "Conformance", "responses": json_ok}
        },
        "/collections": {
            "get": {"operationId": "getCollections", "summary": "Collections", "responses": json_ok}
        },
    }
    for spec in catalog:
        props = properties_of(spec)
        prop_params = [
            _param(
                p.name,
                f"{p.zh} {p.en} (equality)",
                {k: v for k, v in p.json_schema().items() if k != "title"},
            )
            for p in props.values()
        ]
        pid = spec.name
        paths[f"/collections/{pid}"] = {
            "get": {"operationId": f"describe_{pid}", "summary": f"{spec.zh} {spec.en}", "responses": json_ok}
        }
        paths[f"/collections/{pid}/queryables"] = {
            "get": {"operationId": f"queryables_{pid}", "summary": "Queryables", "responses": json_ok}
        }
        paths[f"/collections/{pid}/items"] = {
            "get": {
                "operationId": f"getItems_{pid}",
                "summary": f"{spec.zh} 要素 {spec.en} features",
                "parameters": _common_params() + prop_params,
                "responses": geojson_ok,
            },
            "post": {
                "operationId": f"createItem_{pid}",
                "summary": "Create a feature",
                "requestBody": {
                    "required": True,
                    "content": {"application/geo+json": {"schema": {"type": "object"}}},
                },
                "responses": {"201": {"description": "Created"}, "422": _problem_response("invalid feature")},
            },
        }
        id_param = {
            "name": "featureId",
            "in": "path",
            "required": True,
            "schema": {"type": "string", "format": "uuid"},
        }
        if_match = {"name": "If-Match", "in": "header", "required": True, "schema": {"type": "string"}}
        write_responses = {
            "200": {"description": "Changed"},
            "412": _problem_response("version mismatch"),
            "428": _problem_response("If-Match missing"),
        }
        paths[f"/collections/{pid}/items/{{featureId}}"] = {
            "get": {
                "operationId": f"getItem_{pid}",
                "summary": "One feature",
                "parameters": [id_param],
                "responses": geojson_ok,
            },
            "put": {
                "operationId": f"replaceItem_{pid}",
                "parameters": [id_param, if_match],
                "responses": write_responses,
            },
            "patch": {
                "operationId": f"updateItem_{pid}",
                "parameters": [id_param, if_match],
                "responses": write_responses,
            },
            "delete": {
                "operationId": f"deleteItem_{pid}",
                "parameters": [id_param, if_match],
                "responses": {"204": {"description": "Deleted"}, **write_responses},
            },
        }
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "焦作市城市管理资产登记 OGC API",
            "version": "0.1.0",
            "description": "OGC API – Features Parts 1–4 and vector tiles",
        },
        "servers": [{"url": base}],
        "paths": paths,
    }
