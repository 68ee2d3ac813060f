"""A migration that has landed is never edited: a database migrated before the edit
would refuse to migrate (registry/migrate.py compares checksums). ``sql/SHA256SUMS``
records every landed file; a new migration adds its line, and no line ever changes."""

from __future__ import annotations

import hashlib

from registry.settings import PROJECT_ROOT

SQL = PROJECT_ROOT / "sql"


def _recorded() -> dict[str, str]:
    lines = (SQL / "SHA256SUMS").read_text().splitlines()
    return {name: digest for digest, name in (line.split(maxsplit=1) for line in lines if line.strip())}


def test_every_migration_file_matches_its_recorded_checksum() -> None:
    recorded = _recorded()
    changed = [
        name
        for name, digest in recorded.items()
        if (SQL / name).exists() and hashlib.sha256((SQL / name).read_bytes()).hexdigest() != digest
    ]
    assert not changed, f"landed migrations were edited (add a new migration instead): {changed}"


def test_no_recorded_migration_was_removed_and_every_file_is_recorded() -> None:
    recorded = _recorded()
    files = {p.name for p in SQL.glob("*.sql")}
    assert not set(recorded) - files, "a landed migration was removed"
    assert not files - set(recorded), (
        f"record new migrations in sql/SHA256SUMS (sha256sum {' '.join(sorted(files - set(recorded)))})"
    )
