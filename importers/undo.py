"""Undo an import from its own journal (``import_changes``): updated assets get their
before-state back, created ones are removed, photos it attached are detached."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql

from importers.errors import ImportNotFound, UndoConflict
from importers.records import mark_interrupted
from registry.catalog import LayerCatalog
from registry.context import set_actor

# The import statuses (sql/0020_imports.sql) as a Chinese message names them.
STATUS_ZH = {
    "running": "导入中",
    "committed": "已提交",
    "dry_run": "预检",
    "rejected": "已拒绝",
    "failed": "失败",
    "undone": "已撤销",
}


def undo(
    conn: psycopg.Connection, catalog: LayerCatalog, import_id: str, *, actor: str, force: bool = False
) -> dict[str, int]:
    """Restore every record the import touched, in one transaction.

    Refuses (``UndoConflict``) when the import was not committed, was already undone,
    or when an asset it touched has been changed since (unless ``force``).
    """
    with conn.transaction():
        row = conn.execute(
            "SELECT status, layer FROM imports WHERE id = %s FOR UPDATE", (import_id,)
        ).fetchone()
        if row is None:
            raise ImportNotFound.of("import_not_found", id=import_id)
        status, layer = row
        if status != "committed":
            raise UndoConflict.of(
                "undo_not_committed", id=import_id, status=status, status_zh=STATUS_ZH.get(status, status)
            )
        spec = catalog.get(layer)
        table = sql.Identifier(spec.name)
        set_actor(conn, actor, via=f"undo:{import_id}")
        changed = conn.execute(
            sql.SQL(
                "SELECT c.code FROM import_changes c JOIN {} t ON t.id = c.asset_id "
                "WHERE c.import_id = %s AND t.version <> c.after_version ORDER BY c.code"
            ).format(table),
            (import_id,),
        ).fetchall()
        if changed and not force:
            codes = ", ".join(c for (c,) in changed[:20])
            raise UndoConflict.of(
                "undo_changed_since",
                codes=codes,
                errors=[
                    {"field": "asset", "value": c, "code": "changed_since_import", "asset_code": c}
                    for (c,) in changed
                ],
            )
        deleted = conn.execute(
            sql.SQL(
                "DELETE FROM {} t USING import_changes c WHERE c.import_id = %s AND c.action = 'created' "
                "AND t.id = c.asset_id"
            ).format(table),
            (import_id,),
        ).rowcount
        cols = [a.name for a in spec.writable_attrs] + [
            "geom",
            "extra",
            "is_demo",
            "deleted_at",
            "deleted_by",
        ]
        restored = conn.execute(
            sql.SQL(
                "UPDATE {table} t SET ({cols}) = "
                "(SELECT {rcols} FROM jsonb_populate_record(NULL::{table}, c.before) r) "
                "FROM import_changes c WHERE c.import_id = %s AND c.action = 'updated' AND t.id = c.asset_id"
            ).format(
                table=table,
                cols=sql.SQL(", ").join(map(sql.Identifier, cols)),
                rcols=sql.SQL(", ").join(sql.SQL("r.{}").format(sql.Identifier(c)) for c in cols),
            ),
            (import_id,),
        ).rowcount
        photos = conn.execute("DELETE FROM asset_photos WHERE import_id = %s", (import_id,)).rowcount
        conn.execute(
            "UPDATE imports SET status = 'undone', undone_at = now(), undone_by = %s WHERE id = %s",
            (actor, import_id),
        )
    return {"deleted": deleted, "restored": restored, "photos_removed": photos}


def get_import(conn: psycopg.Connection, import_id: str) -> dict[str, Any]:
    """The import record (status, progress, counts, report) as a dict.

    An import whose session died (killed process) reads as failed/interrupted, not
    as running forever.
    """
    mark_interrupted(conn)
    cur = conn.execute(
        "SELECT id::text, actor, actor_id, started_at, finished_at, file_name, sha256, size_bytes, layer, "
        "options, status, rows_read, rows_total, counts, error, report, undone_at, undone_by "
        "FROM imports WHERE id = %s",
        (import_id,),
    )
    row = cur.fetchone()
    if row is None:
        raise ImportNotFound.of("import_not_found", id=import_id)
    assert cur.description is not None
    return {d.name: v for d, v in zip(cur.description, row, strict=True)}
