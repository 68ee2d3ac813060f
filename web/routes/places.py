"""``/api/places``: the gazetteer — roads and named places by name, road intersections
(``解放路与塔北路``) and addresses given from a crossing (``人民路塔南路口北50米``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse

from registry import places
from registry.permissions import Action
from web.auth import require
from web.deps import ConnDep
from web.errors import request_lang

router = APIRouter(prefix="/api", tags=["places 地名"], dependencies=[Depends(require(Action.READ))])


@router.get("/places", summary="Find a road, place, intersection or address 地名与交叉口查询")
def find_places(
    request: Request,
    conn: ConnDep,
    q: Annotated[str, Query(max_length=places.MAX_QUERY, description="地名、道路、X路与Y路、X路Y路口北50米")],
    limit: Annotated[int, Query(ge=1, le=places.MAX_RESULTS)] = 10,
) -> JSONResponse:
    """GeoJSON features ranked best first (each with ``bbox`` and a ``label`` point); when
    nothing is found, ``message`` says so and ``suggestions`` lists what may be meant."""
    result: dict[str, Any] = places.find(conn, q, limit).as_json(request_lang(request))
    return JSONResponse(result, media_type="application/geo+json")
