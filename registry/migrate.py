"""Apply the numbered plain-SQL migrations in ``sql/``.

A small runner rather than a library: it applies ``NNNN_slug.sql`` files in order,
one transaction each, records version and SHA-256 in ``schema_migrations``, and
refuses to run when an applied file has changed since. (yoyo-migrations, the closest
plain-SQL library, identifies migrations by id only and would silently accept an
edited file; Alembic wants Python revision files.)
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from pathlib import Path

import psycopg

from registry.errors import MigrationError

logger = logging.getLogger(__name__)

_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
# Any constant works; it only has to be the same for every registry process.
_LOCK_KEY = 4108_0001

_BOOKKEEPING = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    text PRIMARY KEY,
    name       text NOT NULL,
    checksum   text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""


@dataclass(frozen=True)
class Migration:
    """One file in ``sql/``."""

    version: str
    name: str
    path: Path

    @property
    def text(self) -> str:
        """The SQL, read fresh each time so the checksum matches what runs."""
        return self.path.read_text(encoding="utf-8")

    @property
    def checksum(self) -> str:
        """SHA-256 of the file, so an edit after it was applied is noticed."""
        return hashlib.sha256(self.path.read_bytes()).hexdigest()


def discover(directory: Path) -> list[Migration]:
    """The migrations in ``directory``, in version order; odd names are an error."""
    found: list[Migration] = []
    for path in sorted(directory.glob("*.sql")):
        match = _NAME.match(path.name)
        if not match:
            raise MigrationError("").with_message("migration_file_name", name=path.name)
        found.append(Migration(match.group(1), match.group(2), path))
    versions = [m.version for m in found]
    if len(versions) != len(set(versions)):
        raise MigrationError("").with_message("migration_version_twice", folder=str(directory))
    return found


def applied(conn: psycopg.Connection) -> dict[str, str]:
    """Version → checksum of what the database has already applied."""
    conn.execute(_BOOKKEEPING)
    rows = conn.execute("SELECT version, checksum FROM schema_migrations").fetchall()
    return dict(rows)


def migrate(conn: psycopg.Connection, directory: Path) -> list[str]:
    """Apply pending migrations; return the versions applied (empty when up to date).

    Each file runs in its own transaction, so a failing file leaves the schema at the
    previous version. A session-level advisory lock keeps two processes from
    migrating at once.
    """
    migrations = discover(directory)
    if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
        raise MigrationError("").with_message("migration_in_transaction")
    conn.autocommit = True
    conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_KEY,))
    try:
        done = applied(conn)
        for m in migrations:
            if m.version in done and done[m.version] != m.checksum:
                raise MigrationError("").with_message("migration_changed", name=m.path.name)
        newly: list[str] = []
        for m in migrations:
            if m.version in done:
                continue
            logger.info("applying migration %s", m.path.name)
            try:
                with conn.transaction():
                    conn.execute(m.text)  # type: ignore[arg-type]  # trusted file from sql/
                    conn.execute(
                        "INSERT INTO schema_migrations (version, name, checksum) VALUES (%s, %s, %s)",
                        (m.version, m.name, m.checksum),
                    )
            except psycopg.Error as exc:
                raise MigrationError("").with_message(
                    "migration_failed", name=m.path.name, reason=str(exc.diag.message_primary or exc)
                ) from exc
            newly.append(m.version)
        return newly
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))
