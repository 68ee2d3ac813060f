"""``/health``: is the database up, which PostGIS, and how many assets per layer."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from registry.assets import counts_by_layer
from web.deps import CatalogDep, ConnDep

router = APIRouter(tags=["health"])


@router.get("/health", summary="Service and database health with asset counts per layer")
def health(conn: ConnDep, catalog: CatalogDep) -> dict[str, Any]:
    """Report what an operator checks first after a deploy."""
    server, postgis = conn.execute(
        "SELECT current_setting('server_version'), postgis_full_version()"
    ).fetchone()
    counts = counts_by_layer(conn, catalog)
    return {
        "status": "ok",
        "database": {"server_version": server, "postgis": postgis.split('"')[1]},
        "layers": [
            {
                "name": spec.name,
                "title_zh": spec.zh,
                "title_en": spec.en,
                "count": counts[spec.name],
            }
            for spec in catalog
        ],
        "total": sum(counts.values()),
    }
