"""A killed import leaves the registry untouched; the HTTP routes upload, report, undo, export."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import psycopg
from fastapi.testclient import TestClient
from import_helpers import big_manhole_csv, manhole_rows

from importers import get_import
from registry.permissions import Role
from registry.settings import PROJECT_ROOT
from tests.authkit import make_accounts


def test_killing_mid_import_leaves_the_database_unchanged(db, conn, tmp_path: Path) -> None:
    f = big_manhole_csv(tmp_path / "big.csv")
    script = textwrap.dedent(f"""
        import sys
        from pathlib import Path
        from layers import default_catalog
        from importers import run_import
        from registry.db import connect
        from registry.settings import Settings
        s = Settings(_env_file=None, database_url={db.database_url!r}, data_dir=Path({str(tmp_path)!r}))
        def progress(done, total):
            print("progress", done, flush=True)
        with connect(s) as conn:
            run_import(conn, default_catalog().get("manholes"), Path({str(f)!r}), settings=s, actor="k",
                       progress=progress)
        print("finished", flush=True)
    """)
    proc = subprocess.Popen(
        [sys.executable, "-c", script], cwd=PROJECT_ROOT, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.startswith("progress"), line
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    # the server notices the dead client and rolls its transaction back: wait for that
    deadline = time.monotonic() + 30
    while conn.execute(
        "SELECT count(*) FROM pg_stat_activity a JOIN imports i ON a.pid = i.backend_pid"
    ).fetchone() != (0,):
        conn.rollback()
        assert time.monotonic() < deadline, "the killed import's session did not end"
        time.sleep(0.05)
    conn.rollback()
    assert conn.execute("SELECT count(*) FROM manholes").fetchone() == (0,)
    assert conn.execute("SELECT count(*) FROM asset_history").fetchone() == (0,)
    assert conn.execute("SELECT status FROM imports").fetchall() == [("running",)]
    conn.rollback()
    # Its session is gone, so reading its status says so instead of "running" forever.
    (iid,) = conn.execute("SELECT id::text FROM imports").fetchone()
    for _ in range(100):
        rec = get_import(conn, iid)
        conn.commit()
        if rec["status"] != "running":
            break
        time.sleep(0.05)
    assert rec["status"] == "failed" and rec["error"]["code"] == "interrupted"


def test_http_upload_dry_run_report_undo_export(db, tmp_path: Path) -> None:
    from web.app import create_app

    settings = db.model_copy(update={"data_dir": tmp_path / "data"})
    rows = [{**r, "lon": 113.2418 + i * 1e-3, "lat": 35.2155} for i, r in enumerate(manhole_rows(3))]
    rows[2]["井类"] = "下水道"
    body = pd.DataFrame(rows).to_csv(index=False).encode("gbk")
    upload = ("调查.csv", body, "text/csv")
    with psycopg.connect(db.database_url) as admin_conn:
        surveyor = make_accounts(admin_conn)[Role.SURVEYOR]
    with TestClient(create_app(settings), headers=surveyor.bearer) as client:
        r = client.post(
            "/api/imports",
            data={"layer": "manholes", "dry_run": "true"},
            files={"file": upload},
        )
        assert r.status_code == 200, r.text
        rep = r.json()
        assert (
            rep["status"] == "dry_run" and rep["summary"]["created"] == 2 and rep["summary"]["rejected"] == 1
        )
        r = client.post("/api/imports", data={"layer": "manholes"}, files={"file": upload})
        assert r.status_code == 422 and r.json()["status"] == "rejected"
        r = client.post(
            "/api/imports",
            data={"layer": "manholes", "skip_rejected": "true", "background": "true"},
            files={"file": upload},
        )
        assert r.status_code == 202
        iid = r.json()["import_id"]
        for _ in range(100):
            st = client.get(f"/api/imports/{iid}").json()
            if st["status"] != "running":
                break
            time.sleep(0.1)
        assert st["status"] == "committed" and st["counts"]["created"] == 2
        csv_text = client.get(f"/api/imports/{iid}/report.csv").text
        assert "行号" in csv_text and "不是允许的取值" in csv_text
        assert client.get(f"/api/imports/{iid}/report.json?lang=en").json()["summary"]["rejected"] == 1
        exp = client.get("/api/export", params={"layer": "manholes", "format": "geojson"})
        assert exp.status_code == 200 and exp.json()["features"][0]["properties"]["code"].startswith("JG-")
        assert client.post(f"/api/imports/{iid}/undo").json()["deleted"] == 2
        bad = client.post(
            "/api/imports", data={"layer": "manholes"}, files={"file": ("e.csv", b"", "text/csv")}
        )
        assert bad.status_code == 422 and bad.json()["code"] == "import_empty_file"


def test_http_import_needs_an_account_allowed_to_import_that_layer(db, tmp_path: Path) -> None:
    from web.app import create_app

    settings = db.model_copy(update={"data_dir": tmp_path / "data"})
    rows = [{**r, "lon": 113.2418 + i * 1e-3, "lat": 35.2155} for i, r in enumerate(manhole_rows(2))]
    upload = ("调查.csv", pd.DataFrame(rows).to_csv(index=False).encode("utf-8"), "text/csv")
    with psycopg.connect(db.database_url) as c:
        accounts = make_accounts(c)
    with TestClient(create_app(settings)) as client:
        anonymous = client.post("/api/imports", data={"layer": "manholes"}, files={"file": upload})
        assert anonymous.status_code == 401
        for role in (Role.VIEWER, Role.OFFICER, Role.PLANNER):
            r = client.post(
                "/api/imports",
                data={"layer": "manholes"},
                files={"file": upload},
                headers=accounts[role].bearer,
            )
            assert r.status_code == 403, (role, r.text)
        # a surveyor may import survey layers, not the planners' parking
        r = client.post(
            "/api/imports",
            data={"layer": "parking"},
            files={"file": upload},
            headers=accounts[Role.SURVEYOR].bearer,
        )
        assert r.status_code == 403
    with psycopg.connect(db.database_url) as c:
        assert c.execute("SELECT count(*) FROM manholes").fetchone() == (0,)
        assert c.execute("SELECT count(*) FROM imports").fetchone() == (0,)


def test_http_upload_of_a_several_layer_geopackage_picks_the_layer_named_after_the_target_or_offers_the_list(
    db, tmp_path: Path
) -> None:
    import geopandas as gpd

    from web.app import create_app

    points = gpd.points_from_xy([113.2418, 113.2428], [35.2155, 35.2162])
    named = tmp_path / "named.gpkg"  # one layer is called after the registry layer
    gpd.GeoDataFrame(manhole_rows(2), geometry=points, crs=4490).to_file(named, layer="窨井设施")
    gpd.GeoDataFrame({"备注": ["x"]}, geometry=points[:1], crs=4490).to_file(named, layer="图框")
    unnamed = tmp_path / "unnamed.gpkg"  # layers named by the surveyor's own scheme
    gpd.GeoDataFrame(manhole_rows(2), geometry=points, crs=4490).to_file(unnamed, layer="一标段")
    gpd.GeoDataFrame(manhole_rows(1), geometry=points[:1], crs=4490).to_file(unnamed, layer="二标段")
    with psycopg.connect(db.database_url) as admin_conn:
        surveyor = make_accounts(admin_conn)[Role.SURVEYOR]
    settings = db.model_copy(update={"data_dir": tmp_path / "data"})
    with TestClient(create_app(settings), headers=surveyor.bearer) as client:

        def dry(path: Path, **extra: str):
            data = {"layer": "manholes", "dry_run": "true", **extra}
            return client.post("/api/imports", data=data, files={"file": (path.name, path.read_bytes())})

        r = dry(named)
        assert r.status_code == 200, r.text
        assert r.json()["summary"]["created"] == 2
        r = dry(unnamed)
        assert r.status_code == 422 and r.json()["code"] == "import_file_error"
        assert r.json()["errors"] == [
            {
                "field": "source_layer",
                "code": "choose_source_layer",
                "params": {},
                "message": "请从列表中选择一个",
                "value": None,
                "choices": ["一标段", "二标段"],
            }
        ]
        assert "一标段" in r.json()["detail"]
        r = dry(unnamed, source_layer="二标段")
        assert r.status_code == 200 and r.json()["summary"]["created"] == 1
