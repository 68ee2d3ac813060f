"""FastAPI dependencies shared by the routes."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import psycopg
from fastapi import Depends, Request

from registry.catalog import LayerCatalog


def get_conn(request: Request) -> Iterator[psycopg.Connection]:
    """One pooled connection and transaction per request.

    Used with ``scope="function"`` (see ``ConnDep``): the transaction commits when the
    route function returns and *before* the response is sent, so a 200 always means
    committed, and a failed COMMIT reaches the client as an error instead of being
    lost after it was told "OK". Waiting for a free connection is bounded by
    ``pool_timeout``; the pool error becomes a 503 (web/errors.py).
    """
    settings = request.app.state.settings
    with request.app.state.pool.connection(timeout=settings.pool_timeout) as conn:
        yield conn


# Set on the response of every successful write while replicas are configured
# (web/readwrite.py); while the browser or client still sends it back, its reads go to
# the primary, so a user sees their own edit even before the replicas replay it.
WROTE_COOKIE = "registry_wrote"
READ_METHODS = frozenset({"GET", "HEAD"})
_next_replica = itertools.count()


def get_read_conn(
    request: Request, primary: Annotated[psycopg.Connection, Depends(get_conn, scope="function")]
) -> Iterator[psycopg.Connection]:
    """A connection for a read-only request: a replica's when DATABASE_READ_URL is set.

    Replicas are taken in turn. A request that is not a GET/HEAD, or that carries the
    ``registry_wrote`` cookie of a write in the last ``read_your_writes_seconds``, reads
    from the primary (read-your-own-writes). Without replicas this is ``get_conn``.
    Only routes that never write may use it: a replica refuses writes.

    ``primary`` is the request's own primary connection (FastAPI gives every dependency
    on ``get_conn`` the same one; authentication already holds it): reads that stay on
    the primary reuse it instead of taking a second connection from the pool, which
    under load would leave every request holding one and waiting for another.
    """
    with replica_connection(request) as conn:
        yield conn if conn is not None else primary


@contextmanager
def replica_connection(request: Request) -> Iterator[psycopg.Connection | None]:
    """A replica's connection for this read-only request, or None when it must read (or
    can only read) from the primary: no replicas, not a GET/HEAD, or a recent write of
    this client (the ``registry_wrote`` cookie). Replicas are taken in turn."""
    state = request.app.state
    replicas = state.read_pools
    if not replicas or request.method not in READ_METHODS or WROTE_COOKIE in request.cookies:
        yield None
        return
    pool = replicas[next(_next_replica) % len(replicas)]
    with pool.connection(timeout=state.settings.pool_timeout) as conn:
        yield conn


async def get_catalog(request: Request) -> LayerCatalog:
    """The catalogue the app was built with (async: no thread-pool hop for an attribute read)."""
    return request.app.state.catalog


ConnDep = Annotated[psycopg.Connection, Depends(get_conn, scope="function")]
ReadConnDep = Annotated[psycopg.Connection, Depends(get_read_conn, scope="function")]
CatalogDep = Annotated[LayerCatalog, Depends(get_catalog)]
