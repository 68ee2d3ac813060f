"""Connections: one place that turns settings into a DSN and a connection pool."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
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


def make_pool(settings: Settings, *, min_size: int = 1, max_size: int = 10) -> ConnectionPool:
    """The pool the web app keeps for its lifetime (opened by the caller)."""
    return ConnectionPool(
        dsn_for(settings),
        min_size=min_size,
        max_size=max_size,
        open=False,
        kwargs={"application_name": "jiaozuo-registry"},
    )
