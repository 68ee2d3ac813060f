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
import re
from typing import Any, ClassVar

import folium
from branca.element import MacroElement
from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse
from jinja2 import Template

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


_COLOR = re.compile(r"#[0-9a-fA-F]{3,8}")


class MetricScale(MacroElement):
    """Leaflet's scale bar in metres only."""

    _template = Template(
        "{% macro script(this, kwargs) %}"
        "L.control.scale({metric: true, imperial: false}).addTo({{ this._parent.get_name() }});"
        "{% endmacro %}"
    )


def _head(title: str, n: int, today: dt.date, lang: str, subtitle: str) -> str:
    """The page's title, what was searched, how many were found and the date it was drawn."""
    zh = lang == "zh"
    line = (
        (f"共 {n} 条 · 制图日期 {today.isoformat()}") if zh else (f"{n} found · drawn on {today.isoformat()}")
    )
    if subtitle:
        line = f"{subtitle} · {line}"
    return (
        f"<div class='print-head'><h1>{html.escape(title)}</h1><p>{html.escape(line)}</p>"
        f"<p>{'坐标系 CGCS2000 · 焦作市城市管理局' if zh else 'CGCS2000 · Jiaozuo urban management bureau'}"
        "</p></div>"
    )


def _legend(legend: dict[tuple[str, str], str], lang: str) -> str:
    """The colours of the results by layer and styled value."""
    if not legend:
        return ""
    entries = sorted(legend.items())
    # colours through a <style> element (it gets the page's nonce; style attributes the
    # CSP refuses), one class per entry; the colours come from the layer declarations
    colors = "".join(
        f".sw{i}{{background:{color}}}" for i, (_, color) in enumerate(entries) if _COLOR.fullmatch(color)
    )
    items = "".join(
        f"<li><i class='sw{i}'></i>{html.escape(layer)} · {html.escape(label)}</li>"
        for i, ((layer, label), _) in enumerate(entries)
    )
    heading = "图例" if lang == "zh" else "Legend"
    return f"<style>{colors}</style><div class='print-legend'><h2>{heading}</h2><ul>{items}</ul></div>"


def render_result_map(
    fc: dict[str, Any],
    catalog: LayerCatalog,
    *,
    static_base: str,
    lang: str = "zh",
    title: str = "",
    subtitle: str = "",
) -> str:
    """The standalone HTML page of a FeatureCollection, styled from the catalogue."""
    features = fc.get("features", [])
    today = dt.date.today()
    # the scale in metres only (folium's control_scale adds miles and feet)
    m = OfflineMap(
        location=[35.215, 113.24], zoom_start=12, tiles=None, control_scale=False, prefer_canvas=False
    )
    MetricScale().add_to(m)
    m.get_root().header.add_child(
        folium.Element(
            f'<link rel="stylesheet" href="{static_base}/static/vendor/leaflet/leaflet.css">'
            f'<script src="{static_base}/static/vendor/leaflet/leaflet.js"></script>'
            "<style>body{font-family:'WenQuanYi Micro Hei','Microsoft YaHei',sans-serif}"
            ".result-table{position:absolute;bottom:8px;left:8px;z-index:1000;background:#fff;max-height:40%;"
            "overflow:auto;font-size:12px;border:1px solid #999}"
            ".result-table td,.result-table th{padding:1px 4px;border-bottom:1px solid #eee}"
            ".print-head{position:absolute;top:8px;left:50%;transform:translateX(-50%);z-index:1000;"
            "background:rgba(255,255,255,.92);padding:4px 12px;border:1px solid #999;text-align:center}"
            ".print-head h1{font-size:18px;margin:0}.print-head p{margin:2px 0 0;font-size:12px}"
            ".print-legend{position:absolute;top:8px;right:8px;z-index:1000;background:#fff;"
            "border:1px solid #999;padding:4px 8px;font-size:12px;max-height:50%;overflow:auto}"
            ".print-legend h2{font-size:13px;margin:0 0 2px}"
            ".print-legend ul{list-style:none;margin:0;padding:0}"
            ".print-legend i{display:inline-block;width:10px;height:10px;border:1px solid #333;"
            "border-radius:50%;margin-right:4px}"
            "@media print{.result-table{max-height:none}}</style>"
        )
    )
    rows = []
    legend: dict[tuple[str, str], str] = {}  # (layer title, value label) -> colour
    for f in features:
        p = f.get("properties", {})
        layer = p.get("layer", "")
        spec = catalog.layers.get(layer)
        color = spec.style.color_of(p) if spec else "#333"
        outline = spec.style.due_color if spec and spec.style.is_overdue(p, today) else None
        layer_title = (spec.zh if lang == "zh" else spec.en) if spec else layer
        if spec:
            by = spec.style.by
            legend[(layer_title, _label(catalog, layer, by, p.get(by), lang) or "—")] = color
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
    m.get_root().html.add_child(folium.Element(_head(title, len(features), today, lang, subtitle)))
    m.get_root().html.add_child(folium.Element(_legend(legend, lang)))
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
    title = (
        "焦作市城市管理资产 · 搜索结果地图" if lang == "zh" else "Jiaozuo urban assets · search result map"
    )
    page = render_result_map(
        fc,
        catalog,
        static_base=str(request.base_url).rstrip("/"),
        lang=lang,
        title=title,
        subtitle=_searched(request, lang),
    )
    return HTMLResponse(page)


def _searched(request: Request, lang: str) -> str:
    """What was searched, in words (the keyword, the radius, the district)."""
    q = request.query_params
    zh = lang == "zh"
    parts = []
    if q.get("q"):
        parts.append(("关键词“{}”" if zh else "“{}”").format(q["q"][:40]))
    if q.get("radius") and q.get("lon"):
        parts.append(("半径 {} 米" if zh else "within {} m").format(q["radius"][:8]))
    if q.get("district"):
        parts.append(("区县 {}" if zh else "district {}").format(q["district"][:8]))
    return "，".join(parts) if zh else ", ".join(parts)
