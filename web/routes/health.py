"""``/health``: is the database up, which PostGIS, and how many assets per layer."""

from __future__ import annotations

from typing import Any

import psycopg
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from psycopg_pool import PoolTimeout

from registry.messages import render
from web.deps import CatalogDep
from web.errors import RETRY_AFTER, request_lang

router = APIRouter(tags=["health"])

# A load balancer polls this often: it must answer quickly even when the database
# does not, so it waits less for a connection than a request does.
HEALTH_POOL_TIMEOUT = 2.0


@router.get(
    "/health",
    summary="Service and database health with asset counts per layer",
    responses={503: {"description": "The database is unreachable; the instance should be taken out"}},
)
def health(request: Request, catalog: CatalogDep) -> Any:
    """Report what an operator checks first after a deploy; 503 when the database is down,
    so a load balancer drops the instance until it is back."""
    pool = request.app.state.pool
    try:
        with pool.connection(
            timeout=min(HEALTH_POOL_TIMEOUT, request.app.state.settings.pool_timeout)
        ) as conn:
            server, postgis = conn.execute(
                "SELECT current_setting('server_version'), postgis_full_version()"
            ).fetchone()
            counts = request.app.state.layer_counts.get(conn, catalog)
    except psycopg.OperationalError as exc:
        return JSONResponse(
            {
                "status": "unavailable",
                "database": {
                    "reachable": False,
                    "detail": render("database_unavailable", {}, request_lang(request)),
                    "error": type(exc).__name__,
                },
            },
            status_code=503,
            headers={"Retry-After": RETRY_AFTER},
        )
    body: dict[str, Any] = {
        "status": "ok",
        "database": {"reachable": True, "server_version": server, "postgis": postgis.split('"')[1]},
        "layers": [
            {
                "name": spec.name,
                "title_zh": spec.zh,
                "title_en": spec.en,
                "count": counts[spec.name],
            }
            for spec in catalog
        ],
        "total": sum(counts.values()),
    }
    if request.app.state.read_pools:
        body["read_replicas"] = [_replica(pool) for pool in request.app.state.read_pools]
    return body


def _replica(pool: Any) -> dict[str, Any]:
    """Whether a DATABASE_READ_URL replica answers, is in recovery (a standby) and how far
    behind the primary its replay is; a replica that is down does not fail the health check."""
    try:
        with pool.connection(timeout=HEALTH_POOL_TIMEOUT) as conn:
            in_recovery, lag = conn.execute(
                "SELECT pg_is_in_recovery(),"
                " extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8"
            ).fetchone()
    except (psycopg.OperationalError, PoolTimeout):
        return {"reachable": False}
    return {"reachable": True, "in_recovery": in_recovery, "replay_lag_s": lag}
