"""Migrations: applied once, re-running is a no-op, an edited applied file is
refused, and a failing file leaves the schema at the previous version."""

from __future__ import annotations

import shutil
from pathlib import Path

import psycopg
import pytest

from registry.errors import MigrationError
from registry.migrate import migrate
from registry.settings import PROJECT_ROOT, Settings


def test_rerunning_migrations_is_a_noop(conn: psycopg.Connection) -> None:
    before = conn.execute("SELECT version, checksum FROM schema_migrations ORDER BY 1").fetchall()
    conn.commit()
    assert migrate(conn, PROJECT_ROOT / "sql") == []
    after = conn.execute("SELECT version, checksum FROM schema_migrations ORDER BY 1").fetchall()
    assert before == after
    assert len(after) == len(list((PROJECT_ROOT / "sql").glob("*.sql")))


def test_changed_applied_migration_is_refused(conn: psycopg.Connection, tmp_path: Path) -> None:
    copy = tmp_path / "sql"
    shutil.copytree(PROJECT_ROOT / "sql", copy)
    first = sorted(copy.glob("*.sql"))[0]
    first.write_text(first.read_text() + "\n-- edited\n")
    with pytest.raises(MigrationError, match="changed after it was applied"):
        migrate(conn, copy)


def test_failing_migration_leaves_schema_at_previous_version(
    conn: psycopg.Connection, tmp_path: Path
) -> None:
    copy = tmp_path / "sql"
    shutil.copytree(PROJECT_ROOT / "sql", copy)
    (copy / "9998_good.sql").write_text("CREATE TABLE good_one (x int);")
    (copy / "9999_bad.sql").write_text(
        "CREATE TABLE half_done (x int);\nALTER TABLE no_such_table ADD COLUMN y int;"
    )
    with pytest.raises(MigrationError, match=r"9999_bad\.sql failed and was rolled back"):
        migrate(conn, copy)
    tables = {r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname='public'")}
    assert "good_one" in tables
    assert "half_done" not in tables
    versions = {r[0] for r in conn.execute("SELECT version FROM schema_migrations")}
    assert "9998" in versions and "9999" not in versions


def test_misnamed_migration_file_is_an_error(conn: psycopg.Connection, tmp_path: Path) -> None:
    (tmp_path / "add_things.sql").write_text("SELECT 1;")
    with pytest.raises(MigrationError, match=r"NNNN_slug\.sql"):
        migrate(conn, tmp_path)


def test_fresh_database_migrates_from_nothing(db: Settings) -> None:
    # The template is already migrated; a brand-new empty database must get there too.
    assert db.database_url
    with psycopg.connect(db.database_url, autocommit=True) as admin:
        admin.execute("DROP SCHEMA public CASCADE")
        admin.execute("CREATE SCHEMA public")
    with psycopg.connect(db.database_url) as conn:
        applied = migrate(conn, PROJECT_ROOT / "sql")
    assert applied[0] == "0001"
    assert len(applied) == len(list((PROJECT_ROOT / "sql").glob("*.sql")))
