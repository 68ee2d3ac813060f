"""Who is acting, through what, and why: transaction-local settings the database
triggers read (``registry.actor``, ``registry.via``, ``registry.comment``).

Every application write sets them first, so the audit trail is written by the
database itself and a write made directly in SQL is still attributed.
"""

from __future__ import annotations

import psycopg


def set_actor(conn: psycopg.Connection, actor: str, *, via: str = "api", comment: str | None = None) -> None:
    """Attribute the writes of the current transaction.

    ``via`` names the channel: ``api``, ``map``, ``import:<id>``, ``undo:<id>``,
    ``demo``, ``cli``.
    """
    conn.execute(
        "SELECT set_config('registry.actor', %s, true), set_config('registry.via', %s, true), "
        "set_config('registry.comment', %s, true)",
        (actor, via, comment or ""),
    )
