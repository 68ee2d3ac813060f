"""Shared helpers for the importer tests: real files written with pyogrio/GDAL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import geopandas as gpd
import psycopg
from shapely.geometry import Point

from registry.spec import LayerSpec

# Points well inside the urban districts of Jiaozuo (CGCS2000 lon/lat).
POINTS = [(113.2418 + 0.001 * i, 35.2155 + 0.0007 * i) for i in range(10)]


def manhole_rows(n: int = 5, **over: Any) -> list[dict[str, Any]]:
    """Survey-style rows with Chinese column names, as surveyors deliver them."""
    rows = []
    for i in range(n):
        r = {
            "编号": f"JG-2025-{i + 1:04d}",
            "状态": "在用",
            "井类": "污水" if i % 2 else "雨水",
            "井盖状况": "完好",
            "井盖材质": "球墨铸铁",
            "井盖尺寸": 700,
            "权属单位": "焦作市排水公司",
            "所在道路": "人民路",
            "调查员": f"张{i}",
        }
        r.update(over)
        rows.append(r)
    return rows


def write_vector(
    path: Path, rows: list[dict[str, Any]], crs: Any = 4490, points: list[Any] | None = None, **kw: Any
) -> Path:
    """Write rows as a vector file with GDAL (the driver follows the suffix)."""
    geoms = [Point(p) if isinstance(p, tuple) else p for p in (points or POINTS)[: len(rows)]]
    gdf = gpd.GeoDataFrame(rows, geometry=geoms, crs=crs)
    gdf.to_file(path, engine="pyogrio", **kw)
    return path


def assets(conn: psycopg.Connection, spec: LayerSpec) -> dict[str, dict[str, Any]]:
    """code → row (every column, geometry as EWKB hex) of a layer."""
    cur = conn.execute(f"SELECT *, encode(ST_AsEWKB(geom), 'hex') AS ewkb FROM {spec.name} ORDER BY code")
    assert cur.description is not None
    names = [d.name for d in cur.description]
    out = {}
    for row in cur.fetchall():
        d = dict(zip(names, row, strict=True))
        d.pop("geom")
        out[d["code"]] = d
    conn.rollback()
    return out


def big_manhole_csv(path: Path, n: int = 120_000) -> Path:
    """A survey CSV of ``n`` valid manholes (Chinese headers) that takes seconds to import:
    long enough to kill an import while it runs."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    pd.DataFrame(
        {
            "编号": [f"K-{i:07d}" for i in range(n)],
            "状态": "在用",
            "井类": "雨水",
            "井盖状况": "完好",
            "经度": rng.uniform(113.20, 113.28, n),
            "纬度": rng.uniform(35.19, 35.24, n),
        }
    ).to_csv(path, index=False)
    return path
