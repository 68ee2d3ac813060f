"""Every import is recorded in its own committed transaction before a row is read, an
interrupted one is failed at the next start-up, and undo rights follow the account."""

from __future__ import annotations

import datetime as dt
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import psycopg
from fastapi.testclient import TestClient
from import_helpers import big_manhole_csv, manhole_rows

from importers import run_import
from layers import default_catalog
from registry import accounts
from registry.permissions import Role
from registry.settings import Settings
from tests.authkit import make_accounts
from tests.live_server import live_server_process
from web.app import create_app


def _wait_for(condition: Any, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)
    return value


def test_a_foreground_http_import_is_recorded_while_it_runs_and_failed_at_the_next_start_after_a_kill(
    db: Settings, conn: psycopg.Connection, tmp_path: Path
) -> None:
    surveyor = make_accounts(conn)[Role.SURVEYOR]
    body = big_manhole_csv(tmp_path / "big.csv").read_bytes()
    assert db.database_url

    def running() -> list[tuple[str, str]]:
        rows = conn.execute("SELECT id::text, status FROM imports").fetchall()
        conn.rollback()
        return rows

    with live_server_process(db.database_url) as (base, proc):

        def upload() -> None:
            try:
                httpx.post(
                    f"{base}/api/imports",
                    data={"layer": "manholes"},
                    files={"file": ("big.csv", body, "text/csv")},
                    headers=surveyor.bearer,
                    timeout=120,
                )
            except httpx.HTTPError:
                pass  # the server is killed mid-import

        threading.Thread(target=upload, daemon=True).start()
        # visible to everyone while it runs: committed before any row is read
        [(import_id, status)] = _wait_for(running)
        assert status == "running"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    assert conn.execute("SELECT count(*) FROM manholes").fetchone() == (0,)
    conn.rollback()
    with live_server_process(db.database_url):
        # the start-up marked it, before anyone read it through the API
        row = conn.execute(
            "SELECT status, error->>'code' FROM imports WHERE id = %s", (import_id,)
        ).fetchone()
        conn.rollback()
    assert row == ("failed", "interrupted")


def _cli_import(db: Settings, tmp_path: Path) -> str:
    csv = tmp_path / "cli.csv"
    rows = [{**r, "lon": 113.2418 + i * 1e-3, "lat": 35.2155} for i, r in enumerate(manhole_rows(2))]
    pd.DataFrame(rows).to_csv(csv, index=False)
    assert db.database_url
    with psycopg.connect(db.database_url) as c:
        rep = run_import(c, default_catalog().get("manholes"), csv, settings=db, actor="cli")
    assert rep.status == "committed"
    assert rep.import_id
    return rep.import_id


def test_undo_follows_the_importing_account_never_a_matching_name(
    db: Settings, conn: psycopg.Connection, tmp_path: Path
) -> None:
    users = make_accounts(conn)
    cli_viewer = accounts.create_user(conn, username="cli", password="pw-cli-Secret-123", role=Role.VIEWER)
    cli_token = accounts.create_token(conn, cli_viewer, ttl=dt.timedelta(days=1)).token
    other_surveyor = accounts.create_user(
        conn, username="surveyor2", password="pw-s2-Secret-123", role=Role.SURVEYOR
    )
    other_token = accounts.create_token(conn, other_surveyor, ttl=dt.timedelta(days=1)).token
    conn.commit()
    settings = db.model_copy(update={"data_dir": tmp_path / "data"})
    cli_import = _cli_import(db, tmp_path)
    rows = [{**r, "lon": 113.25 + i * 1e-3, "lat": 35.22} for i, r in enumerate(manhole_rows(2))]
    for r in rows:
        r["编号"] = r["编号"].replace("JG-", "JG-H")
    upload = ("调查.csv", pd.DataFrame(rows).to_csv(index=False).encode(), "text/csv")
    with TestClient(create_app(settings)) as client:
        as_cli = {"Authorization": f"Bearer {cli_token}"}
        refused = client.post(f"/api/imports/{cli_import}/undo", headers=as_cli)
        assert refused.status_code == 403, refused.text
        own = client.post(
            "/api/imports",
            data={"layer": "manholes"},
            files={"file": upload},
            headers=users[Role.SURVEYOR].bearer,
        )
        assert own.status_code == 200, own.text
        own_id = own.json()["import_id"]
        another = client.post(
            f"/api/imports/{own_id}/undo", headers={"Authorization": f"Bearer {other_token}"}
        )
        assert another.status_code == 403
        # the importer who lost the import right may no longer undo
        conn.execute("UPDATE users SET role = 'viewer' WHERE username = 'surveyor'")
        conn.commit()
        demoted = client.post(f"/api/imports/{own_id}/undo", headers=users[Role.SURVEYOR].bearer)
        assert demoted.status_code == 403
        conn.execute("UPDATE users SET role = 'surveyor' WHERE username = 'surveyor'")
        conn.commit()
        undone = client.post(f"/api/imports/{own_id}/undo", headers=users[Role.SURVEYOR].bearer)
        assert undone.status_code == 200 and undone.json()["deleted"] == 2
        by_admin = client.post(f"/api/imports/{cli_import}/undo", headers=users[Role.ADMIN].bearer)
        assert by_admin.status_code == 200 and by_admin.json()["deleted"] == 2
    assert conn.execute("SELECT count(*) FROM manholes").fetchone() == (0,)


def test_import_and_export_errors_are_problems_like_every_other_route(
    db: Settings, conn: psycopg.Connection, tmp_path: Path
) -> None:
    surveyor = make_accounts(conn)[Role.SURVEYOR]
    settings = db.model_copy(update={"data_dir": tmp_path / "data"})
    with TestClient(create_app(settings), headers=surveyor.bearer) as client:
        empty = ("e.csv", b"", "text/csv")
        zh = client.post("/api/imports", data={"layer": "manholes"}, files={"file": empty})
        en = client.post("/api/imports?lang=en", data={"layer": "manholes"}, files={"file": empty})
        missing = client.get("/api/imports/not-an-id")
        bad_format = client.get("/api/export", params={"layer": "manholes", "format": "dwg"})
    for response in (zh, en, missing, bad_format):
        assert response.headers["content-type"] == "application/problem+json", response.text
        assert {"type", "title", "status", "detail", "code"} <= set(response.json())
    assert zh.status_code == 422 and zh.json()["code"] == "import_empty_file"
    assert zh.json()["detail"] != en.json()["detail"] and en.json()["detail"].isascii()
    assert missing.status_code == 404 and bad_format.json()["parameter"] == "format"
