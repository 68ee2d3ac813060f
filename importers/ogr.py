"""GeoJSON (and GeoJSON sequences), GeoPackage, Shapefile and KML through pyogrio/GDAL,
streamed as Arrow record batches so a million-feature file is never held at once."""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyogrio
import shapely
from pyogrio.errors import DataLayerError, DataSourceError

from importers.base import BATCH_SIZE, Batch, Source
from importers.errors import BadEncoding, CorruptFile, EmptyFile, ImportFileError
from importers.safety import SAMPLE_BYTES, detect_encoding, looks_like_mojibake

_CPG = {"936": "gbk", "65001": "utf-8", "utf8": "utf-8", "utf-8": "utf-8", "gbk": "gbk", "gb2312": "gbk"}


def _corrupt(path: Path, exc: Exception) -> CorruptFile:
    msg = str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__
    return CorruptFile.of("file_unreadable", file=path.name, reason=msg)


def pick_one(name: str, found: list[str], prefer: Collection[str], *, shapefiles: bool = False) -> str:
    """Of several layers (or shapefiles) with none chosen, the one named like the target
    layer (``prefer``: its table name, Chinese or English title), so nobody has to pick
    the obvious one; otherwise an error whose ``errors`` carry the choices, so the
    upload page can offer them in a list."""
    wanted = {p.strip().lower() for p in prefer}
    matches = [f for f in found if f.strip().lower() in wanted]
    if len(matches) == 1:
        return matches[0]
    code = "several_shapefiles" if shapefiles else "several_layers"
    raise ImportFileError.of(
        code,
        file=name,
        choices=", ".join(found),
        errors=[{"field": "source_layer", "code": "choose_source_layer", "value": None, "choices": found}],
    )


def list_layers(path: Path) -> list[str]:
    """Layer names of a multi-layer file (GeoPackage, KML folders)."""
    try:
        return [str(n) for n, _ in pyogrio.list_layers(path)]
    except (DataSourceError, DataLayerError, OSError) as exc:
        raise _corrupt(path, exc) from None


def shapefile_encoding(shp: Path, forced: str | None) -> str:
    """Encoding of the .dbf text: forced, else the .cpg, else detected (UTF-8 vs GB18030)."""
    dbf = next((p for p in shp.parent.iterdir() if p.stem == shp.stem and p.suffix.lower() == ".dbf"), None)
    if dbf is None:
        raise CorruptFile.of("shp_without_dbf", file=shp.name)
    data = dbf.read_bytes()[:SAMPLE_BYTES]
    if len(data) < 32:
        raise CorruptFile.of("dbf_too_short", file=dbf.name)
    header_len = int.from_bytes(data[8:10], "little")
    body = data[header_len:]
    if forced:
        return detect_encoding(body, forced, what=dbf.name)
    cpg = next((p for p in shp.parent.iterdir() if p.stem == shp.stem and p.suffix.lower() == ".cpg"), None)
    if cpg is not None:
        declared = cpg.read_text(encoding="ascii", errors="ignore").strip().lower()
        enc = _CPG.get(declared, declared)
        return detect_encoding(body, enc, what=f"{dbf.name} (.cpg: {declared})")
    return detect_encoding(body, None, what=dbf.name)


def open_ogr(
    path: Path,
    *,
    fmt: str,
    layer: str | None = None,
    encoding: str | None = None,
    all_layers: bool = False,
    prefer: Collection[str] = (),
) -> Source:
    """Open a vector file with GDAL; ``all_layers`` reads every layer in turn (KML folders),
    ``prefer`` names the layer to take when there are several (see ``pick_one``)."""
    layers = list_layers(path)
    if not layers:
        raise EmptyFile.of("no_layers", file=path.name)
    if all_layers:
        chosen = layers
    elif layer is not None:
        if layer not in layers:
            raise ImportFileError.of(
                "layer_not_in_file", file=path.name, layer=layer, choices=", ".join(layers)
            )
        chosen = [layer]
    elif len(layers) > 1:
        chosen = [pick_one(path.name, layers, prefer)]
    else:
        chosen = layers
    try:
        infos = [pyogrio.read_info(path, layer=n, encoding=encoding) for n in chosen]
    except UnicodeDecodeError:
        # Typically UTF-8 Chinese field names cut mid-character by the DBF 10-byte limit.
        raise BadEncoding.of("field_names_encoding", file=path.name, encoding=encoding or "UTF-8") from None
    except (DataSourceError, DataLayerError, OSError) as exc:
        raise _corrupt(path, exc) from None
    crs = next((i.get("crs") for i in infos if i.get("crs")), None)
    counts = [i.get("features", -1) for i in infos]
    total = sum(counts) if all(c >= 0 for c in counts) else None
    columns = sorted({str(f) for i in infos for f in i["fields"]}, key=lambda c: c)

    def batches() -> Iterator[Batch]:
        start = 1
        for n in chosen:
            try:
                with pyogrio.open_arrow(
                    path, layer=n, encoding=encoding, use_pyarrow=True, batch_size=BATCH_SIZE
                ) as (meta, reader):
                    names = [meta.get("geometry_name") or "", "wkb_geometry", "wkb", "geometry"]
                    checked = False
                    for rb in reader:
                        frame = rb.to_pandas()
                        gname = next((g for g in names if g and g in frame), None)
                        wkb = frame.pop(gname).to_numpy() if gname else np.full(len(frame), None)
                        geoms = shapely.from_wkb(wkb, on_invalid="ignore")
                        if fmt == "kml":
                            frame = _expand_kml_description(frame)
                        if not checked and encoding is not None:
                            texts = [
                                v for c in frame.columns for v in frame[c].head(200) if isinstance(v, str)
                            ]
                            if looks_like_mojibake(texts):
                                raise BadEncoding.of("mojibake_read", file=path.name, encoding=encoding)
                            checked = True
                        rows = np.arange(start, start + len(frame))
                        start += len(frame)
                        yield Batch(frame=frame.reset_index(drop=True), geoms=geoms, rows=rows)
            except ImportFileError:
                raise
            except (DataSourceError, DataLayerError, OSError, RuntimeError, ValueError) as exc:
                raise _corrupt(path, exc) from None

    return Source(
        name=path.name,
        format=fmt,
        crs=crs,
        columns=columns,
        total=total,
        batches=batches,
        layer_name=chosen[0] if len(chosen) == 1 else None,
    )


_KV = re.compile(r"^\s*([^:：<>]{1,40})\s*[:：]\s*(.*?)\s*$")
_TAGS = re.compile(r"<br\s*/?>|</p>|</div>|</tr>", re.IGNORECASE)
_STRIP = re.compile(r"<[^>]+>")


def _expand_kml_description(frame: Any) -> Any:
    """Ovi (奥维) and many GIS tools put attributes in the description as ``键：值``
    lines (or an HTML table); turn them into columns so the mapper sees them."""
    for col in ("description", "Description"):
        if col not in frame:
            continue
        parsed: list[dict[str, str]] = []
        for text in frame[col].fillna(""):
            fields: dict[str, str] = {}
            cleaned = _STRIP.sub(" ", _TAGS.sub("\n", str(text)))
            for line in cleaned.splitlines():
                m = _KV.match(line)
                if m and m.group(2):
                    fields[m.group(1).strip()] = m.group(2)
            parsed.append(fields)
        keys = sorted({k for p in parsed for k in p} - set(frame.columns))
        if keys:
            for k in keys:
                frame[k] = [p.get(k) for p in parsed]
            frame = frame.drop(columns=[col])
    return frame


def read_field_sidecar(folder: Path) -> dict[str, str]:
    """Shortened → full field names written by our Shapefile export (``*.fields.json``)."""
    for p in folder.rglob("*.fields.json"):
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(data, dict):
            return {str(k): str(v) for k, v in data.items()}
    return {}
