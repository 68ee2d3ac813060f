"""``registry target …`` and ``registry report``: campaign targets entered by an admin
at the console, and the monthly report (月报) written to a file. Registered on the
``registry`` command by web/cli.py."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import typer

from registry.messages import nested
from registry.settings import Settings
from web.cli_lang import cli_lang, tell

target_app = typer.Typer(help="Campaign targets (年度目标): set, list, remove.", no_args_is_help=True)


@target_app.command("set")
def target_set(
    year: int = typer.Option(..., help="Year of the target, e.g. 2026."),
    layer: str = typer.Option(..., help="Layer, e.g. manholes."),
    measure: str = typer.Option(
        ..., help="Measure the layer declares, e.g. remediated (see `registry target list`)."
    ),
    target: float = typer.Option(..., help="The target number."),
    district: str = typer.Option(None, help="GB/T 2260 district code (default: the whole city)."),
) -> None:
    """Enter or change a target; completion is always counted from the records."""
    from layers import default_catalog
    from registry import campaigns
    from registry.context import set_actor
    from registry.db import connect

    catalog = default_catalog()
    with connect(Settings()) as conn:
        set_actor(conn, "cli", via="cli", comment="registry target set")
        campaigns.set_target(
            conn, catalog, year=year, layer=layer, measure=measure, target=target, district=district
        )
        spec, m = campaigns.find_measure(catalog, layer, measure)
        done = campaigns.done(conn, spec, m, year=year, district=district)
    tell(
        "target_set_done",
        {
            "year": year,
            "layer": spec.name,
            "layer_zh": spec.zh,
            "measure": m.name,
            "measure_zh": m.zh,
            "scope": district or nested("scope_whole_city"),
            "target": f"{target:g}",
            "done": f"{done:g}",
        },
    )


@target_app.command("list")
def target_list(year: int = typer.Option(dt.date.today().year, help="Year.")) -> None:
    """The year's targets with completion, then every measure a target can be set on."""
    from layers import default_catalog
    from registry import campaigns
    from registry.db import connect

    catalog = default_catalog()
    with connect(Settings()) as conn:
        rows = campaigns.targets(conn, catalog, year=year)
    for t in rows:
        tell(
            "target_row",
            {
                "year": t.year,
                "layer": t.layer,
                "measure": t.measure.name,
                "measure_zh": t.measure.zh,
                "measure_en": t.measure.en,
                "scope": t.district_code or nested("scope_whole_city"),
                "done": f"{t.done:g}",
                "target": f"{t.target:g}",
                "percent": t.percent,
            },
        )
    if not rows:
        tell("targets_none", {"year": year})
    # (each measure's name, to type after --measure, with its label in the CLI's language)
    zh = cli_lang() == "zh"
    labels = (f"{s.name}.{m.name} ({m.zh if zh else m.en})" for s, m in campaigns.measures_of(catalog))
    tell("measures_list", {"measures": ", ".join(labels)})


@target_app.command("remove")
def target_remove(
    year: int = typer.Option(...),
    layer: str = typer.Option(...),
    measure: str = typer.Option(...),
    district: str = typer.Option(None),
) -> None:
    """Remove a target."""
    from registry import campaigns
    from registry.context import set_actor
    from registry.db import connect

    with connect(Settings()) as conn:
        set_actor(conn, "cli", via="cli", comment="registry target remove")
        found = campaigns.delete_target(conn, year=year, layer=layer, measure=measure, district=district)
    tell("target_removed" if found else "target_not_found")


def report_cmd(
    month: str = typer.Option(..., help="Month, YYYY-MM (e.g. 2026-11)."),
    format: str = typer.Option("pdf", "--format", help="xlsx or pdf."),
    output: Path = typer.Option(None, help="File to write (default: 月报-<month>.<format> here)."),  # noqa: B008
) -> None:
    """Write the monthly report (月报): the dashboard's figures and the hazards opened and closed."""
    from layers import default_catalog
    from registry.db import connect
    from web.routes.dashboard import report_bytes

    with connect(Settings()) as conn:
        body = report_bytes(conn, default_catalog(), month=month, fmt=format.lower(), today=dt.date.today())
    target = output or Path(f"月报-{month}.{format.lower()}")
    if target.is_dir():
        target = target / f"月报-{month}.{format.lower()}"
    target.write_bytes(body)
    tell("report_written", {"path": target, "size": f"{len(body):,}"})
