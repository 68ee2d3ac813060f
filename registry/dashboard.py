"""The figures of the dashboard and of the monthly report, assembled from
:mod:`registry.campaigns` (one set of queries for both).

Every figure carries the ``/api/search`` parameters that list the assets behind it
(``filter``), so the page can link each number to the map and the list.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import psycopg

from registry import campaigns
from registry.catalog import LayerCatalog
from registry.messages import render
from registry.spec import LayerSpec, Measure


def _choices(spec: Any) -> list[dict[str, str]]:
    return [{"code": c.code, "zh": c.zh, "en": c.en} for c in spec.statuses]


def years_with_data(conn: psycopg.Connection, today: dt.date) -> list[int]:
    """Years that have targets, plus the current year, newest first."""
    rows = conn.execute("SELECT DISTINCT year FROM campaign_targets").fetchall()
    return sorted({r[0] for r in rows} | {today.year}, reverse=True)


def _undated(conn: psycopg.Connection, spec: LayerSpec, m: Measure) -> dict[str, Any]:
    """How many assets the figure leaves out for want of its date, and the note saying
    so in both languages (None when there are none): a reader of 本月 / 年度累计 must
    know the figure is short, not guess it."""
    n = campaigns.undated(conn, spec, m)
    if not n:
        return {"undated": 0, "note": None}
    attr = spec.attr(m.date)  # a date some assets lack is an attribute, never bookkeeping
    params = {"n": n, "label": attr.zh, "label_en": attr.en}
    return {"undated": n, "note": {lang: render("measure_undated", params, lang) for lang in ("zh", "en")}}


def dashboard(
    conn: psycopg.Connection, catalog: LayerCatalog, *, year: int, today: dt.date
) -> dict[str, Any]:
    """Counts per layer × district × status, targets against done, flagged (overdue,
    failing) assets, and the monthly trend of every measure in ``year``."""
    names = campaigns.district_names(conn)
    counts = [
        {
            "layer": layer,
            "district": district,
            "status": status,
            "n": n,
            "filter": {"layers": layer, "district": district, "status": status},
        }
        for layer, district, status, n in campaigns.status_counts(conn)
        if layer in catalog.names()
    ]
    targets = [
        {
            "layer": t.layer,
            "measure": t.measure.name,
            "zh": t.measure.zh,
            "en": t.measure.en,
            "unit_zh": t.measure.unit_zh,
            "district": t.district_code,
            "target": t.target,
            "done": t.done,
            "percent": t.percent,
            "filter": {
                "layers": t.layer,
                "measure": t.measure.name,
                "year": year,
                **({"district": t.district_code} if t.district_code else {}),
            },
        }
        for t in campaigns.targets(conn, catalog, year=year)
    ]
    flags = []
    for spec, f in campaigns.flags_of(catalog):
        by_district = campaigns.flag_count(conn, spec, f, today=today)
        items = campaigns.flagged(conn, spec, f, today=today)
        flags.append(
            {
                "layer": spec.name,
                "flag": f.name,
                "zh": f.zh,
                "en": f.en,
                "total": by_district.pop(""),
                "by_district": by_district,
                "items": [
                    {
                        "id": str(r["id"]),
                        "code": r["code"],
                        "district": r["district_code"],
                        "status": r["status"],
                        "due": r["due"].isoformat() if r["due"] else None,
                    }
                    for r in items
                ],
                "filter": {"layers": spec.name, f.name: "true"},
            }
        )
    trend = [
        {
            "layer": spec.name,
            "measure": m.name,
            "zh": m.zh,
            "en": m.en,
            "unit_zh": m.unit_zh,
            "values": campaigns.done_by_month(conn, spec, m, year=year),
            **_undated(conn, spec, m),
        }
        for spec, m in campaigns.measures_of(catalog)
    ]
    return {
        "year": year,
        "today": today.isoformat(),
        "years": years_with_data(conn, today),
        "layers": [{"name": s.name, "zh": s.zh, "en": s.en, "statuses": _choices(s)} for s in catalog],
        "districts": [{"code": c, "zh": zh, "en": en} for c, (zh, en) in names.items()],
        "counts": counts,
        "targets": targets,
        "flags": flags,
        "trend": trend,
    }


def month_bounds(month: str) -> tuple[dt.date, dt.date]:
    """First day of ``YYYY-MM`` and of the following month (ValueError when malformed)."""
    year, _, mon = month.partition("-")
    start = dt.date(int(year), int(mon), 1)
    end = dt.date(start.year + (start.month == 12), start.month % 12 + 1, 1)
    return start, end


def _hazard_measures(catalog: LayerCatalog) -> tuple[LayerSpec, Measure, Measure]:
    """The layer whose measures the monthly report lists as hazards opened and closed."""
    for spec in catalog:
        events = {m.report_event: m for m in spec.measures if m.report_event}
        if "opened" in events and "closed" in events:
            return spec, events["opened"], events["closed"]
    raise ValueError("no layer declares the measures of hazards opened and closed (Measure.report_event)")


def monthly_report(
    conn: psycopg.Connection,
    catalog: LayerCatalog,
    *,
    month: str,
    today: dt.date,
) -> dict[str, Any]:
    """The dashboard figures of the month's year, each measure's figure for the month,
    and the hazards opened and closed in the month: the assets of the layer whose
    measures declare ``report_event`` "opened" and "closed"."""
    start, end = month_bounds(month)
    # figures as of the end of the month (or today, for the current month)
    as_of = min(today, end - dt.timedelta(days=1))
    data = dashboard(conn, catalog, year=start.year, today=as_of)
    for row in data["trend"]:
        row["month"] = row["values"][start.month - 1]
        row["year_to_date"] = sum(row["values"][: start.month])
    spec, m_open, m_closed = _hazard_measures(catalog)
    data.update(
        month=month,
        as_of=as_of.isoformat(),
        hazard_layer={
            "name": spec.name,
            "zh": spec.zh,
            "en": spec.en,
            "statuses": _choices(spec),
            # labels of the listed attributes' values (a risk grade reads Ⅱ级, not II)
            "choices": {a.name: {c.code: c.zh for c in a.choices} for a in spec.attrs if a.choices},
        },
        opened=campaigns.hazard_events(conn, spec, m_open, start=start, end=end),
        closed=campaigns.hazard_events(conn, spec, m_closed, start=start, end=end),
    )
    return data
