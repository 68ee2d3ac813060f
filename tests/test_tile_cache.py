"""The warm tile cache (issue 13): tiles are served from PostgreSQL until a write to
one of their layers, by any path, bumps that layer's generation."""

from __future__ import annotations

import math
from collections.abc import Iterator

import mapbox_vector_tile
import psycopg
import pytest
from fastapi.testclient import TestClient

from registry import history, store
from registry.catalog import LayerCatalog
from registry.permissions import Role
from registry.settings import Settings
from registry.tile_cache import MemoryTiles
from tests.authkit import reader_headers
from tests.factories import CENTRE
from tests.ogc_support import seed_all
from web.app import create_app


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 2**z
    return int((lon + 180) / 360 * n), int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)


Z = 16  # beyond the aggregating zooms: every asset is its own feature with its attributes


@pytest.fixture
def editor(db: Settings, conn: psycopg.Connection, catalog: LayerCatalog) -> Iterator[TestClient]:
    seed_all(conn, catalog, 3)
    with TestClient(create_app(db, catalog), headers=reader_headers(db, Role.SURVEYOR)) as c:
        yield c


def _url(layer: str = "road_voids") -> str:
    x, y = tile_of(*CENTRE, Z)
    return f"/ogc/collections/{layer}/tiles/WebMercatorQuad/{Z}/{x}/{y}"


def _road_names(content: bytes) -> dict[str, str]:
    features = mapbox_vector_tile.decode(content)["road_voids"]["features"]
    return {f["properties"]["id"]: f["properties"]["road_name"] for f in features}


def test_a_second_request_is_served_from_the_cache(editor: TestClient, conn: psycopg.Connection) -> None:
    first = editor.get(_url())
    assert first.status_code == 200 and first.headers["x-tile-cache"] == "miss"
    second = editor.get(_url())
    assert second.headers["x-tile-cache"] == "hit"
    assert second.content == first.content and second.headers["etag"] == first.headers["etag"]
    assert editor.get(_url(), headers={"If-None-Match": first.headers["etag"]}).status_code == 304
    # the bytes really are in the database
    x, y = tile_of(*CENTRE, Z)
    row = conn.execute(
        "SELECT data, etag FROM tile_cache WHERE layers = 'road_voids' AND (z, x, y) = (%s, %s, %s)",
        (Z, x, y),
    ).fetchone()
    assert row is not None and bytes(row[0]) == first.content and row[1] == first.headers["etag"]


def test_an_api_edit_changes_the_cached_tile(editor: TestClient) -> None:
    before = editor.get(_url())
    assert editor.get(_url()).headers["x-tile-cache"] == "hit"
    asset_id = next(iter(_road_names(before.content)))
    edited = editor.patch(f"/api/assets/road_voids/{asset_id}", json={"properties": {"road_name": "缓存路"}})
    assert edited.status_code == 200, edited.text
    after = editor.get(_url())
    assert after.headers["x-tile-cache"] == "miss"
    assert _road_names(after.content)[asset_id] == "缓存路"
    assert after.headers["etag"] != before.headers["etag"]
    # the old ETag no longer answers 304
    assert editor.get(_url(), headers={"If-None-Match": before.headers["etag"]}).status_code == 200


def test_a_plain_sql_write_invalidates_only_its_layer(editor: TestClient, conn: psycopg.Connection) -> None:
    x, y = tile_of(*CENTRE, Z)
    all_url = f"/ogc/tiles/WebMercatorQuad/{Z}/{x}/{y}"
    for url in (_url(), _url("manholes"), all_url):
        editor.get(url)
        assert editor.get(url).headers["x-tile-cache"] == "hit"
    conn.execute("UPDATE road_voids SET road_name = 'SQL路'")
    conn.commit()
    assert editor.get(_url("manholes")).headers["x-tile-cache"] == "hit"
    voids = editor.get(_url())
    assert voids.headers["x-tile-cache"] == "miss" and set(_road_names(voids.content).values()) == {"SQL路"}
    assert editor.get(all_url).headers["x-tile-cache"] == "miss"
    # deleting every asset empties the tile (204), through the cache too
    conn.execute("DELETE FROM road_voids")
    conn.commit()
    assert editor.get(_url()).status_code == 204
    assert editor.get(_url()).headers["x-tile-cache"] == "hit"


def test_older_generations_are_pruned(editor: TestClient, conn: psycopg.Connection) -> None:
    x, y = tile_of(*CENTRE, Z)
    editor.get(_url())
    editor.get(f"/ogc/collections/road_voids/tiles/WebMercatorQuad/{Z}/{x + 1}/{y}")
    conn.execute("UPDATE road_voids SET notes = 'x'")
    conn.commit()
    editor.get(_url())
    generations = conn.execute(
        "SELECT DISTINCT generation FROM tile_cache WHERE layers = 'road_voids'"
    ).fetchall()
    current = conn.execute("SELECT generation FROM tile_generations WHERE layer = 'road_voids'").fetchone()
    assert generations == [current]


def test_the_cache_can_be_turned_off(db: Settings, conn: psycopg.Connection, catalog: LayerCatalog) -> None:
    seed_all(conn, catalog, 3)
    settings = db.model_copy(update={"tile_cache": False})
    with TestClient(create_app(settings, catalog), headers=reader_headers(db, Role.VIEWER)) as client:
        first, second = client.get(_url()), client.get(_url())
    assert first.status_code == second.status_code == 200
    assert first.headers["x-tile-cache"] == second.headers["x-tile-cache"] == "off"
    assert first.headers["etag"] == second.headers["etag"]
    assert conn.execute("SELECT count(*) FROM tile_cache").fetchone() == (0,)


def test_an_import_write_and_its_undo_each_change_the_cached_tile(
    editor: TestClient, conn: psycopg.Connection, catalog: LayerCatalog
) -> None:
    spec = catalog.get("road_voids")
    before = _road_names(editor.get(_url()).content)
    assert editor.get(_url()).headers["x-tile-cache"] == "hit"
    asset_id = next(iter(before))
    imp = {"actor": "surveyor", "via": "import:7", "comment": "普查"}
    store.update_asset(conn, spec, asset_id, props={"road_name": "导入路"}, expected_version=None, **imp)
    conn.commit()
    imported = editor.get(_url())
    assert imported.headers["x-tile-cache"] == "miss" and _road_names(imported.content)[asset_id] == "导入路"
    assert editor.get(_url()).headers["x-tile-cache"] == "hit"
    history.undo(conn, "import:7", actor="admin")
    conn.commit()
    undone = editor.get(_url())
    assert undone.headers["x-tile-cache"] == "miss" and _road_names(undone.content) == before


def test_a_warm_hit_is_served_from_the_process_memory_at_the_current_generation(
    editor: TestClient, conn: psycopg.Connection
) -> None:
    first = editor.get(_url())
    # the database's copy gone (not a layer write: no generation bump): the process's own
    # copy still answers, byte for byte
    conn.execute("DELETE FROM tile_cache")
    conn.commit()
    again = editor.get(_url())
    assert again.headers["x-tile-cache"] == "hit" and again.content == first.content
    # a write by another connection (another process or host) bumps the generation in the
    # database: the memory copy is not served, the tile is built again
    conn.execute("UPDATE road_voids SET road_name = '内存路'")
    conn.commit()
    after = editor.get(_url())
    assert after.headers["x-tile-cache"] == "miss"
    assert set(_road_names(after.content).values()) == {"内存路"}


def test_the_memory_of_tiles_keeps_the_most_recent_within_its_byte_budget() -> None:
    memory = MemoryTiles(max_bytes=25)
    memory.put(("a", 1, 0, 0), 1, b"x" * 10, '"a"')
    memory.put(("b", 1, 0, 0), 1, b"y" * 10, '"b"')
    assert memory.get(("a", 1, 0, 0), 1) == (b"x" * 10, '"a"')  # a is now the most recent
    memory.put(("c", 1, 0, 0), 1, b"z" * 10, '"c"')
    assert memory.get(("b", 1, 0, 0), 1) is None  # the least recent went
    assert memory.get(("a", 1, 0, 0), 1) is not None and memory.get(("c", 1, 0, 0), 1) is not None
    assert memory.get(("a", 1, 0, 0), 2) is None  # another generation is never served
    memory.put(("big", 1, 0, 0), 1, b"w" * 26, '"w"')  # larger than the budget: not kept
    assert memory.get(("big", 1, 0, 0), 1) is None and memory.get(("c", 1, 0, 0), 1) is not None
