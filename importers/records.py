"""Bookkeeping of the ``imports`` table that is not about one import's data.

A killed importer (SIGKILL, power cut, lost connection) cannot record its own end:
the server rolls its data transaction back, but the ``imports`` row committed at the
start stays ``running``. Each import records the database session that runs it
(backend pid and start time); an import whose session is gone cannot still be
running, so it is marked ``failed`` with the error code ``interrupted``.
"""

from __future__ import annotations

import psycopg
from psycopg.types.json import Jsonb

from registry.messages import render

# The stored error of an interrupted import: its message code and both renderings
# (the status API answers in the reader's language).
INTERRUPTED = {
    "code": "interrupted",
    "msg": "import_interrupted",
    "params": {},
    "zh": render("import_interrupted", {}, "zh"),
    "en": render("import_interrupted", {}, "en"),
}


def import_via(import_id: str) -> str:
    """The ``via`` an import's writes carry in the history: the import's own journal,
    which its undo and report read back (a history entry per asset it wrote)."""
    return f"import:{import_id}"


def mark_interrupted(conn: psycopg.Connection) -> list[str]:
    """Mark running imports whose session has ended as failed/interrupted; return their ids.

    Runs in the caller's transaction (or its own, outside one). The start time guards
    against a recycled pid; it is NULL in pg_stat_activity for sessions of other roles
    the caller may not inspect, in which case the pid alone decides.
    """
    rows = conn.execute(
        "UPDATE imports i SET status = 'failed', finished_at = now(), error = %s "
        "WHERE i.status = 'running' AND i.backend_pid IS NOT NULL AND NOT EXISTS ("
        "  SELECT 1 FROM pg_stat_activity a WHERE a.pid = i.backend_pid"
        "  AND (a.backend_start IS NULL OR i.backend_start IS NULL OR a.backend_start = i.backend_start)"
        ") RETURNING i.id::text",
        (Jsonb(INTERRUPTED),),
    ).fetchall()
    return [r[0] for r in rows]
