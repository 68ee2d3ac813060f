"""The health endpoint reports the database, PostGIS and asset counts per layer."""

from __future__ import annotations

import psycopg
from fastapi.testclient import TestClient

from layers import ALL_LAYERS
from registry.assets import AssetRow, upsert_assets
from registry.settings import Settings
from tests.factories import make_properties, sample_geometry_for
from web.app import create_app


def test_health_reports_postgis_and_counts_for_all_six_layers(db: Settings, conn: psycopg.Connection) -> None:
    spec = ALL_LAYERS[1]
    for n in range(3):
        props = make_properties(spec, n=n)
        upsert_assets(conn, spec, [AssetRow(props, sample_geometry_for(spec, props, x=113.24 + n * 1e-3))])
    conn.commit()
    with TestClient(create_app(db)) as client:
        body = client.get("/health").json()
    assert body["status"] == "ok"
    assert body["database"]["postgis"].startswith("3.")
    counts = {layer["name"]: layer["count"] for layer in body["layers"]}
    assert list(counts) == [s.name for s in ALL_LAYERS]
    assert counts[spec.name] == 3
    assert body["total"] == 3
    assert all(layer["title_zh"] for layer in body["layers"])


def test_health_counts_are_exact_and_taken_again_only_after_a_write(
    db: Settings, conn: psycopg.Connection, monkeypatch
) -> None:
    # Counting every layer exactly is ~100 ms on a million assets: a balancer polling
    # /health (or anyone: it is public) must not make the database count per request.
    from registry import assets

    counted: list[list[str]] = []
    real = assets._count_at_generation

    def spy(c: psycopg.Connection, names: list[str]) -> dict[str, tuple[int, int]]:
        counted.append(names)
        return real(c, names)

    monkeypatch.setattr(assets, "_count_at_generation", spy)
    spec = ALL_LAYERS[1]

    def add(n: int) -> None:
        props = make_properties(spec, n=n)
        upsert_assets(conn, spec, [AssetRow(props, sample_geometry_for(spec, props, x=113.24 + n * 1e-3))])
        conn.commit()

    with TestClient(create_app(db)) as client:
        add(0)
        assert client.get("/health").json()["total"] == 1
        assert client.get("/health").json()["total"] == 1
        assert len(counted) == 1  # the second answer counted nothing
        add(1)
        assert client.get("/health").json()["total"] == 2
        assert counted[1:] == [[spec.name]]  # only the layer written since
