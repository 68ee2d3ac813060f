"""The ``registry`` command: database life cycle, migrations, demo data and the server."""

from __future__ import annotations

import logging
import sys
import time
from typing import Annotated

import typer

from registry.errors import RegistryError
from registry.settings import Settings
from web.cli_campaigns import report_cmd, target_app
from web.cli_lang import cli_lang, pad, say, set_cli_lang, tell
from web.cli_places import places_app

app = typer.Typer(
    help="Jiaozuo asset registry (焦作市城市管理资产登记系统).",
    no_args_is_help=True,
    add_completion=False,
)
db_app = typer.Typer(help="Run the embedded PostgreSQL + PostGIS database.", no_args_is_help=True)


@app.callback()
def _options(
    lang: str = typer.Option(
        "zh", "--lang", envvar="REGISTRY_LANG", help="Language of messages and errors: zh or en."
    ),
) -> None:
    # (before every command: its refusals and warnings are said in this language)
    set_cli_lang(lang)


app.add_typer(db_app, name="db", help="Start, stop or inspect the embedded database.")
user_app = typer.Typer(help="Manage accounts and roles.", no_args_is_help=True)
app.add_typer(user_app, name="user", help="Add, list, disable accounts and set their roles.")
app.add_typer(target_app, name="target", help="Campaign targets (年度目标): set, list, remove.")
app.command("report")(report_cmd)
app.add_typer(places_app, name="places", help="The gazetteer (地名库): import roads and places, list.")


def _settings() -> Settings:
    return Settings()


def _cluster(settings: Settings):
    from registry.cluster import Cluster

    if not settings.embedded:
        tell("cli_db_external")
        return None
    return Cluster(settings)


@db_app.command("up")
def db_up() -> None:
    """Create (first time) and start the embedded database."""
    cluster = _cluster(_settings())
    if cluster is None:
        return
    started = cluster.up()
    tell("db_started" if started else "db_already_running", {"port": cluster.port, "data": cluster.pgdata})


@db_app.command("down")
def db_down() -> None:
    """Stop the embedded database."""
    cluster = _cluster(_settings())
    if cluster is None:
        return
    tell("db_stopped" if cluster.down() else "db_was_not_running")


@db_app.command("status")
def db_status() -> None:
    """Show whether the embedded database is running, where and on which port."""
    cluster = _cluster(_settings())
    if cluster is None:
        return
    st = cluster.status()
    where = {"pid": st.pid, "port": st.port, "data": st.data_dir}
    tell("db_status_running" if st.running else "db_status_stopped", where)
    if not st.running:
        raise typer.Exit(3)


@app.command("migrate")
def migrate_cmd() -> None:
    """Apply pending SQL migrations and load the district boundaries."""
    settings = _settings()
    applied, changed = _migrate(settings)
    _say_applied(applied)
    tell("districts_changed", {"n": changed})


def _say_applied(applied: list[str]) -> None:
    """The migrations a run applied, or that there were none (migrate and up say it alike)."""
    if applied:
        tell("migrations_applied", {"names": ", ".join(applied)})
    else:
        tell("migrations_none")


def _migrate(settings: Settings) -> tuple[list[str], int]:
    from registry.db import connect
    from registry.districts import load_districts
    from registry.migrate import migrate

    with connect(settings) as conn:
        applied = migrate(conn, settings.migrations_dir)
    with connect(settings) as conn:
        changed = load_districts(conn)
    from layers import default_catalog
    from registry.workflow_store import sync_workflows

    with connect(settings) as conn:
        # the database enforces the workflows the layers declare (one source: layers/)
        sync_workflows(conn, default_catalog())
    return applied, changed


def _password_for(username: str) -> tuple[str, bool]:
    """REGISTRY_PASSWORD, else a prompt on a terminal, else a generated one (shown once)."""
    import os

    from registry.accounts import generate_password
    from registry.messages import nested

    env = os.environ.get("REGISTRY_PASSWORD")
    if env:
        return env, False
    if sys.stdin.isatty():
        entered = typer.prompt(
            say("password_prompt", {"username": username}), default="", hide_input=True, show_default=False
        )
        if entered:
            if typer.prompt(say("password_repeat"), hide_input=True) != entered:
                tell("cli_error", {"message": nested("passwords_differ")}, err=True, fg=typer.colors.RED)
                raise typer.Exit(2)
            return entered, False
    return generate_password(), True


@user_app.command("add")
def user_add(
    username: str = typer.Argument(..., help="Login name (letters, digits, _ . @ -)."),
    role: str = typer.Option(..., "--role", "-r", help="admin, surveyor, planner, officer or viewer."),
    display_name: str = typer.Option(None, "--name", help="Name shown in the history (e.g. 张三)."),
) -> None:
    """Create an account. The password comes from REGISTRY_PASSWORD, a prompt, or is generated."""
    from registry.accounts import create_user
    from registry.db import connect

    password, generated = _password_for(username)
    with connect(_settings()) as conn:
        user = create_user(conn, username=username, password=password, role=role, display_name=display_name)
    tell("user_created", {"username": user.username, "role": user.role.value})
    if generated:
        tell("password_shown_once", {"password": password})


@user_app.command("list")
def user_list() -> None:
    """Every account with its role and state."""
    from registry.accounts import list_users
    from registry.db import connect

    with connect(_settings()) as conn:
        users = list_users(conn)
    for u in users:
        state = say("user_state_disabled") if u.disabled else say("user_state_active")
        last = (
            u.last_login_at.isoformat(timespec="minutes") if u.last_login_at else say("user_never_logged_in")
        )
        row = {"username": pad(u.username, 20), "role": pad(u.role.value, 9), "state": pad(state, 8)}
        tell("user_list_row", {**row, "last": last, "name": u.display_name or ""})


@user_app.command("disable")
def user_disable(
    username: str,
    enable: bool = typer.Option(False, "--enable", help="Re-enable instead."),
) -> None:
    """Disable an account: its sessions end and its API tokens stop working."""
    from registry.accounts import set_disabled
    from registry.db import connect

    with connect(_settings()) as conn:
        user = set_disabled(conn, username, not enable)
    tell("user_disabled" if user.disabled else "user_enabled", {"username": user.username})


@user_app.command("set-role")
def user_set_role(username: str, role: str) -> None:
    """Give an account another role (effective on its next request)."""
    from registry.accounts import set_role
    from registry.db import connect

    with connect(_settings()) as conn:
        user = set_role(conn, username, role)
    tell("user_role_set", {"username": user.username, "role": user.role.value})


@user_app.command("set-password")
def user_set_password(username: str) -> None:
    """Set a new password (REGISTRY_PASSWORD, prompt, or generated); open sessions end."""
    from registry.accounts import set_password
    from registry.db import connect

    password, generated = _password_for(username)
    with connect(_settings()) as conn:
        set_password(conn, username, password)
    tell("password_changed", {"username": username})
    if generated:
        tell("password_shown_once", {"password": password})


def _ensure_admin(settings: Settings) -> None:
    """The first account, created at set-up when none exists."""
    import os

    from registry.accounts import ensure_first_admin
    from registry.db import connect

    from_env = os.environ.get("REGISTRY_ADMIN_PASSWORD") or None
    with connect(settings) as conn:
        created, generated = ensure_first_admin(conn, password=from_env)
    if generated:
        tell("first_admin_generated", {"password": generated})
    elif created:
        tell("first_admin_from_env")


@app.command("seed-demo")
def seed_demo_cmd() -> None:
    """Load the deterministic Jiaozuo demo data (idempotent; marked is_demo)."""
    from layers.demo import seed_demo
    from registry.db import connect

    with connect(_settings()) as conn:
        counts = seed_demo(conn, progress=typer.echo, lang=cli_lang())
    for layer, c in counts.items():
        typer.echo(f"  {layer}: {dict(c)}")


@app.command("serve")
def serve_cmd(
    host: str = typer.Option(None, help="Address to listen on (default 127.0.0.1)."),
    port: int = typer.Option(None, help="Port (default 8000)."),
    workers: int = typer.Option(
        1,
        "--workers",
        min=1,
        help="Worker processes sharing the port (about one per core; each has its own "
        "database pool of REGISTRY_POOL_MAX_SIZE connections).",
    ),
    log_level: str = typer.Option("info", "--log-level", help="uvicorn's: warning drops the access log."),
) -> None:
    """Serve the web API and map."""
    from web.serve import serve

    settings = _settings()
    host = host or settings.http_host
    port = port or settings.http_port
    tell("serving_on", {"host": host, "port": port})
    # web/serve.py: several workers without uvicorn's +40 ms per kept-alive response
    serve(host, port, workers=workers, log_level=log_level)


@app.command("up")
def up_cmd(
    demo: bool = typer.Option(True, help="Load the demo data."),
    serve: bool = typer.Option(True, help="Serve the web app afterwards."),
) -> None:
    """Everything: start the database, migrate, load the demo, serve."""
    settings = _settings()
    t0 = time.monotonic()
    cluster = _cluster(settings)
    if cluster is not None:
        cluster.up()
        tell("db_running_on", {"port": cluster.port})
    applied, _ = _migrate(settings)
    _say_applied(applied)
    _ensure_admin(settings)
    if demo:
        seed_demo_cmd()
    tell("ready_in", {"seconds": f"{time.monotonic() - t0:.1f}"})
    if serve:
        serve_cmd(host=None, port=None, workers=1, log_level="info")  # type: ignore[arg-type]


@app.command("import")
def import_cmd(
    file: str = typer.Argument(..., help="Survey file: zip(Shapefile), gpkg, geojson, kml/kmz, csv, xlsx."),
    layer: str = typer.Option(
        None,
        "--layer",
        help="Target layer, e.g. manholes. Omit for a GeoPackage whose layers are named after "
        "registry layers: each is imported into its own layer (all or nothing).",
    ),
    crs: str = typer.Option(None, "--crs", help="EPSG code, WKT, gcj02 or bd09 (overrides the file's)."),
    encoding: str = typer.Option(None, "--encoding", help="Force the text encoding (utf-8, gbk, gb18030)."),
    mapping: str = typer.Option(
        None, "--mapping", help='JSON {"source column": "attribute"} or a JSON file.'
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Report only; write nothing."),
    skip_rejected: bool = typer.Option(False, "--skip-rejected", help="Write the good rows despite errors."),
    gpkg_layer: str = typer.Option(None, "--gpkg-layer", help="Layer (GeoPackage/KML), sheet or shapefile."),
    repair: bool = typer.Option(False, "--repair-geometry", help="Repair invalid geometries (make_valid)."),
    photos: str = typer.Option(None, "--photos", help="Zip of photos named in a 照片/photo column."),
    report: str = typer.Option(None, "--report", help="Write the report to this .csv or .json file."),
    lang: str = typer.Option(
        None, "--lang", help="Report language: zh or en (default: registry --lang, else zh)."
    ),
    actor: str = typer.Option("cli", "--actor", help="Who is importing (recorded)."),
    set_: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            help="A value for every row that lacks one, e.g. --set status=in_service --set kind=rain "
            "(repeatable).",
        ),
    ] = None,
    x_column: str = typer.Option(None, "--x-column", help="Column holding x (easting/longitude)."),
    y_column: str = typer.Option(None, "--y-column", help="Column holding y (northing/latitude)."),
    swap_xy: bool = typer.Option(
        False, "--swap-xy", help="Exchange x and y (survey convention: X = north, Y = east)."
    ),
) -> None:
    """Import a survey file into a layer, with a per-row report (progress bar on stderr).

    Exit codes: 0 written (or a clean dry run); 1 rows rejected (nothing written; or a
    dry run that would reject rows); 2 the file or an option is wrong (nothing read).
    """
    from importers.errors import ImportFileError

    lang = lang or cli_lang()
    try:
        _import(
            file, layer, crs, encoding, mapping, dry_run, skip_rejected, gpkg_layer, repair, photos,
            report, lang, actor, set_, x_column, y_column, swap_xy,
        )  # fmt: skip
    except ImportFileError as exc:
        # (file-level errors in the chosen language, one line, no traceback)
        tell("cli_error", {"message": exc.text(lang)}, lang=lang, err=True, fg=typer.colors.RED)
        raise typer.Exit(2) from None


def _status_word(status: str, lang: str) -> str:
    """An import's outcome in words (the summary line); the status code itself stays on
    the ``import <id>: <status>`` line that scripts read."""
    if status == "committed":
        return say("import_status_committed", lang=lang)
    if status == "dry_run":
        return say("import_status_dry_run", lang=lang)
    if status == "rejected":
        return say("import_status_rejected", lang=lang)
    return status


def _level_word(level: str, lang: str) -> str:
    """A report row's level as the report's reader says it (错误 / error)."""
    if level == "error":
        return say("row_level_error", lang=lang)
    if level == "warning":
        return say("row_level_warning", lang=lang)
    return level


def _import(
    file: str, layer: str | None, crs: str | None, encoding: str | None, mapping: str | None,
    dry_run: bool, skip_rejected: bool, gpkg_layer: str | None, repair: bool, photos: str | None,
    report: str | None, lang: str, actor: str, set_: list[str] | None, x_column: str | None,
    y_column: str | None, swap_xy: bool,
) -> None:  # fmt: skip
    from pathlib import Path

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from importers import ImportOptions, run_import, run_multi_import
    from importers.checks import parse_set
    from importers.errors import ImportFileError
    from importers.mapping import load_mapping
    from layers import default_catalog
    from registry.db import connect

    catalog = default_catalog()
    if not Path(file).is_file():
        raise ImportFileError.of("file_not_found", path=file)
    if layer is None and gpkg_layer is not None:
        raise ImportFileError.of("gpkg_layer_needs_layer")
    options = ImportOptions(
        crs=crs,
        encoding=encoding,
        mapping=load_mapping(mapping, allow_file=True),
        dry_run=dry_run,
        skip_rejected=skip_rejected,
        layer_name=gpkg_layer,
        repair_geometry=repair,
        photos=photos,
        defaults=parse_set(set_),
        x_column=x_column,
        y_column=y_column,
        swap_xy=swap_xy,
    )
    settings = _settings()
    with (
        Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            transient=True,
        ) as bar,
        connect(settings) as conn,
    ):
        task = bar.add_task(say("import_progress", {"file": Path(file).name}, lang), total=None)

        def progress(n: int, total: int | None) -> None:
            bar.update(task, completed=n, total=total)

        if layer is None:
            reports = run_multi_import(
                conn,
                list(catalog),
                Path(file),
                settings=settings,
                actor=actor,
                options=options,
                progress=progress,
            )
        else:
            reports = [
                run_import(
                    conn,
                    catalog.get(layer),
                    Path(file),
                    settings=settings,
                    actor=actor,
                    options=options,
                    progress=progress,
                )
            ]
    for rep in reports:
        if len(reports) > 1:
            typer.echo(f"{rep.layer}:")
        for r in rep.as_dict(lang)["rows"]:
            if r["level"] != "ok":
                level = _level_word(r["level"], lang)
                field = r["field_label"] if lang == "zh" else r["field"]
                # (tab-separated columns of the report: data, the reason already in lang)
                typer.echo(f"  {r['row']}\t{level}\t{field}\t{r['value']}\t{r['reason']}")
        if rep.codes_generated:
            first, last, n = rep.codes_generated[0], rep.codes_generated[-1], len(rep.codes_generated)
            tell("import_codes_generated", {"n": n, "first": first, "last": last}, lang=lang)
        tell("import_result", {**rep.summary(), "status": _status_word(rep.status, lang)}, lang=lang)
        # (machine-readable: scripts and tests read the id, the status code and the counts)
        typer.echo(f"import {rep.import_id}: {rep.status} {rep.summary()}")
    if report:
        for rep in reports:
            target = Path(report)
            if len(reports) > 1:
                target = target.with_name(f"{target.stem}-{rep.layer}{target.suffix}")
            text = rep.to_json(lang) if report.endswith(".json") else rep.to_csv(lang)
            target.write_text(text, encoding="utf-8")
    if any(rep.status == "rejected" or (rep.dry_run and rep.summary()["rejected"]) for rep in reports):
        raise typer.Exit(1)


@app.command("import-undo")
def import_undo_cmd(
    import_id: str = typer.Argument(..., help="The import id printed by `registry import`."),
    force: bool = typer.Option(False, "--force", help="Undo even if assets changed since."),
    actor: str = typer.Option("cli", "--actor"),
) -> None:
    """Undo a committed import: restore what it updated, remove what it created."""
    from importers import undo
    from layers import default_catalog
    from registry.db import connect

    with connect(_settings()) as conn:
        result = undo(conn, default_catalog(), import_id, actor=actor, force=force)
    tell("import_undone", {"result": result})


@app.command("export")
def export_cmd(
    layer: str = typer.Option(..., "--layer"),
    fmt: str = typer.Option("gpkg", "--format", help="gpkg, geojson, shp, csv or xlsx."),
    out: str = typer.Option(..., "-o", "--output"),
    csv_geometry: str = typer.Option("wkt", "--csv-geometry", help="wkt or lonlat (point layers)."),
    labels: str = typer.Option(
        None,
        "--labels",
        help="zh: Chinese headers and labels (default for csv/xlsx); codes: attribute names and "
        "stored codes (default for gpkg/geojson/shp).",
    ),
) -> None:
    """Export a layer to a file the importer reads back unchanged."""
    from pathlib import Path

    from importers.export import ExportOptionError, export
    from layers import default_catalog
    from registry.db import connect
    from registry.messages import nested

    with connect(_settings()) as conn:
        try:
            n = export(
                conn, default_catalog().get(layer), fmt, Path(out), csv_geometry=csv_geometry, labels=labels
            )
        except ExportOptionError as exc:  # (said in the CLI's language, one line)
            tell("cli_error", {"message": nested(exc.code, exc.params)}, err=True, fg=typer.colors.RED)
            raise typer.Exit(2) from None
    tell("export_done", {"n": n, "path": out})


def _backup_progress():
    """A progress bar on stderr, one line per stage, and the callback that feeds it.

    Off when stderr is not a terminal, so a cron job's mail holds only the summary.
    """
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

    console = Console(stderr=True)
    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        console=console,
        disable=not console.is_terminal,
    )
    tasks: dict[str, object] = {}

    def progress(stage: str, done: int, total: int | None) -> None:
        if stage not in tasks:
            tasks[stage] = bar.add_task(stage, total=total)
        bar.update(tasks[stage], completed=done, total=total)  # type: ignore[arg-type]

    return bar, progress


@app.command("backup")
def backup_cmd(
    output: str = typer.Option(
        None,
        "--output",
        "-o",
        help="Archive to write (a folder: a dated name inside it). Default: "
        "./registry-backup-<date>-<time>.tar",
    ),
) -> None:
    """Back up the database and the photo files into one verified archive (tar)."""
    from pathlib import Path

    from registry.backup import create_backup

    bar, progress = _backup_progress()
    with bar:
        result = create_backup(_settings(), Path(output) if output else None, progress=progress)
    m = result.manifest
    rows = sum(m["row_counts"].values())
    tell(
        "backup_written",
        {
            "path": str(result.path),
            "mb": f"{result.size / 1e6:.1f}",
            "tables": len(m["row_counts"]),
            "rows": rows,
            "photos": m["photos"]["count"],
        },
    )
    for warning in result.warnings:
        tell("cli_warning", {"message": warning}, err=True, fg=typer.colors.YELLOW)


@app.command("restore")
def restore_cmd(
    file: str = typer.Argument(..., help="An archive written by `registry backup`."),
    verify_only: bool = typer.Option(
        False, "--verify-only", help="Only check the archive's checksums; touch nothing."
    ),
    work_dir: str = typer.Option(
        None, "--work-dir", help="Where to unpack and check the archive first (default: TMPDIR)."
    ),
) -> None:
    """Restore a backup onto an empty database (embedded data folder or DATABASE_URL) and
    put the photos back; every checksum is verified before anything is touched."""
    import tempfile
    from pathlib import Path

    from registry.backup import extract_verified, restore_backup

    bar, progress = _backup_progress()
    if verify_only:
        with bar, tempfile.TemporaryDirectory(prefix="registry-verify-", dir=work_dir) as tmp:
            manifest = extract_verified(Path(file), Path(tmp), progress=progress)
        tell(
            "backup_archive_ok",
            {
                "at": manifest["created_at"],
                "version": manifest["app_version"],
                "files": len(manifest["files"]),
                "rows": sum(manifest["row_counts"].values()),
            },
        )
        return
    settings = _settings()
    with bar:
        result = restore_backup(
            settings, Path(file), progress=progress, work_dir=Path(work_dir) if work_dir else None
        )
    tell(
        "restore_done",
        {
            "tables": result.tables,
            "rows": result.rows,
            "photos": result.photos_written,
            "present": result.photos_present,
            "at": result.manifest["created_at"],
        },
    )
    if settings.embedded:
        tell("restore_embedded_running", {"port": settings.pg_port})
    for warning in result.warnings:
        tell("cli_warning", {"message": warning}, err=True, fg=typer.colors.YELLOW)


def main() -> None:
    """Entry point: domain errors become one readable line and exit code 2."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        app()
    except RegistryError as exc:
        lang = cli_lang()
        tell("cli_error", {"message": exc.text(lang)}, lang=lang, err=True, fg=typer.colors.RED)
        sys.exit(2)


if __name__ == "__main__":
    main()
