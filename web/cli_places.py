"""``registry places …``: load a gazetteer file (road centre lines and named places) and
list what the gazetteer holds. Registered on the ``registry`` command by web/cli.py."""

from __future__ import annotations

from pathlib import Path

import typer

from registry.settings import Settings
from web.cli_lang import say, tell

places_app = typer.Typer(help="The gazetteer (地名库) of the map's place search.", no_args_is_help=True)


@places_app.command("import")
def places_import(
    file: Path = typer.Argument(  # noqa: B008 (typer's way of declaring an argument)
        ..., exists=True, dir_okay=False, help="GeoJSON, GeoPackage, zipped Shapefile…"
    ),
    name_field: str = typer.Option("name", help="The column holding the name (e.g. 名称, NAME)."),
    source: str = typer.Option(None, help="Source label (default: the file name); re-importing replaces it."),
    gpkg_layer: str = typer.Option(None, help="Layer of a multi-layer file."),
) -> None:
    """Lines become roads, points and polygons named places; the file's CRS is converted
    to CGCS2000 (a file without one is taken as lon/lat). Replaces the names of the same
    source that the file no longer holds."""
    import geopandas as gpd
    import shapely

    from registry import places
    from registry.context import set_actor
    from registry.db import connect

    frame = gpd.read_file(file, layer=gpkg_layer) if gpkg_layer else gpd.read_file(file)
    if name_field not in frame.columns:
        raise typer.BadParameter(
            say(
                "places_no_name_column",
                {"column": repr(name_field), "columns": ", ".join(map(str, frame.columns))},
            ),
            param_hint="--name-field",
        )
    frame = frame.set_crs(4490) if frame.crs is None else frame.to_crs(4490)
    rows = []
    for name, geom in zip(frame[name_field], frame.geometry, strict=True):
        if geom is None or geom.is_empty or not isinstance(name, str) or not name.strip():
            continue
        geom = shapely.force_2d(geom)
        kind = "road" if geom.geom_type in ("LineString", "MultiLineString") else "place"
        rows.append((name, kind, geom))
    with connect(Settings()) as conn:
        set_actor(conn, "cli", via="cli", comment="registry places import")
        n = places.load(conn, rows, source=source or file.name)
        conn.commit()
    tell("places_loaded", {"n": n, "file": file.name})


@places_app.command("list")
def places_list() -> None:
    """How many roads and places each source holds."""
    from registry.db import connect

    with connect(Settings()) as conn:
        for source, kind, n in conn.execute(
            "SELECT source, kind, count(*) FROM places GROUP BY source, kind ORDER BY source, kind"
        ):
            typer.echo(f"{source}\t{kind}\t{n}")  # (tab-separated data for scripts)
