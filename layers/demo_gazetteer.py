"""The demo gazetteer: the street sketches of ``demo_streets`` as road centre lines, and
the names of the demo's markets, parking lots and residential compounds as places.
Loaded by ``registry seed-demo`` after the assets (source ``demo``, ``is_demo``)."""

from __future__ import annotations

import psycopg
from shapely.geometry import LineString

from layers.demo_streets import ALL_STREETS
from registry import places

SOURCE = "demo"
# (table, column) of demo assets whose names are places people search for
NAMED = (("markets", "name"), ("parking", "name"), ("water_supply", "compound_name"))


def seed_gazetteer(conn: psycopg.Connection) -> dict[str, int]:
    """Roads and places of the demo, idempotently; how many of each were loaded."""
    roads = places.load(
        conn,
        ((s.name, "road", LineString(s.points)) for s in ALL_STREETS),
        source=SOURCE + ":roads",
        is_demo=True,
    )
    named = 0
    for table, column in NAMED:
        named += places.load_places_from_table(conn, table, column, source=f"{SOURCE}:{table}")
    conn.execute("UPDATE places SET is_demo = true WHERE source LIKE 'demo:%' AND NOT is_demo")
    return {"roads": roads, "places": named}
