"""Export a layer (or chosen assets) to GeoPackage, GeoJSON, zipped Shapefile, CSV or
XLSX, in a form the importer reads back to the very same records.

Columns and values are either machine codes (``labels="codes"``: registry attribute
names, stored enumeration codes, the default for GIS formats) or Chinese headers and
labels (``labels="zh"``: 井类 = 污水, 是/否, district names; the default for CSV and
XLSX, which people read); the importer reads both back. ``extra`` keys become their
own columns; the bookkeeping columns (id, district, version, who/when) are included
for reading and ignored on re-import. Integers stay integers and dates stay dates
(GeoPackage and Shapefile Date fields); CSV and XLSX state their CRS in a 坐标系 column.
Shapefile field names are cut to 10 characters, so the zip
carries ``<layer>.fields.json`` mapping short names back, and a ``.cpg`` (UTF-8). A
shapefile holds one geometry type, so a layer with several (poles as points, wires as
lines) is zipped as one shapefile per type: ``<layer>_point.shp``, ``<layer>_line.shp``…
"""

from __future__ import annotations

import json
import zipfile
from decimal import Decimal
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import psycopg
import shapely
from psycopg import sql

from registry.messages import render
from registry.spec import AttrType, LayerSpec


class ExportOptionError(ValueError):
    """An export option the writer cannot honour: a message ``code`` of the table with its
    ``params`` (the API and the CLI say it in the reader's language); ``str`` is English."""

    def __init__(self, code: str, **params: Any) -> None:
        self.code, self.params = code, params
        super().__init__(render(code, params, "en"))


FORMATS = ("gpkg", "geojson", "shp", "csv", "xlsx")
SUFFIX = {"gpkg": ".gpkg", "geojson": ".geojson", "shp": ".zip", "csv": ".csv", "xlsx": ".xlsx"}
MEDIA_TYPE = {
    "gpkg": "application/geopackage+sqlite3",
    "geojson": "application/geo+json",
    "shp": "application/zip",
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
META = ["id", "district_code", "version", "updated_at", "updated_by"]
LABELS = ("zh", "codes")
# Chinese headers of the bookkeeping columns (importers.mapping ignores them, too).
META_ZH = {
    "id": "系统编号",
    "district_code": "所属区县",
    "version": "版本",
    "updated_at": "更新时间",
    "updated_by": "更新人",
    "is_demo": "演示数据",
}
CRS_COLUMN = "坐标系"
STORAGE_CRS = "EPSG:4490"


def default_labels(fmt: str) -> str:
    """Chinese headers and labels for the tables people read (CSV, XLSX), codes for GIS."""
    return "zh" if fmt in ("csv", "xlsx") else "codes"


def fetch_frame(conn: psycopg.Connection, spec: LayerSpec, ids: list[str] | None = None) -> gpd.GeoDataFrame:
    """The layer's live assets (or the given ids) as a GeoDataFrame in EPSG:4490."""
    attrs = [a.name for a in spec.all_attrs]
    cols = sql.SQL(", ").join(map(sql.Identifier, [*attrs, "extra", "is_demo"]))
    where = sql.SQL("deleted_at IS NULL") + (sql.SQL(" AND id = ANY(%s::uuid[])") if ids else sql.SQL(""))
    cur = conn.execute(
        sql.SQL(
            "SELECT {cols}, id::text, district_code, version, updated_at::text, updated_by, "
            "ST_AsBinary(geom) FROM {table} WHERE {where} ORDER BY code"
        ).format(cols=cols, table=sql.Identifier(spec.name), where=where),
        (ids,) if ids else None,
    )
    rows = cur.fetchall()
    names = [*attrs, "extra", "is_demo", *META]
    records: list[dict[str, Any]] = []
    geoms = []
    extra_keys: list[str] = []
    for r in rows:
        d = dict(zip(names, r[:-1], strict=True))
        extra = d.pop("extra") or {}
        for k in extra:
            if k not in extra_keys and k not in names:
                extra_keys.append(k)
        d.update({k: v for k, v in extra.items() if k not in names})
        records.append({k: (float(v) if isinstance(v, Decimal) else v) for k, v in d.items()})
        geoms.append(shapely.from_wkb(bytes(r[-1])))
    frame = pd.DataFrame(records, columns=[*names[: len(attrs)], "is_demo", *META, *extra_keys])
    for a in spec.all_attrs:
        if a.type is AttrType.INTEGER:
            # (a nullable integer column: None would otherwise make it float, written as Real)
            frame[a.name] = frame[a.name].astype("Int64")
        elif a.type in (AttrType.DATE, AttrType.BOOLEAN):
            frame[a.name] = frame[a.name].astype(object)
    for k in extra_keys:
        frame[k] = _extra_column(frame[k])
    return gpd.GeoDataFrame(frame, geometry=geoms, crs="EPSG:4490")


def _extra_column(col: pd.Series) -> pd.Series:
    values = [v for v in col if v is not None and v == v]
    if values and all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return col.astype("Int64")
    if values and all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        return col.astype("float64")
    return col.map(
        lambda v: (
            None
            if v is None or v != v
            else (
                v
                if isinstance(v, str)
                else json.dumps(v, ensure_ascii=False)
                if isinstance(v, dict | list)
                else str(v)
            )
        )
    )


def export(
    conn: psycopg.Connection,
    spec: LayerSpec,
    fmt: str,
    out: Path,
    *,
    ids: list[str] | None = None,
    csv_geometry: str = "wkt",
    labels: str | None = None,
) -> int:
    """Write the export file; return the number of assets written.

    ``labels`` is ``"zh"`` (Chinese headers and labels) or ``"codes"``; by default
    Chinese for CSV/XLSX and codes for the GIS formats (see :func:`default_labels`).
    """
    if fmt not in FORMATS:
        raise ExportOptionError("export_format_unknown", value=repr(fmt), choices=", ".join(FORMATS))
    labels = labels or default_labels(fmt)
    if labels not in LABELS:
        raise ExportOptionError("export_labels_unknown", value=repr(labels), choices=", ".join(LABELS))
    gdf = fetch_frame(conn, spec, ids)
    if labels == "zh":
        gdf = to_chinese(conn, spec, gdf)
    if fmt == "gpkg":
        # Arrow writes typed fields: Int64 → Integer, datetime.date → Date (not Real/String).
        gdf.to_file(out, driver="GPKG", layer=spec.name, engine="pyogrio", use_arrow=True)
    elif fmt == "geojson":
        # CRS84 lon/lat (CGCS2000 equals WGS84 to centimetres: no shift); 17
        # decimals so coordinates re-import bit-identical (RFC7946 mode would round to 7).
        gdf.set_crs("OGC:CRS84", allow_override=True).to_file(
            out, driver="GeoJSON", engine="pyogrio", layer_options={"COORDINATE_PRECISION": "17"}
        )
    elif fmt == "shp":
        _write_shapefile_zip(gdf, spec, out)
    elif fmt in ("csv", "xlsx"):
        frame = pd.DataFrame(gdf.drop(columns="geometry"))
        if csv_geometry == "lonlat" and all(t == "Point" for t in spec.geometry_types):
            frame["经度"] = [g.x for g in gdf.geometry]
            frame["纬度"] = [g.y for g in gdf.geometry]
        else:
            frame["wkt"] = shapely.to_wkt(gdf.geometry.values, rounding_precision=-1)
        frame[CRS_COLUMN] = STORAGE_CRS
        if fmt == "csv":
            frame.to_csv(out, index=False, encoding="utf-8-sig")
        else:
            frame = frame.astype(object).where(frame.notna(), None)
            frame.to_excel(out, index=False, engine="openpyxl")
    return len(gdf)


def to_chinese(conn: psycopg.Connection, spec: LayerSpec, gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Chinese headers (the attributes' labels) and values (choice labels, 是/否, the
    district's name); the importer maps every one of them back to the same record."""
    names = dict(conn.execute("SELECT code, name_zh FROM districts").fetchall())
    frame = gdf.copy()
    for a in spec.all_attrs:
        if a.choices:
            zh = {c.code: c.zh for c in a.choices}
            frame[a.name] = frame[a.name].map(lambda v, zh=zh: None if v is None else zh.get(v, v))
        elif a.type is AttrType.BOOLEAN:
            frame[a.name] = frame[a.name].map(lambda v: None if v is None else ("是" if v else "否"))
    frame["district_code"] = frame["district_code"].map(lambda v: names.get(v, v))
    frame["is_demo"] = frame["is_demo"].map(lambda v: None if v is None else ("是" if v else "否"))
    headers = {a.name: a.zh for a in spec.all_attrs} | META_ZH
    return frame.rename(columns={c: headers[c] for c in frame.columns if c in headers})


_SHAPE_KIND = {
    "Point": "point",
    "MultiPoint": "point",
    "LineString": "line",
    "MultiLineString": "line",
    "Polygon": "polygon",
    "MultiPolygon": "polygon",
}


def _write_shapefile_zip(gdf: gpd.GeoDataFrame, spec: LayerSpec, out: Path) -> None:
    import tempfile

    short: dict[str, str] = {}
    used: set[str] = set()
    for col in gdf.columns:
        if col == "geometry":
            continue
        name = col.encode("utf-8")[:10].decode("utf-8", "ignore") or "f"
        base, n = name, 1
        while name.lower() in used:
            suffix = f"_{n}"
            name = base.encode("utf-8")[: 10 - len(suffix)].decode("utf-8", "ignore") + suffix
            n += 1
        used.add(name.lower())
        short[col] = name
    frame = gdf.rename(columns=short)
    for col in frame.columns:
        if frame[col].dtype == object and col != "geometry":
            vals = [v for v in frame[col] if v is not None]
            if vals and all(isinstance(v, bool) for v in vals):
                frame[col] = frame[col].map(lambda v: None if v is None else ("true" if v else "false"))
    # A shapefile holds one geometry type: a layer of several (poles and wires, markets
    # as points and areas) becomes one shapefile per type, <layer>_point, <layer>_line…
    kinds = frame.geometry.geom_type.map(lambda t: _SHAPE_KIND.get(str(t), "other"))
    present = [k for k in dict.fromkeys(_SHAPE_KIND.values()) if (kinds == k).any()]
    parts = (
        [(spec.name, frame)]
        if len(present) <= 1
        else [(f"{spec.name}_{k}", frame[kinds == k]) for k in present]
    )
    sidecar = json.dumps({v: k for k, v in short.items() if v != k}, ensure_ascii=False)
    with tempfile.TemporaryDirectory() as tmp:
        for stem, part in parts:
            # Arrow: datetime.date → a Date field with nulls left empty (never the text NaT).
            part.to_file(
                Path(tmp) / f"{stem}.shp",
                driver="ESRI Shapefile",
                engine="pyogrio",
                encoding="UTF-8",
                use_arrow=True,
            )
            (Path(tmp) / f"{stem}.cpg").write_text("UTF-8", encoding="ascii")
            (Path(tmp) / f"{stem}.fields.json").write_text(sidecar, encoding="utf-8")
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
            for p in sorted(Path(tmp).iterdir()):
                zf.write(p, p.name)


def export_selection(
    conn: psycopg.Connection,
    selection: list[tuple[LayerSpec, list[str] | None]],
    fmt: str,
    out: Path,
    *,
    csv_geometry: str = "wkt",
    labels: str | None = None,
) -> int:
    """Write chosen assets of several layers to one file (a map's search result).

    One layer is an ordinary :func:`export`. Several: GeoPackage gets a table per
    layer, XLSX a sheet per layer, GeoJSON one collection and CSV one table, both
    with a ``layer`` column first (columns are the union of the layers').
    Shapefile cannot mix geometry types, so it takes one layer only.
    """
    if fmt not in FORMATS:
        raise ExportOptionError("export_format_unknown", value=repr(fmt), choices=", ".join(FORMATS))
    if len(selection) == 1:
        spec, ids = selection[0]
        return export(conn, spec, fmt, out, ids=ids, csv_geometry=csv_geometry, labels=labels)
    if fmt == "shp":
        raise ExportOptionError("export_shp_one_layer")
    labels = labels or default_labels(fmt)
    frames = [(spec, fetch_frame(conn, spec, ids)) for spec, ids in selection if ids]
    if labels == "zh":
        frames = [(spec, to_chinese(conn, spec, gdf)) for spec, gdf in frames]
    total = sum(len(f) for _, f in frames)
    if fmt == "gpkg":
        for spec, gdf in frames:
            gdf.to_file(out, driver="GPKG", layer=spec.name, engine="pyogrio", use_arrow=True)
    elif fmt == "xlsx":
        with pd.ExcelWriter(out, engine="openpyxl") as xl:
            for spec, gdf in frames:
                frame = pd.DataFrame(gdf.drop(columns="geometry"))
                frame["wkt"] = shapely.to_wkt(gdf.geometry.values, rounding_precision=-1)
                frame[CRS_COLUMN] = STORAGE_CRS
                frame = frame.astype(object).where(frame.notna(), None)
                frame.to_excel(xl, sheet_name=spec.name[:31], index=False)
    else:
        # (the layer column: its Chinese name under 图层, or its registry name under layer)
        head = "图层" if labels == "zh" else "layer"
        merged = pd.concat(
            [
                gdf.assign(**{head: spec.zh if labels == "zh" else spec.name})[[head, *gdf.columns]]
                for spec, gdf in frames
            ],
            ignore_index=True,
        )
        gdf_all = gpd.GeoDataFrame(merged, geometry="geometry", crs="EPSG:4490")
        if fmt == "geojson":
            gdf_all.set_crs("OGC:CRS84", allow_override=True).to_file(
                out, driver="GeoJSON", engine="pyogrio", layer_options={"COORDINATE_PRECISION": "17"}
            )
        else:
            frame = pd.DataFrame(gdf_all.drop(columns="geometry"))
            frame["wkt"] = shapely.to_wkt(gdf_all.geometry.values, rounding_precision=-1)
            frame[CRS_COLUMN] = STORAGE_CRS
            frame.to_csv(out, index=False, encoding="utf-8-sig")
    return total
