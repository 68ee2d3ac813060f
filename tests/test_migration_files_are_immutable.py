"""A migration that has landed is never edited: a database migrated before the edit
would refuse to migrate (registry/migrate.py compares checksums).

The checksums are recorded in files that are themselves never edited: ``sql/SHA256SUMS``
holds the migrations up to 0081 as they landed, and every later migration brings its own
``<file>.sha256`` (``sha256sum 0123_x.sql > 0123_x.sql.sha256``), so recording a new
migration adds a file and changes none."""

from __future__ import annotations

import hashlib

from registry.settings import PROJECT_ROOT

SQL = PROJECT_ROOT / "sql"


def _recorded() -> dict[str, str]:
    sources = [SQL / "SHA256SUMS", *sorted(SQL.glob("*.sql.sha256"))]
    lines = [line for source in sources for line in source.read_text().splitlines() if line.strip()]
    return {name: digest for digest, name in (line.split(maxsplit=1) for line in lines)}


def test_every_migration_file_matches_its_recorded_checksum() -> None:
    recorded = _recorded()
    changed = [
        name
        for name, digest in recorded.items()
        if (SQL / name).exists() and hashlib.sha256((SQL / name).read_bytes()).hexdigest() != digest
    ]
    assert not changed, f"landed migrations were edited (add a new migration instead): {changed}"


def test_a_checksum_file_records_its_own_migration_only() -> None:
    for source in SQL.glob("*.sql.sha256"):
        names = [line.split(maxsplit=1)[1] for line in source.read_text().splitlines() if line.strip()]
        assert names == [source.name.removesuffix(".sha256")], f"{source.name} records {names}"


def test_no_recorded_migration_was_removed_and_every_file_is_recorded() -> None:
    recorded = _recorded()
    files = {p.name for p in SQL.glob("*.sql")}
    assert not set(recorded) - files, "a landed migration was removed"
    missing = sorted(files - set(recorded))
    assert not missing, "record each new migration in its own checksum file: " + "; ".join(
        f"(cd sql && sha256sum {name} > {name}.sha256)" for name in missing
    )
