"""Basemaps an admin configures in the app (table ``basemaps``, issue 11), and the list
the map page offers: those of ``REGISTRY_BASEMAPS`` first, then the configured ones.

Kinds:

- ``tianditu_vec`` / ``tianditu_img``: Tianditu (天地图) vector or imagery with its
  annotation layer, Web Mercator tiles of CGCS2000 data (no shift), with the bureau's
  key (``REGISTRY_TIANDITU_KEY``, or a key stored with the basemap);
- ``xyz`` / ``wmts``: any tile template (``{z}/{x}/{y}``, or a RESTful WMTS template with
  ``{TileMatrix}/{TileRow}/{TileCol}``), in WGS84/CGCS2000 or GCJ-02 (Amap, Tencent: the
  map then shifts what it draws);
- ``mbtiles`` / ``pmtiles``: a file in ``REGISTRY_BASEMAP_DIR`` served by the registry
  itself at ``/basemaps/{name}/{z}/{x}/{y}.{png|jpg|webp|pbf}``, for isolated networks.
"""

from __future__ import annotations

import logging
import re
from typing import Any, Literal
from urllib.parse import urlsplit

import psycopg
import psycopg.rows
from pydantic import BaseModel, Field

from registry.errors import InvalidParameter, RegistryError
from registry.messages import nested, render
from registry.settings import Basemap, Settings
from registry.tilefiles import TileFileError, open_tile_file

logger = logging.getLogger(__name__)

KINDS = ("tianditu_vec", "tianditu_img", "xyz", "wmts", "mbtiles", "pmtiles")
KIND_LABELS = {
    "tianditu_vec": ("天地图矢量（含注记）", "Tianditu vector + labels"),
    "tianditu_img": ("天地图影像（含注记）", "Tianditu imagery + labels"),
    "xyz": ("XYZ 瓦片", "XYZ tiles"),
    "wmts": ("WMTS 瓦片", "WMTS tiles"),
    "mbtiles": ("MBTiles 文件（内网/离线）", "MBTiles file (intranet/offline)"),
    "pmtiles": ("PMTiles 文件（内网/离线）", "PMTiles file (intranet/offline)"),
}
NAME_FORM = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
_TK_FORM = re.compile(r"^[0-9A-Za-z]{8,64}$")
TILE_PATH = "/basemaps/{name}/{{z}}/{{x}}/{{y}}.{ext}"

# Tianditu's Web Mercator WMTS ("_w" matrix set) as Leaflet tile templates; t0–t7 serve it.
_TIANDITU = (
    "https://t{{s}}.tianditu.gov.cn/{layer}_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0"
    "&LAYER={layer}&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={{z}}&TILEROW={{y}}"
    "&TILECOL={{x}}&tk={tk}"
)
_TIANDITU_LAYERS = {"tianditu_vec": ("vec", "cva"), "tianditu_img": ("img", "cia")}
TIANDITU_SUBDOMAINS = "01234567"
TIANDITU_ATTRIBUTION = "© 天地图 Tianditu GS(2024)0568号"

_WMTS_PLACEHOLDERS = {
    "{TileMatrix}": "{z}",
    "{TileRow}": "{y}",
    "{TileCol}": "{x}",
    "{tilematrix}": "{z}",
    "{tilerow}": "{y}",
    "{tilecol}": "{x}",
}


class BasemapNotFound(RegistryError):
    """No configured basemap of that name."""

    status = 404
    code = "basemap_not_found"


class BasemapExists(RegistryError):
    """A basemap of that name is configured already (POST creates, PUT replaces)."""

    status = 409
    code = "basemap_exists"


class InvalidBasemap(InvalidParameter):
    """A basemap configuration that could not be shown (named field, reason)."""

    status = 422
    code = "invalid_basemap"


class BasemapInput(BaseModel):
    """What an admin sends to configure one basemap."""

    title: str = Field(min_length=1, max_length=60, description="名称（页面显示）title shown in the page")
    kind: Literal["tianditu_vec", "tianditu_img", "xyz", "wmts", "mbtiles", "pmtiles"]
    url: str = Field("", max_length=1000, description="XYZ/WMTS 瓦片地址模板 tile URL template")
    label_url: str = Field("", max_length=1000, description="注记图层地址模板 annotation tiles (optional)")
    file: str = Field("", max_length=200, description="底图目录中的 .mbtiles/.pmtiles 文件名")
    tk: str = Field("", max_length=100, description="天地图密钥（不填则用 REGISTRY_TIANDITU_KEY）")
    crs: Literal["wgs84", "gcj02"] = "wgs84"
    subdomains: str = Field("", max_length=20)
    attribution: str = Field("", max_length=300)
    max_zoom: int = Field(18, ge=1, le=22)
    position: int = Field(0, ge=-1000, le=1000)


def _template(url: str, field: str) -> str:
    """A tile template the browser may load: http(s), a host the page's CSP can name,
    and the {z}/{x}/{y} placeholders (WMTS RESTful names translated)."""
    for k, v in _WMTS_PLACEHOLDERS.items():
        url = url.replace(k, v)
    parts = urlsplit(url.replace("{s}", "a"))
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidBasemap(field, "").with_message("basemap_url_scheme", field=field)
    if "@" in parts.netloc:
        raise InvalidBasemap(field, "").with_message("basemap_url_userinfo", field=field)
    host = parts.netloc
    if "{" in host.partition(".")[2]:
        raise InvalidBasemap(field, "").with_message("basemap_url_host_placeholder", field=field)
    if not all(p in url for p in ("{z}", "{x}")) or not ("{y}" in url or "{-y}" in url):
        raise InvalidBasemap(field, "").with_message(
            "basemap_url_placeholders", field=field, placeholders="{z}, {x}, {y}"
        )
    return url


def validate(name: str, data: BasemapInput, settings: Settings) -> BasemapInput:
    """The configuration, normalised, or InvalidBasemap naming the field."""
    if not NAME_FORM.match(name):
        raise InvalidBasemap("name", "").with_message("basemap_name_form")
    data = data.model_copy(update={"title": data.title.strip()})
    if not data.title:
        raise InvalidBasemap("title", "").with_message("basemap_title_empty")
    if data.kind in _TIANDITU_LAYERS:
        tk = data.tk or settings.tianditu_key
        if not tk:
            raise InvalidBasemap("tk", "").with_message("tianditu_key_missing")
        if not _TK_FORM.match(tk):
            raise InvalidBasemap("tk", "").with_message("tianditu_key_form")
        if data.crs != "wgs84":
            raise InvalidBasemap("crs", "").with_message("tianditu_crs")
    elif data.kind in ("xyz", "wmts"):
        data = data.model_copy(
            update={
                "url": _template(data.url.strip(), "url"),
                "label_url": _template(data.label_url.strip(), "label_url") if data.label_url.strip() else "",
            }
        )
    else:
        want = ".mbtiles" if data.kind == "mbtiles" else ".pmtiles"
        if not data.file.endswith(want):
            raise InvalidBasemap("file", "").with_message("basemap_file_suffix", suffix=want)
        try:
            open_tile_file(settings.basemap_folder, data.file)
        except TileFileError as exc:
            raise InvalidBasemap("file", "").with_message(
                "basemap_file_unusable", reason=nested(exc.code, exc.params)
            ) from None
    return data


def resolve(row: dict[str, Any], settings: Settings) -> Basemap:
    """The page's form of one configured basemap (tile URLs with the key, file metadata)."""
    kind = row["kind"]
    common = {
        "id": row["name"],
        "name": row["title"],
        "kind": kind,
        "crs": row["crs"],
        "max_zoom": row["max_zoom"],
    }
    if kind in _TIANDITU_LAYERS:
        tk = row["tk"] or settings.tianditu_key
        if not tk:
            raise TileFileError("tianditu_no_key")
        base, label = _TIANDITU_LAYERS[kind]
        return Basemap(
            **{**common, "max_zoom": min(row["max_zoom"], 18)},
            url=_TIANDITU.format(layer=base, tk=tk),
            label_url=_TIANDITU.format(layer=label, tk=tk),
            subdomains=TIANDITU_SUBDOMAINS,
            attribution=row["attribution"] or TIANDITU_ATTRIBUTION,
        )
    if kind in ("xyz", "wmts"):
        return Basemap(
            **common,
            url=row["url"],
            label_url=row["label_url"],
            subdomains=row["subdomains"],
            attribution=row["attribution"],
        )
    tiles = open_tile_file(settings.basemap_folder, row["file"])
    info = tiles.info
    return Basemap(
        **{**common, "crs": row["crs"], "max_zoom": min(row["max_zoom"], 22)},
        url=TILE_PATH.format(name=row["name"], ext=info.extension),
        attribution=row["attribution"] or info.attribution,
        vector=info.vector,
        vector_layers=list(info.vector_layers),
        min_zoom=info.min_zoom,
        max_native_zoom=info.max_zoom,
        bounds=list(info.bounds) if info.bounds else None,
    )


_COLUMNS = "name, title, kind, url, label_url, file, tk, crs, subdomains, attribution, max_zoom, position"


def configured(conn: psycopg.Connection) -> list[dict[str, Any]]:
    """Every configured basemap row, in the order the page lists them."""
    with conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
        return cur.execute(
            f"SELECT {_COLUMNS}, updated_at, updated_by FROM basemaps ORDER BY position, name"  # noqa: S608 (fixed column list)
        ).fetchall()


def get(conn: psycopg.Connection, name: str) -> dict[str, Any]:
    """One configured basemap row, or BasemapNotFound."""
    with conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
        row = cur.execute(
            f"SELECT {_COLUMNS}, updated_at, updated_by FROM basemaps WHERE name = %s",  # noqa: S608 (fixed column list)
            (name,),
        ).fetchone()
    if row is None:
        raise BasemapNotFound("").with_message("basemap_not_found", name=name)
    return row


def save(
    conn: psycopg.Connection, name: str, data: BasemapInput, settings: Settings, *, create: bool
) -> dict[str, Any]:
    """Create (``create``: 409 when the name is taken) or create-or-replace a basemap."""
    data = validate(name, data, settings)
    values = data.model_dump()
    if create and conn.execute("SELECT 1 FROM basemaps WHERE name = %s", (name,)).fetchone():
        raise BasemapExists("").with_message("basemap_exists", name=name)
    conn.execute(
        f"""
        INSERT INTO basemaps ({_COLUMNS})
        VALUES (%(name)s, %(title)s, %(kind)s, %(url)s, %(label_url)s, %(file)s, %(tk)s, %(crs)s,
                %(subdomains)s, %(attribution)s, %(max_zoom)s, %(position)s)
        ON CONFLICT (name) DO UPDATE SET
            title = EXCLUDED.title, kind = EXCLUDED.kind, url = EXCLUDED.url,
            label_url = EXCLUDED.label_url, file = EXCLUDED.file, tk = EXCLUDED.tk, crs = EXCLUDED.crs,
            subdomains = EXCLUDED.subdomains, attribution = EXCLUDED.attribution,
            max_zoom = EXCLUDED.max_zoom, position = EXCLUDED.position,
            updated_at = now(), updated_by = registry_actor()
        """,  # noqa: S608 (fixed column list, values bound)
        {**values, "name": name},
    )
    return get(conn, name)


def delete(conn: psycopg.Connection, name: str) -> None:
    """Remove a configured basemap, or BasemapNotFound."""
    if conn.execute("DELETE FROM basemaps WHERE name = %s", (name,)).rowcount == 0:
        raise BasemapNotFound("").with_message("basemap_not_found", name=name)


def page_basemaps(conn: psycopg.Connection, settings: Settings) -> list[Basemap]:
    """What the page offers: REGISTRY_BASEMAPS, then every configured basemap that can
    be shown (one whose file went missing is left out, with a warning in the log)."""
    out = list(settings.basemaps)
    for row in configured(conn):
        try:
            out.append(resolve(row, settings))
        except TileFileError as exc:
            logger.warning("basemap %r left out of the page: %s", row["name"], exc)
    return out


def admin_view(row: dict[str, Any], settings: Settings, lang: str = "zh") -> dict[str, Any]:
    """A configured row as the admin API shows it: the key masked, and whether (and why
    not, in ``lang``, with the message's code for machines) the page can show it."""
    out = {k: v for k, v in row.items() if k != "tk"}
    out["updated_at"] = row["updated_at"].isoformat() if row.get("updated_at") else None
    out["tk_set"] = bool(row["tk"])
    out["kind_label"] = dict(zip(("zh", "en"), KIND_LABELS[row["kind"]], strict=True))
    try:
        out["resolved"] = resolve(row, settings).model_dump()
        out["problem"] = out["problem_code"] = None
    except TileFileError as exc:
        out["resolved"] = None
        out["problem"] = render(exc.code, exc.params, lang)
        out["problem_code"] = exc.code
    if out["resolved"]:
        out["resolved"]["url"] = _masked(out["resolved"]["url"])
        out["resolved"]["label_url"] = _masked(out["resolved"]["label_url"])
    return out


def _masked(url: str) -> str:
    return re.sub(r"([?&]tk=)[^&]+", r"\1…", url)
