"""Web map benchmark: page load time and panning responsiveness with many assets.

Loads N manholes (default 100,000; ``--assets 1000000`` for the issue's figure) spread
over the urban districts into a fresh database, serves the app with uvicorn and drives
Debian's Chromium (playwright, ``/usr/bin/chromium``):

* load: navigation start → map ready (catalogue + districts), and → first vector tiles
  drawn, at the default city view and at street level;
* panning: a scripted pan of 60 steps at street level and at city level while a
  requestAnimationFrame loop records frame intervals (median, p95, worst, fps) and how
  long the visible tiles take to arrive afterwards.

Prints numbers; asserts nothing. Peers for comparison: a GeoJSON-of-everything Leaflet
page (what the registry refuses to do) is what the vector-tile design is measured against;
``--geojson-peer`` also times downloading the layer as one GeoJSON (capped at 200k).

    .venv/bin/python bench/map_bench.py --assets 100000
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import psycopg
import uvicorn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from layers import default_catalog  # noqa: E402
from registry.cluster import Cluster  # noqa: E402
from registry.districts import load_districts  # noqa: E402
from registry.migrate import migrate  # noqa: E402
from registry.settings import Settings  # noqa: E402
from tests.conftest import free_port  # noqa: E402
from web.app import create_app  # noqa: E402

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

# Urban Jiaozuo (解放/山阳/中站/马村): where assets are dense.
BBOX = (113.15, 35.18, 113.36, 35.27)

SEED_SQL = """
INSERT INTO manholes (code, status, kind, condition, geom, is_demo)
SELECT 'BENCH-' || lpad(i::text, 8, '0'), 'in_service',
       (ARRAY['water_supply','sewage','rain','power','telecom','gas'])[1 + i %% 6],
       (ARRAY['intact','intact','intact','damaged','missing','sunken'])[1 + i %% 6],
       ST_SetSRID(ST_MakePoint(%s::float8 + random() * %s::float8,
                               %s::float8 + random() * %s::float8), 4490), true
FROM generate_series(%s::int, %s::int) AS i
"""

FRAME_JS = """
async ([steps, dx, dy]) => {
  const { App } = await import("/static/app/state.js");
  const frames = [];
  let last = performance.now(), running = true;
  const tick = (t) => { frames.push(t - last); last = t; if (running) requestAnimationFrame(tick); };
  requestAnimationFrame(tick);
  for (let i = 0; i < steps; i++) {
    App.map.panBy([dx, dy], {animate: false});
    await new Promise((r) => requestAnimationFrame(r));
  }
  running = false;
  const t0 = performance.now();
  await new Promise((resolve) => {
    const pending = () => Object.values(App.tileLayers).some((l) => App.map.hasLayer(l) && l._loading);
    const check = () => (pending() && performance.now() - t0 < 30000 ? setTimeout(check, 20) : resolve());
    check();
  });
  return {frames: frames.slice(1), settle_ms: performance.now() - t0};
}
"""


def seed(dsn: str, n: int) -> float:
    """Insert n manholes in batches; return seconds taken."""
    t0 = time.perf_counter()
    batch = 50_000
    with psycopg.connect(dsn) as conn:
        conn.execute("ALTER TABLE manholes DISABLE TRIGGER USER")  # history/overlap triggers off for bulk
        conn.execute("ALTER TABLE manholes ENABLE TRIGGER manholes_before_write")  # keep district derivation
        for start in range(1, n + 1, batch):
            end = min(n, start + batch - 1)
            conn.execute(SEED_SQL, (BBOX[0], BBOX[2] - BBOX[0], BBOX[1], BBOX[3] - BBOX[1], start, end))
            conn.commit()
        conn.execute("ALTER TABLE manholes ENABLE TRIGGER USER")
        conn.execute("ANALYZE manholes")
        conn.commit()
    return time.perf_counter() - t0


def stats(frames: list[float]) -> dict[str, float]:
    """Frame interval summary (ms) and the frame rate it implies."""
    s = sorted(frames)
    return {
        "frames": len(s),
        "median_ms": round(statistics.median(s), 1),
        "p95_ms": round(s[int(0.95 * (len(s) - 1))], 1),
        "worst_ms": round(s[-1], 1),
        "fps": round(1000 / statistics.mean(s), 1),
    }


def run(n: int, geojson_peer: bool) -> None:
    """Seed, serve, measure, print."""
    settings = Settings(
        _env_file=None,
        database_url=None,
        data_dir=Path(tempfile.mkdtemp(prefix="mapbench-")),
        pg_port=free_port(),
    )
    cluster = Cluster(settings)
    cluster.up()
    try:
        base = f"postgresql://{settings.pg_user}@127.0.0.1:{cluster.port}"
        with psycopg.connect(base + "/postgres", autocommit=True) as admin:
            admin.execute("CREATE DATABASE bench")
        dsn = base + "/bench"
        with psycopg.connect(dsn) as conn:
            migrate(conn, settings.migrations_dir)
        with psycopg.connect(dsn) as conn:
            load_districts(conn)
        secs = seed(dsn, n)
        print(f"seeded {n:,} manholes in {secs:.1f} s ({n / secs:,.0f}/s)")
        # public read: the bench times drawing and panning, not the sign-in form
        app = create_app(Settings(_env_file=None, database_url=dsn, public_read=True), default_catalog())
        port = free_port()
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
        threading.Thread(target=server.run, daemon=True).start()
        while not server.started:
            time.sleep(0.05)
        url = f"http://127.0.0.1:{port}"
        measure(url, n)
        if geojson_peer:
            import httpx

            t0 = time.perf_counter()
            r = httpx.get(
                f"{url}/ogc/collections/manholes/items", params={"limit": min(n, 200_000)}, timeout=600
            )
            print(
                f"peer: one GeoJSON of {min(n, 200_000):,} manholes: {len(r.content) / 1e6:.1f} MB in "
                f"{time.perf_counter() - t0:.1f} s (before the browser even parses it)"
            )
        server.should_exit = True
    finally:
        cluster.down()


# Resolves once no tile layer is loading (checked every 50 ms), rejects after ``timeout`` ms.
TILES_DRAWN_JS = """async (timeout) => {
  const { App } = await import("/static/app/state.js");
  return await new Promise((resolve, reject) => {
  const t0 = performance.now();
  const check = () => {
    if (Object.values(App.tileLayers).every((l) => !l._loading)) resolve();
    else if (performance.now() - t0 > timeout) reject(new Error("tiles still loading"));
    else setTimeout(check, 50);
  };
  check();
  });
}"""


def measure(url: str, n: int) -> None:
    """Load and pan timings in Chromium."""
    from playwright.sync_api import sync_playwright

    results = {}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        for label, view in (("city z12", "map=12/35.225/113.255"), ("street z17", "map=17/35.225/113.255")):
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            t0 = time.perf_counter()
            page.goto(f"{url}/#{view}&layers=manholes")
            page.wait_for_selector("body[data-ready='1']", timeout=60000)
            ready = time.perf_counter() - t0
            # not page.wait_for_function: it evals its predicate, which the page's CSP refuses
            page.evaluate(TILES_DRAWN_JS, 120000)
            tiles = time.perf_counter() - t0
            nav = page.evaluate("JSON.stringify(performance.getEntriesByType('navigation')[0])")
            dcl = json.loads(nav)["domContentLoadedEventEnd"]
            pan = page.evaluate(FRAME_JS, [60, 40, 25])
            results[label] = {
                "dom_ms": round(dcl),
                "ready_ms": round(ready * 1000),
                "tiles_ms": round(tiles * 1000),
                "pan": stats(pan["frames"]),
                "tiles_after_pan_ms": round(pan["settle_ms"]),
            }
            page.close()
        browser.close()
    print(f"web map with {n:,} assets (Chromium headless, --disable-gpu, 1280x800):")
    for label, r in results.items():
        p = r["pan"]
        print(
            f"  {label:11s} DOMContentLoaded {r['dom_ms']} ms · map ready {r['ready_ms']} ms · "
            f"tiles drawn {r['tiles_ms']} ms"
        )
        print(
            f"  {'':11s} pan 60 steps: {p['fps']} fps, frame median {p['median_ms']} ms, "
            f"p95 {p['p95_ms']} ms, worst {p['worst_ms']} ms; "
            f"tiles settled {r['tiles_after_pan_ms']} ms after the pan"
        )


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--assets", type=int, default=100_000)
    ap.add_argument("--geojson-peer", action="store_true")
    args = ap.parse_args()
    run(args.assets, args.geojson_peer)
