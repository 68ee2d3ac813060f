"""FastAPI dependencies shared by the routes."""

from __future__ import annotations

from collections.abc import Iterator
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


def get_catalog(request: Request) -> LayerCatalog:
    """The catalogue the app was built with."""
    return request.app.state.catalog


ConnDep = Annotated[psycopg.Connection, Depends(get_conn, scope="function")]
CatalogDep = Annotated[LayerCatalog, Depends(get_catalog)]
