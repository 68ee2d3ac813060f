"""Versioned single-asset writes: create, update, soft delete and restore.

Any layer, generated from its spec. Each function attributes the write
(:func:`registry.context.set_actor`) so the history trigger records who, through
what and why; updates and deletes take the version the client last saw and refuse
with :class:`VersionConflict` when someone else wrote in between (optimistic
concurrency, HTTP 409/412). Nothing is committed here: the caller's transaction
decides, so a refused write leaves the database unchanged.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Mapping
from typing import Any

import psycopg
import shapely
from psycopg import sql
from psycopg.types.json import Jsonb
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry
from shapely.ops import split

from registry.assets import STORAGE_SRID
from registry.context import set_actor
from registry.coords import GEOD
from registry.errors import DuplicateAsset, FeatureNotFound, InvalidFeature, InvalidParameter, RegistryError
from registry.spec import LayerSpec
from registry.validation import validate_asset
from registry.workflow import StatusThroughWorkflow

# No asset with that id in the layer (or it is deleted, for writes that need it live).
AssetNotFound = FeatureNotFound


class VersionConflict(RegistryError):
    """The asset changed since the client read it; ``current_version`` says to what."""

    status = 409
    code = "version_conflict"

    def __init__(self, message: str, *, current_version: int, expected_version: int) -> None:
        super().__init__(message)
        self.current_version = current_version
        self.expected_version = expected_version


class NotDeleted(RegistryError):
    """A restore of an asset that is not deleted."""

    status = 409
    code = "not_deleted"


def snapshot_sql(alias: str = "t") -> sql.Composable:
    """The row as JSON with the geometry as GeoJSON, as history stores it."""
    return sql.SQL("registry_history_snapshot({})").format(sql.Identifier(alias))


def get_asset(
    conn: psycopg.Connection,
    spec: LayerSpec,
    asset_id: Any,
    *,
    include_deleted: bool = False,
    lock: bool = False,
) -> dict[str, Any]:
    """The current record as a dict (``geom`` as GeoJSON), or AssetNotFound."""
    statement = sql.SQL("SELECT {snap} FROM {table} t WHERE id = %s{lock}").format(
        snap=snapshot_sql(),
        table=sql.Identifier(spec.name),
        lock=sql.SQL(" FOR UPDATE") if lock else sql.SQL(""),
    )
    try:
        key = uuid.UUID(str(asset_id))
    except ValueError:
        raise AssetNotFound("").with_message(
            "asset_not_found", layer=spec.name, layer_zh=spec.zh, id=str(asset_id)[:80]
        ) from None
    row = conn.execute(statement, (key,)).fetchone()
    if row is None or (row[0]["deleted_at"] is not None and not include_deleted):
        raise AssetNotFound("").with_message(
            "asset_not_found", layer=spec.name, layer_zh=spec.zh, id=str(asset_id)
        )
    return row[0]


def _problems_to_error(spec: LayerSpec, problems: list[Any]) -> InvalidFeature:
    errors = [
        {
            "field": p.field,
            "field_label": field_label(spec, p.field),
            "message": p.message,
            "value": _jsonable(p.value),
            "code": p.code or "invalid_value",
            "params": {k: _jsonable(v) for k, v in p.params.items()} if p.code else {"reason": p.message},
        }
        for p in problems
    ]
    fields = ", ".join(sorted({p.field for p in problems}))
    return InvalidFeature("", errors=errors).with_message("invalid_asset", layer=spec.name, fields=fields)


def field_label(spec: LayerSpec, name: str) -> dict[str, str] | None:
    """A field's label in both languages, for a field error the client shows to people
    (the field's name is a code); None for a name that is not an attribute."""
    if name == "geometry":
        return {"zh": "位置/形状", "en": "Position/shape"}
    attr = next((a for a in spec.all_attrs if a.name == name), None)
    return {"zh": attr.zh, "en": attr.en} if attr is not None else None


def _jsonable(value: Any) -> Any:
    return value if value is None or isinstance(value, str | int | float | bool) else str(value)


def check_version(spec: LayerSpec, current: Mapping[str, Any], expected: int | None) -> None:
    """409 ``version_conflict`` when the writer saw another version than ``current`` (read
    under lock): every versioned write of an asset, its steps and reopenings included."""
    if expected is not None and int(expected) != current["version"]:
        raise VersionConflict(
            "", current_version=current["version"], expected_version=int(expected)
        ).with_message(
            "version_conflict",
            layer=spec.name,
            id=str(current["id"]),
            current=current["version"],
            expected=int(expected),
        )


def _field_of(spec: LayerSpec, constraint: str) -> str:
    """The field a named constraint guards (``manholes_condition_allowed`` → condition)."""
    if "geom" in constraint or constraint == "assets_inside_jiaozuo":
        return "geometry"
    rest = constraint.removeprefix(f"{spec.name}_")
    names = sorted((a.name for a in spec.all_attrs), key=len, reverse=True)
    return next((n for n in names if rest.startswith(n)), constraint)


def _translate(spec: LayerSpec, exc: psycopg.Error) -> RegistryError:
    """A database refusal as a domain error naming the field and rule (never raw SQL text)."""
    diag = exc.diag
    if isinstance(exc, psycopg.errors.UniqueViolation):
        return DuplicateAsset("").with_message("duplicate_code", layer=spec.name)
    constraint = diag.constraint_name or "a database rule"
    message = diag.message_primary or ""
    if diag.message_hint:
        message = f"{message} ({diag.message_hint})"
    return InvalidFeature(
        "",
        errors=[
            {
                "field": _field_of(spec, constraint),
                "field_label": field_label(spec, _field_of(spec, constraint)),
                "code": "database_rule",
                "params": {"rule": constraint, "reason": message},
                "rule": constraint,
                "value": None,
            }
        ],
    ).with_message("asset_breaks_rule", layer=spec.name, rule=constraint)


# Said to the client whose geometry had a height that ``planar`` dropped.
# (a message code of the table: the route says it in the reader's language)
Z_DROPPED: dict[str, Any] = {"field": "geometry", "code": "z_dropped", "params": {}}


def planar(geom: BaseGeometry) -> BaseGeometry:
    """The geometry without heights: layers store 2D positions (a height is an attribute,
    e.g. a cover depth), so a Z coordinate from GPS or a 3D survey file is dropped, as the
    importer does; the API tells the client it did (see web/routes)."""
    return shapely.force_2d(geom) if shapely.has_z(geom) else geom


def _writable_names(spec: LayerSpec) -> set[str]:
    return {a.name for a in spec.writable_attrs}


def create_asset(
    conn: psycopg.Connection,
    spec: LayerSpec,
    *,
    props: Mapping[str, Any],
    geom: BaseGeometry,
    actor: str,
    via: str = "api",
    comment: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Validate and insert one asset; returns the stored record (version 1)."""
    unknown = set(props) - _writable_names(spec)
    if unknown:
        raise InvalidFeature(
            "", errors=[{"field": f, "code": "not_an_attribute", "value": None} for f in sorted(unknown)]
        ).with_message("unknown_attributes", layer=spec.name, fields=", ".join(sorted(unknown)))
    geom = planar(geom)
    clean, problems = validate_asset(spec, props, geom)
    if problems:
        raise _problems_to_error(spec, [p for p in problems if p.level == "error"] or problems)
    set_actor(conn, actor, via=via, comment=comment)
    columns = [*clean, "geom", "extra"]
    statement = sql.SQL(
        "INSERT INTO {table} AS t ({cols}) VALUES ({vals}, ST_GeomFromWKB(%s, {srid}), %s) RETURNING {snap}"
    ).format(
        table=sql.Identifier(spec.name),
        cols=sql.SQL(", ").join(map(sql.Identifier, columns)),
        vals=sql.SQL(", ").join(sql.Placeholder() * len(clean)) if clean else sql.SQL("DEFAULT"),
        srid=sql.Literal(STORAGE_SRID),
        snap=snapshot_sql(),
    )
    try:
        with conn.transaction():
            row = conn.execute(statement, [*clean.values(), geom.wkb, Jsonb(dict(extra or {}))]).fetchone()
    except psycopg.errors.IntegrityError as exc:
        raise _translate(spec, exc) from None
    assert row is not None
    return row[0]


def update_asset(
    conn: psycopg.Connection,
    spec: LayerSpec,
    asset_id: Any,
    *,
    props: Mapping[str, Any] | None = None,
    geom: BaseGeometry | None = None,
    expected_version: int | None,
    actor: str,
    via: str = "api",
    comment: str | None = None,
    workflow_step: bool = False,
) -> dict[str, Any]:
    """Change some attributes and/or the geometry of a live asset.

    The whole resulting record is validated (cross-field rules see old and new
    values together). ``expected_version`` None skips the concurrency check; pass
    the version the client saw whenever there is one. The status of a layer with a
    workflow changes only through its steps (``workflow_step``: registry.workflow_store).
    """
    props = dict(props or {})
    unknown = set(props) - _writable_names(spec)
    if unknown:
        raise InvalidFeature(
            "", errors=[{"field": f, "code": "not_an_attribute", "value": None} for f in sorted(unknown)]
        ).with_message("unknown_attributes", layer=spec.name, fields=", ".join(sorted(unknown)))
    current = get_asset(conn, spec, asset_id, lock=True)
    check_version(spec, current, expected_version)
    if (
        spec.workflow is not None
        and not workflow_step
        and props.get("status", current["status"]) != current["status"]
    ):
        raise StatusThroughWorkflow(
            "",
            errors=[
                {
                    "field": "status",
                    "field_label": field_label(spec, "status"),
                    "code": "use_workflow_steps",
                    "value": props.get("status"),
                }
            ],
        ).with_message("status_through_workflow", layer=spec.name)
    merged = {name: current.get(name) for name in _writable_names(spec)} | props
    geom = None if geom is None else planar(geom)
    final_geom = geom if geom is not None else shape(current["geom"])
    clean, problems = validate_asset(spec, merged, final_geom)
    errors = [p for p in problems if p.level == "error"]
    if errors:
        raise _problems_to_error(spec, errors)
    set_actor(conn, actor, via=via, comment=comment)
    assignments = [sql.SQL("{} = %s").format(sql.Identifier(name)) for name in props]
    params: list[Any] = [clean.get(name) for name in props]
    if geom is not None:
        assignments.append(sql.SQL("geom = ST_GeomFromWKB(%s, {})").format(sql.Literal(STORAGE_SRID)))
        params.append(geom.wkb)
    if not assignments:
        return current
    statement = sql.SQL(
        "UPDATE {table} AS t SET {sets} WHERE id = %s AND version = %s RETURNING {snap}"
    ).format(table=sql.Identifier(spec.name), sets=sql.SQL(", ").join(assignments), snap=snapshot_sql())
    try:
        with conn.transaction():
            row = conn.execute(statement, [*params, current["id"], current["version"]]).fetchone()
    except psycopg.errors.IntegrityError as exc:
        raise _translate(spec, exc) from None
    assert row is not None  # the row is locked and its version checked above
    return row[0]


def delete_asset(
    conn: psycopg.Connection,
    spec: LayerSpec,
    asset_id: Any,
    *,
    expected_version: int | None,
    actor: str,
    via: str = "api",
    comment: str | None = None,
) -> dict[str, Any]:
    """Soft delete: the record stays (history action ``delete``), an admin can restore it."""
    current = get_asset(conn, spec, asset_id, lock=True)
    check_version(spec, current, expected_version)
    set_actor(conn, actor, via=via, comment=comment)
    row = conn.execute(
        sql.SQL(
            "UPDATE {table} AS t SET deleted_at = now(), deleted_by = registry_actor() "
            "WHERE id = %s RETURNING {snap}"
        ).format(table=sql.Identifier(spec.name), snap=snapshot_sql()),
        (current["id"],),
    ).fetchone()
    assert row is not None
    return row[0]


def restore_asset(
    conn: psycopg.Connection,
    spec: LayerSpec,
    asset_id: Any,
    *,
    expected_version: int | None = None,
    actor: str,
    via: str = "api",
    comment: str | None = None,
) -> dict[str, Any]:
    """Undo a soft delete (history action ``restore``)."""
    current = get_asset(conn, spec, asset_id, include_deleted=True, lock=True)
    if current["deleted_at"] is None:
        raise NotDeleted("").with_message(
            "asset_not_deleted", layer=spec.name, layer_zh=spec.zh, id=str(current["id"])
        )
    check_version(spec, current, expected_version)
    set_actor(conn, actor, via=via, comment=comment)
    try:
        with conn.transaction():
            row = conn.execute(
                sql.SQL(
                    "UPDATE {table} AS t SET deleted_at = NULL, deleted_by = NULL "
                    "WHERE id = %s RETURNING {snap}"
                ).format(table=sql.Identifier(spec.name), snap=snapshot_sql()),
                (current["id"],),
            ).fetchone()
    except psycopg.errors.IntegrityError as exc:
        # e.g. another live asset took its code meanwhile
        raise _translate(spec, exc) from None
    assert row is not None
    return row[0]


def _free_codes(conn: psycopg.Connection, spec: LayerSpec, code: str, how_many: int) -> list[str]:
    """``code-2``, ``code-3``…: the first ones no asset of the layer (live or deleted) uses."""
    rows = conn.execute(
        sql.SQL("SELECT code FROM {} WHERE starts_with(code, %s)").format(sql.Identifier(spec.name)),
        (f"{code}-",),
    ).fetchall()
    used = {r[0] for r in rows}
    free = (f"{code}-{n}" for n in itertools.count(2) if f"{code}-{n}" not in used)
    return list(itertools.islice(free, how_many))


def split_asset(
    conn: psycopg.Connection,
    spec: LayerSpec,
    asset_id: Any,
    blade: BaseGeometry,
    *,
    expected_version: int | None,
    actor: str,
    via: str = "api",
    comment: str | None = None,
) -> list[dict[str, Any]]:
    """Cut a polygon asset with a line drawn across it.

    The largest piece stays the asset (same id and code, a new version); every other
    piece becomes a new asset with the same attributes and the next free code
    (``P-1-2``…). Attributes declared ``shared_by_area`` (a zone's bays) are shared
    out by area. One transaction: either every piece is written (each with its history
    entry) or nothing is.
    """
    current = get_asset(conn, spec, asset_id, lock=True)
    check_version(spec, current, expected_version)
    geom = shape(current["geom"])
    if geom.geom_type != "Polygon":
        raise InvalidParameter("geometry", "").with_message("split_not_polygon", got=geom.geom_type)
    if blade.geom_type != "LineString":
        raise InvalidParameter("line", "").with_message("split_needs_line", got=blade.geom_type)
    blade = planar(blade)
    pieces = [p for p in split(geom, blade).geoms if p.geom_type == "Polygon"]
    if len(pieces) < 2:
        raise InvalidParameter("line", "").with_message("split_line_cross")
    areas = [abs(GEOD.geometry_area_perimeter(p)[0]) for p in pieces]
    order = sorted(range(len(pieces)), key=lambda i: -areas[i])
    pieces, areas = [pieces[i] for i in order], [areas[i] for i in order]
    whole = sum(areas)
    shares: list[dict[str, Any]] = [{} for _ in pieces]
    for attr in spec.writable_attrs:
        total = current.get(attr.name)
        if attr.shared_by_area and total is not None:
            counts = [int(total * a / whole) for a in areas]
            counts[0] += int(total) - sum(counts)  # rounding remainder to the kept piece
            for share, count in zip(shares, counts, strict=True):
                share[attr.name] = count
    attrs = {a.name: current[a.name] for a in spec.writable_attrs if current.get(a.name) is not None}
    note = comment or f"split into {len(pieces)} pieces"
    with conn.transaction():
        kept = update_asset(
            conn,
            spec,
            current["id"],
            props=shares[0],
            geom=pieces[0],
            expected_version=current["version"],
            actor=actor,
            via=via,
            comment=note,
        )
        results = [kept]
        codes = _free_codes(conn, spec, current["code"], len(pieces) - 1)
        for piece, share, code in zip(pieces[1:], shares[1:], codes, strict=True):
            results.append(
                create_asset(
                    conn,
                    spec,
                    props=attrs | share | {"code": code},
                    geom=piece,
                    actor=actor,
                    via=via,
                    comment=f"split from {current['code']}",
                    extra=current.get("extra"),
                )
            )
    return results


def next_serial(conn: psycopg.Connection, spec: LayerSpec, stem: str) -> int:
    """The first free serial after every code ``<stem><digits>`` of the layer (deleted
    assets included: their codes stay taken), found with one query."""
    row = conn.execute(
        sql.SQL(
            "SELECT COALESCE(max(substring(code FROM %s)::bigint), 0) + 1 FROM {table} WHERE code ~ %s"
        ).format(table=sql.Identifier(spec.name)),
        ("^" + _re_escape(stem) + "([0-9]{1,12})$", "^" + _re_escape(stem) + "[0-9]{1,12}$"),
    ).fetchone()
    return int(row[0]) if row else 1


def _re_escape(text: str) -> str:
    return "".join("\\" + ch if ch in r".^$*+?()[]{}|\-" else ch for ch in text)
