"""Campaign dashboard (``/dashboard``), its data (``/api/dashboard``), targets
(``/api/targets``), the monthly report (``/api/reports/monthly``) and the hazard
dossier (``/api/assets/{layer}/{id}/dossier.pdf``).

Every figure comes from :mod:`registry.campaigns` (through :mod:`registry.dashboard`),
the same queries the CLI report and the tests read. Each figure's ``filter`` (the
``/api/search`` parameters behind it) becomes a link to the map: ``/#layers=…&status=…
&search=<those parameters>``, which the map page restores (web/static/app: the hash).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any
from urllib.parse import urlencode
from uuid import UUID

from fastapi import APIRouter, Body, Depends, Query, Request, Response
from fastapi.responses import HTMLResponse

from registry import campaigns
from registry.accounts import User
from registry.context import set_actor
from registry.dashboard import dashboard, month_bounds, monthly_report
from registry.errors import InvalidParameter
from registry.permissions import Action
from web.auth import require
from web.deps import CatalogDep, ConnDep
from web.reports import dossier, monthly
from web.routes.map import TEMPLATES

router = APIRouter(tags=["campaigns 专项整治"])
Reader = Depends(require(Action.READ))
SEARCH_LIMIT = 1000


def map_href(search: dict[str, Any]) -> str:
    """The map page showing the assets behind a figure: the layer switched on, the
    status filter set and the search listed (the map's hash parameters)."""
    q: dict[str, Any] = {"layers": search["layers"]}
    if search.get("status"):
        q["status"] = search["status"]
    q["search"] = urlencode({**search, "limit": SEARCH_LIMIT})
    return "/#" + urlencode(q)


def _with_links(data: dict[str, Any]) -> dict[str, Any]:
    for key in ("counts", "targets", "flags"):
        for item in data[key]:
            item["href"] = map_href(item["filter"])
    for f in data["flags"]:
        for item in f["items"]:
            item["href"] = "/#" + urlencode({"layers": f["layer"], "asset": f"{f['layer']}/{item['id']}"})
    return data


def _today(today: dt.date | None) -> dt.date:
    return today or dt.date.today()


@router.get("/dashboard", response_class=HTMLResponse, include_in_schema=False)
def dashboard_page(request: Request) -> HTMLResponse:
    """The page; its data comes from /api/dashboard (a session cookie or public read)."""
    return TEMPLATES.TemplateResponse(request, "dashboard.html", {})


@router.get("/api/dashboard", summary="Dashboard figures 专项整治看板数据", dependencies=[Reader])
def dashboard_data(
    conn: ConnDep,
    catalog: CatalogDep,
    year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
    today: Annotated[
        dt.date | None, Query(description="the day 'overdue' is judged on (default: today)")
    ] = None,
) -> dict[str, Any]:
    """Counts per layer × district × status, targets against done (with percentages),
    overdue and failing assets, and the monthly trend; each with its map link."""
    day = _today(today)
    return _with_links(dashboard(conn, catalog, year=year or day.year, today=day))


@router.get("/api/targets", summary="Campaign targets with completion 年度目标", dependencies=[Reader])
def get_targets(
    conn: ConnDep, catalog: CatalogDep, year: Annotated[int, Query(ge=2000, le=2100)]
) -> dict[str, Any]:
    """The year's targets; ``done`` is counted from the records."""
    return {
        "year": year,
        "measures": [
            {"layer": s.name, "measure": m.name, "zh": m.zh, "en": m.en}
            for s, m in campaigns.measures_of(catalog)
        ],
        "targets": [
            {
                "layer": t.layer,
                "measure": t.measure.name,
                "district": t.district_code,
                "target": t.target,
                "done": t.done,
                "percent": t.percent,
            }
            for t in campaigns.targets(conn, catalog, year=year)
        ],
    }


@router.put("/api/targets", summary="Enter or change a target (admin) 设定目标")
def put_target(
    conn: ConnDep,
    catalog: CatalogDep,
    user: Annotated[User, Depends(require(Action.SET_TARGETS))],
    body: Annotated[dict[str, Any], Body()],
) -> dict[str, Any]:
    """Body: ``year``, ``layer``, ``measure``, ``target``, optional ``district`` (GB/T 2260
    code; omitted: the whole city). Only the target is entered; completion is counted."""
    try:
        year = int(body["year"])
        target = float(body["target"])
        layer, measure = str(body["layer"]), str(body["measure"])
    except (KeyError, TypeError, ValueError) as e:
        raise InvalidParameter("body", "").with_message("target_body_required") from e
    district = body.get("district") or None
    if not 2000 <= year <= 2100:
        raise InvalidParameter("year", "").with_message("year_range")
    set_actor(conn, user.username, via="api", comment="年度目标 campaign target")
    campaigns.set_target(
        conn, catalog, year=year, layer=layer, measure=measure, target=target, district=district
    )
    spec, m = campaigns.find_measure(catalog, layer, measure)
    done = campaigns.done(conn, spec, m, year=year, district=district)
    return {
        "year": year,
        "layer": layer,
        "measure": measure,
        "district": district,
        "target": target,
        "done": done,
    }


@router.delete("/api/targets", status_code=204, summary="Remove a target (admin)")
def delete_target(
    conn: ConnDep,
    user: Annotated[User, Depends(require(Action.SET_TARGETS))],
    year: Annotated[int, Query(ge=2000, le=2100)],
    layer: str,
    measure: str,
    district: str | None = None,
) -> Response:
    """204 whether or not there was one."""
    set_actor(conn, user.username, via="api", comment="年度目标 campaign target")
    campaigns.delete_target(conn, year=year, layer=layer, measure=measure, district=district)
    return Response(status_code=204)


MEDIA = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
}


def report_bytes(conn: Any, catalog: Any, *, month: str, fmt: str, today: dt.date) -> bytes:
    """The monthly report in ``xlsx`` or ``pdf`` (shared with ``registry report``)."""
    try:
        month_bounds(month)
    except ValueError:
        raise InvalidParameter("month", "").with_message("month_form", value=repr(month)) from None
    if fmt not in MEDIA:
        raise InvalidParameter("format", "").with_message("report_format_xlsx_pdf")
    data = monthly_report(conn, catalog, month=month, today=today)
    return monthly.to_xlsx(data) if fmt == "xlsx" else monthly.to_pdf(data)


@router.get("/api/reports/monthly", summary="Monthly report 月报 (XLSX or PDF)", dependencies=[Reader])
def monthly_report_file(
    conn: ConnDep,
    catalog: CatalogDep,
    month: Annotated[str, Query(description="YYYY-MM", max_length=7)],
    format: Annotated[str, Query(description="xlsx or pdf")] = "pdf",
) -> Response:
    """The dashboard's figures for the month's year, the month's figures and the
    hazards opened and closed that month."""
    body = report_bytes(conn, catalog, month=month, fmt=format, today=dt.date.today())
    name = f"monthly-report-{month}.{format}"
    return Response(
        body,
        media_type=MEDIA[format],
        headers={
            # 月报-<month>.<format> for browsers, an ASCII name for the rest
            "Content-Disposition": f'attachment; filename="{name}"; '
            f"filename*=UTF-8''%E6%9C%88%E6%8A%A5-{month}.{format}"
        },
    )


@router.get(
    "/api/assets/{layer}/{asset_id}/dossier.pdf",
    summary="Printable dossier 一患一档 (PDF)",
    dependencies=[Reader],
)
def dossier_file(
    layer: str, asset_id: UUID, request: Request, conn: ConnDep, catalog: CatalogDep
) -> Response:
    """Location map, attributes, lifecycle, inspections, photos and history of one asset."""
    spec = catalog.get(layer)
    body = dossier.dossier_pdf(conn, spec, asset_id, data_dir=request.app.state.settings.data_dir)
    return Response(
        body,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="dossier-{asset_id}.pdf"'},
    )
