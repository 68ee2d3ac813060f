"""Tiles read from a basemap file the registry serves itself: MBTiles (SQLite, read with
the standard library's ``sqlite3``) and PMTiles v3 (one file, a header and directories).

Both hold raster (PNG/JPEG/WebP) or vector (Mapbox Vector Tile, ``pbf``) tiles on the
Web Mercator grid. MBTiles rows are in TMS order (row 0 at the south), so the XYZ ``y``
the map asks for is flipped here. PMTiles directories are read as the v3 specification
lays them out (varints, optional gzip), so no package beyond the standard library is
needed.
"""

from __future__ import annotations

import gzip
import json
import sqlite3
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SUFFIXES = (".mbtiles", ".pmtiles")

# What the page and the tile route need to know of a tile format.
MEDIA_TYPES = {
    "png": "image/png",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "webp": "image/webp",
    "pbf": "application/vnd.mapbox-vector-tile",
}


class TileFileError(ValueError):
    """A file that is not a readable MBTiles/PMTiles archive: a message ``code`` of the
    table (``registry.messages``) with its ``params``, so whoever shows it (the basemap
    API, the CLI) says it in the reader's language; ``str`` is the English rendering."""

    def __init__(self, code: str, **params: Any) -> None:
        from registry.messages import render

        self.code, self.params = code, params
        super().__init__(render(code, params, "en"))


@dataclass(frozen=True)
class TileFileInfo:
    """What a basemap file declares: its tile format, zooms, bounds and vector layers."""

    format: str
    min_zoom: int = 0
    max_zoom: int = 18
    bounds: tuple[float, float, float, float] | None = None
    vector_layers: tuple[str, ...] = ()
    attribution: str = ""
    name: str = ""

    @property
    def vector(self) -> bool:
        """True for vector tiles (drawn by the browser)."""
        return self.format == "pbf"

    @property
    def extension(self) -> str:
        """The extension of the tile URL (``png`` for every raster format but WebP/JPEG)."""
        return {"jpeg": "jpg"}.get(self.format, self.format)


def _vector_layers(meta_json: str | None) -> tuple[str, ...]:
    if not meta_json:
        return ()
    try:
        layers = json.loads(meta_json).get("vector_layers") or []
    except (ValueError, AttributeError):
        return ()
    return tuple(str(v["id"]) for v in layers if isinstance(v, dict) and v.get("id"))


def _bounds(text: Any) -> tuple[float, float, float, float] | None:
    try:
        w, s, e, n = (float(v) for v in str(text).split(","))
    except (TypeError, ValueError):
        return None
    if not (-180 <= w < e <= 180 and -90 <= s < n <= 90):
        return None
    return (w, s, e, n)


# ------------------------------------------------------------------ MBTiles


def _mbtiles(path: Path) -> sqlite3.Connection:
    # read-only and immutable: the registry never writes the bureau's file, and several
    # threads read it (check_same_thread off; sqlite3 serialises access itself)
    uri = f"{path.resolve().as_uri()}?mode=ro&immutable=1"
    try:
        conn = sqlite3.connect(uri, uri=True, check_same_thread=False)
        conn.execute("SELECT 1 FROM tiles LIMIT 1").fetchall()
    except sqlite3.Error as exc:
        raise TileFileError("mbtiles_unreadable", file=path.name, reason=str(exc)) from None
    return conn


def _mbtiles_info(conn: sqlite3.Connection) -> TileFileInfo:
    try:
        meta = dict(conn.execute("SELECT name, value FROM metadata").fetchall())
    except sqlite3.Error:
        meta = {}
    fmt = str(meta.get("format") or "png").lower()
    if fmt not in MEDIA_TYPES:
        raise TileFileError("mbtiles_format", format=fmt)
    zooms = conn.execute("SELECT min(zoom_level), max(zoom_level) FROM tiles").fetchone()
    return TileFileInfo(
        format=fmt,
        min_zoom=int(meta.get("minzoom") or (zooms[0] if zooms and zooms[0] is not None else 0)),
        max_zoom=int(meta.get("maxzoom") or (zooms[1] if zooms and zooms[1] is not None else 18)),
        bounds=_bounds(meta.get("bounds")),
        vector_layers=_vector_layers(meta.get("json")),
        attribution=str(meta.get("attribution") or ""),
        name=str(meta.get("name") or ""),
    )


# ------------------------------------------------------------------ PMTiles v3

_PM_FORMATS = {1: "pbf", 2: "png", 3: "jpg", 4: "webp"}


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(buf):
            raise TileFileError("pmtiles_truncated")
        b = buf[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        if not b & 0x80:
            return value, pos
        shift += 7


def _pm_directory(data: bytes) -> list[tuple[int, int, int, int]]:
    """Entries (tile_id, offset, length, run_length) of one PMTiles directory."""
    n, pos = _varint(data, 0)
    ids, runs, lengths, offsets = [], [], [], []
    last = 0
    for _ in range(n):
        delta, pos = _varint(data, pos)
        last += delta
        ids.append(last)
    for _ in range(n):
        v, pos = _varint(data, pos)
        runs.append(v)
    for _ in range(n):
        v, pos = _varint(data, pos)
        lengths.append(v)
    for i in range(n):
        v, pos = _varint(data, pos)
        offsets.append(offsets[i - 1] + lengths[i - 1] if v == 0 and i > 0 else v - 1)
    return list(zip(ids, offsets, lengths, runs, strict=True))


def zxy_to_tile_id(z: int, x: int, y: int) -> int:
    """The PMTiles tile id (Hilbert order within a zoom, zooms one after another)."""
    acc = ((1 << (2 * z)) - 1) // 3
    n = 1 << z
    d = 0
    s = n >> 1
    tx, ty = x, y
    while s > 0:
        rx = 1 if tx & s else 0
        ry = 1 if ty & s else 0
        d += s * s * ((3 * rx) ^ ry)
        if ry == 0:
            if rx == 1:
                tx = s - 1 - tx
                ty = s - 1 - ty
            tx, ty = ty, tx
        s >>= 1
    return acc + d


class _PMTiles:
    def __init__(self, path: Path) -> None:
        self.path = path
        with path.open("rb") as f:
            header = f.read(127)
        if len(header) < 127 or header[:7] != b"PMTiles" or header[7] != 3:
            raise TileFileError("pmtiles_not_v3", file=path.name)
        u64 = lambda i: int.from_bytes(header[i : i + 8], "little")  # noqa: E731
        i32 = lambda i: int.from_bytes(header[i : i + 4], "little", signed=True)  # noqa: E731
        self.root = (u64(8), u64(16))
        self.metadata = (u64(24), u64(32))
        self.leaves = (u64(40), u64(48))
        self.data_offset = u64(56)
        self.internal_gzip = header[97] == 2
        self.tile_gzip = header[98] == 2
        self.format = _PM_FORMATS.get(header[99], "")
        if not self.format:
            raise TileFileError("pmtiles_tile_type", file=path.name)
        self.min_zoom, self.max_zoom = header[100], header[101]
        self.bounds = (i32(102) / 1e7, i32(106) / 1e7, i32(110) / 1e7, i32(114) / 1e7)
        self._lock = threading.Lock()

    def _read(self, offset: int, length: int) -> bytes:
        with self._lock, self.path.open("rb") as f:
            f.seek(offset)
            return f.read(length)

    def _internal(self, offset: int, length: int) -> bytes:
        data = self._read(offset, length)
        return gzip.decompress(data) if self.internal_gzip else data

    def info(self) -> TileFileInfo:
        meta: dict[str, Any] = {}
        if self.metadata[1]:
            try:
                meta = json.loads(self._internal(*self.metadata))
            except (ValueError, OSError):
                meta = {}
        w, s, e, n = self.bounds
        return TileFileInfo(
            format=self.format,
            min_zoom=self.min_zoom,
            max_zoom=self.max_zoom,
            bounds=(w, s, e, n) if -180 <= w < e <= 180 and -90 <= s < n <= 90 else None,
            vector_layers=tuple(str(v["id"]) for v in meta.get("vector_layers") or [] if isinstance(v, dict)),
            attribution=str(meta.get("attribution") or ""),
            name=str(meta.get("name") or ""),
        )

    def tile(self, z: int, x: int, y: int) -> bytes | None:
        tile_id = zxy_to_tile_id(z, x, y)
        offset, length = self.root
        for _depth in range(4):
            entries = _pm_directory(self._internal(offset, length))
            found = None
            for entry in reversed(entries):
                if entry[0] <= tile_id:
                    found = entry
                    break
            if found is None:
                return None
            eid, eoff, elen, run = found
            if run == 0:  # a leaf directory
                offset, length = self.leaves[0] + eoff, elen
                continue
            if tile_id >= eid + run:
                return None
            data = self._read(self.data_offset + eoff, elen)
            return gzip.decompress(data) if self.tile_gzip else data
        return None


# ------------------------------------------------------------------ one reader per file


@dataclass
class TileFile:
    """An open basemap file (MBTiles or PMTiles) and what it declares."""

    path: Path
    info: TileFileInfo
    _mb: sqlite3.Connection | None = None
    _pm: _PMTiles | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def tile(self, z: int, x: int, y: int) -> bytes | None:
        """The tile's bytes as stored (a vector tile may be gzip-compressed), or None."""
        if not (0 <= z <= 30 and 0 <= x < (1 << z) and 0 <= y < (1 << z)):
            return None
        if self._pm is not None:
            return self._pm.tile(z, x, y)
        assert self._mb is not None
        with self._lock:
            row = self._mb.execute(
                "SELECT tile_data FROM tiles WHERE zoom_level = ? AND tile_column = ? AND tile_row = ?",
                (z, x, (1 << z) - 1 - y),
            ).fetchone()
        return bytes(row[0]) if row else None


_OPEN: dict[tuple[Path, float], TileFile] = {}
_OPEN_LOCK = threading.Lock()


def open_tile_file(folder: Path, file: str) -> TileFile:
    """The file ``file`` of ``folder`` (a plain name, never a path out of it), opened once
    per modification time."""
    if not file or "/" in file or "\\" in file or file.startswith(".") or not file.endswith(SUFFIXES):
        raise TileFileError("tile_file_name", file=repr(file))
    path = folder / file
    if not path.is_file():
        raise TileFileError("tile_file_missing", file=file, folder=str(folder))
    key = (path.resolve(), path.stat().st_mtime)
    with _OPEN_LOCK:
        opened = _OPEN.get(key)
        if opened is None:
            if file.endswith(".mbtiles"):
                mb = _mbtiles(path)
                opened = TileFile(path, _mbtiles_info(mb), _mb=mb)
            else:
                pm = _PMTiles(path)
                opened = TileFile(path, pm.info(), _pm=pm)
            _OPEN[key] = opened
    return opened


def available_files(folder: Path) -> list[str]:
    """The basemap files in ``folder`` (for the admin's choice)."""
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if p.is_file() and p.suffix in SUFFIXES)
