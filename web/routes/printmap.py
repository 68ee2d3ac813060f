"""A printable, standalone HTML map of a search result (folium), for officers who need
a page to hand over or file. Same query parameters as ``GET /api/search``; the result is
fetched through the app's own search route (one implementation of search), then drawn.

The page's Leaflet JS/CSS point at the app's vendored copies: folium's defaults are CDN
URLs, and the registry must work without internet.
"""

from __future__ import annotations

import datetime as dt
import html
import json
from typing import Any, ClassVar

import folium
from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse

from registry.catalog import LayerCatalog
from registry.permissions import Action
from web.auth import require
from web.deps import CatalogDep, ConnDep

router = APIRouter(tags=["map"])

# web/security.py gives this page (folium writes inline <script>/<style>) a nonce.
PRINT_MAP_PATH = "/api/search/map.html"


class OfflineMap(folium.Map):
    """folium.Map with only Leaflet, served by this app (no jQuery/Bootstrap/CDN)."""

    default_js: ClassVar[list[tuple[str, str]]] = []
    default_css: ClassVar[list[tuple[str, str]]] = []


async def _internal_get(request: Request, path: str, query: bytes) -> tuple[int, bytes]:
    """Call a route of this very app in-process (no network, no second search code)."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": request.url.scheme,
        "path": path,
        "raw_path": path.encode(),
        "query_string": query,
        "root_path": "",
        "headers": [
            (b"accept", b"application/geo+json"),
            (b"host", request.headers.get("host", "").encode()),
        ],
        "client": request.client and (request.client.host, request.client.port),
        "server": (request.url.hostname or "127.0.0.1", request.url.port or 80),
        "app": request.app,
    }
    # The caller's credentials (session cookie or API token) go along, so the search
    # sees what the user may see.
    for name in ("cookie", "authorization"):
        if name in request.headers:
            scope["headers"].append((name.encode(), request.headers[name].encode()))
    status = 500
    body = bytearray()

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            body.extend(message.get("body", b""))

    await request.app(scope, receive, send)
    return status, bytes(body)


def _label(catalog: LayerCatalog, layer: str, attr: str, code: Any, lang: str) -> str:
    try:
        spec = catalog.get(layer)
    except Exception:
        return str(code)
    choices = (
        spec.statuses if attr == "status" else next((a.choices for a in spec.all_attrs if a.name == attr), ())
    )
    found = next((c for c in choices if c.code == str(code)), None)
    return (found.zh if lang == "zh" else found.en) if found else str(code)


def _script_safe(text: str) -> str:
    """HTML-escaped text that is also inert inside the JS template literal folium writes
    a tooltip into (a code like ``${...}`` or a backtick would run as script there)."""
    return html.escape(text).replace("\\", "&#92;").replace("`", "&#96;").replace("$", "&#36;")


def render_result_map(
    fc: dict[str, Any], catalog: LayerCatalog, *, static_base: str, lang: str = "zh", title: str = ""
) -> str:
    """The standalone HTML page of a FeatureCollection, styled from the catalogue."""
    features = fc.get("features", [])
    today = dt.date.today()
    m = OfflineMap(
        location=[35.215, 113.24], zoom_start=12, tiles=None, control_scale=True, prefer_canvas=False
    )
    m.get_root().header.add_child(
        folium.Element(
            f'<link rel="stylesheet" href="{static_base}/static/vendor/leaflet/leaflet.css">'
            f'<script src="{static_base}/static/vendor/leaflet/leaflet.js"></script>'
            "<style>body{font-family:'WenQuanYi Micro Hei','Microsoft YaHei',sans-serif}"
            ".result-table{position:absolute;bottom:8px;left:8px;z-index:1000;background:#fff;max-height:40%;"
            "overflow:auto;font-size:12px;border:1px solid #999}"
            ".result-table td,.result-table th{padding:1px 4px;border-bottom:1px solid #eee}"
            "@media print{.result-table{max-height:none}}</style>"
        )
    )
    rows = []
    for f in features:
        p = f.get("properties", {})
        layer = p.get("layer", "")
        spec = catalog.layers.get(layer)
        color = spec.style.color_of(p) if spec else "#333"
        outline = spec.style.due_color if spec and spec.style.is_overdue(p, today) else None
        layer_title = (spec.zh if lang == "zh" else spec.en) if spec else layer
        tip = (
            f"{p.get('code', '')} · {layer_title} · {_label(catalog, layer, 'status', p.get('status'), lang)}"
        )
        geom = f.get("geometry") or {}
        if geom.get("type") == "Point":
            lon, lat = geom["coordinates"][:2]
            folium.CircleMarker(
                [lat, lon],
                radius=7,
                color=outline or "#333",
                weight=3 if outline else 1,
                fill=True,
                fill_color=color,
                fill_opacity=0.9,
                tooltip=_script_safe(tip),
            ).add_to(m)
        elif geom:
            folium.GeoJson(
                geom,
                style_function=lambda _f, c=color, o=outline: {
                    "color": o or c,
                    "weight": 3 if o else 2,
                    "fillColor": c,
                    "fillOpacity": 0.4,
                },
                tooltip=_script_safe(tip),
            ).add_to(m)
        dist = p.get("distance_m")
        rows.append(
            f"<tr><td>{html.escape(str(p.get('code', '')))}</td><td>{html.escape(layer_title)}</td>"
            f"<td>{html.escape(_label(catalog, layer, 'status', p.get('status'), lang))}</td>"
            f"<td>{'' if dist is None else f'{dist:.0f} m'}</td></tr>"
        )
    heads = ("编号", "图层", "状态", "距离") if lang == "zh" else ("Code", "Layer", "Status", "Distance")
    table = (
        f"<table class='result-table'><caption>{html.escape(title)}（{len(features)}）</caption><tr>"
        + "".join(f"<th>{h}</th>" for h in heads)
        + "</tr>"
        + "".join(rows)
        + "</table>"
    )
    m.get_root().html.add_child(folium.Element(table))
    coords = _all_coords(features)
    if coords:
        lons, lats = [c[0] for c in coords], [c[1] for c in coords]
        m.fit_bounds([[min(lats), min(lons)], [max(lats), max(lons)]], max_zoom=18)
    return m.get_root().render()


def _all_coords(features: list[dict[str, Any]]) -> list[list[float]]:
    out: list[list[float]] = []

    def walk(c: Any) -> None:
        if c and isinstance(c[0], int | float):
            out.append(c)
        else:
            for x in c or []:
                walk(x)

    for f in features:
        walk((f.get("geometry") or {}).get("coordinates"))
    return out


@router.get(
    PRINT_MAP_PATH,
    response_class=HTMLResponse,
    summary="Printable HTML map of a search result",
    dependencies=[Depends(require(Action.READ))],
)
async def search_map(request: Request, catalog: CatalogDep, conn: ConnDep, lang: str = "zh") -> HTMLResponse:
    """Runs ``GET /api/search`` with the same parameters and draws the result."""
    # Signing in touched the caller's session/token row in this request's transaction;
    # end it before the inner request authenticates the same caller, or that waits on
    # our row lock for ever.
    conn.commit()
    query = request.url.query.encode()
    status, body = await _internal_get(request, "/api/search", query)
    if status != 200:
        raise HTTPException(status, json.loads(body or b"{}").get("detail", "search failed") if body else "")
    fc = json.loads(body)
    title = "搜索结果地图" if lang == "zh" else "Search result map"
    page = render_result_map(
        fc, catalog, static_base=str(request.base_url).rstrip("/"), lang=lang, title=title
    )
    return HTMLResponse(page)
