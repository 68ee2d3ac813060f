"""The gazetteer (地名库): road centre lines and named places in table ``places``, found
by name, as road intersections (``X路与Y路``, ``X路/Y路``, ``X路和Y路``, ``X路Y路口``) and as
house-number-free addresses (``人民路塔南路口北50米``).

An intersection is computed from the two centre lines (``ST_Intersection``); roads that
do not cross give the nearest point between them, flagged ``crossing: false`` with the
gap in metres. A name that is not in the gazetteer gets "did you mean" suggestions:
the names sharing the most characters with it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import psycopg
import psycopg.rows
from shapely.geometry.base import BaseGeometry

from registry.coords import GEOD
from registry.errors import InvalidParameter
from registry.messages import render

MAX_QUERY = 100
MAX_RESULTS = 20
# a road that does not meet the other within this distance is reported as such, but
# its nearest point is still offered
NEAR_MISS_M = 50.0
_ROAD_END = "路街道巷线桥"
_SEP = r"(?:与|和|跟|同|及|/|／|\\|、|&|＆|\+|＋|×|\s+)"
_DIRECTIONS = {
    "北": 0.0,
    "东北": 45.0,
    "东": 90.0,
    "东南": 135.0,
    "南": 180.0,
    "西南": 225.0,
    "西": 270.0,
    "西北": 315.0,
}
_INTERSECTION = re.compile(
    rf"^(?P<a>.+?[{_ROAD_END}]){_SEP}?(?P<b>.+?[{_ROAD_END}])(?:交叉口|交口|路口|口)?$"
)
_ADDRESS = re.compile(
    rf"^(?P<a>.+?[{_ROAD_END}]){_SEP}?(?P<b>.+?[{_ROAD_END}])(?:交叉口|交口|路口|口)"
    r"(?:往|向)?(?P<dir>东北|东南|西北|西南|东|南|西|北)(?:侧|方向|方)?(?:约)?"
    r"(?P<dist>\d+(?:\.\d+)?)\s*(?:米|m|M)(?:处|左右)?$"
)


@dataclass
class PlaceResult:
    """What a place query found: GeoJSON features ranked best first, how the query was
    read, and, when nothing was found, what the user may have meant."""

    kind: str  # name | intersection | address
    features: list[dict[str, Any]] = field(default_factory=list)
    unmatched: str | None = None  # the name (or road) that is not in the gazetteer
    suggestions: list[str] = field(default_factory=list)
    # e.g. the roads do not cross: a message code of the table and its params
    note_code: str | None = None
    note_params: dict[str, Any] = field(default_factory=dict)

    def as_json(self, lang: str = "zh") -> dict[str, Any]:
        """A GeoJSON FeatureCollection with the query's reading and suggestions; ``note``
        and ``message`` in ``lang`` (``note_code`` and ``message_code`` for machines)."""
        message_code: str | None = None
        message_params: dict[str, Any] = {}
        if not self.features:
            message_code = "place_not_found_suggest" if self.suggestions else "place_not_found"
            message_params = {"term": self.unmatched or ""}
            if self.suggestions:
                message_params |= {
                    "suggestions_zh": "、".join(self.suggestions),
                    "suggestions": ", ".join(self.suggestions),
                }
        return {
            "type": "FeatureCollection",
            "features": self.features,
            "numberMatched": len(self.features),
            "query": {"kind": self.kind},
            "unmatched": self.unmatched,
            "suggestions": self.suggestions,
            "note": render(self.note_code, self.note_params, lang) if self.note_code else None,
            "note_code": self.note_code,
            "message": render(message_code, message_params, lang) if message_code else None,
            "message_code": message_code,
        }


def normalise(q: str) -> str:
    """The query without spaces around it, full-width digits and letters made half-width."""
    q = q.strip()
    q = q.translate({c: c - 0xFEE0 for c in range(0xFF10, 0xFF5B) if chr(c).isalnum()})
    if len(q) > MAX_QUERY:
        raise InvalidParameter("q", "").with_message("place_query_too_long", max=MAX_QUERY)
    return q


# ------------------------------------------------------------------ loading


def load(
    conn: psycopg.Connection,
    rows: Iterable[tuple[str, str, BaseGeometry]],
    *,
    source: str,
    is_demo: bool = False,
    replace: bool = True,
) -> int:
    """Upsert (name, kind, geometry in CGCS2000 lon/lat) rows of one source; with
    ``replace``, names of that source not given are removed. Returns the rows written."""
    names: list[tuple[str, str]] = []
    n = 0
    for name, kind, geom in rows:
        name = name.strip()
        if not name or geom.is_empty:
            continue
        conn.execute(
            """
            INSERT INTO places (name, kind, geom, source, is_demo)
            VALUES (%s, %s, CASE WHEN %s = 'road' THEN ST_Multi(ST_GeomFromWKB(%s, 4490))
                                 ELSE ST_GeomFromWKB(%s, 4490) END, %s, %s)
            ON CONFLICT (kind, name, source) DO UPDATE
            SET geom = EXCLUDED.geom, is_demo = EXCLUDED.is_demo, loaded_at = now()
            WHERE NOT ST_Equals(places.geom, EXCLUDED.geom) OR places.is_demo <> EXCLUDED.is_demo
            """,
            (name, kind, kind, geom.wkb, geom.wkb, source, is_demo),
        )
        names.append((kind, name))
        n += 1
    if replace:
        conn.execute(
            """
            DELETE FROM places WHERE source = %s
            AND (kind, name) NOT IN (SELECT k, nm FROM unnest(%s::text[], %s::text[]) AS u(k, nm))
            """,
            (source, [k for k, _ in names], [nm for _, nm in names]),
        )
    return n


def load_places_from_table(conn: psycopg.Connection, table: str, column: str, *, source: str) -> int:
    """Named places from the assets of one layer table (one point per distinct name:
    the point on the surface of its first asset), e.g. markets and parking lots."""
    from psycopg import sql

    cur = conn.execute(
        sql.SQL(
            """
            INSERT INTO places (name, kind, geom, source, is_demo)
            SELECT DISTINCT ON (n) n, 'place', ST_PointOnSurface(geom), {source}, bool_or_demo
            FROM (SELECT btrim({col}) AS n, geom, is_demo AS bool_or_demo, code FROM {table}
                  WHERE deleted_at IS NULL AND {col} IS NOT NULL AND btrim({col}) <> '') s
            ORDER BY n, code
            ON CONFLICT (kind, name, source) DO UPDATE SET geom = EXCLUDED.geom
            WHERE NOT ST_Equals(places.geom, EXCLUDED.geom)
            """
        ).format(source=sql.Literal(source), col=sql.Identifier(column), table=sql.Identifier(table))
    )
    return cur.rowcount


# ------------------------------------------------------------------ finding


def _feature(row: dict[str, Any], **extra: Any) -> dict[str, Any]:
    props = {"name": row["name"], "kind": row["kind"], "label": json.loads(row["label"])["coordinates"]}
    props.update(extra)
    return {
        "type": "Feature",
        "id": f"place-{row['id']}",
        "geometry": json.loads(row["geometry"]),
        "bbox": [round(v, 7) for v in (row["xmin"], row["ymin"], row["xmax"], row["ymax"])],
        "properties": props,
    }


_SELECT = """
    SELECT id, name, kind, ST_AsGeoJSON(geom, 7) AS geometry,
           ST_AsGeoJSON(CASE WHEN GeometryType(geom) IN ('LINESTRING', 'MULTILINESTRING')
                             THEN ST_ClosestPoint(geom, ST_Centroid(geom))
                             ELSE ST_PointOnSurface(geom) END, 7) AS label,
           ST_XMin(geom) AS xmin, ST_YMin(geom) AS ymin, ST_XMax(geom) AS xmax, ST_YMax(geom) AS ymax
    FROM places
"""


def _by_name(conn: psycopg.Connection, q: str, limit: int, kind: str | None = None) -> list[dict[str, Any]]:
    """Places named ``q``, then starting with it, then containing it (ties: roads first,
    shorter names first)."""
    like = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    with conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
        return cur.execute(
            _SELECT
            + """
            WHERE name LIKE %(contains)s AND (%(kind)s::text IS NULL OR kind = %(kind)s)
            ORDER BY CASE WHEN name = %(q)s THEN 0 WHEN name LIKE %(starts)s THEN 1 ELSE 2 END,
                     kind DESC, length(name), name, source
            LIMIT %(limit)s
            """,
            {"q": q, "contains": f"%{like}%", "starts": f"{like}%", "kind": kind, "limit": limit},
        ).fetchall()


def suggestions(conn: psycopg.Connection, q: str, kind: str | None = None, n: int = 5) -> list[str]:
    """Names that share the most characters with ``q`` (the generic 路/街/口… count less)."""
    names = [
        r[0]
        for r in conn.execute(
            "SELECT DISTINCT name FROM places WHERE %s::text IS NULL OR kind = %s LIMIT 20000", (kind, kind)
        )
    ]
    generic = set(_ROAD_END) | set("口与和米东南西北")
    wanted = set(q)

    def score(name: str) -> float:
        shared = wanted & set(name)
        s = sum(0.2 if c in generic else 1.0 for c in shared)
        # the same first character weighs most: 解放路 for 解方路
        if name and q and name[0] == q[0]:
            s += 0.5
        return s - 0.01 * abs(len(name) - len(q))

    scored = sorted(((score(nm), nm) for nm in names), key=lambda t: (-t[0], t[1]))
    return [nm for s, nm in scored if s >= 1.0][:n]


def _road(conn: psycopg.Connection, name: str) -> dict[str, Any] | None:
    rows = _by_name(conn, name, 1, kind="road")
    if rows and (
        rows[0]["name"] == name or rows[0]["name"].startswith(name) or name.startswith(rows[0]["name"])
    ):
        return rows[0]
    return rows[0] if rows and len(name) >= 2 and name in rows[0]["name"] else None


def _crossings(
    conn: psycopg.Connection, a: int, b: int
) -> tuple[list[tuple[float, float]], float, list[float]]:
    """The points where roads ``a`` and ``b`` cross (none when they do not), the gap
    between them in metres, and the midpoint of their shortest connecting line."""
    row = conn.execute(
        """
        WITH a AS (SELECT geom FROM places WHERE id = %s), b AS (SELECT geom FROM places WHERE id = %s)
        SELECT (SELECT json_agg(json_build_array(ST_X(d.geom), ST_Y(d.geom))
                            ORDER BY ST_X(d.geom), ST_Y(d.geom))
                FROM ST_Dump(ST_Intersection(a.geom, b.geom)) AS x,
                     LATERAL (SELECT CASE WHEN GeometryType(x.geom) = 'POINT' THEN x.geom
                                          ELSE ST_PointOnSurface(x.geom) END AS geom) AS d),
               ST_Distance(a.geom::geography, b.geom::geography),
               json_build_array(ST_X(m), ST_Y(m))
        FROM a, b, LATERAL (SELECT ST_LineInterpolatePoint(ST_ShortestLine(a.geom, b.geom), 0.5) AS m) AS s
        """,
        (a, b),
    ).fetchone()
    points = [(float(x), float(y)) for x, y in (row[0] or [])]
    return points, float(row[1]), row[2]


def _point_feature(fid: str, lon: float, lat: float, props: dict[str, Any]) -> dict[str, Any]:
    lon, lat = round(lon, 7), round(lat, 7)
    return {
        "type": "Feature",
        "id": fid,
        "geometry": {"type": "Point", "coordinates": [lon, lat]},
        "bbox": [lon, lat, lon, lat],
        "properties": {**props, "label": [lon, lat]},
    }


def _intersection(conn: psycopg.Connection, a_name: str, b_name: str, kind: str) -> PlaceResult:
    result = PlaceResult(kind)
    roads = []
    for name in (a_name, b_name):
        road = _road(conn, name)
        if road is None:
            result.unmatched = name
            result.suggestions = suggestions(conn, name, kind="road")
            return result
        roads.append(road)
    a, b = roads
    if a["id"] == b["id"]:
        result.unmatched = f"{a_name}与{b_name}"
        result.note_code = "place_same_road"
        return result
    points, gap, middle = _crossings(conn, a["id"], b["id"])
    label = f"{a['name']}与{b['name']}交叉口"
    if points:
        for i, (lon, lat) in enumerate(points):
            result.features.append(
                _point_feature(
                    f"crossing-{a['id']}-{b['id']}-{i}",
                    lon,
                    lat,
                    {
                        "name": label,
                        "kind": "intersection",
                        "roads": [a["name"], b["name"]],
                        "crossing": True,
                        "gap_m": 0.0,
                    },
                )
            )
    else:
        result.note_code = "place_roads_apart"
        result.note_params = {"a": a["name"], "b": b["name"], "metres": round(gap)}
        result.features.append(
            _point_feature(
                f"crossing-{a['id']}-{b['id']}-near",
                middle[0],
                middle[1],
                {
                    "name": f"{a['name']}与{b['name']}最近处",
                    "kind": "intersection",
                    "roads": [a["name"], b["name"]],
                    "crossing": False,
                    "gap_m": round(gap, 1),
                },
            )
        )
    return result


def find(conn: psycopg.Connection, q: str, limit: int = 10) -> PlaceResult:
    """Read ``q`` as an address, an intersection or a name, and find it."""
    q = normalise(q)
    if not q:
        raise InvalidParameter("q", "").with_message("place_query_empty")
    limit = max(1, min(limit, MAX_RESULTS))
    if m := _ADDRESS.match(q):
        base = _intersection(conn, m["a"], m["b"], "address")
        metres = float(m["dist"])
        if metres > 5000:
            raise InvalidParameter("q", "").with_message("place_distance_too_far")
        bearing = _DIRECTIONS[m["dir"]]
        moved = []
        for f in base.features:
            lon, lat = f["geometry"]["coordinates"]
            x, y, _ = GEOD.fwd(lon, lat, bearing, metres)
            props = {k: v for k, v in f["properties"].items() if k != "label"}
            props.update(
                name=f"{props['name']}{m['dir']}{m['dist']}米",
                kind="address",
                from_point=[lon, lat],
                bearing_deg=bearing,
                distance_m=metres,
            )
            moved.append(_point_feature(f["id"] + "-address", x, y, props))
        base.features = moved
        return base
    named = _by_name(conn, q, limit)
    exact_or_prefix = [r for r in named if r["name"] == q or r["name"].startswith(q)]
    inter = _INTERSECTION.match(q)
    if inter and not exact_or_prefix:
        crossing = _intersection(conn, inter["a"], inter["b"], "intersection")
        if crossing.features or not named:
            return crossing
    result = PlaceResult("name", [_feature(r, rank=i + 1) for i, r in enumerate(named)])
    if not named:
        result.unmatched = q
        result.suggestions = suggestions(conn, q)
    return result
