"""OGC API – Features (Parts 1–3) under ``/ogc``: landing, conformance, collections
(one per layer in the catalogue), queryables, items and single items.

Routes are generic over the catalogue: the collection id is resolved through it,
so a new layer appears here without any code.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import psycopg
from fastapi import APIRouter, Depends, Request, Response

from registry import crs as crs_mod
from registry.errors import FeatureNotFound
from registry.features import ItemPage, ItemQuery, extents, get_item, keyset_applies, query_items
from registry.permissions import Action
from registry.properties import properties_of
from registry.spec import LayerSpec
from web.auth import authorized_read, refuse_anonymous, require
from web.deps import CatalogDep, ConnDep, ReadConnDep
from web.ogc.common import GEOJSON, HTML, JSON, OPENAPI, base_url, link, render, wants_html, with_query
from web.ogc.openapi import openapi_document
from web.ogc.params import item_query

# Reading needs an account (or REGISTRY_PUBLIC_READ=true); GIS clients send an API token.
# Every route declares READ but /items, which checks it in the same thread-pool hop as
# its query (web/auth.authorized_read).
router = APIRouter(prefix="/ogc", tags=["OGC API – Features"])
READ = [Depends(require(Action.READ))]

CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-common-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/html",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables-query-parameters",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
    "http://www.opengis.net/spec/cql2/1.0/conf/advanced-comparison-operators",
    "http://www.opengis.net/spec/cql2/1.0/conf/case-insensitive-comparison",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions-plus",
    "http://www.opengis.net/spec/cql2/1.0/conf/spatial-functions",
    "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/create-replace-delete",
    "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/update",
    "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/features",
    "http://www.opengis.net/spec/ogcapi-features-5/1.0/conf/sortables",
    "http://www.opengis.net/spec/ogcapi-records-1/1.0/conf/sorting",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/mvt",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/tileset",
]


def _json(doc: Any, media_type: str = JSON, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(doc, ensure_ascii=False, default=str), media_type=media_type, headers=headers)


@router.get("", summary="OGC API landing page 服务入口", dependencies=READ)
def landing(request: Request, f: str | None = None) -> Response:
    """Links to the API description, conformance and the collections."""
    base = base_url(request)
    doc = {
        "title": "焦作市城市管理资产登记 Jiaozuo Asset Registry",
        "description": "城市管理资产（道路脱空、窨井、杆线、停车、市场、二次供水）OGC API – Features 服务",
        "links": [
            link(base, "self", JSON, "本页 This document"),
            link(f"{base}?f=html", "alternate", HTML, "本页 HTML"),
            link(f"{base}/api", "service-desc", OPENAPI, "API 定义 OpenAPI 3.0"),
            link(f"{base}/conformance", "conformance", JSON, "符合性 Conformance"),
            link(f"{base}/collections", "data", JSON, "图层 Collections"),
            link(
                f"{base}/collections", "http://www.opengis.net/def/rel/ogc/1.0/data", JSON, "图层 Collections"
            ),
        ],
    }
    if wants_html(request, f):
        return render(
            "page.html",
            title="焦作市城市管理资产登记",
            title_en="Jiaozuo Asset Registry",
            description=doc["description"],
            links=doc["links"],
            doc=doc,
            features=None,
        )
    return _json(doc)


@router.get("/conformance", summary="Conformance classes 符合性声明", dependencies=READ)
def conformance(request: Request, f: str | None = None) -> Response:
    """Which standards this server implements."""
    doc = {"conformsTo": CONFORMANCE}
    if wants_html(request, f):
        links = [link(c, "conformance", HTML, c) for c in CONFORMANCE]
        return render(
            "page.html", title="符合性", title_en="Conformance", links=links, doc=doc, features=None
        )
    return _json(doc)


@router.get("/api", summary="OpenAPI 3.0 definition of the OGC API", dependencies=READ)
def api(request: Request, catalog: CatalogDep) -> Response:
    """A 3.0 document (OGC clients do not read FastAPI's 3.1 one)."""
    return _json(openapi_document(base_url(request), catalog), media_type=OPENAPI)


def _iso(value: Any) -> str | None:
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z") if value else None


def collection_doc(base: str, spec: LayerSpec, extent: dict[str, Any] | None) -> dict[str, Any]:
    """The description of one layer as an OGC collection."""
    href = f"{base}/collections/{spec.name}"
    doc: dict[str, Any] = {
        "id": spec.name,
        "title": f"{spec.zh} {spec.en}",
        "description": f"{spec.zh}（{spec.en}）：{', '.join(spec.geometry_types)}",
        "itemType": "feature",
        "links": [
            link(href, "self", JSON, "本图层 This collection"),
            link(f"{href}?f=html", "alternate", HTML, "本图层 HTML"),
            link(f"{href}/items", "items", GEOJSON, "要素 Items"),
            link(f"{href}/items?f=html", "items", HTML, "要素 Items (HTML)"),
            link(
                f"{href}/queryables",
                "http://www.opengis.net/def/rel/ogc/1.0/queryables",
                "application/schema+json",
                "可查询属性 Queryables",
            ),
            link(
                f"{href}/tiles/WebMercatorQuad",
                "http://www.opengis.net/def/rel/ogc/1.0/tilesets-vector",
                JSON,
                "矢量瓦片 Vector tiles (TileJSON)",
            ),
        ],
        "crs": crs_mod.supported_uris(),
        "storageCrs": crs_mod.storage_crs().uri,
    }
    if extent:
        doc["extent"] = {
            "spatial": {"bbox": [extent["bbox"]], "crs": crs_mod.CRS84},
            "temporal": {
                "interval": [[_iso(extent["interval"][0]), _iso(extent["interval"][1])]],
                "trs": "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian",
            },
        }
    return doc


@router.get("/collections", summary="All layers as collections 图层列表", dependencies=READ)
def collections(request: Request, conn: ConnDep, catalog: CatalogDep, f: str | None = None) -> Response:
    """One collection per layer of the catalogue, with extents."""
    base = base_url(request)
    ext = extents(conn)
    docs = [collection_doc(base, spec, ext.get(spec.name)) for spec in catalog]
    doc = {
        "links": [
            link(f"{base}/collections", "self", JSON, "图层 Collections"),
            link(f"{base}/collections?f=html", "alternate", HTML, "图层 HTML"),
        ],
        "collections": docs,
        "crs": crs_mod.supported_uris(),
    }
    if wants_html(request, f):
        rows = [
            {
                "id": d["id"],
                "title": d["title"],
                "href": f"{base}/collections/{d['id']}?f=html",
                "items": f"{base}/collections/{d['id']}/items?f=html",
            }
            for d in docs
        ]
        return render(
            "page.html", title="图层", title_en="Collections", collections=rows, doc=doc, features=None
        )
    return _json(doc)


@router.get("/collections/{collection_id}", summary="One layer 图层", dependencies=READ)
def collection(
    request: Request, collection_id: str, conn: ConnDep, catalog: CatalogDep, f: str | None = None
) -> Response:
    """Description, extent and CRSs of one layer."""
    spec = catalog.get(collection_id)
    doc = collection_doc(base_url(request), spec, extents(conn).get(spec.name))
    if wants_html(request, f):
        return render(
            "page.html",
            title=spec.zh,
            title_en=spec.en,
            description=doc["description"],
            links=doc["links"],
            doc=doc,
            features=None,
        )
    return _json(doc)


@router.get(
    "/collections/{collection_id}/queryables", summary="Queryable properties 可查询属性", dependencies=READ
)
def queryables(request: Request, collection_id: str, catalog: CatalogDep, f: str | None = None) -> Response:
    """JSON Schema of the properties usable in filters, sortby and property equality."""
    spec = catalog.get(collection_id)
    href = f"{base_url(request)}/collections/{spec.name}/queryables"
    props: dict[str, Any] = {
        "geometry": {
            "title": "几何 Geometry",
            "format": "geometry-any",
            "$ref": "https://geojson.org/schema/Geometry.json",
        },
    }
    props.update({p.name: p.json_schema() for p in properties_of(spec).values()})
    doc = {
        "$schema": "https://json-schema.org/draft/2019-09/schema",
        "$id": href,
        "type": "object",
        "title": f"{spec.zh} {spec.en}",
        "properties": props,
        "additionalProperties": False,
    }
    if wants_html(request, f):
        return render(
            "page.html", title=f"{spec.zh} 可查询属性", title_en="Queryables", doc=doc, features=None
        )
    return _json(doc, media_type="application/schema+json")


def _next_link(request: Request, q: ItemQuery, features: list[str]) -> dict[str, Any]:
    """The next page: by keyset (``after`` the last id) in the default order, else by offset.

    ``offset`` is kept up to date either way, so the page knows its position (and its
    previous page) whichever way it was reached.
    """
    offset = q.offset + q.limit
    if keyset_applies(q) and features:
        last = json.loads(features[-1])["id"]
        return link(with_query(request, offset=offset, after=last), "next", GEOJSON, "下一页 Next page")
    return link(with_query(request, offset=offset), "next", GEOJSON, "下一页 Next page")


@router.get(
    "/collections/{collection_id}/items",
    summary="Features of a layer 要素查询",
    dependencies=[Depends(refuse_anonymous)],
)
async def items(request: Request, collection_id: str, catalog: CatalogDep) -> Response:
    """Paged GeoJSON with bbox, datetime, property equality, CQL2 filter, sortby, properties and crs.

    ``numberMatched`` is exact up to ``COUNT_CAP`` matches; past it, it is left out
    (as OGC API Features allows) and ``numberMatchedAtLeast`` says there are more. Reads
    go to a replica when there is one (as ``ReadConnDep``); authentication and the query
    run in one thread-pool hop (web/auth.authorized_read).
    """

    def read(conn: psycopg.Connection) -> tuple[LayerSpec, ItemQuery, ItemPage]:
        # after authentication, as with a dependency: a bad token is a 401 whatever else is wrong
        spec = catalog.get(collection_id)
        q = item_query(spec, request.query_params)
        return spec, q, query_items(conn, spec, q)

    spec, q, page = await authorized_read(request, read, replica=True)
    html = wants_html(request, request.query_params.get("f"))
    features, matched = page.features, page.matched
    links = [
        link(str(request.url), "self", GEOJSON, "本页 This page"),
        link(with_query(request, f="html", after=None), "alternate", HTML, "本页 HTML"),
        link(f"{base_url(request)}/collections/{spec.name}", "collection", JSON, "图层 Collection"),
    ]
    if page.more:
        links.append(_next_link(request, q, features))
    if q.offset > 0:
        previous = with_query(request, offset=max(0, q.offset - q.limit), after=None)
        links.append(link(previous, "prev", GEOJSON, "上一页 Previous"))
    stamp = dt.datetime.now(dt.UTC).isoformat().replace("+00:00", "Z")
    head: dict[str, Any] = {"type": "FeatureCollection"}
    if matched is not None:
        head["numberMatched"] = matched
    else:
        head["numberMatchedAtLeast"] = page.at_least
    head.update({"numberReturned": len(features), "timeStamp": stamp, "links": links})
    if html:
        parsed = [json.loads(feat) for feat in features]
        item_base = f"{base_url(request)}/collections/{spec.name}/items"
        rows = [
            {"id": p["id"], "href": f"{item_base}/{p['id']}?f=html", "properties": p["properties"]}
            for p in parsed
        ]
        columns = (
            q.properties if q.properties is not None else ["code", "status", "district_code", "updated_at"]
        )
        return render(
            "page.html",
            title=f"{spec.zh} 要素",
            title_en=f"{spec.en} features",
            links=links,
            features=rows,
            columns=columns,
            number_matched=matched if matched is not None else f"≥ {page.at_least}",
            number_returned=len(rows),
            doc={**head, "features": parsed[:5]},
        )
    body = json.dumps(head, ensure_ascii=False)[:-1] + ', "features": [' + ",".join(features) + "]}"
    return Response(body, media_type=GEOJSON, headers={"Content-Crs": q.crs.header})


@router.get(
    "/collections/{collection_id}/items/{feature_id}", summary="One feature 单个要素", dependencies=READ
)
def item(
    request: Request,
    collection_id: str,
    feature_id: str,
    conn: ReadConnDep,
    catalog: CatalogDep,
    f: str | None = None,
    crs: str | None = None,
) -> Response:
    """One asset as GeoJSON with its version as ETag (send it back in If-Match to edit)."""
    spec = catalog.get(collection_id)
    out_crs = crs_mod.resolve(crs, "crs")
    found = get_item(conn, spec, feature_id, out_crs)
    if found is None:
        raise FeatureNotFound("").with_message(
            "asset_not_found", layer=spec.name, layer_zh=spec.zh, id=str(feature_id)
        )
    text, version = found
    etag = f'"{version}"'
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers={"ETag": etag})
    feature = json.loads(text)
    base = base_url(request)
    feature["links"] = [
        link(f"{base}/collections/{spec.name}/items/{feature_id}", "self", GEOJSON, "本要素 This feature"),
        link(f"{base}/collections/{spec.name}", "collection", JSON, "图层 Collection"),
    ]
    if wants_html(request, f):
        return render(
            "page.html",
            title=f"{spec.zh} {feature['properties'].get('code', '')}",
            title_en=spec.en,
            links=feature["links"],
            doc=feature,
            features=None,
        )
    return _json(feature, media_type=GEOJSON, headers={"ETag": etag, "Content-Crs": out_crs.header})
