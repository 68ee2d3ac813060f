"""Connections: one place that turns settings into a DSN and a connection pool."""

from __future__ import annotations

import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg.pq import ConnStatus
from psycopg_pool import ConnectionPool

from registry.settings import Settings


def dsn_for(settings: Settings) -> str:
    """The server URL, or the embedded cluster's when DATABASE_URL is unset."""
    if settings.database_url:
        return settings.database_url
    from registry.cluster import embedded_dsn

    return embedded_dsn(settings)


@contextmanager
def connect(settings: Settings, *, autocommit: bool = False) -> Iterator[psycopg.Connection]:
    """A single connection, committed on success and rolled back on error."""
    with psycopg.connect(dsn_for(settings), autocommit=autocommit) as conn:
        yield conn


# A connection handed back this recently is handed out again without a test query.
RECENTLY_RETURNED_S = 1.0
_returned_at: weakref.WeakKeyDictionary[psycopg.Connection, float] = weakref.WeakKeyDictionary()


def _returned(conn: psycopg.Connection) -> None:
    _returned_at[conn] = time.monotonic()


def _check(conn: psycopg.Connection) -> None:
    """The pool's test of a connection before handing it out, skipped for one that was
    handed back in working order within the last second.

    The test is a round trip (about 50 us, a twentieth of a small read; issue 13). It
    exists for a database that restarted while connections sat idle in the pool; one
    that restarted within the second after a connection's last use costs that
    connection's next request a 503, and the pool then drops the connection.
    """
    returned = _returned_at.get(conn)
    if (
        returned is not None
        and time.monotonic() - returned < RECENTLY_RETURNED_S
        and conn.pgconn.status == ConnStatus.OK
    ):
        return
    ConnectionPool.check_connection(conn)


def make_pool(
    settings: Settings, *, min_size: int = 1, max_size: int | None = None, dsn: str | None = None
) -> ConnectionPool:
    """The pool the web app keeps for its lifetime (opened by the caller).

    Request connections carry ``statement_timeout`` (REGISTRY_STATEMENT_TIMEOUT) so no
    request can hold the database; long work (imports) opens its own connection.
    Each connection is checked when handed out (unless it was just handed back,
    :func:`_check`), so after a database restart the first requests get a fresh
    connection instead of a dead one.

    JIT is off for the app's sessions: PostGIS functions declare high costs, so plans
    of ordinary tile and search queries pass ``jit_above_cost`` and compiling them
    took longer than running them (1.3 s of a 2.8 s city tile over a million assets).
    Prepared statements run on generic plans (``plan_cache_mode``): the hot reads are
    the same statements with other values (a box, a tile), whose plans do not depend on
    them, and PostgreSQL's default re-planned each execution while it weighed a generic
    plan against custom ones (planning took about as long as running a small-bbox page
    or a tile; issue 13). Statements are prepared only after repeating
    (``prepare_threshold``), so one-off queries keep their own plans.
    Any ``options`` already in DATABASE_URL are kept and win over these defaults.
    ``dsn`` names another server than the primary (a read replica).
    REGISTRY_PREPARE_THRESHOLD=0 turns server-side prepared statements off (PgBouncer).
    """
    dsn = dsn or dsn_for(settings)
    timeout_ms = int(settings.statement_timeout * 1000)
    options = " ".join(
        filter(
            None,
            # the URL's own options last: for PostgreSQL the later -c wins
            [
                "-c jit=off",
                "-c plan_cache_mode=force_generic_plan",
                f"-c statement_timeout={timeout_ms}",
                conninfo_to_dict(dsn).get("options"),
            ],
        )
    )
    return ConnectionPool(
        dsn,
        min_size=min_size,
        max_size=max_size or settings.pool_max_size,
        open=False,
        timeout=settings.pool_timeout,
        check=_check,
        reset=_returned,
        kwargs={
            "application_name": "jiaozuo-registry",
            "options": options,
            "prepare_threshold": settings.prepare_threshold or None,
        },
    )


def make_read_pools(settings: Settings) -> list[ConnectionPool]:
    """One pool per DATABASE_READ_URL replica (opened by the caller); empty when none."""
    return [make_pool(settings, dsn=url) for url in settings.read_urls]
