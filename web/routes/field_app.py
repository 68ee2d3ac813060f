"""The field app's page and what makes it installable and usable offline: ``/field``,
its web app manifest, its icons and its service worker.

The worker is served from the site root (``/field-sw.js``) so it may control ``/field``;
its app shell (the files it precaches) and the shell's version, a hash of those files,
are written before the worker's own text (``web/static/field-sw.js``): a change to any
shell file changes the worker's bytes, so phones pick up the new shell on their next
visit. The data (``/api/field/...``) is served by :mod:`web.routes.field`.
"""

from __future__ import annotations

import hashlib
import io
import json
from functools import lru_cache
from pathlib import Path

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from PIL import Image, ImageDraw

from web.routes.map import TEMPLATES, _page_config

router = APIRouter(include_in_schema=False)

STATIC = Path(__file__).resolve().parents[1] / "static"
WORKER = STATIC / "field-sw.js"
ICON_SIZES = (192, 512)
THEME = "#1f4e79"

# The app shell: the page and every file it loads. The page itself is listed first
# (precached like the rest, served network-first by the worker).
SHELL_STATIC = (
    "app/field.css",
    "app/field.js",
    "app/field-logic.js",
    "app/field-store.js",
    "app/field-sync.js",
    "app/field-offline.js",
    "app/auth.js",
    "app/config.js",
    "app/coords.js",
    "app/dom.js",
    "app/forms.js",
    "app/http.js",
    "app/i18n.js",
    "app/state.js",
    "vendor/leaflet/leaflet.css",
    "vendor/leaflet/leaflet.js",
    "vendor/leaflet.vectorgrid/Leaflet.VectorGrid.bundled.min.js",
)
SHELL_PAGES = ("/field", "/field.webmanifest", *(f"/field/icon-{n}.png" for n in ICON_SIZES))


@lru_cache(maxsize=1)
def shell() -> dict[str, object]:
    """The files the worker precaches and their version (a hash of the static ones and of
    the worker itself). Read once per process: the files change only with a deploy."""
    digest = hashlib.sha256(WORKER.read_bytes())
    for name in SHELL_STATIC:
        digest.update(name.encode())
        digest.update((STATIC / name).read_bytes())
    files = [*SHELL_PAGES, *(f"/static/{name}" for name in SHELL_STATIC)]
    return {"version": digest.hexdigest()[:16], "files": files}


@router.get("/field", response_class=HTMLResponse)
def field_page(request: Request) -> HTMLResponse:
    """The field app (外业采集): record assets, inspections and steps on a phone, offline."""
    return TEMPLATES.TemplateResponse(request, "field.html", {"config": _page_config(request)})


@router.get("/field.webmanifest")
def manifest() -> JSONResponse:
    """What a phone needs to put the app on its home screen (name, icons, start page)."""
    doc = {
        "name": "焦作城管外业",
        "short_name": "城管外业",
        "description": "焦作市城市管理资产外业采集、巡查与离线同步",
        "lang": "zh-CN",
        "start_url": "/field",
        "scope": "/field",
        "display": "standalone",
        "orientation": "portrait",
        "background_color": "#ffffff",
        "theme_color": THEME,
        "icons": [
            {"src": f"/field/icon-{n}.png", "sizes": f"{n}x{n}", "type": "image/png", "purpose": "any"}
            for n in ICON_SIZES
        ],
    }
    return JSONResponse(doc, media_type="application/manifest+json", headers={"Cache-Control": "no-cache"})


@lru_cache(maxsize=len(ICON_SIZES))
def icon_png(size: int) -> bytes:
    """The app icon, drawn here rather than committed as a binary: a map pin on the
    bureau's blue, inside the safe zone of a maskable icon."""
    img = Image.new("RGB", (size, size), THEME)
    d = ImageDraw.Draw(img)
    s = size / 192
    # the pin: a circle over a triangle, with a hole
    d.ellipse([66 * s, 40 * s, 126 * s, 100 * s], fill="#ffffff")
    d.polygon([(70 * s, 84 * s), (122 * s, 84 * s), (96 * s, 140 * s)], fill="#ffffff")
    d.ellipse([84 * s, 58 * s, 108 * s, 82 * s], fill=THEME)
    # the ground line
    d.rounded_rectangle([56 * s, 146 * s, 136 * s, 154 * s], radius=4 * s, fill="#f9a825")
    out = io.BytesIO()
    img.save(out, "PNG", optimize=True)
    return out.getvalue()


@router.get("/field/icon-{size}.png")
def icon(size: int) -> Response:
    """The manifest's icons (192 and 512 px)."""
    if size not in ICON_SIZES:
        raise HTTPException(404)  # (said as not_found in the reader's language)
    return Response(icon_png(size), media_type="image/png", headers={"Cache-Control": "max-age=86400"})


@router.get("/field-sw.js")
def service_worker() -> Response:
    """The worker, with its shell written before it (see the module's docstring).

    ``no-cache``: the browser checks for a new worker on every visit."""
    text = f"const SHELL = {json.dumps(shell())};\n" + WORKER.read_text(encoding="utf-8")
    return Response(text, media_type="text/javascript", headers={"Cache-Control": "no-cache"})
