"""Warm tiles: MVT tiles kept in PostgreSQL, valid while their layers' generations are.

Each layer table carries a statement-level trigger (sql/0100_tile_cache.sql) that bumps
``tile_generations`` for that layer in the writer's own transaction, so every write —
API edit, import, undo, plain SQL — invalidates the layer's cached tiles when it
commits. A tile of several layers is keyed by the sum of their generations: each one
only grows, so the sum changes whenever any of them does.

The generation is read *before* the tile is built (in READ COMMITTED each statement
sees the latest commits), so a stored tile is never older than the generation it is
filed under; at worst it is newer, which is harmless.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass

import psycopg

from registry.spec import LayerSpec
from registry.tiles import check_tile, tile

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CachedTile:
    """A tile's bytes (empty when nothing is there), its ETag and whether the cache had it."""

    data: bytes
    etag: str
    hit: bool


def etag_of(data: bytes) -> str:
    """The tile's HTTP entity tag: a hash of its content."""
    return '"' + hashlib.md5(data, usedforsecurity=False).hexdigest() + '"'


def attach_generation_triggers(conn: psycopg.Connection, catalog: Iterable[LayerSpec]) -> list[str]:
    """Attach the generation trigger to every migrated layer table that lacks it.

    Returns the layers it was attached to now. Commits nothing itself.
    """
    attached: list[str] = []
    if conn.execute("SELECT to_regclass('tile_generations')").fetchone() == (None,):
        logger.warning("tile cache off: the database lacks migration 0100 (run registry migrate)")
        return attached
    with conn.transaction():
        for spec in catalog:
            if conn.execute("SELECT to_regclass(%s)", (spec.name,)).fetchone() == (None,):
                continue
            row = conn.execute(
                "SELECT registry_attach_tile_generation(%s::regclass)", (spec.name,)
            ).fetchone()
            if row and row[0]:
                attached.append(spec.name)
    return attached


_LOOKUP = (
    "WITH g AS (SELECT COALESCE(sum(generation), 0)::bigint AS gen"
    " FROM tile_generations WHERE layer = ANY(%(layers)s))"
    " SELECT g.gen, c.data, c.etag FROM g LEFT JOIN tile_cache c"
    " ON c.layers = %(key)s AND c.z = %(z)s AND c.x = %(x)s AND c.y = %(y)s AND c.generation = g.gen"
)

_STORE = (
    "INSERT INTO tile_cache (layers, z, x, y, generation, data, etag)"
    " VALUES (%(key)s, %(z)s, %(x)s, %(y)s, %(gen)s, %(data)s, %(etag)s)"
    " ON CONFLICT (layers, z, x, y) DO UPDATE SET generation = EXCLUDED.generation,"
    " data = EXCLUDED.data, etag = EXCLUDED.etag, cached_at = now()"
    " WHERE tile_cache.generation <= EXCLUDED.generation"
)

# Tiles of generations that can never be asked for again
_PRUNE = "DELETE FROM tile_cache WHERE layers = %(key)s AND generation < %(gen)s"


def cached_tile(conn: psycopg.Connection, specs: list[LayerSpec], z: int, x: int, y: int) -> CachedTile:
    """The tile from the cache when its layers have not changed since, else built and stored.

    Needs a connection to the primary (a miss writes). Invalid addresses raise
    ``InvalidParameter`` as :func:`registry.tiles.tile` does.
    """
    check_tile(z, x, y)
    names = [s.name for s in specs]
    params: dict[str, object] = {"layers": names, "key": ",".join(names), "z": z, "x": x, "y": y}
    row = conn.execute(_LOOKUP, params).fetchone()
    assert row is not None  # an aggregate always returns one row
    gen, data, etag = row
    if data is not None:
        return CachedTile(bytes(data), etag, True)
    built = tile(conn, specs, z, x, y)
    params.update(gen=gen, data=built, etag=etag_of(built))
    conn.execute(_PRUNE, params)
    conn.execute(_STORE, params)
    return CachedTile(built, str(params["etag"]), False)
