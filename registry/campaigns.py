"""Campaign figures (专项整治): targets against what the records say was done, counts per
layer × district × status, flagged assets (overdue, failing), the monthly trend, and
the hazards opened and closed in a month.

The one module of queries that the dashboard, the monthly report (月报), the search
filters and the tests all read. Everything is generated from the layers' declarations
(``LayerSpec.measures`` and ``LayerSpec.flags``): a measure's or flag's condition is
written once here (:func:`measure_condition`, :func:`flag_condition`) and used both to
count and to list/search. Targets are the only typed numbers; what was done is always
counted from the records.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from registry import clock
from registry.catalog import LayerCatalog
from registry.errors import InvalidParameter, RegistryError
from registry.spec import Flag, LayerSpec, Measure
from registry.sqlparams import Params
from registry.workflow_store import deadline_sql, overdue_sql

# "In the year" / "in the month" is the bureau's local calendar; created_at is a
# timestamptz, so its day is read in China Standard Time (no daylight saving).
LOCAL_TZ = "Asia/Shanghai"
# Flagged assets listed per flag on the dashboard (the count is always complete).
LIST_LIMIT = 200


class UnknownMeasure(RegistryError):
    """A target or search names a measure no layer declares."""

    status = 422
    code = "unknown_measure"


@dataclass(frozen=True)
class TargetProgress:
    """One target and what the records say was done towards it."""

    year: int
    district_code: str | None
    layer: str
    measure: Measure
    target: float
    done: float

    @property
    def percent(self) -> float:
        """Done as a percentage of the target (one decimal)."""
        return round(100.0 * self.done / self.target, 1) if self.target else 0.0


def _num(v: Any) -> float:
    return float(v) if isinstance(v, Decimal) else (v or 0)


def find_measure(catalog: LayerCatalog, layer: str, name: str) -> tuple[LayerSpec, Measure]:
    """The layer and its declared measure, or UnknownMeasure listing the declared ones."""
    spec = catalog.get(layer)
    for m in spec.measures:
        if m.name == name:
            return spec, m
    known = ", ".join(m.name for m in spec.measures) or "none"
    raise UnknownMeasure("").with_message("measure_unknown", layer=layer, name=name, known=known)


def parent_key(conn: psycopg.Connection, child: str, parent: str) -> str:
    """The column of ``child`` that references ``parent`` (read from the schema)."""
    row = conn.execute(
        """
        SELECT a.attname FROM pg_constraint c
        JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
        WHERE c.contype = 'f' AND c.conrelid = %s::regclass AND c.confrelid = %s::regclass
        """,
        (child, parent),
    ).fetchone()
    if row is None:
        raise RuntimeError(f"{child} has no foreign key to {parent}")
    return row[0]


def _day_of(column: str, alias: str = "t") -> sql.Composable:
    ident = sql.Identifier(alias, column)
    if column == "created_at":
        return sql.SQL("({} AT TIME ZONE {})").format(ident, sql.Literal(LOCAL_TZ))
    return ident


def _equals(pairs: Sequence[tuple[str, Any]], p: Params) -> list[sql.Composable]:
    """``t.<attribute> = <value>`` for each declared (attribute, value) pair."""
    return [sql.SQL("{} = {}").format(sql.Identifier("t", k), p.add(v)) for k, v in pairs]


def measure_condition(
    conn: psycopg.Connection,
    spec: LayerSpec,
    m: Measure,
    p: Params,
    *,
    start: sql.Composable,
    end: sql.Composable,
) -> sql.Composable:
    """WHERE condition on layer rows ``t``: the asset counts for ``m`` between ``start``
    (inclusive) and ``end`` (exclusive), both SQL date expressions."""
    parts = _equals(m.where, p)
    if m.child:
        key = parent_key(conn, m.child, spec.name)
        parts.append(
            sql.SQL(
                "EXISTS (SELECT 1 FROM {child} c WHERE c.{key} = t.id AND {d} >= {s} AND {d} < {e})"
            ).format(
                child=sql.Identifier(m.child), key=sql.Identifier(key), d=_day_of(m.date, "c"), s=start, e=end
            )
        )
    else:
        d = _day_of(m.date)
        parts.append(sql.SQL("{d} >= {s} AND {d} < {e}").format(d=d, s=start, e=end))
    return sql.SQL(" AND ").join(parts)


def flag_condition(f: Flag, p: Params, spec: LayerSpec, today: dt.date | None = None) -> sql.Composable:
    """WHERE condition on layer rows ``t``: the asset is flagged (``today`` defaults to
    the registry's one clock, registry.clock)."""
    parts = _equals(f.where, p)
    if f.statuses:
        parts.append(sql.SQL("t.status = ANY({})").format(p.add(list(f.statuses))))
    day = p.add(today or clock.today())
    if f.deadline:
        parts.append(overdue_sql(spec, day))
    if f.overdue:
        col = sql.Identifier("t", f.overdue)
        test = sql.SQL("{} < {}").format(col, day)
        if f.missing_is_due:
            test = sql.SQL("({} IS NULL OR {})").format(col, test)
        parts.append(test)
    return sql.SQL(" AND ").join(parts) if parts else sql.SQL("true")


def year_bounds(p: Params, year: int) -> tuple[sql.Composable, sql.Composable]:
    """SQL date expressions for 1 January of ``year`` and of the next year."""
    return p.add(dt.date(year, 1, 1)), p.add(dt.date(year + 1, 1, 1))


def _aggregate(m: Measure) -> sql.Composable:
    if m.total:
        return sql.SQL("COALESCE(sum(t.{}), 0)").format(sql.Identifier(m.total))
    return sql.SQL("count(*)")


def _district_test(p: Params, district: str | None) -> sql.Composable:
    if district is None:
        return sql.SQL("true")
    return sql.SQL("t.district_code = {}").format(p.add(district))


def done(
    conn: psycopg.Connection, spec: LayerSpec, m: Measure, *, year: int, district: str | None = None
) -> float:
    """What the records say was done towards ``m`` in ``year`` (in ``district``)."""
    p = Params()
    start, end = year_bounds(p, year)
    statement = sql.SQL(
        "SELECT {agg} FROM {table} t WHERE t.deleted_at IS NULL AND {cond} AND {dist}"
    ).format(
        agg=_aggregate(m),
        table=sql.Identifier(spec.name),
        cond=measure_condition(conn, spec, m, p, start=start, end=end),
        dist=_district_test(p, district),
    )
    row = conn.execute(statement, p.values).fetchone()
    return _num(row[0]) if row else 0


def done_by_month(
    conn: psycopg.Connection, spec: LayerSpec, m: Measure, *, year: int, district: str | None = None
) -> list[float]:
    """Twelve monthly figures of ``m`` in ``year`` (each month counted on its own)."""
    p = Params()
    statement = sql.SQL(
        "SELECT mo.n, (SELECT {agg} FROM {table} t WHERE t.deleted_at IS NULL AND {cond} AND {dist}) "
        "FROM (SELECT n, make_date({y}, n, 1) AS s, (make_date({y}, n, 1) + interval '1 month')::date AS e "
        "      FROM generate_series(1, 12) n) mo ORDER BY mo.n"
    ).format(
        agg=_aggregate(m),
        table=sql.Identifier(spec.name),
        cond=measure_condition(conn, spec, m, p, start=sql.SQL("mo.s"), end=sql.SQL("mo.e")),
        dist=_district_test(p, district),
        y=p.add(year),
    )
    return [_num(v) for _, v in conn.execute(statement, p.values).fetchall()]


def undated(conn: psycopg.Connection, spec: LayerSpec, m: Measure) -> int:
    """Assets that ``m`` leaves out of every period because they lack its date although
    their status says they should have one (``Measure.dated_statuses``: a bay in use
    with no opening date). Shown next to the figure, so a smaller count is never
    silently read as less work done. 0 for measures that declare no such statuses."""
    if not m.dated_statuses:
        return 0
    p = Params()
    parts = _equals(m.where, p)
    parts.append(sql.SQL("t.status = ANY({})").format(p.add(list(m.dated_statuses))))
    parts.append(sql.SQL("{} IS NULL").format(sql.Identifier("t", m.date)))
    statement = sql.SQL("SELECT count(*)::int FROM {table} t WHERE t.deleted_at IS NULL AND {cond}").format(
        table=sql.Identifier(spec.name), cond=sql.SQL(" AND ").join(parts)
    )
    row = conn.execute(statement, p.values).fetchone()
    return int(row[0]) if row else 0


# --- targets -------------------------------------------------------------------------


def set_target(
    conn: psycopg.Connection,
    catalog: LayerCatalog,
    *,
    year: int,
    layer: str,
    measure: str,
    target: float,
    district: str | None = None,
    is_demo: bool = False,
) -> None:
    """Enter (or change) a target; the measure must be one the layer declares."""
    find_measure(catalog, layer, measure)
    if not target > 0:
        raise InvalidParameter("target", "").with_message("target_above_zero")
    known = conn.execute("SELECT 1 FROM districts WHERE code = %s", (district,)).fetchone()
    if district is not None and known is None:
        raise InvalidParameter("district", "").with_message("district_unknown", district=district)
    conn.execute(
        """
        INSERT INTO campaign_targets (year, district_code, layer, measure, target, is_demo)
        VALUES (%s, %s, %s, %s, %s, %s)
        ON CONFLICT (year, district_code, layer, measure) DO UPDATE
        SET target = EXCLUDED.target, is_demo = EXCLUDED.is_demo, set_at = now(), set_by = registry_actor()
        """,
        (year, district, layer, measure, target, is_demo),
    )


def delete_target(
    conn: psycopg.Connection, *, year: int, layer: str, measure: str, district: str | None = None
) -> bool:
    """Remove a target; whether there was one."""
    cur = conn.execute(
        "DELETE FROM campaign_targets WHERE year = %s AND district_code IS NOT DISTINCT FROM %s "
        "AND layer = %s AND measure = %s",
        (year, district, layer, measure),
    )
    return cur.rowcount > 0


def targets(conn: psycopg.Connection, catalog: LayerCatalog, *, year: int) -> list[TargetProgress]:
    """Every target of the year with what was done (targets of layers or measures no
    longer declared are left out)."""
    rows = conn.execute(
        "SELECT district_code, layer, measure, target FROM campaign_targets WHERE year = %s "
        "ORDER BY layer, measure, district_code NULLS FIRST",
        (year,),
    ).fetchall()
    out = []
    for district, layer, name, target in rows:
        if layer not in catalog.names():
            continue
        spec = catalog.get(layer)
        m = next((x for x in spec.measures if x.name == name), None)
        if m is None:
            continue
        value = done(conn, spec, m, year=year, district=district)
        out.append(TargetProgress(year, district, layer, m, _num(target), value))
    return out


# --- counts, flags, hazards -------------------------------------------------------------


def status_counts(conn: psycopg.Connection) -> list[tuple[str, str, str, int]]:
    """(layer, district code, status, assets) over every layer, deleted assets left out."""
    return [
        tuple(r)
        for r in conn.execute(
            "SELECT layer, district_code, status, count(*)::int FROM assets WHERE deleted_at IS NULL "
            "GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"
        ).fetchall()
    ]


def flag_count(conn: psycopg.Connection, spec: LayerSpec, f: Flag, *, today: dt.date) -> dict[str, int]:
    """Flagged assets per district code (``""``: the whole city)."""
    p = Params()
    statement = sql.SQL(
        "SELECT t.district_code, count(*)::int FROM {table} t WHERE t.deleted_at IS NULL AND {cond} "
        "GROUP BY ROLLUP (t.district_code)"
    ).format(table=sql.Identifier(spec.name), cond=flag_condition(f, p, spec, today))
    counts = {"": 0}
    for district, n in conn.execute(statement, p.values).fetchall():
        counts[district or ""] = n
    return counts


def flagged(
    conn: psycopg.Connection, spec: LayerSpec, f: Flag, *, today: dt.date, limit: int = LIST_LIMIT
) -> list[dict[str, Any]]:
    """The flagged assets (id, code, district, status, the overdue date), most overdue first."""
    p = Params()
    deadline = deadline_sql(spec) if f.deadline else None
    due = sql.Identifier("t", f.overdue) if f.overdue else deadline or sql.SQL("NULL::date")
    statement = sql.SQL(
        "SELECT t.id, t.code, t.district_code, t.status, {due} AS due "
        "FROM {table} t WHERE t.deleted_at IS NULL AND {cond} ORDER BY {due} NULLS FIRST, t.code LIMIT {lim}"
    ).format(
        due=due, table=sql.Identifier(spec.name), cond=flag_condition(f, p, spec, today), lim=p.add(limit)
    )
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(statement, p.values).fetchall()


def hazard_events(
    conn: psycopg.Connection, spec: LayerSpec, m: Measure, *, start: dt.date, end: dt.date
) -> list[dict[str, Any]]:
    """Assets of ``spec`` that reached ``m`` between ``start`` and ``end`` (exclusive), e.g.
    the hazards opened (found) or closed in a month, with their main attributes."""
    p = Params()
    names = {a.name for a in spec.all_attrs}
    listed = ("road_name", "risk_grade", "found_on", "closed_on", "remediation_deadline")
    wanted = [c for c in listed if c in names]
    statement = sql.SQL(
        "SELECT t.id, t.code, t.district_code, t.status, t.responsible_unit{extra} "
        "FROM {table} t WHERE t.deleted_at IS NULL AND {cond} ORDER BY t.code"
    ).format(
        extra=sql.SQL("").join(sql.SQL(", t.{}").format(sql.Identifier(c)) for c in wanted),
        table=sql.Identifier(spec.name),
        cond=measure_condition(conn, spec, m, p, start=p.add(start), end=p.add(end)),
    )
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(statement, p.values).fetchall()


def district_names(conn: psycopg.Connection) -> dict[str, tuple[str, str]]:
    """District code → (Chinese name, English name)."""
    rows = conn.execute("SELECT code, name_zh, name_en FROM districts ORDER BY code")
    return {c: (zh, en) for c, zh, en in rows}


def measures_of(catalog: LayerCatalog) -> Iterable[tuple[LayerSpec, Measure]]:
    """Every declared measure, in catalogue order."""
    for spec in catalog:
        for m in spec.measures:
            yield spec, m


def flags_of(catalog: LayerCatalog) -> Iterable[tuple[LayerSpec, Flag]]:
    """Every declared flag, in catalogue order."""
    for spec in catalog:
        for f in spec.flags:
            yield spec, f
