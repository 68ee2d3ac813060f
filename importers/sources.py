"""Pick the reader for a file (by its name and, for archives, its contents) after the
safety checks; archives are extracted into a private work folder first."""

from __future__ import annotations

import os
from collections.abc import Collection, Iterator
from pathlib import Path

from importers.base import Batch, Source
from importers.errors import ImportFileError, UnsupportedFormat, ZipWithoutShapefile
from importers.ogr import open_ogr, pick_one, read_field_sidecar, shapefile_encoding
from importers.safety import check_xml_safe, safe_extract
from importers.tabular import open_csv, open_xlsx

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".gif", ".heic", ".bmp", ".tif", ".tiff"}
DATA_SUFFIXES = (
    ".shp",
    ".gpkg",
    ".geojson",
    ".json",
    ".geojsonl",
    ".geojsons",
    ".ndjson",
    ".kml",
    ".csv",
    ".xlsx",
)
SEQ_SUFFIXES = {".geojsonl", ".geojsons", ".ndjson", ".jsonl"}


def open_source(
    path: Path,
    workdir: Path,
    *,
    encoding: str | None = None,
    layer_name: str | None = None,
    prefer: Collection[str] = (),
    max_unzipped: int,
    max_ratio: float,
    display_name: str | None = None,
    xy_columns: tuple[str | None, str | None] = (None, None),
) -> Source:
    """Open ``path`` with the right reader; ``workdir`` receives extracted archives.

    ``layer_name`` chooses a layer, sheet or shapefile; without it, of several the one
    named in ``prefer`` is taken (the target layer's names), else the user is asked.
    """
    name = display_name or path.name
    suffix = Path(name).suffix.lower()
    photos: dict[str, Path] = {}
    if suffix in (".zip", ".kmz"):
        folder = workdir / "unzipped"
        files = safe_extract(path, folder, max_total=max_unzipped, max_ratio=max_ratio)
        photos = {f.name: f for f in files if f.suffix.lower() in IMAGE_SUFFIXES}
        if suffix == ".kmz":
            kmls = [f for f in files if f.suffix.lower() == ".kml"]
            if not kmls:
                raise ImportFileError.of("kmz_without_kml", file=name)
            doc = next((f for f in kmls if f.name.lower() == "doc.kml"), kmls[0])
            src = _open_one(doc, encoding=encoding, layer_name=layer_name, prefer=prefer)
        else:
            shps = [f for f in files if f.suffix.lower() == ".shp"]
            if layer_name and len(shps) > 1:
                shps = [f for f in shps if f.stem == layer_name] or shps
            parts = _geometry_parts(shps)
            if len(shps) > 1 and not parts:
                stem = pick_one(name, [f.stem for f in shps], prefer, shapefiles=True)
                shps = [f for f in shps if f.stem == stem]
            if parts:
                # Our export of a layer of several geometry types: one shapefile per type,
                # read back together as the one layer they came from.
                src = chain([_open_one(f, encoding=encoding, layer_name=None) for f in parts])
                src.field_names = read_field_sidecar(folder)
            elif shps:
                src = _open_one(shps[0], encoding=encoding, layer_name=None)
                src.field_names = read_field_sidecar(folder)
            else:
                others = [
                    f for f in files if f.suffix.lower() in DATA_SUFFIXES and f.suffix.lower() != ".shp"
                ]
                if len(others) != 1:
                    raise ZipWithoutShapefile.of("zip_without_shp", file=name)
                src = _open_one(
                    others[0], encoding=encoding, layer_name=layer_name, prefer=prefer, xy_columns=xy_columns
                )
        src.name = name
        src.photos = photos
        return src
    if suffix in SEQ_SUFFIXES and suffix != ".geojsonl":
        link = workdir / (Path(name).stem + ".geojsonl")
        os.symlink(path.resolve(), link)
        path = link
    elif suffix != path.suffix.lower():
        link = workdir / Path(name).name
        os.symlink(path.resolve(), link)
        path = link
    src = _open_one(path, encoding=encoding, layer_name=layer_name, prefer=prefer, xy_columns=xy_columns)
    src.name = name
    return src


_KINDS = ("point", "line", "polygon")


def _geometry_parts(shps: list[Path]) -> list[Path]:
    """Shapefiles named ``<layer>_point``/``_line``/``_polygon`` of one layer (several),
    as importers.export writes a layer of several geometry types; else none."""
    if len(shps) < 2:
        return []
    heads = {f.stem.rsplit("_", 1)[0] for f in shps}
    kinds = [f.stem.rsplit("_", 1)[-1] for f in shps]
    if len(heads) == 1 and all(k in _KINDS for k in kinds) and len(set(kinds)) == len(kinds):
        return sorted(shps, key=lambda f: _KINDS.index(f.stem.rsplit("_", 1)[-1]))
    return []


def chain(sources: list[Source]) -> Source:
    """Several sources of one layer read as one, row numbers running on."""
    first = sources[0]

    def batches() -> Iterator[Batch]:
        offset = 0
        for src in sources:
            last = 0
            for b in src.batches():
                b.rows = b.rows + offset
                b.problems = {r + offset: p for r, p in b.problems.items()}
                last = int(b.rows[-1]) if len(b.rows) else last
                yield b
            offset = max(offset, last)

    totals = [s.total for s in sources]
    return Source(
        name=first.name,
        format=first.format,
        crs=first.crs,
        columns=sorted({c for s in sources for c in s.columns}),
        total=sum(t for t in totals if t is not None) if all(t is not None for t in totals) else None,
        batches=batches,
    )


def _open_one(
    path: Path,
    *,
    encoding: str | None,
    layer_name: str | None,
    prefer: Collection[str] = (),
    xy_columns: tuple[str | None, str | None] = (None, None),
) -> Source:
    suffix = path.suffix.lower()
    if suffix == ".shp":
        enc = shapefile_encoding(path, encoding)
        return open_ogr(path, fmt="shp", encoding=enc)
    if suffix == ".gpkg":
        return open_ogr(path, fmt="gpkg", layer=layer_name, prefer=prefer)
    if suffix in (".geojson", ".json"):
        return open_ogr(path, fmt="geojson")
    if suffix in SEQ_SUFFIXES:
        return open_ogr(path, fmt="geojsonseq")
    if suffix == ".kml":
        check_xml_safe(path)
        return open_ogr(path, fmt="kml", all_layers=layer_name is None, layer=layer_name)
    if suffix in (".csv", ".txt"):
        return open_csv(path, encoding=encoding, x_column=xy_columns[0], y_column=xy_columns[1])
    if suffix == ".xlsx":
        return open_xlsx(path, sheet=layer_name, x_column=xy_columns[0], y_column=xy_columns[1])
    raise UnsupportedFormat.of("unsupported_type", file=path.name)
