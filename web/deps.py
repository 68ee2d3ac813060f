"""FastAPI dependencies shared by the routes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

import psycopg
from fastapi import Depends, Request

from registry.catalog import LayerCatalog


def get_conn(request: Request) -> Iterator[psycopg.Connection]:
    """One pooled connection and transaction per request."""
    with request.app.state.pool.connection() as conn:
        yield conn


def get_catalog(request: Request) -> LayerCatalog:
    """The catalogue the app was built with."""
    return request.app.state.catalog


ConnDep = Annotated[psycopg.Connection, Depends(get_conn)]
CatalogDep = Annotated[LayerCatalog, Depends(get_catalog)]


def current_actor(request: Request) -> str:
    """Who is writing.

    PLACEHOLDER until the auth work lands: every write is attributed to
    "anonymous". At merge, the lead replaces this with the auth helper's
    ``require(action, layer)`` dependency; every write route already takes its
    actor from here, so that is the only place to change.
    """
    return "anonymous"


ActorDep = Annotated[str, Depends(current_actor)]
