"""Links, format negotiation and HTML rendering for the OGC API routes."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from registry.errors import InvalidParameter

OGC_PREFIX = "/ogc"
GEOJSON = "application/geo+json"
JSON = "application/json"
HTML = "text/html"
OPENAPI = "application/vnd.oai.openapi+json;version=3.0"


def base_url(request: Request) -> str:
    """Absolute URL of the OGC API root (``…/ogc``), honouring a proxy root path."""
    return str(request.base_url).rstrip("/") + OGC_PREFIX


def link(href: str, rel: str, type_: str, title: str) -> dict[str, str]:
    """One OGC link object."""
    return {"href": href, "rel": rel, "type": type_, "title": title}


def with_query(request: Request, **changes: Any) -> str:
    """The current URL with some query parameters replaced (None removes one)."""
    params = dict(request.query_params)
    for key, value in changes.items():
        key = key.replace("_", "-") if key in ("bbox_crs", "filter_crs", "filter_lang") else key
        if value is None:
            params.pop(key, None)
        else:
            params[key] = str(value)
    url = str(request.url).split("?", 1)[0]
    return f"{url}?{urlencode(params)}" if params else url


def wants_html(request: Request, f: str | None) -> bool:
    """``f=html``, or a browser's Accept header (HTML preferred to JSON)."""
    if f is not None:
        value = f.lower()
        if value == "html":
            return True
        if value in ("json", "geojson", "application/json", GEOJSON):
            return False
        raise InvalidParameter("f", "").with_message("format_json_html", value=repr(f))
    accept = request.headers.get("accept", "")
    return HTML in accept and "json" not in accept.split(HTML)[0]


@cache
def _env() -> Environment:
    folder = Path(__file__).resolve().parents[1] / "templates" / "ogc"
    return Environment(loader=FileSystemLoader(folder), autoescape=select_autoescape(["html"]))


def render(template: str, **context: Any) -> HTMLResponse:
    """Render one of ``web/templates/ogc``; the raw JSON is shown under the page."""
    context.setdefault("raw", json.dumps(context.get("doc", {}), ensure_ascii=False, indent=2, default=str))
    return HTMLResponse(_env().get_template(template).render(**context))
