"""The ``registry`` command as surveyors run it (a real subprocess against the test
database), and imports whose process died reading as failed/interrupted."""

from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path

import psycopg
from import_helpers import assets, manhole_rows, write_vector

from importers import ImportOptions, get_import
from importers.pipeline import create_import_record
from layers import default_catalog
from registry.messages import render
from registry.settings import PROJECT_ROOT, Settings

REGISTRY = str(PROJECT_ROOT / ".venv" / "bin" / "registry")


def cli(db: Settings, tmp_path: Path, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    """Run ``registry ARGS`` with DATABASE_URL at the test database (cwd: no .env)."""
    env = {**os.environ, "DATABASE_URL": str(db.database_url), "REGISTRY_DATA_DIR": str(tmp_path / "data")}
    proc = subprocess.run(
        [REGISTRY, *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    if ok:
        assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def import_id_of(out: str) -> str:
    m = re.search(r"^import ([0-9a-f-]{36}): (\w+) ", out, re.MULTILINE)
    assert m, out
    return m.group(1)


def test_cli_dry_run_prints_the_report_and_writes_nothing(db, conn, tmp_path: Path) -> None:
    rows = manhole_rows(3)
    rows[1]["井类"] = "下水道"
    f = write_vector(tmp_path / "survey.geojson", rows)
    proc = cli(db, tmp_path, "import", str(f), "--layer", "manholes", "--dry-run", "--lang", "en", ok=False)
    assert proc.returncode == 1, proc.stderr  # a dry run that would reject a row: scripts can gate on it
    out = proc.stdout
    assert "dry_run" in out and "'created': 2" in out and "'rejected': 1" in out
    assert re.search(r"^\s+2\terror\tkind\t下水道\tnot an allowed value; allowed: ", out, re.MULTILINE), out
    assert conn.execute("SELECT count(*) FROM manholes").fetchone() == (0,)
    assert conn.execute("SELECT count(*) FROM asset_history").fetchone() == (0,)
    assert conn.execute("SELECT status FROM imports").fetchall() == [("dry_run",)]


def test_cli_import_export_reimport_and_undo(db, conn, tmp_path: Path) -> None:
    first = write_vector(tmp_path / "a.gpkg", manhole_rows(3))
    out = cli(db, tmp_path, "import", str(first), "--layer", "manholes").stdout
    assert "committed" in out and "'created': 3" in out and "'updated': 0" in out
    first_id = import_id_of(out)
    spec = default_catalog().get("manholes")
    after_first = assets(conn, spec)

    exported = tmp_path / "export.gpkg"
    out = cli(db, tmp_path, "export", "--layer", "manholes", "--format", "gpkg", "-o", str(exported)).stdout
    assert "已导出 3 个资产" in out and exported.stat().st_size > 0
    out = cli(db, tmp_path, "import", str(exported), "--layer", "manholes").stdout
    assert "'created': 0" in out and "'updated': 0" in out and "'unchanged': 3" in out

    corrected = manhole_rows(3)
    corrected[0]["井盖状况"] = "破损"
    second = write_vector(tmp_path / "b.gpkg", corrected)
    out = cli(db, tmp_path, "import", str(second), "--layer", "manholes").stdout
    assert "'updated': 1" in out and "'unchanged': 2" in out
    second_id = import_id_of(out)
    assert assets(conn, spec)["JG-2025-0001"]["condition"] != after_first["JG-2025-0001"]["condition"]

    out = cli(db, tmp_path, "import-undo", second_id).stdout
    assert "'restored': 1" in out
    restored = assets(conn, spec)
    for code, row in after_first.items():
        for col in ("condition", "kind", "status", "ewkb", "extra", "district_code"):
            assert restored[code][col] == row[col], (code, col)
    # Undoing the first import now would overwrite a later change (the undo above bumped
    # the asset's version): refused with the asset named, unless forced.
    refused = cli(db, tmp_path, "import-undo", first_id, ok=False)
    assert refused.returncode == 2 and "JG-2025-0001" in refused.stderr
    out = cli(db, tmp_path, "import-undo", first_id, "--force").stdout
    assert "'deleted': 3" in out
    assert conn.execute("SELECT count(*) FROM manholes").fetchone() == (0,)
    # Undoing twice is refused with a readable error, exit code 2.
    again = cli(db, tmp_path, "import-undo", first_id, ok=False)
    assert again.returncode == 2 and "已撤销" in again.stderr  # the status in Chinese, not "undone"


def _record_on_a_session_that_dies(db: Settings) -> str:
    """An import record whose importing session has ended (as after kill -9)."""
    assert db.database_url
    with psycopg.connect(db.database_url) as other:
        pid = other.info.backend_pid
        import_id = create_import_record(
            other,
            actor="t",
            file_name="f.csv",
            sha256="0" * 64,
            size=1,
            layer="manholes",
            options=ImportOptions(),
        )
    with psycopg.connect(db.database_url, autocommit=True) as watcher:
        for _ in range(100):
            if watcher.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchone() == (
                0,
            ):
                break
            time.sleep(0.05)
    return import_id


def test_import_whose_session_ended_reads_as_failed_interrupted(db, conn) -> None:
    dead = _record_on_a_session_that_dies(db)
    rec = get_import(conn, dead)
    conn.commit()
    assert rec["status"] == "failed" and rec["error"]["code"] == "interrupted"
    assert rec["finished_at"] is not None


def test_next_import_marks_interrupted_ones_and_spares_running_ones(db, conn) -> None:
    dead = _record_on_a_session_that_dies(db)
    assert db.database_url
    with psycopg.connect(db.database_url) as alive:
        running = create_import_record(
            alive,
            actor="t",
            file_name="g.csv",
            sha256="1" * 64,
            size=1,
            layer="manholes",
            options=ImportOptions(),
        )
        create_import_record(
            conn,
            actor="t",
            file_name="h.csv",
            sha256="2" * 64,
            size=1,
            layer="manholes",
            options=ImportOptions(),
        )
        status = dict(conn.execute("SELECT id::text, status FROM imports").fetchall())
        conn.commit()
        assert status[dead] == "failed" and status[running] == "running"
        assert get_import(conn, running)["status"] == "running"


def test_cli_without_layer_imports_each_gpkg_layer_by_name(db, conn, tmp_path: Path) -> None:
    from test_import_multilayer import _write_layers

    f = _write_layers(tmp_path / "two.gpkg")
    out = cli(db, tmp_path, "import", str(f)).stdout
    assert "manholes:" in out and "road_voids:" in out
    assert out.count("committed") == 2 and "'created': 2" in out and "'created': 3" in out


def test_cli_file_level_errors_follow_lang_from_the_one_message_table(db, tmp_path: Path) -> None:
    """A file the importer refuses as a whole is said in the --lang asked for (it used
    to stay Chinese): the same code renders the API's detail and the upload page's."""
    (tmp_path / "empty.csv").write_text("")
    (tmp_path / "井盖.csv").write_text("编号,备注\nJG-1,无坐标\n", encoding="utf-8")
    args = ("import", "empty.csv", "--layer", "manholes", "--dry-run")
    zh = cli(db, tmp_path, *args, ok=False)
    en = cli(db, tmp_path, *args, "--lang", "en", ok=False)
    assert zh.returncode == en.returncode == 2
    assert zh.stderr.strip() == render("cli_error", {"message": render("file_empty", {"file": "empty.csv"})})
    assert en.stderr.strip() == "error: file empty.csv is empty"
    # the CLI-wide language (registry --lang en …, or REGISTRY_LANG) is the import's default
    wide = cli(db, tmp_path, "--lang", "en", *args, ok=False)
    assert wide.returncode == 2 and wide.stderr.strip() == "error: file empty.csv is empty"
    en = cli(db, tmp_path, "import", "井盖.csv", "--layer", "manholes", "--lang", "en", ok=False)
    assert "井盖.csv has no coordinate columns" in en.stderr and "找不到" not in en.stderr
