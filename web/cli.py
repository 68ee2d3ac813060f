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
from web.cli_lang import cli_lang, say, set_cli_lang
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
        typer.echo("DATABASE_URL is set: using that server; no local cluster is managed.")
        return None
    return Cluster(settings)


@db_app.command("up")
def db_up() -> None:
    """Create (first time) and start the embedded database."""
    cluster = _cluster(_settings())
    if cluster is None:
        return
    started = cluster.up()
    state = "started" if started else "already running"
    typer.echo(f"database {state} on 127.0.0.1:{cluster.port} (data in {cluster.pgdata})")


@db_app.command("down")
def db_down() -> None:
    """Stop the embedded database."""
    cluster = _cluster(_settings())
    if cluster is None:
        return
    typer.echo("database stopped" if cluster.down() else "database was not running")


@db_app.command("status")
def db_status() -> None:
    """Show whether the embedded database is running, where and on which port."""
    cluster = _cluster(_settings())
    if cluster is None:
        return
    st = cluster.status()
    state = f"running (pid {st.pid})" if st.running else "stopped"
    typer.echo(f"database {state}; port {st.port}; data {st.data_dir}")
    if not st.running:
        raise typer.Exit(3)


@app.command("migrate")
def migrate_cmd() -> None:
    """Apply pending SQL migrations and load the district boundaries."""
    settings = _settings()
    applied, changed = _migrate(settings)
    typer.echo(f"migrations applied: {', '.join(applied) or 'none (up to date)'}")
    typer.echo(f"district boundaries changed: {changed}")


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

    env = os.environ.get("REGISTRY_PASSWORD")
    if env:
        return env, False
    if sys.stdin.isatty():
        entered = typer.prompt(
            f"password for {username} (empty: generate one)", default="", hide_input=True, show_default=False
        )
        if entered:
            if typer.prompt("repeat the password", hide_input=True) != entered:
                typer.secho("error: the passwords differ", fg=typer.colors.RED, err=True)
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
    typer.echo(f"user {user.username} created with role {user.role.value}")
    if generated:
        typer.echo(f"password (shown once, write it down): {password}")


@user_app.command("list")
def user_list() -> None:
    """Every account with its role and state."""
    from registry.accounts import list_users
    from registry.db import connect

    with connect(_settings()) as conn:
        users = list_users(conn)
    for u in users:
        state = "disabled" if u.disabled else "active"
        last = u.last_login_at.isoformat(timespec="minutes") if u.last_login_at else "never"
        typer.echo(f"{u.username:<20} {u.role.value:<9} {state:<8} last login {last}  {u.display_name or ''}")


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
    typer.echo(f"user {user.username} {'disabled' if user.disabled else 'enabled'}")


@user_app.command("set-role")
def user_set_role(username: str, role: str) -> None:
    """Give an account another role (effective on its next request)."""
    from registry.accounts import set_role
    from registry.db import connect

    with connect(_settings()) as conn:
        user = set_role(conn, username, role)
    typer.echo(f"user {user.username} now has role {user.role.value}")


@user_app.command("set-password")
def user_set_password(username: str) -> None:
    """Set a new password (REGISTRY_PASSWORD, prompt, or generated); open sessions end."""
    from registry.accounts import set_password
    from registry.db import connect

    password, generated = _password_for(username)
    with connect(_settings()) as conn:
        set_password(conn, username, password)
    typer.echo(f"password of {username} changed")
    if generated:
        typer.echo(f"password (shown once, write it down): {password}")


def _ensure_admin(settings: Settings) -> None:
    """The first account, created at set-up when none exists."""
    import os

    from registry.accounts import ensure_first_admin
    from registry.db import connect

    from_env = os.environ.get("REGISTRY_ADMIN_PASSWORD") or None
    with connect(settings) as conn:
        created, generated = ensure_first_admin(conn, password=from_env)
    if generated:
        typer.echo(f"first account created: admin / {generated}  (shown once: write it down)")
    elif created:
        typer.echo("first account created: admin (password from REGISTRY_ADMIN_PASSWORD)")


@app.command("seed-demo")
def seed_demo_cmd() -> None:
    """Load the deterministic Jiaozuo demo data (idempotent; marked is_demo)."""
    from layers.demo import seed_demo
    from registry.db import connect

    with connect(_settings()) as conn:
        counts = seed_demo(conn, progress=typer.echo)
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
    typer.echo(f"serving on http://{host}:{port}  (health: http://{host}:{port}/health)")
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
        typer.echo(f"database running on 127.0.0.1:{cluster.port}")
    applied, _ = _migrate(settings)
    typer.echo(f"migrations applied: {', '.join(applied) or 'none (up to date)'}")
    _ensure_admin(settings)
    if demo:
        seed_demo_cmd()
    typer.echo(f"ready in {time.monotonic() - t0:.1f} s")
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
        typer.secho(f"{'错误' if lang == 'zh' else 'error'}: {exc.text(lang)}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from None


_SUMMARY = {
    "zh": "读取 {rows} 行：新增 {created}，更新 {updated}，未变 {unchanged}，"
    "拒绝 {rejected}，警告 {warnings}",
    "en": "read {rows} rows: {created} created, {updated} updated, {unchanged} unchanged, "
    "{rejected} rejected, {warnings} with warnings",
}
_LEVEL_ZH = {"error": "错误", "warning": "警告"}
_STATUS = {
    "zh": {"committed": "已写入", "dry_run": "试导入（未写入）", "rejected": "已拒绝（未写入）"},
    "en": {
        "committed": "committed",
        "dry_run": "dry run (nothing written)",
        "rejected": "rejected (nothing written)",
    },
}


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
        task = bar.add_task(f"导入 {Path(file).name}", total=None)

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
                level = _LEVEL_ZH.get(r["level"], r["level"]) if lang == "zh" else r["level"]
                field = r["field_label"] if lang == "zh" else r["field"]
                typer.echo(f"  {r['row']}\t{level}\t{field}\t{r['value']}\t{r['reason']}")
        if rep.codes_generated:
            first, last, n = rep.codes_generated[0], rep.codes_generated[-1], len(rep.codes_generated)
            typer.echo(
                f"编号由系统生成 {n} 个：{first} … {last}"
                if lang == "zh"
                else f"codes generated for {n} rows: {first} … {last}"
            )
        words = "zh" if lang == "zh" else "en"
        typer.echo(
            f"{_STATUS[words].get(rep.status, rep.status)}：" + _SUMMARY[words].format(**rep.summary())
        )
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
    typer.echo(f"undone: {result}")


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
            typer.secho(
                say("cli_error", {"message": nested(exc.code, exc.params)}), fg=typer.colors.RED, err=True
            )
            raise typer.Exit(2) from None
    typer.echo(say("export_done", {"n": n, "path": out}))


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
    typer.echo(
        say(
            "backup_written",
            {
                "path": str(result.path),
                "mb": f"{result.size / 1e6:.1f}",
                "tables": len(m["row_counts"]),
                "rows": rows,
                "photos": m["photos"]["count"],
            },
        )
    )
    for warning in result.warnings:
        typer.secho(say("cli_warning", {"message": warning}), fg=typer.colors.YELLOW, err=True)


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
        typer.echo(
            say(
                "backup_archive_ok",
                {
                    "at": manifest["created_at"],
                    "version": manifest["app_version"],
                    "files": len(manifest["files"]),
                    "rows": sum(manifest["row_counts"].values()),
                },
            )
        )
        return
    settings = _settings()
    with bar:
        result = restore_backup(
            settings, Path(file), progress=progress, work_dir=Path(work_dir) if work_dir else None
        )
    typer.echo(
        say(
            "restore_done",
            {
                "tables": result.tables,
                "rows": result.rows,
                "photos": result.photos_written,
                "present": result.photos_present,
                "at": result.manifest["created_at"],
            },
        )
    )
    if settings.embedded:
        typer.echo(say("restore_embedded_running", {"port": settings.pg_port}))
    for warning in result.warnings:
        typer.secho(say("cli_warning", {"message": warning}), fg=typer.colors.YELLOW, err=True)


def main() -> None:
    """Entry point: domain errors become one readable line and exit code 2."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        app()
    except RegistryError as exc:
        lang = cli_lang()
        typer.secho(say("cli_error", {"message": exc.text(lang)}, lang), fg=typer.colors.RED, err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
