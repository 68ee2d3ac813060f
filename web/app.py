"""Application factory: assembles settings, the layer catalogue and the routes."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import Depends, FastAPI
from fastapi.staticfiles import StaticFiles

from importers.records import mark_interrupted
from layers import default_catalog
from registry.assets import LayerCounts
from registry.catalog import LayerCatalog
from registry.db import make_pool, make_read_pools
from registry.settings import Settings
from registry.tile_cache import MemoryTiles, attach_generation_triggers
from registry.workflow_store import sync_workflows
from web.errors import add_exception_handlers
from web.limits import RequestLimits
from web.readwrite import ReadYourWrites
from web.routes import auth as auth_routes
from web.routes import basemaps as basemap_routes
from web.routes import dashboard as dashboard_routes
from web.routes import docs, features, health, imports, parking, photos, printmap, search, tiles, transactions
from web.routes import export_search as export_routes
from web.routes import field as field_routes
from web.routes import field_app as field_page
from web.routes import history as history_routes
from web.routes import inspections as inspection_routes
from web.routes import map as map_routes
from web.routes import places as place_routes
from web.routes import workflow as workflow_routes
from web.security import install_security
from web.textcheck import refuse_unstorable_text

logger = logging.getLogger(__name__)


def create_app(settings: Settings | None = None, catalog: LayerCatalog | None = None) -> FastAPI:
    """Build the app; nothing is created at import time, so tests pass their own settings."""
    settings = settings or Settings()
    catalog = catalog or default_catalog()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool = make_pool(settings)
        pool.open(wait=True, timeout=30)
        # the database enforces the workflows the layers declare (one source: layers/)
        with pool.connection() as conn:
            sync_workflows(conn, catalog)
            # every write to a layer, by any path, invalidates its cached tiles
            attach_generation_triggers(conn, catalog)
        app.state.pool = pool
        # DATABASE_READ_URL replicas serve read-only requests (web/deps.py get_read_conn)
        app.state.read_pools = make_read_pools(settings)
        for replica in app.state.read_pools:
            replica.open(wait=True, timeout=30)
        # An import killed with its server is failed now, at start-up, not only when
        # someone next reads it.
        with pool.connection() as conn:
            if interrupted := mark_interrupted(conn):
                logger.warning("imports interrupted by a previous stop: %s", ", ".join(interrupted))
        try:
            yield
        finally:
            for replica in app.state.read_pools:
                replica.close()
            pool.close()

    app = FastAPI(
        title="焦作市城市管理资产登记 Jiaozuo Asset Registry",
        version="0.1.0",
        lifespan=lifespan,
        # FastAPI's /docs and /redoc load from a CDN: web/routes/docs.py serves a vendored one
        docs_url=None,
        redoc_url=None,
        # every route: NUL or a lone surrogate in any parameter or body is a 400/422
        dependencies=[Depends(refuse_unstorable_text)],
    )
    app.state.settings = settings
    app.state.catalog = catalog
    app.state.read_pools = []
    # this app's in-process copies of the tiles it served (one per app: tests run
    # several apps in one process, each on its own database)
    app.state.tile_memory = MemoryTiles()
    app.state.layer_counts = LayerCounts()
    add_exception_handlers(app)
    app.add_middleware(RequestLimits, settings=settings)
    if settings.read_urls:
        app.add_middleware(ReadYourWrites, seconds=settings.read_your_writes_seconds)
    install_security(app, settings)
    # The routes GIS clients and the map call most (items, tiles) are matched first:
    # a request is compared with every route before its own, about 5 us each (issue 13).
    app.include_router(features.router)
    app.include_router(tiles.router)
    app.include_router(transactions.router)
    app.include_router(health.router)
    app.include_router(docs.router)
    app.include_router(auth_routes.router)
    app.include_router(history_routes.router)
    app.include_router(imports.router)
    # before the search router, so /api/search/map.html is never taken for a search path
    app.include_router(printmap.router)
    app.include_router(search.router)
    app.include_router(map_routes.router)
    app.include_router(parking.router)
    app.include_router(photos.router)
    app.include_router(workflow_routes.router)
    app.include_router(inspection_routes.router)
    app.include_router(dashboard_routes.router)
    app.include_router(basemap_routes.router)
    app.include_router(place_routes.router)
    app.include_router(export_routes.router)
    app.include_router(field_routes.router)
    app.include_router(field_page.router)
    # Leaflet, its plugins and the map's own scripts are served by the app: no CDN.
    app.mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static")
    return app
