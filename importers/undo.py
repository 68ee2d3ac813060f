"""Undo an import from the history it wrote (``asset_history``, ``via = 'import:<id>'``):
updated assets get their before-state back, created ones are removed, photos it
attached are detached.

Not :func:`registry.history.undo`, which soft-deletes what a batch created: an undone
import frees its codes (the file can be corrected and imported again), and its created
assets stay readable in the history only."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql

from importers.errors import ImportNotFound, UndoConflict
from importers.records import import_via, mark_interrupted
from registry.catalog import LayerCatalog
from registry.context import set_actor
from registry.history import snapshot_geom

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
        via = import_via(import_id)
        set_actor(conn, actor, via=f"undo:{import_id}")
        # the import's own entries: one per asset it created or updated
        mine = sql.SQL("asset_history h WHERE h.via = %s AND h.child_table IS NULL AND t.id = h.asset_id")
        changed = conn.execute(
            sql.SQL("SELECT t.code FROM {} t, {} AND t.version <> h.version ORDER BY t.code").format(
                table, mine
            ),
            (via,),
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
            sql.SQL("DELETE FROM {} t USING {} AND h.action = 'create'").format(table, mine), (via,)
        ).rowcount
        cols = [a.name for a in spec.writable_attrs] + ["extra", "is_demo", "deleted_at", "deleted_by"]
        restored = conn.execute(
            sql.SQL(
                "UPDATE {table} t SET ({cols}) = "
                "(SELECT {rcols} FROM jsonb_populate_record(NULL::{table}, h.before - 'geom') r), "
                "geom = {geom} "
                "FROM {mine} AND h.action = 'update'"
            ).format(
                table=table,
                cols=sql.SQL(", ").join(map(sql.Identifier, cols)),
                rcols=sql.SQL(", ").join(sql.SQL("r.{}").format(sql.Identifier(c)) for c in cols),
                geom=snapshot_geom(sql.SQL("h.before")),
                mine=mine,
            ),
            (via,),
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
