"""An MBTiles basemap drawn from road centre lines (Pillow, Web Mercator tiles, stored in
TMS rows with the standard library's sqlite3): how a bureau could turn its own road
data into an intranet basemap, and the offline basemap the browser tests show. Drawn
from whatever lines it is given (the tests give it the demo's street sketches, which
are approximate and not survey data)."""

from __future__ import annotations

import io
import itertools
import math
import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

FONT = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"
Road = tuple[str, Sequence[tuple[float, float]]]


def pixel(lon: float, lat: float, z: int) -> tuple[float, float]:
    """Global Web Mercator pixel of a lon/lat at zoom ``z`` (256-pixel tiles)."""
    n = 256 * (1 << z)
    s = math.sin(math.radians(lat))
    return (lon + 180) / 360 * n, (0.5 - math.log((1 + s) / (1 - s)) / (4 * math.pi)) * n


def tiles_covering(bbox: tuple[float, float, float, float], z: int) -> Iterable[tuple[int, int]]:
    """(x, y) of the tiles of zoom ``z`` over ``bbox`` (w, s, e, n)."""
    x0, y0 = pixel(bbox[0], bbox[3], z)
    x1, y1 = pixel(bbox[2], bbox[1], z)
    for x in range(int(x0 // 256), int(x1 // 256) + 1):
        for y in range(int(y0 // 256), int(y1 // 256) + 1):
            yield x, y


def render(roads: Sequence[Road], z: int, x: int, y: int) -> bytes:
    """One 256×256 PNG tile: a light ground, the roads cased, their names from zoom 14."""
    img = Image.new("RGB", (256, 256), (242, 239, 233))
    draw = ImageDraw.Draw(img)
    width = max(2, int(2 ** (z - 12) * 1.5))
    ox, oy = x * 256, y * 256
    lines = [
        (name, [(px - ox, py - oy) for px, py in (pixel(lon, lat, z) for lon, lat in pts)])
        for name, pts in roads
    ]
    for _, pts in lines:
        draw.line(pts, fill=(190, 180, 165), width=width + 2, joint="curve")
    for _, pts in lines:
        draw.line(pts, fill=(255, 255, 255), width=width, joint="curve")
    if z >= 14:
        font = ImageFont.truetype(FONT, 13)
        for name, pts in lines:
            # the name every 512 px along the line, where that falls in this tile
            for (ax, ay), (bx, by) in itertools.pairwise(pts):
                seg = math.hypot(bx - ax, by - ay)
                for k in range(int(seg // 512) + 1):
                    t = (k * 512 + 256) / seg if seg else 0
                    if t > 1:
                        break
                    cx, cy = ax + (bx - ax) * t, ay + (by - ay) * t
                    if -40 < cx < 296 and -20 < cy < 276:
                        draw.text((cx, cy), name, font=font, fill=(90, 80, 70), anchor="mm",
                                  stroke_width=2, stroke_fill=(255, 255, 255))  # fmt: skip
    out = io.BytesIO()
    img.save(out, format="PNG", optimize=True)
    return out.getvalue()


def write_mbtiles(
    path: Path,
    roads: Sequence[Road],
    areas: Sequence[tuple[tuple[float, float, float, float], Iterable[int]]],
) -> int:
    """An MBTiles file of ``roads``, each area (w, s, e, n) at its zooms (the first area
    is the file's bounds); the number of tiles written."""
    plan = [(bbox, list(zooms)) for bbox, zooms in areas]
    every = [z for _, zooms in plan for z in zooms]
    n = 0
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE metadata (name text, value text)")
        db.execute(
            "CREATE TABLE tiles (zoom_level integer, tile_column integer, tile_row integer, tile_data blob, "
            "UNIQUE (zoom_level, tile_column, tile_row))"
        )
        meta = {
            "name": "焦作道路底图（演示）",
            "format": "png",
            "minzoom": str(min(every)),
            "maxzoom": str(max(every)),
            "bounds": ",".join(str(v) for v in plan[0][0]),
            "attribution": "道路为演示草图 demo street sketches",
        }
        db.executemany("INSERT INTO metadata VALUES (?, ?)", meta.items())
        for bbox, zooms in plan:
            for z in zooms:
                for x, y in tiles_covering(bbox, z):
                    row = (z, x, (1 << z) - 1 - y, render(roads, z, x, y))
                    n += db.execute("INSERT OR IGNORE INTO tiles VALUES (?, ?, ?, ?)", row).rowcount
    return n
