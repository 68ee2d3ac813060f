"""The web map: the page at ``/``, the upload page, and the JSON the page is built from
(layer catalogue, districts, basemaps, an asset's child records)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.templating import Jinja2Templates
from psycopg import sql

from registry.errors import RegistryError
from registry.permissions import Action
from web.auth import require
from web.catalog_view import catalog_json
from web.deps import CatalogDep, ConnDep
from web.routes.basemaps import page_basemaps

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).resolve().parents[1] / "templates"))

router = APIRouter(tags=["map"])

# The page, its scripts, /api/config and /api/layers (the schema, no asset data) stay
# public so the sign-in form can render; everything that shows data needs READ.
Reader = Depends(require(Action.READ))

# About 100 m at Jiaozuo: districts are context, not survey data, and the simplified
# outline of all ten is ~60 kB instead of ~1 MB.
DISTRICT_TOLERANCE_DEG = 0.001


def _page_config(request: Request) -> dict[str, Any]:
    settings = request.app.state.settings
    # public_read tells the page whether to ask for a sign-in before showing data;
    # basemaps: REGISTRY_BASEMAPS and those an admin configured (read fresh, so the
    # page's CSP names their hosts)
    basemaps = page_basemaps(request)
    return {"basemaps": [b.model_dump() for b in basemaps], "public_read": settings.public_read}


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
def map_page(request: Request) -> HTMLResponse:
    """The map; configuration is in the page (a JSON data block) so the first paint needs
    no extra request."""
    return TEMPLATES.TemplateResponse(request, "map.html", {"config": _page_config(request)})


@router.get("/upload", response_class=HTMLResponse, include_in_schema=False)
def upload_page(request: Request) -> HTMLResponse:
    """The surveyors' upload page (dry run → report → confirm → progress → undo)."""
    return TEMPLATES.TemplateResponse(request, "upload.html", {"config": _page_config(request)})


@router.get("/api/layers", summary="The layer catalogue: titles, attributes, choices, statuses, styles")
def layers(catalog: CatalogDep) -> JSONResponse:
    """What the map builds its switcher, legend, filters and forms from."""
    return JSONResponse(catalog_json(catalog), headers={"Cache-Control": "max-age=300"})


@router.get("/api/config", summary="Map configuration: basemaps, whether reading is public")
def config(request: Request) -> dict[str, Any]:
    """Deployment choices the page needs (basemaps and their datum)."""
    return _page_config(request)


@router.get(
    "/api/districts",
    summary="District and county boundaries (simplified GeoJSON)",
    dependencies=[Reader],
)
def districts(conn: ConnDep) -> JSONResponse:
    """The ten districts/counties, simplified for display; the map always shows them,
    so it is usable with no basemap at all."""
    row = conn.execute(
        """
        SELECT json_build_object('type', 'FeatureCollection', 'features', COALESCE(json_agg(
            json_build_object(
                'type', 'Feature', 'id', code,
                'properties', json_build_object('code', code, 'name_zh', name_zh,
                                                'name_en', name_en, 'kind', kind),
                'geometry', ST_AsGeoJSON(ST_SimplifyPreserveTopology(geom, %s), 5)::json
            ) ORDER BY code), '[]'::json))
        FROM districts
        """,
        (DISTRICT_TOLERANCE_DEG,),
    ).fetchone()
    return JSONResponse(row[0], media_type="application/geo+json", headers={"Cache-Control": "max-age=3600"})


def _parent_key(conn: ConnDep, child_table: str, parent_table: str) -> str:
    """The column of ``child_table`` that references ``parent_table`` (read from the
    schema, so the spec need not repeat what the migration already says)."""
    row = conn.execute(
        """
        SELECT a.attname FROM pg_constraint c
        JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
        WHERE c.contype = 'f' AND c.conrelid = %s::regclass AND c.confrelid = %s::regclass
        """,
        (child_table, parent_table),
    ).fetchone()
    if row is None:
        raise HTTPException(500, f"{child_table} has no foreign key to {parent_table}")
    return row[0]


class ChildRecordsNotFound(RegistryError):
    """The layer declares no child records of that name."""

    status = 404
    code = "child_records_not_found"


@router.get(
    "/api/assets/{layer}/{asset_id}/children/{child}",
    summary="Child records of an asset (e.g. water-quality tests), newest first",
    dependencies=[Reader],
)
def children(layer: str, asset_id: UUID, child: str, conn: ConnDep, catalog: CatalogDep) -> dict[str, Any]:
    """Rows of one child table of the asset, with the columns the spec declares."""
    spec = catalog.get(layer)
    table = next((c for c in spec.children if c.name == child), None)
    if table is None:
        raise ChildRecordsNotFound("").with_message(
            "child_records_unknown", layer=layer, layer_zh=spec.zh, child=child
        )
    key = _parent_key(conn, table.name, spec.name)
    columns = [a.name for a in table.attrs]
    order = next((a.name for a in table.attrs if str(a.type) == "date"), columns[0])
    query = sql.SQL("SELECT {cols} FROM {table} WHERE {key} = %s ORDER BY {order} DESC LIMIT 500").format(
        cols=sql.SQL(", ").join(map(sql.Identifier, columns)),
        table=sql.Identifier(table.name),
        key=sql.Identifier(key),
        order=sql.Identifier(order),
    )
    cur = conn.execute(query, (asset_id,))
    rows = [
        {
            c: (v.isoformat() if hasattr(v, "isoformat") else (float(v) if _is_decimal(v) else v))
            for c, v in zip(columns, r, strict=True)
        }
        for r in cur
    ]
    return {"child": table.name, "rows": rows}


def _is_decimal(v: Any) -> bool:
    return isinstance(v, Decimal)
