"""Points of a file within 1 m of an earlier point: the in-memory grid search
(importers.nearby) finds exactly what the staged table's SQL self-join finds."""

from __future__ import annotations

import numpy as np
import psycopg
from pyproj import Geod

from importers import writer
from importers.nearby import StagedPoints
from registry.catalog import LayerCatalog


def test_in_memory_near_points_equal_the_sql_rule(conn: psycopg.Connection, catalog: LayerCatalog) -> None:
    spec = catalog.get("manholes")
    geod = Geod(ellps="GRS80")
    rng = np.random.default_rng(7)
    lon = list(rng.uniform(113.20, 113.21, 3000))
    lat = list(rng.uniform(35.20, 35.21, 3000))
    # pairs at 0.5, 0.99 and 1.01 m in every direction, some astride a grid line
    for k, (dist, az) in enumerate([(d, a) for d in (0.5, 0.99, 1.01) for a in range(0, 360, 45)]):
        x0, y0 = 113.2 + k * 2e-5, 35.2 + 1e-9
        x1, y1, _ = geod.fwd(x0, y0, az, dist)
        lon += [x0, x1]
        lat += [y0, y1]
    # three at one spot, and a later row before an earlier one in the file's order
    lon += [113.205, 113.205, 113.205]
    lat += [35.205, 35.205, 35.205]
    rownums = np.arange(2, 2 + len(lon))
    rownums[-3:] = rownums[-3:][::-1]
    writer.create_stage(conn, spec)
    with conn.cursor().copy('COPY "_import_stage" (rownum, code, geom) FROM STDIN') as copy:
        for r, x, y in zip(rownums.tolist(), map(float, lon), map(float, lat), strict=True):
            copy.write_row((r, f"N-{r}", f"SRID=4490;POINT({x!r} {y!r})"))
    points = StagedPoints()
    points.add(np.array(lon[:1000]), np.array(lat[:1000]), rownums[:1000])
    points.add(np.array(lon[1000:]), np.array(lat[1000:]), rownums[1000:])
    in_memory = writer.near_in_file(conn, spec, points)
    by_sql = writer.near_in_file(conn, spec)
    assert len(by_sql) >= 16 + 2
    assert in_memory == [(int(r), c, int(o)) for r, c, o in by_sql]
