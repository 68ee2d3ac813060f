"""Backups that restore: the database and the photo files in one verified archive.

Photos live as files under ``<data_dir>/photos`` (content-addressed by SHA-256, see
``importers/photos.py``), outside the database, so a ``pg_dump`` alone would lose
them. A backup is therefore one plain tar holding:

``database.dump``
    ``pg_dump --format=custom`` of the registry database (embedded cluster or the
    ``DATABASE_URL`` server), taken in an exported snapshot so that the row counts
    in the manifest describe exactly the rows in the dump.
``photos/<2 hex>/<sha256>.<suffix>``
    every stored original. Thumbnails (``photos/thumbs``) are a cache the app
    rebuilds on first view, so they are left out.
``manifest.json``
    format version, when (with UTC offset), app version, database and PostGIS
    versions, the migrations applied, SHA-256 and size of every file, and the row
    count of every table.
``SHA256SUMS``
    ``sha256sum`` lines for every other member, manifest included, so an archive
    can also be checked by hand (``tar xf`` then ``sha256sum -c SHA256SUMS``).

A restore extracts into a staging folder and checks every checksum and size before
it touches the target; it refuses a target database that holds anything, restores in
one transaction (a failure leaves the database empty), then compares row counts.

pg_dump/pg_restore come from the same PostgreSQL installation the embedded cluster
uses (``registry.cluster.find_bin_dir``): a pg_dump older than the server refuses to
dump it, and the system's ``/usr/bin/pg_dump`` wrapper may pick another version.
"""

from __future__ import annotations

import collections
import datetime as dt
import hashlib
import json
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import IO, Any

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from registry.errors import RegistryError
from registry.messages import nested
from registry.settings import Settings

FORMAT_VERSION = 1
DUMP = "database.dump"
MANIFEST = "manifest.json"
SUMS = "SHA256SUMS"
PHOTOS = "photos"
APP_PACKAGE = "jiaozuo-registry"

# ``photos/ab/ab…(64 hex).jpg`` — the only photo names the store writes; anything
# else in an archive (absolute paths, "..", links, thumbnails) is refused.
_PHOTO_MEMBER = re.compile(r"^photos/([0-9a-f]{2})/(\1[0-9a-f]{62})\.([a-z0-9]{1,5})$")
_SUM_LINE = re.compile(r"^([0-9a-f]{64}) [ *](.+)$")
_CHUNK = 1 << 20

# stage (shown to the user), done, total (None when unknown)
ProgressFn = Callable[[str, int, int | None], None]

STAGE_COUNT = "统计行数 counting rows"
STAGE_DUMP = "导出数据库 dumping database"
STAGE_ARCHIVE = "写入归档 writing archive"
STAGE_VERIFY = "校验归档 verifying archive"
STAGE_PHOTOS = "恢复照片 restoring photos"
STAGE_RESTORE = "恢复数据库 restoring database"


class BackupError(RegistryError):
    """A backup could not be made, or an archive cannot (or must not) be restored.

    Messages are Chinese first, then English, like the rest of the registry's output.
    """

    code = "backup_error"


@dataclass(frozen=True)
class BackupResult:
    """What ``registry backup`` reports: where the archive is and what it holds."""

    path: Path
    manifest: dict[str, Any]
    # (messages of the table, as registry.messages.nested: the CLI says them in its language)
    warnings: list[dict[str, Any]] = field(default_factory=list)

    @property
    def size(self) -> int:
        """Size of the archive in bytes."""
        return self.path.stat().st_size


@dataclass(frozen=True)
class RestoreResult:
    """What ``registry restore`` reports."""

    manifest: dict[str, Any]
    tables: int
    rows: int
    photos_written: int
    photos_present: int
    # (messages of the table, as registry.messages.nested: the CLI says them in its language)
    warnings: list[dict[str, Any]] = field(default_factory=list)


def _no_progress(_stage: str, _done: int, _total: int | None) -> None:
    return None


# -- locations and tools -----------------------------------------------------------------


def photos_dir(settings: Settings) -> Path:
    """Where the photo store lives: ``<data_dir>/photos`` (the importers and the web
    routes use the same folder; restoring puts photos back there)."""
    return settings.data_dir / PHOTOS


def app_version() -> str:
    """The installed registry's version, recorded so a restore can say what made it."""
    try:
        return metadata.version(APP_PACKAGE)
    except metadata.PackageNotFoundError:
        return "unknown"


def client_tool(name: str) -> Path:
    """``pg_dump`` or ``pg_restore`` from the PostgreSQL the registry runs on.

    Same search as the embedded cluster's initdb/pg_ctl (REGISTRY_PG_BIN, else the
    newest /usr/lib/postgresql/<15+>/bin), so dump and server versions agree; PATH
    only as a last resort.
    """
    from registry.cluster import find_bin_dir

    bin_dir = find_bin_dir()
    if bin_dir is not None and (bin_dir / name).exists():
        return bin_dir / name
    found = shutil.which(name)
    if found:
        return Path(found)
    raise BackupError("").with_message("pg_tool_missing", name=name)


def _dsn(settings: Settings) -> str:
    from registry.db import dsn_for

    return dsn_for(settings)


def _tool_connection(dsn: str) -> tuple[str, dict[str, str]]:
    """A conninfo for pg_dump/pg_restore without the password, and their environment.

    The password travels in PGPASSWORD rather than on the command line, where any
    local user could read it in the process list. Messages are forced to English so
    progress lines can be recognised whatever the locale.
    """
    params = conninfo_to_dict(dsn)
    password = params.pop("password", None)
    env = {**os.environ, "LC_ALL": "C", "LANGUAGE": "C"}
    env.pop("PGPASSWORD", None)
    if password:
        env["PGPASSWORD"] = str(password)
    return make_conninfo(**{k: str(v) for k, v in params.items()}), env


def _run_tool(cmd: list[str], env: dict[str, str], on_line: Callable[[str], None], what: str) -> None:
    """Run a PostgreSQL client tool, feeding its ``--verbose`` lines to ``on_line``.

    On failure the error lines (not the chatter) become the message.
    """
    tail: collections.deque[str] = collections.deque(maxlen=400)
    proc = subprocess.Popen(
        cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, text=True
    )
    assert proc.stderr is not None
    for raw in proc.stderr:
        line = raw.rstrip("\n")
        tail.append(line)
        on_line(line)
    if proc.wait() != 0:
        errors = [ln for ln in tail if "error" in ln.lower() or "fatal" in ln.lower()] or list(tail)[-10:]
        detail = "\n".join(errors[-15:])
        raise BackupError("").with_message("pg_tool_failed", what=what, detail=detail)


# -- what the database holds ---------------------------------------------------------------

_USER_RELATIONS = """
SELECT n.nspname, c.relname, c.relkind
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = ANY(%s)
  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%%'
  AND NOT EXISTS (SELECT 1 FROM pg_depend d
                  WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
ORDER BY 1, 2
"""

_USER_FUNCTIONS = """
SELECT p.oid::regprocedure::text
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%%'
  AND NOT EXISTS (SELECT 1 FROM pg_depend d
                  WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e')
ORDER BY 1
"""


def user_tables(conn: psycopg.Connection) -> list[tuple[str, str]]:
    """(schema, table) of every ordinary table the registry owns.

    Tables of extensions (PostGIS's spatial_ref_sys) are the extension's business:
    the dump keeps only their user-added rows, so they are not counted.
    """
    return [(s, t) for s, t, _ in conn.execute(_USER_RELATIONS, (["r"],)).fetchall()]


def row_counts(conn: psycopg.Connection, tables: Iterable[tuple[str, str]]) -> dict[str, int]:
    """Rows per table, ``schema.table`` → count.

    ``FROM ONLY``: the layer tables inherit from ``assets``, and a plain count of the
    parent would count every layer's rows a second time.
    """
    counts: dict[str, int] = {}
    for schema, table in tables:
        row = conn.execute(
            sql.SQL("SELECT count(*) FROM ONLY {}").format(sql.Identifier(schema, table))
        ).fetchone()
        counts[f"{schema}.{table}"] = int(row[0]) if row else 0
    return counts


def user_objects(conn: psycopg.Connection) -> list[str]:
    """Tables, views, sequences and functions not belonging to an extension.

    An empty list means the database is empty for our purpose: an administrator may
    have created PostGIS in it already (its objects belong to the extension).
    """
    relations = conn.execute(_USER_RELATIONS, (["r", "p", "v", "m", "S", "f"],)).fetchall()
    names = [f"{s}.{t}" for s, t, _ in relations]
    names += [r[0] for r in conn.execute(_USER_FUNCTIONS).fetchall()]
    return names


def _migrations(conn: psycopg.Connection) -> list[dict[str, str]]:
    if conn.execute("SELECT to_regclass('public.schema_migrations')").fetchone() == (None,):
        return []
    rows = conn.execute(
        "SELECT version, name, checksum, applied_at FROM schema_migrations ORDER BY version"
    ).fetchall()
    return [
        {"version": v, "name": n, "checksum": c, "applied_at": a.isoformat(timespec="seconds")}
        for v, n, c, a in rows
    ]


_EXTENSION_CONFIG_TABLES = """
SELECT n.nspname, c.relname, coalesce(e.extcondition[s.i], '')
FROM pg_extension e
CROSS JOIN LATERAL generate_subscripts(e.extconfig, 1) AS s(i)
JOIN pg_class c ON c.oid = e.extconfig[s.i]
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'r'
ORDER BY 1, 2
"""


def extension_rows(conn: psycopg.Connection) -> dict[str, int]:
    """Rows of extension tables that pg_dump keeps: those added by users (e.g. a
    custom SRID in spatial_ref_sys), selected by the extension's own condition.

    Recorded so a restore can skip an entry with nothing in it: loading even zero
    rows into spatial_ref_sys needs a privilege a plain database owner lacks.
    """
    counts: dict[str, int] = {}
    for schema, table, condition in conn.execute(_EXTENSION_CONFIG_TABLES).fetchall():
        # the condition is the extension's own catalog entry (e.g. "WHERE NOT (srid BETWEEN …)")
        query = sql.SQL("SELECT count(*) FROM ONLY {} {}").format(
            sql.Identifier(schema, table), sql.SQL(condition)
        )
        row = conn.execute(query).fetchone()
        counts[f"{schema}.{table}"] = int(row[0]) if row else 0
    return counts


def _recorded_photo_digests(conn: psycopg.Connection) -> set[str]:
    if conn.execute("SELECT to_regclass('public.asset_photos')").fetchone() == (None,):
        return set()
    return {r[0] for r in conn.execute("SELECT DISTINCT sha256 FROM asset_photos").fetchall()}


def _stored_photos(root: Path) -> list[tuple[str, Path]]:
    """(archive name, path) of every original in the store; temporary files and the
    thumbnail cache are not part of it."""
    found: list[tuple[str, Path]] = []
    if not root.is_dir():
        return found
    for path in sorted(root.glob("??/*")):
        name = f"{PHOTOS}/{path.parent.name}/{path.name}"
        if path.is_file() and not path.is_symlink() and _PHOTO_MEMBER.match(name):
            found.append((name, path))
    return found


# -- writing an archive --------------------------------------------------------------------


class _HashingReader:
    """A file wrapper that hashes what tarfile reads from it, so each file is read
    once: its checksum for the manifest comes from the very bytes archived."""

    def __init__(self, f: IO[bytes], on_bytes: Callable[[int], None]) -> None:
        self._f = f
        self._on_bytes = on_bytes
        self.sha = hashlib.sha256()
        self.size = 0

    def read(self, n: int = -1) -> bytes:
        data = self._f.read(n)
        self.sha.update(data)
        self.size += len(data)
        self._on_bytes(len(data))
        return data


def _add_file(tar: tarfile.TarFile, name: str, path: Path, on_bytes: Callable[[int], None]) -> dict[str, Any]:
    info = tarfile.TarInfo(name)
    st = path.stat()
    info.size = st.st_size
    info.mtime = int(st.st_mtime)
    info.mode = 0o600
    with path.open("rb") as f:
        reader = _HashingReader(f, on_bytes)
        tar.addfile(info, reader)  # type: ignore[arg-type]  # tarfile only calls read()
    if reader.size != info.size:
        raise BackupError("").with_message("backup_file_changed", path=str(path))
    return {"path": name, "sha256": reader.sha.hexdigest(), "size": reader.size}


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = int(dt.datetime.now().timestamp())
    info.mode = 0o600
    tar.addfile(info, _BytesReader(data))  # type: ignore[arg-type]


class _BytesReader:
    def __init__(self, data: bytes) -> None:
        self._data = memoryview(data)
        self._pos = 0

    def read(self, n: int = -1) -> bytes:
        end = len(self._data) if n < 0 else min(len(self._data), self._pos + n)
        chunk = bytes(self._data[self._pos : end])
        self._pos = end
        return chunk


def default_backup_name(now: dt.datetime | None = None) -> str:
    """``registry-backup-20250301-031500.tar``: sortable, local time of the machine."""
    now = now or dt.datetime.now().astimezone()
    return f"registry-backup-{now:%Y%m%d-%H%M%S}.tar"


def create_backup(
    settings: Settings, output: Path | None = None, *, progress: ProgressFn = _no_progress
) -> BackupResult:
    """Write the database and the photo store into one archive at ``output``.

    The counts, the migration list and pg_dump all read one exported snapshot, held
    open by this connection while pg_dump runs, so the manifest describes the dump
    exactly even while users keep editing. Photos are copied after the snapshot:
    the importers store a file before the row naming it commits, and files are never
    deleted, so every photo the dump refers to is already on disk.

    The archive is written next to its final name and renamed at the end (a killed
    backup never leaves a plausible-looking half archive), readable by its owner
    only: it holds account password hashes.
    """
    created = dt.datetime.now().astimezone()
    output = (output or Path.cwd() / default_backup_name(created)).resolve()
    if output.is_dir():
        output = output / default_backup_name(created)
    if not output.parent.is_dir():
        raise BackupError("").with_message("backup_folder_missing", folder=str(output.parent))
    pg_dump = client_tool("pg_dump")
    dsn = _dsn(settings)
    try:
        conn = psycopg.connect(dsn, autocommit=False)
    except psycopg.OperationalError as exc:
        hint = " (registry db up)" if settings.embedded else ""
        raise BackupError("").with_message("backup_cannot_connect", hint=hint, reason=str(exc)) from exc
    with conn, tempfile.TemporaryDirectory(prefix=".registry-backup-", dir=output.parent) as tmp:
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        row = conn.execute("SELECT pg_export_snapshot()").fetchone()
        assert row is not None
        facts = _snapshot_facts(conn, progress)
        dump_path = Path(tmp) / DUMP
        _pg_dump(pg_dump, dsn, row[0], dump_path, len(facts["row_counts"]), progress)
        conn.rollback()  # pg_dump is done with the snapshot

        photos = _stored_photos(photos_dir(settings))
        on_disk = {path.name.split(".", 1)[0] for _, path in photos}
        missing = sorted(facts.pop("recorded_photos") - on_disk)
        manifest = {
            "format": "jiaozuo-registry-backup",
            "format_version": FORMAT_VERSION,
            "created_at": created.isoformat(timespec="seconds"),
            "app_version": app_version(),
            "database": {**facts.pop("database"), "embedded": settings.embedded},
            **facts,
        }
        _write_archive(output, dump_path, photos, manifest, missing, progress)
    warnings: list[dict[str, Any]] = []
    if missing:
        names = ", ".join(missing[:5]) + (" …" if len(missing) > 5 else "")
        warnings.append(
            nested(
                "backup_photos_missing",
                {"n": len(missing), "folder": str(photos_dir(settings)), "names": names},
            )
        )
    corrupt = manifest["photos"]["corrupt"]
    if corrupt:
        warnings.append(nested("backup_photos_corrupt", {"n": len(corrupt), "names": ", ".join(corrupt[:5])}))
    return BackupResult(output, manifest, warnings)


def _snapshot_facts(conn: psycopg.Connection, progress: ProgressFn) -> dict[str, Any]:
    """Row counts, migrations, versions and recorded photo digests, read in the
    snapshot pg_dump will use."""
    tables = user_tables(conn)
    counts: dict[str, int] = {}
    progress(STAGE_COUNT, 0, len(tables))
    for i, table in enumerate(tables, 1):
        counts.update(row_counts(conn, [table]))
        progress(STAGE_COUNT, i, len(tables))
    versions = conn.execute(
        "SELECT current_database(), current_setting('server_version'), "
        "(SELECT extversion FROM pg_extension WHERE extname = 'postgis')"
    ).fetchone()
    assert versions is not None
    return {
        "database": {
            "name": versions[0],
            "server_version": versions[1],
            "postgis_version": versions[2],
            "dump_format": "pg_dump custom",
        },
        "migrations": _migrations(conn),
        "row_counts": counts,
        "extension_rows": extension_rows(conn),
        "recorded_photos": _recorded_photo_digests(conn),
    }


def _pg_dump(pg_dump: Path, dsn: str, snapshot: str, target: Path, tables: int, progress: ProgressFn) -> None:
    """pg_dump in custom format (compressed, and pg_restore can pick from it) inside
    the exported snapshot; progress counts the tables whose data it has written."""
    conninfo, env = _tool_connection(dsn)
    done = 0
    progress(STAGE_DUMP, 0, tables)

    def on_line(line: str) -> None:
        nonlocal done
        if "dumping contents of table" in line:
            done += 1
            progress(STAGE_DUMP, min(done, tables), tables)

    _run_tool(
        [
            str(pg_dump),
            "--format=custom",
            "--verbose",
            "--no-password",
            f"--snapshot={snapshot}",
            f"--file={target}",
            f"--dbname={conninfo}",
        ],
        env,
        on_line,
        "pg_dump ",
    )
    progress(STAGE_DUMP, tables, tables)


def _write_archive(
    output: Path,
    dump_path: Path,
    photos: list[tuple[str, Path]],
    manifest: dict[str, Any],
    missing: list[str],
    progress: ProgressFn,
) -> None:
    """The tar: dump, photos, then the manifest and SHA256SUMS, which can only be
    written once every file has been hashed (each file is read exactly once)."""
    partial = output.with_name(f".{output.name}.partial")
    total = dump_path.stat().st_size + sum(path.stat().st_size for _, path in photos)
    written = 0

    def on_bytes(n: int) -> None:
        nonlocal written
        written += n
        progress(STAGE_ARCHIVE, written, total)

    progress(STAGE_ARCHIVE, 0, total)
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as raw:
            with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
                files = [_add_file(tar, DUMP, dump_path, on_bytes)]
                corrupt: list[str] = []
                for name, path in photos:
                    entry = _add_file(tar, name, path, on_bytes)
                    if not path.name.startswith(entry["sha256"]):
                        corrupt.append(name)
                    files.append(entry)
                manifest["photos"] = {
                    "count": len(photos),
                    "bytes": sum(f["size"] for f in files[1:]),
                    "missing": missing,
                    "corrupt": corrupt,
                }
                manifest["files"] = files
                manifest_bytes = (json.dumps(manifest, ensure_ascii=False, indent=2) + "\n").encode()
                _add_bytes(tar, MANIFEST, manifest_bytes)
                sums = [(hashlib.sha256(manifest_bytes).hexdigest(), MANIFEST)]
                sums += [(f["sha256"], f["path"]) for f in files]
                _add_bytes(tar, SUMS, "".join(f"{h}  {n}\n" for h, n in sums).encode())
            raw.flush()
            os.fsync(raw.fileno())
        os.replace(partial, output)
    finally:
        partial.unlink(missing_ok=True)


# -- reading and checking an archive ---------------------------------------------------------


def _copy_hashing(src: IO[bytes], dst: IO[bytes], on_bytes: Callable[[int], None]) -> tuple[str, int]:
    sha = hashlib.sha256()
    size = 0
    while chunk := src.read(_CHUNK):
        sha.update(chunk)
        dst.write(chunk)
        size += len(chunk)
        on_bytes(len(chunk))
    return sha.hexdigest(), size


def _damaged(code: str, **params: Any) -> BackupError:
    """The backup is damaged: ``code`` (a message of the table) says where."""
    return BackupError("").with_message("backup_damaged", detail=nested(code, params))


def extract_verified(archive: Path, staging: Path, *, progress: ProgressFn = _no_progress) -> dict[str, Any]:
    """Extract ``archive`` into ``staging`` and check it completely; return the manifest.

    Only the names a backup writes are accepted (no links, no paths outside the
    staging folder). Every member's SHA-256 and size must match both the manifest and
    SHA256SUMS, and SHA256SUMS must vouch for the manifest itself, so a changed byte
    anywhere in a file, the manifest or the sums is refused.
    """
    if not archive.is_file():
        raise BackupError("").with_message("backup_not_found", path=str(archive))
    total = archive.stat().st_size
    seen: dict[str, tuple[str, int]] = {}
    read = 0

    def on_bytes(n: int) -> None:
        nonlocal read
        read += n
        progress(STAGE_VERIFY, min(read, total), total)

    try:
        with tarfile.open(archive, mode="r:*") as tar:
            for member in tar:
                name = member.name
                if name in seen:
                    raise _damaged("backup_member_twice", name=name)
                if not member.isfile() or not (name in (DUMP, MANIFEST, SUMS) or _PHOTO_MEMBER.match(name)):
                    raise _damaged("backup_member_unexpected", name=repr(name))
                target = staging / name
                target.parent.mkdir(parents=True, exist_ok=True)
                src = tar.extractfile(member)
                assert src is not None
                with src, target.open("wb") as dst:
                    seen[name] = _copy_hashing(src, dst, on_bytes)
    except (tarfile.TarError, EOFError, zlib.error) as exc:
        raise _damaged("backup_not_tar", reason=str(exc)) from exc
    except OSError as exc:  # the archive is fine, the staging folder is not (disk full?)
        raise BackupError("").with_message(
            "backup_cannot_unpack", folder=str(staging), reason=str(exc)
        ) from exc
    progress(STAGE_VERIFY, total, total)

    for needed in (MANIFEST, SUMS, DUMP):
        if needed not in seen:
            raise _damaged("backup_member_missing", name=needed)
    sums: dict[str, str] = {}
    try:
        sums_text = (staging / SUMS).read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise _damaged("backup_sums_not_text", name=SUMS) from exc
    for line in sums_text.splitlines():
        match = _SUM_LINE.match(line)
        if not match:
            raise _damaged("backup_sums_bad_line", name=SUMS, line=repr(line))
        sums[match.group(2)] = match.group(1)
    if set(sums) != set(seen) - {SUMS}:
        extra = sorted(set(sums) ^ (set(seen) - {SUMS}))
        raise _damaged("backup_lists_differ", name=SUMS, names=", ".join(extra[:5]))
    for name, expected in sums.items():
        if seen[name][0] != expected:
            raise _damaged("backup_checksum_mismatch", name=name, expected=expected, got=seen[name][0])

    try:
        manifest = json.loads((staging / MANIFEST).read_text(encoding="utf-8"))
        files = {f["path"]: (f["sha256"], int(f["size"])) for f in manifest["files"]}
        version = int(manifest["format_version"])
        manifest["row_counts"] = {str(k): int(v) for k, v in manifest["row_counts"].items()}
        manifest["migrations"] = [{**m, "version": str(m["version"])} for m in manifest["migrations"]]
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise _damaged("backup_manifest_unreadable", name=MANIFEST, reason=repr(exc)) from exc
    if version > FORMAT_VERSION:
        raise BackupError("").with_message("backup_format_newer", version=version, known=FORMAT_VERSION)
    if set(files) != set(seen) - {SUMS, MANIFEST}:
        extra = sorted(set(files) ^ (set(seen) - {SUMS, MANIFEST}))
        raise _damaged("backup_lists_differ", name=MANIFEST, names=", ".join(extra[:5]))
    for name, (sha, size) in files.items():
        if seen[name] != (sha, size):
            raise _damaged(
                "backup_member_differs",
                name=name,
                sha=sha,
                size=size,
                got_sha=seen[name][0],
                got_size=seen[name][1],
            )
    return manifest


# -- restoring -----------------------------------------------------------------------------


def _connect_target(settings: Settings) -> psycopg.Connection:
    try:
        return psycopg.connect(_dsn(settings), autocommit=True)
    except psycopg.OperationalError as exc:
        raise BackupError("").with_message("restore_cannot_connect", reason=str(exc)) from exc


def check_target_empty(conn: psycopg.Connection) -> None:
    """Refuse a database that holds anything but extensions: a restore never merges."""
    found = user_objects(conn)
    if found:
        shown = ", ".join(found[:5]) + (" …" if len(found) > 5 else "")
        raise BackupError("").with_message(
            "restore_target_not_empty", db=conn.info.dbname, n=len(found), names=shown
        )


_TOC_TABLE_DATA = re.compile(r"^\d+; \d+ \d+ TABLE DATA (\S+) (\S+) ")


def _restore_list(pg_restore: Path, dump: Path, manifest: dict[str, Any], workdir: Path) -> Path:
    """The dump's table of contents, less what a plain database owner may not restore
    and the backup does not need.

    ``COMMENT ON EXTENSION postgis`` may only be run by the extension's owner; on a
    server where an administrator created PostGIS beforehand (the usual way to give a
    non-superuser PostGIS), it would abort the whole restore for a comment. Likewise
    the (usually empty) user rows of spatial_ref_sys: an entry the manifest counts as
    empty is skipped; one with rows stays, and needs the right to insert them.
    """
    listing = subprocess.run(
        [str(pg_restore), "--list", str(dump)], capture_output=True, text=True, check=False
    )
    if listing.returncode != 0:
        raise _damaged("backup_dump_unreadable", name=DUMP, reason=listing.stderr.strip())
    empty = {name for name, n in manifest.get("extension_rows", {}).items() if n == 0}
    kept = []
    for line in listing.stdout.splitlines():
        data = _TOC_TABLE_DATA.match(line)
        if " COMMENT - EXTENSION " in line or (data and f"{data[1]}.{data[2]}" in empty):
            continue
        kept.append(line)
    path = workdir / "restore.list"
    path.write_text("\n".join(kept) + "\n", encoding="utf-8")
    return path


def _place_photos(staged: Path, target_root: Path, progress: ProgressFn) -> tuple[list[Path], int]:
    """Move verified photos into the store; return (files written, files already there).

    The store is content-addressed, so a file already present under the same name
    with the same bytes is kept as it is; each new file appears by an atomic rename,
    never half-written.
    """
    names = sorted(staged.glob("??/*")) if staged.is_dir() else []
    written: list[Path] = []
    present = 0
    progress(STAGE_PHOTOS, 0, len(names))
    try:
        for i, src in enumerate(names, 1):
            target = target_root / src.parent.name / src.name
            digest = src.name.split(".", 1)[0]
            if target.is_file() and _sha256_of(target) == digest:
                present += 1
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                tmp = target.with_name(f"{target.name}.{os.getpid()}.restore.tmp")
                shutil.move(src, tmp)
                os.replace(tmp, target)
                written.append(target)
            progress(STAGE_PHOTOS, i, len(names))
    except OSError:
        for path in written:
            path.unlink(missing_ok=True)
        raise
    return written, present


def _sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _migration_warnings(manifest: dict[str, Any], settings: Settings) -> list[dict[str, Any]]:
    from registry.migrate import discover

    known = {m.version for m in discover(settings.migrations_dir)}
    in_backup = {m["version"] for m in manifest.get("migrations", [])}
    notes: list[dict[str, Any]] = []
    unknown = sorted(in_backup - known)
    if unknown:
        notes.append(nested("restore_newer_migrations", {"versions": ", ".join(unknown)}))
    if known - in_backup and in_backup:
        notes.append(nested("restore_older_backup"))
    return notes


def restore_backup(
    settings: Settings,
    archive: Path,
    *,
    progress: ProgressFn = _no_progress,
    work_dir: Path | None = None,
) -> RestoreResult:
    """Restore ``archive`` onto an empty target: the embedded cluster in ``data_dir``
    (created when the folder has none) or the ``DATABASE_URL`` server.

    Order matters: (1) extract and verify everything in a staging folder, touching
    nothing; (2) make sure the target database is empty; (3) put the photos back
    where ``data_dir`` says they live; (4) pg_restore in one transaction, so a failure
    leaves the database empty (and the photos just placed are removed again);
    (5) compare the restored row counts with the manifest and ANALYZE, since
    pg_restore leaves the planner without statistics.
    """
    archive = archive.resolve()
    pg_restore = client_tool("pg_restore")
    with tempfile.TemporaryDirectory(prefix="registry-restore-", dir=work_dir) as tmp:
        staging = Path(tmp) / "archive"
        staging.mkdir()
        manifest = extract_verified(archive, staging, progress=progress)
        warnings = _migration_warnings(manifest, settings)

        started_existing = None
        if settings.embedded:
            from registry.cluster import Cluster

            cluster = Cluster(settings)
            existed = (cluster.pgdata / "PG_VERSION").exists()
            started = cluster.up()  # creates the cluster and the empty database when new
            started_existing = cluster if (existed and started) else None
        try:
            with _connect_target(settings) as conn:
                check_target_empty(conn)
        except BackupError:
            if started_existing is not None:
                started_existing.down()  # leave a refused data folder as it was found
            raise

        placed, present = _place_photos(staging / PHOTOS, photos_dir(settings), progress)
        expected = manifest["row_counts"]
        total = len(expected)
        done = 0

        def on_restore_line(line: str) -> None:
            nonlocal done
            if "processing data for table" in line:
                done += 1
                progress(STAGE_RESTORE, min(done, total), total)

        conninfo, env = _tool_connection(_dsn(settings))
        progress(STAGE_RESTORE, 0, total)
        try:
            _run_tool(
                [
                    str(pg_restore),
                    "--single-transaction",
                    "--exit-on-error",
                    "--no-owner",
                    "--no-privileges",
                    "--verbose",
                    "--no-password",
                    f"--use-list={_restore_list(pg_restore, staging / DUMP, manifest, Path(tmp))}",
                    f"--dbname={conninfo}",
                    str(staging / DUMP),
                ],
                env,
                on_restore_line,
                "pg_restore ",
            )
        except BackupError:
            for path in placed:
                path.unlink(missing_ok=True)
            raise
        progress(STAGE_RESTORE, total, total)

    with _connect_target(settings) as conn:
        restored = row_counts(conn, user_tables(conn))
        conn.execute("ANALYZE")
    differ = sorted(k for k in set(expected) | set(restored) if expected.get(k) != restored.get(k))
    if differ:
        shown = ", ".join(f"{k}: {expected.get(k)} → {restored.get(k)}" for k in differ[:5])
        raise BackupError("").with_message("restore_row_counts", tables=shown)
    return RestoreResult(
        manifest=manifest,
        tables=len(restored),
        rows=sum(restored.values()),
        photos_written=len(placed),
        photos_present=present,
        warnings=warnings,
    )
