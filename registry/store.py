"""The one way the API writes an asset: create, replace, patch and soft-delete, each
checked against the layer spec and, for changes, against the version the client read.

Every write goes through here, inside the caller's transaction, after
``set_actor`` — so the audit trail (database triggers) sees who did what, and two
people editing the same asset cannot overwrite each other silently.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import errors as pg_errors
from psycopg import sql
from shapely.geometry.base import BaseGeometry

from registry.context import set_actor
from registry.errors import DuplicateAsset, FeatureNotFound, InvalidFeature, VersionMismatch, VersionRequired
from registry.spec import LayerSpec, Problem
from registry.validation import validate_asset

STORAGE_SRID = 4490


@dataclass(frozen=True)
class Written:
    """Id and new version of the asset a write produced."""

    id: uuid.UUID
    version: int


def _raise_problems(spec: LayerSpec, problems: list[Problem]) -> None:
    errors = [p for p in problems if p.level == "error"]
    if errors:
        detail = "; ".join(f"{p.field}: {p.message}" for p in errors)
        raise InvalidFeature(
            f"{spec.name}: {detail}",
            errors=[
                {"field": p.field, "message": p.message, "value": None if p.value is None else str(p.value)}
                for p in errors
            ],
        )


def _translate(spec: LayerSpec, exc: psycopg.Error, code: Any) -> Exception:
    """Database refusals as domain errors, naming the rule but never echoing server text."""
    if isinstance(exc, pg_errors.UniqueViolation):
        return DuplicateAsset(f"{spec.name}: an asset with code {code!r} already exists")
    if isinstance(exc, pg_errors.CheckViolation | pg_errors.NotNullViolation | pg_errors.ForeignKeyViolation):
        constraint = getattr(exc.diag, "constraint_name", None) or "constraint"
        if constraint == "assets_inside_jiaozuo":
            message = "geometry lies outside Jiaozuo (check the CRS and whether lon/lat are swapped)"
            return InvalidFeature(
                f"{spec.name}: {message}", errors=[{"field": "geometry", "message": message}]
            )
        return InvalidFeature(
            f"{spec.name}: the database refused the asset (rule {constraint})",
            errors=[{"field": constraint, "message": "rule broken"}],
        )
    return exc


def _write_columns(spec: LayerSpec, clean: Mapping[str, Any]) -> list[str]:
    return [a.name for a in spec.writable_attrs if a.name in clean]


def create(
    conn: psycopg.Connection,
    spec: LayerSpec,
    props: Mapping[str, Any],
    geom: BaseGeometry | None,
    *,
    actor: str,
    via: str = "api",
) -> Written:
    """Validate and insert a new asset."""
    clean, problems = validate_asset(spec, props, geom)
    _raise_problems(spec, problems)
    assert geom is not None
    set_actor(conn, actor, via=via)
    cols = _write_columns(spec, clean)
    statement = sql.SQL(
        "INSERT INTO {t} ({cols}, geom) VALUES ({vals}, ST_GeomFromWKB(%s, {srid})) RETURNING id, version"
    ).format(
        t=sql.Identifier(spec.name),
        cols=sql.SQL(", ").join(map(sql.Identifier, cols)),
        vals=sql.SQL(", ").join(sql.Placeholder() * len(cols)),
        srid=sql.Literal(STORAGE_SRID),
    )
    try:
        with conn.transaction():
            row = conn.execute(statement, [*(clean[c] for c in cols), geom.wkb]).fetchone()
    except psycopg.Error as exc:
        raise _translate(spec, exc, clean.get("code")) from None
    assert row is not None
    return Written(row[0], row[1])


def _lock_current(
    conn: psycopg.Connection, spec: LayerSpec, asset_id: str
) -> tuple[dict[str, Any], bytes, int]:
    try:
        key = uuid.UUID(str(asset_id))
    except ValueError:
        raise FeatureNotFound(f"{spec.name}: no asset {asset_id!r}") from None
    cols = [a.name for a in spec.writable_attrs]
    statement = sql.SQL(
        "SELECT {cols}, ST_AsBinary(geom), version FROM {t} WHERE id = %s AND deleted_at IS NULL FOR UPDATE"
    ).format(cols=sql.SQL(", ").join(map(sql.Identifier, cols)), t=sql.Identifier(spec.name))
    row = conn.execute(statement, (key,)).fetchone()
    if row is None:
        raise FeatureNotFound(f"{spec.name}: no asset {asset_id!r}")
    return dict(zip(cols, row[: len(cols)], strict=True)), bytes(row[-2]), row[-1]


def _check_version(spec: LayerSpec, asset_id: str, current: int, expected: int | None) -> None:
    if expected is None:
        raise VersionRequired(
            f"{spec.name}/{asset_id}: send If-Match with the version you edited (current: {current})",
            current_version=current,
        )
    if expected != current:
        raise VersionMismatch(
            f"{spec.name}/{asset_id}: you edited version {expected} but version {current} is stored now; "
            "reload and reapply your change",
            current_version=current,
        )


def _update(
    conn: psycopg.Connection,
    spec: LayerSpec,
    asset_id: str,
    clean: Mapping[str, Any],
    geom: BaseGeometry,
    *,
    actor: str,
    via: str,
) -> Written:
    set_actor(conn, actor, via=via)
    cols = [a.name for a in spec.writable_attrs]
    statement = sql.SQL(
        "UPDATE {t} SET {sets}, geom = ST_GeomFromWKB(%s, {srid}) WHERE id = %s RETURNING id, version"
    ).format(
        t=sql.Identifier(spec.name),
        sets=sql.SQL(", ").join(sql.SQL("{} = %s").format(sql.Identifier(c)) for c in cols),
        srid=sql.Literal(STORAGE_SRID),
    )
    try:
        with conn.transaction():
            row = conn.execute(
                statement, [*(clean.get(c) for c in cols), geom.wkb, uuid.UUID(str(asset_id))]
            ).fetchone()
    except psycopg.Error as exc:
        raise _translate(spec, exc, clean.get("code")) from None
    assert row is not None
    return Written(row[0], row[1])


def replace(
    conn: psycopg.Connection,
    spec: LayerSpec,
    asset_id: str,
    props: Mapping[str, Any],
    geom: BaseGeometry | None,
    *,
    expected_version: int | None,
    actor: str,
    via: str = "api",
) -> Written:
    """Replace every writable attribute and the geometry (absent attributes become empty)."""
    _current, _wkb, version = _lock_current(conn, spec, asset_id)
    _check_version(spec, asset_id, version, expected_version)
    clean, problems = validate_asset(spec, props, geom)
    _raise_problems(spec, problems)
    assert geom is not None
    return _update(conn, spec, asset_id, clean, geom, actor=actor, via=via)


def patch(
    conn: psycopg.Connection,
    spec: LayerSpec,
    asset_id: str,
    props: Mapping[str, Any],
    geom: BaseGeometry | None,
    *,
    expected_version: int | None,
    actor: str,
    via: str = "api",
) -> Written:
    """Change only the given attributes (and the geometry if given); the merged asset
    is validated as a whole so cross-field rules still hold."""
    import shapely

    current, wkb, version = _lock_current(conn, spec, asset_id)
    _check_version(spec, asset_id, version, expected_version)
    merged = {**current, **props}
    clean, problems = validate_asset(spec, merged, geom if geom is not None else shapely.from_wkb(wkb))
    _raise_problems(spec, problems)
    return _update(conn, spec, asset_id, clean, geom or shapely.from_wkb(wkb), actor=actor, via=via)


def soft_delete(
    conn: psycopg.Connection,
    spec: LayerSpec,
    asset_id: str,
    *,
    expected_version: int | None,
    actor: str,
    via: str = "api",
) -> Written:
    """Mark the asset deleted (it stays for history and restore)."""
    _current, _wkb, version = _lock_current(conn, spec, asset_id)
    _check_version(spec, asset_id, version, expected_version)
    set_actor(conn, actor, via=via)
    row = conn.execute(
        sql.SQL(
            "UPDATE {t} SET deleted_at = now(), deleted_by = registry_actor() WHERE id = %s "
            "RETURNING id, version"
        ).format(t=sql.Identifier(spec.name)),
        (uuid.UUID(str(asset_id)),),
    ).fetchone()
    assert row is not None
    return Written(row[0], row[1])
