"""Backups that restore (issue 9): the demo data plus photos go into one archive through
the CLI, come back into a fresh empty database (and a fresh embedded data folder)
table for table and byte for byte, and damaged archives or non-empty targets are
refused before anything is touched.

One source database is seeded and backed up per module (seeding takes seconds); each
restore goes into its own new database on the session's test cluster.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import psycopg
import pytest
from PIL import Image
from psycopg import sql

from importers.photos import store, thumbnail
from layers.demo import seed_demo
from layers.demo_campaigns import CURRENT_VOIDS
from registry.backup import (
    DUMP,
    MANIFEST,
    SUMS,
    BackupError,
    create_backup,
    extract_verified,
    restore_backup,
    user_objects,
)
from registry.cluster import Cluster
from registry.settings import PROJECT_ROOT, Settings
from tests.conftest import free_port

_counter = itertools.count()


@dataclass
class Source:
    settings: Settings
    archive: Path
    photos: dict[str, Path]  # archive member name -> original file in the store
    cli: subprocess.CompletedProcess[str]


def _base(cluster: Cluster) -> str:
    return f"postgresql://{cluster.settings.pg_user}@127.0.0.1:{cluster.port}"


def _create_db(cluster: Cluster, name: str, template: str = "template0") -> str:
    with psycopg.connect(f"{_base(cluster)}/postgres", autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        admin.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name), sql.Identifier(template))
        )
    return f"{_base(cluster)}/{name}"


def _drop_db(cluster: Cluster, name: str) -> None:
    with psycopg.connect(f"{_base(cluster)}/postgres", autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def _photo_bytes(color: tuple[int, int, int], fmt: str) -> bytes:
    buf = io.BytesIO()
    img = Image.new("RGB", (64, 48), color)
    img.putpixel((3, 5), (255 - color[0], 0, 0))
    img.save(buf, fmt)
    return buf.getvalue()


def _attach_photos(conn: psycopg.Connection, settings: Settings, workdir: Path) -> dict[str, Path]:
    """Two photos of one road void and one of a manhole, stored the way importers do."""
    stored: dict[str, Path] = {}
    assets = conn.execute(
        "(SELECT id, layer FROM road_voids ORDER BY code LIMIT 1) "
        "UNION ALL (SELECT id, layer FROM manholes ORDER BY code LIMIT 1)"
    ).fetchall()
    plan = [
        (assets[0], "空洞-现场.jpg", _photo_bytes((200, 120, 40), "JPEG")),
        (assets[0], "空洞-雷达.png", _photo_bytes((10, 90, 200), "PNG")),
        (assets[1], "井盖.jpg", _photo_bytes((30, 160, 60), "JPEG")),
    ]
    for (asset_id, layer), name, data in plan:
        src = workdir / name
        src.write_bytes(data)
        digest, path = store(src, settings)
        conn.execute(
            "INSERT INTO asset_photos (asset_id, layer, sha256, file_name, content_type, size_bytes) "
            "VALUES (%s, %s, %s, %s, %s, %s)",
            (asset_id, layer, digest, name, "image/jpeg" if name.endswith("jpg") else "image/png", len(data)),
        )
        stored[f"photos/{digest[:2]}/{path.name}"] = path
        # a thumbnail is a cache: it exists in the store but is not backed up
        assert thumbnail(path, digest, settings) is not None
    conn.commit()
    return stored


@pytest.fixture(scope="module")
def source(cluster: Cluster, template_db: str) -> Iterator[Source]:
    """The demo data and three photos in a database of their own, backed up by the CLI."""
    name = f"test_backup_src_{os.getpid()}"
    dsn = _create_db(cluster, name, template_db)
    folder = Path(tempfile.mkdtemp(prefix="registry-backup-src-"))
    settings = Settings(_env_file=None, database_url=dsn, data_dir=folder / "data")  # type: ignore[call-arg]
    try:
        with psycopg.connect(dsn) as conn:
            seed_demo(conn)
            conn.commit()
            photos = _attach_photos(conn, settings, folder)
        archive = folder / "backup.tar"
        env = {**os.environ, "DATABASE_URL": dsn, "REGISTRY_DATA_DIR": str(settings.data_dir)}
        cli = subprocess.run(
            [sys.executable, "-m", "web.cli", "backup", "--output", str(archive)],
            cwd=PROJECT_ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert cli.returncode == 0, cli.stderr
        yield Source(settings, archive, photos, cli)
    finally:
        _drop_db(cluster, name)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def empty_target(cluster: Cluster, tmp_path: Path) -> Iterator[Settings]:
    """A brand-new empty database and an empty data folder to restore into."""
    name = f"test_backup_dst_{os.getpid()}_{next(_counter)}"
    dsn = _create_db(cluster, name)
    yield Settings(_env_file=None, database_url=dsn, data_dir=tmp_path / "restored")  # type: ignore[call-arg]
    _drop_db(cluster, name)


def _tables(conn: psycopg.Connection) -> list[tuple[str, str]]:
    """Every table outside the system schemas that no extension owns."""
    return conn.execute(
        "SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
        "AND n.nspname NOT LIKE 'pg\\_%%' AND NOT EXISTS (SELECT 1 FROM pg_depend d "
        "WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e') ORDER BY 1, 2"
    ).fetchall()


def _fingerprint(dsn: str) -> dict[str, tuple[int, str | None]]:
    """Per table: row count and the md5 of all its rows' text, in a fixed order."""
    out: dict[str, tuple[int, str | None]] = {}
    with psycopg.connect(dsn) as conn:
        for schema, table in _tables(conn):
            ident = sql.Identifier(schema, table)
            row = conn.execute(
                sql.SQL(
                    "SELECT count(*), md5(string_agg(t::text, E'\\n' ORDER BY t::text)) FROM ONLY {} t"
                ).format(ident)
            ).fetchone()
            assert row is not None
            out[f"{schema}.{table}"] = (row[0], row[1])
        # sequences too: the next id handed out must not collide with restored rows
        for name, last in conn.execute(
            "SELECT schemaname || '.' || sequencename, last_value FROM pg_sequences ORDER BY 1"
        ):
            out[f"sequence {name}"] = (last or 0, None)
    return out


def _originals(data_dir: Path) -> dict[str, bytes]:
    root = data_dir / "photos"
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.glob("??/*")) if p.is_file()}


def _members(archive: Path) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(archive) as tar:
        return {m.name: m for m in tar.getmembers()}


def _read_member(archive: Path, name: str) -> bytes:
    with tarfile.open(archive) as tar:
        f = tar.extractfile(name)
        assert f is not None
        return f.read()


# -- the archive ------------------------------------------------------------------------------


def test_archive_holds_the_dump_the_photos_a_manifest_and_checksums(source: Source) -> None:
    members = _members(source.archive)
    assert set(members) == {DUMP, MANIFEST, SUMS, *source.photos}
    assert not any("thumbs" in name for name in members)
    assert _read_member(source.archive, DUMP).startswith(b"PGDMP")  # pg_dump custom format
    assert source.archive.stat().st_mode & 0o077 == 0  # holds password hashes: owner only
    # (the CLI's language: Chinese unless registry --lang en / REGISTRY_LANG=en)
    assert "备份已写入" in source.cli.stdout and "3 张照片" in source.cli.stdout

    sums = {
        line.split("  ", 1)[1]: line.split("  ", 1)[0]
        for line in _read_member(source.archive, SUMS).decode().splitlines()
    }
    assert set(sums) == set(members) - {SUMS}
    for name, digest in sums.items():
        assert hashlib.sha256(_read_member(source.archive, name)).hexdigest() == digest, name


def test_manifest_records_versions_migrations_files_and_row_counts(source: Source) -> None:
    manifest = json.loads(_read_member(source.archive, MANIFEST))
    assert manifest["format_version"] == 1
    created = datetime.fromisoformat(manifest["created_at"])
    assert created.utcoffset() is not None
    assert manifest["app_version"] == metadata.version("jiaozuo-registry")
    assert manifest["database"]["postgis_version"].startswith("3.")

    assert source.settings.database_url
    with psycopg.connect(source.settings.database_url) as conn:
        versions = [r[0] for r in conn.execute("SELECT version FROM schema_migrations ORDER BY 1")]
        assert [m["version"] for m in manifest["migrations"]] == versions
        counts = {
            f"{s}.{t}": conn.execute(
                sql.SQL("SELECT count(*) FROM ONLY {}").format(sql.Identifier(s, t))
            ).fetchone()[0]  # type: ignore[index]
            for s, t in _tables(conn)
        }
    assert manifest["row_counts"] == counts
    assert manifest["extension_rows"] == {"public.spatial_ref_sys": 0}  # no custom SRIDs
    assert counts["public.manholes"] == 2000 and counts["public.asset_photos"] == 3
    assert counts["public.assets"] == 0  # the abstract parent: FROM ONLY, not every layer again

    files = {f["path"]: f for f in manifest["files"]}
    assert set(files) == {DUMP, *source.photos}
    for name, path in source.photos.items():
        data = path.read_bytes()
        assert files[name] == {"path": name, "sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
    assert manifest["photos"] == {
        "count": 3,
        "bytes": sum(p.stat().st_size for p in source.photos.values()),
        "missing": [],
        "corrupt": [],
    }


# -- restoring ----------------------------------------------------------------------------------


def test_restore_brings_back_every_table_and_every_photo(source: Source, empty_target: Settings) -> None:
    stages: set[str] = set()
    result = restore_backup(
        empty_target, source.archive, progress=lambda stage, _done, _total: stages.add(stage)
    )

    assert source.settings.database_url and empty_target.database_url
    before = _fingerprint(source.settings.database_url)
    after = _fingerprint(empty_target.database_url)
    assert set(after) == set(before)
    for table, value in before.items():
        assert after[table] == value, table
    assert result.rows == sum(n for t, (n, _) in before.items() if not t.startswith("sequence"))
    assert result.photos_written == 3 and result.photos_present == 0
    assert result.warnings == []

    restored = _originals(empty_target.data_dir)
    assert restored == _originals(source.settings.data_dir)
    assert len(restored) == 3
    assert not (empty_target.data_dir / "photos" / "thumbs").exists()
    assert {"校验归档 verifying archive", "恢复数据库 restoring database"} <= stages

    # the restored registry works: the history triggers are back and fire on a write
    with psycopg.connect(empty_target.database_url) as conn:
        code = conn.execute("SELECT code FROM manholes ORDER BY code LIMIT 1").fetchone()[0]  # type: ignore[index]
        conn.execute("UPDATE manholes SET notes = 'after restore' WHERE code = %s", (code,))
        assert conn.execute("SELECT max(version) FROM manholes WHERE code = %s", (code,)).fetchone() == (2,)


@pytest.mark.parametrize("member", [DUMP, "photo", MANIFEST, SUMS])
def test_a_changed_byte_is_refused_before_anything_is_touched(
    source: Source, empty_target: Settings, tmp_path: Path, member: str
) -> None:
    name = next(iter(source.photos)) if member == "photo" else member
    info = _members(source.archive)[name]
    tampered = tmp_path / "tampered.tar"
    data = bytearray(source.archive.read_bytes())
    at = info.offset_data + info.size // 2
    data[at] ^= 0x01
    tampered.write_bytes(bytes(data))

    with pytest.raises(BackupError) as caught:
        restore_backup(empty_target, tampered)
    assert caught.value.message_code == "backup_damaged"
    assert caught.value.text("zh").startswith("备份文件已损坏或被改动")
    assert caught.value.text("en").startswith("the backup is damaged or altered")
    assert_untouched(empty_target)


def test_a_truncated_archive_is_refused(source: Source, empty_target: Settings, tmp_path: Path) -> None:
    cut = tmp_path / "cut.tar"
    members = _members(source.archive)
    cut.write_bytes(source.archive.read_bytes()[: members[MANIFEST].offset])  # lost its tail
    with pytest.raises(BackupError) as caught:
        restore_backup(empty_target, cut)
    assert caught.value.text("zh").startswith("备份文件已损坏")
    assert_untouched(empty_target)


def assert_untouched(target: Settings) -> None:
    assert target.database_url
    with psycopg.connect(target.database_url) as conn:
        assert user_objects(conn) == []
    assert not target.data_dir.exists()


def test_restore_onto_a_database_that_is_not_empty_is_refused(
    source: Source, cluster: Cluster, template_db: str, tmp_path: Path
) -> None:
    name = f"test_backup_full_{os.getpid()}"
    dsn = _create_db(cluster, name, template_db)  # migrated: has tables, no assets
    target = Settings(_env_file=None, database_url=dsn, data_dir=tmp_path / "restored")  # type: ignore[call-arg]
    try:
        before = _fingerprint(dsn)
        with pytest.raises(BackupError) as caught:
            restore_backup(target, source.archive)
        assert caught.value.text("zh").startswith("目标数据库不为空")
        assert caught.value.text("en").startswith("target database is not empty")
        assert _fingerprint(dsn) == before
        assert not target.data_dir.exists()

        # the CLI: one readable line, in Chinese (or English with --lang en), exit code 2
        env = {**os.environ, "DATABASE_URL": dsn, "REGISTRY_DATA_DIR": str(target.data_dir)}
        cli = subprocess.run(
            [sys.executable, "-m", "web.cli", "restore", str(source.archive)],
            cwd=PROJECT_ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert cli.returncode == 2
        assert "错误：目标数据库不为空，未做任何恢复" in cli.stderr and "target database" not in cli.stderr
        english = subprocess.run(
            [sys.executable, "-m", "web.cli", "--lang", "en", "restore", str(source.archive)],
            cwd=PROJECT_ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert english.returncode == 2
        assert "error: target database is not empty" in english.stderr and "目标" not in english.stderr
    finally:
        _drop_db(cluster, name)


def test_verify_only_checks_the_archive_and_touches_nothing(source: Source, tmp_path: Path) -> None:
    manifest = extract_verified(source.archive, tmp_path)
    assert manifest["row_counts"]["public.road_voids"] == 294 + CURRENT_VOIDS
    cli = subprocess.run(
        [sys.executable, "-m", "web.cli", "restore", "--verify-only", str(source.archive)],
        cwd=PROJECT_ROOT,
        env={**os.environ, "DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert cli.returncode == 0, cli.stderr
    assert cli.stdout.startswith("归档完好")
    english = subprocess.run(
        [sys.executable, "-m", "web.cli", "restore", "--verify-only", str(source.archive)],
        cwd=PROJECT_ROOT,
        env={**os.environ, "DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none", "REGISTRY_LANG": "en"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert english.returncode == 0 and english.stdout.startswith("archive ok"), english.stderr


def test_restore_into_a_new_data_folder_creates_the_embedded_cluster(source: Source) -> None:
    """No DATABASE_URL: the restore creates and starts the cluster in the empty folder,
    and a backup taken from that cluster records the same rows."""
    # the folder itself, as conftest does: as root the cluster runs as `postgres`, which
    # can reach a folder directly in /tmp but not one below a private (0700) parent
    folder = Path(tempfile.mkdtemp(prefix="registry-restore-embedded-"))
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=None,
        data_dir=folder,
        pg_port=free_port(),
    )
    cluster = Cluster(settings)
    try:
        result = restore_backup(settings, source.archive)
        assert cluster.status().running
        assert source.settings.database_url
        assert _fingerprint(cluster.dsn) == _fingerprint(source.settings.database_url)
        assert _originals(settings.data_dir) == _originals(source.settings.data_dir)
        assert result.photos_written == 3

        again = create_backup(settings, folder / "again.tar")
        assert again.path.is_file()
        original: dict[str, Any] = json.loads(_read_member(source.archive, MANIFEST))
        assert again.manifest["row_counts"] == original["row_counts"]
        assert again.manifest["database"]["embedded"] is True
        assert {f["path"]: f["sha256"] for f in again.manifest["files"][1:]} == {
            f["path"]: f["sha256"] for f in original["files"][1:]
        }
    finally:
        cluster.down()
        shutil.rmtree(folder, ignore_errors=True)


def test_restore_by_a_plain_database_owner_onto_a_server_prepared_by_an_admin(
    source: Source, cluster: Cluster, tmp_path: Path
) -> None:
    """The usual server set-up: an admin creates the database for an ordinary role and
    the PostGIS extension in it (only a superuser may); that still counts as empty, and
    the role restores without needing superuser rights."""
    role = f"registry_owner_{os.getpid()}"
    name = f"test_backup_owner_{os.getpid()}"
    with psycopg.connect(f"{_base(cluster)}/postgres", autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        admin.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))
        admin.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
        admin.execute(
            sql.SQL("CREATE DATABASE {} OWNER {} TEMPLATE template0").format(
                sql.Identifier(name), sql.Identifier(role)
            )
        )
    try:
        with psycopg.connect(f"{_base(cluster)}/{name}", autocommit=True) as admin:
            admin.execute("CREATE EXTENSION postgis")
        dsn = f"postgresql://{role}@127.0.0.1:{cluster.port}/{name}"
        target = Settings(_env_file=None, database_url=dsn, data_dir=tmp_path / "data")  # type: ignore[call-arg]
        restore_backup(target, source.archive)
        assert source.settings.database_url
        assert _fingerprint(dsn) == _fingerprint(source.settings.database_url)
        with psycopg.connect(dsn) as conn:
            owners = conn.execute(
                "SELECT DISTINCT tableowner FROM pg_tables WHERE tablename IN ('assets', 'manholes')"
            ).fetchall()
        assert owners == [(role,)]
    finally:
        with psycopg.connect(f"{_base(cluster)}/postgres", autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
            admin.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))
