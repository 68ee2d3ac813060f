"""Shared set-up for the API tests: a seeded database and a TestClient on it."""

from __future__ import annotations

from typing import Any

import psycopg
from shapely.geometry.base import BaseGeometry

from registry.assets import AssetRow, upsert_assets
from registry.catalog import LayerCatalog
from registry.context import set_actor
from registry.spec import LayerSpec
from registry.validation import validate_asset
from tests.factories import CENTRE, make_properties, sample_geometry_for

# Per layer: n assets spread east along a line from CENTRE, 0.001° (~90 m) apart.
STEP = 0.001


def seed_layer(conn: psycopg.Connection, spec: LayerSpec, n: int, **overrides: Any) -> list[str]:
    """Insert ``n`` valid assets into ``spec``; return their codes."""
    rows = []
    codes = []
    for i in range(n):
        props = make_properties(spec, i + 1, **overrides)
        geom: BaseGeometry = sample_geometry_for(spec, props, x=CENTRE[0] + i * STEP, y=CENTRE[1])
        clean, problems = validate_asset(spec, props, geom)
        assert not [p for p in problems if p.level == "error"], problems
        rows.append(AssetRow(clean, geom))
        codes.append(clean["code"])
    set_actor(conn, "test", via="test")
    upsert_assets(conn, spec, rows)
    return codes


def seed_all(conn: psycopg.Connection, catalog: LayerCatalog, n: int = 3) -> dict[str, int]:
    """``n`` assets in every layer, committed."""
    counts = {}
    for spec in catalog:
        seed_layer(conn, spec, n)
        counts[spec.name] = n
    conn.commit()
    return counts
