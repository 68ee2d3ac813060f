"""Reading the history the database keeps, travelling back in time, and undo.

The ``asset_history`` table is written by triggers (sql/0010_history.sql), so
everything here only reads it, except :func:`undo`, which writes the before-states
back through ordinary UPDATE/INSERT/DELETE statements and so is itself recorded
(with ``via = 'undo:<via>'``).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from registry.assets import STORAGE_SRID
from registry.context import set_actor
from registry.errors import RegistryError

_ENTRY_COLUMNS = ", ".join(
    (
        "id, asset_id, layer, child_table, child_id, action, actor, via, comment",
        "at, version, before, after, changed",
    )
)
# Columns a revert never writes: identity, derived or kept by the triggers.
_NOT_RESTORED = frozenset(
    {
        "id",
        "layer",
        "version",
        "created_at",
        "created_by",
        "updated_at",
        "updated_by",
        "district_code",
        "geom",
    }
)

BBox = tuple[float, float, float, float]


class NothingToUndo(RegistryError):
    """No history entry was written through that channel."""

    status = 404
    code = "nothing_to_undo"


class NotABatch(RegistryError):
    """Undo works on one batch (``import:<id>``, ``undo:<id>``...), not a whole channel."""

    status = 422
    code = "not_a_batch"


class UndoConflict(RegistryError):
    """Records touched by the batch were changed later by something else (or it was undone)."""

    status = 409
    code = "undo_conflict"


@dataclass(frozen=True)
class Change:
    """One field's old and new value within a history entry."""

    field: str
    before: Any
    after: Any


@dataclass(frozen=True)
class HistoryEntry:
    """One recorded write: who, when, through what, and what changed."""

    id: int
    asset_id: uuid.UUID
    layer: str
    action: str
    actor: str
    via: str
    comment: str | None
    at: dt.datetime
    version: int | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    changes: list[Change] = field(default_factory=list)
    child_table: str | None = None
    child_id: uuid.UUID | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form for the API."""
        return {
            "id": self.id,
            "asset_id": str(self.asset_id),
            "layer": self.layer,
            "child_table": self.child_table,
            "child_id": str(self.child_id) if self.child_id else None,
            "action": self.action,
            "actor": self.actor,
            "via": self.via,
            "comment": self.comment,
            "at": self.at.isoformat(),
            "version": self.version,
            "changes": [{"field": c.field, "before": c.before, "after": c.after} for c in self.changes],
            "before": self.before,
            "after": self.after,
        }


def _entry(row: dict[str, Any]) -> HistoryEntry:
    before, after = row["before"], row["after"]
    changes = [
        Change(name, (before or {}).get(name), (after or {}).get(name)) for name in row["changed"] or []
    ]
    return HistoryEntry(
        id=row["id"],
        asset_id=row["asset_id"],
        layer=row["layer"],
        action=row["action"],
        actor=row["actor"],
        via=row["via"],
        comment=row["comment"],
        at=row["at"],
        version=row["version"],
        before=before,
        after=after,
        changes=changes,
        child_table=row["child_table"],
        child_id=row["child_id"],
    )


def _query(
    conn: psycopg.Connection, statement: sql.Composable, params: Sequence[Any]
) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(statement, params)
        return cur.fetchall()


def _uuid(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def asset_history(
    conn: psycopg.Connection, asset_id: Any, *, include_children: bool = True
) -> list[HistoryEntry]:
    """Every entry of one asset, oldest first, with field-level changes.

    With ``include_children`` the asset's child records (a site's water tests)
    are interleaved, so the file reads as one story.
    """
    key = _uuid(asset_id)
    if key is None:
        return []
    rows = _query(
        conn,
        sql.SQL("SELECT {cols} FROM asset_history WHERE asset_id = %s {children} ORDER BY id").format(
            cols=sql.SQL(_ENTRY_COLUMNS),
            children=sql.SQL("") if include_children else sql.SQL("AND child_table IS NULL"),
        ),
        (key,),
    )
    return [_entry(r) for r in rows]


def _visible(snapshot: dict[str, Any] | None) -> bool:
    return snapshot is not None and snapshot.get("deleted_at") is None


def asset_as_of(
    conn: psycopg.Connection, asset_id: Any, at: dt.datetime, *, include_deleted: bool = False
) -> dict[str, Any] | None:
    """The record as it was at ``at`` (None if it did not exist, or was deleted, then).

    With ``include_deleted`` a soft-deleted record is returned as it was when deleted.
    """
    key = _uuid(asset_id)
    if key is None:
        return None
    row = conn.execute(
        "SELECT after FROM asset_history WHERE asset_id = %s AND child_table IS NULL AND at <= %s "
        "ORDER BY id DESC LIMIT 1",
        (key, at),
    ).fetchone()
    if row is None or row[0] is None:
        return None
    snapshot: dict[str, Any] = row[0]
    return snapshot if include_deleted or _visible(snapshot) else None


def layer_as_of(
    conn: psycopg.Connection,
    layer: str,
    at: dt.datetime,
    *,
    bbox: BBox | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """Every live asset of ``layer`` as it was at ``at``, optionally within a bbox.

    Rebuilt from the history: the latest entry of each asset written at or before
    ``at``, dropping those deleted by then. ``bbox`` is (minx, miny, maxx, maxy) in
    EPSG:4490/4326 degrees; geometries are tested with ST_Intersects.
    """
    where = [sql.SQL("h.after IS NOT NULL"), sql.SQL("h.after->>'deleted_at' IS NULL")]
    params: list[Any] = [layer, at]
    if bbox is not None:
        where.append(
            sql.SQL(
                "ST_Intersects(ST_SetSRID(ST_GeomFromGeoJSON(h.after->'geom'), {srid}), "
                "ST_MakeEnvelope(%s, %s, %s, %s, {srid}))"
            ).format(srid=sql.Literal(STORAGE_SRID))
        )
        params.extend(bbox)
    statement = sql.SQL(
        "SELECT h.after FROM ("
        "  SELECT DISTINCT ON (asset_id) asset_id, after FROM asset_history"
        "  WHERE layer = %s AND child_table IS NULL AND at <= %s"
        "  ORDER BY asset_id, id DESC"
        ") h WHERE {where} ORDER BY h.after->>'code' LIMIT %s OFFSET %s"
    ).format(where=sql.SQL(" AND ").join(where))
    params.extend([limit, offset])
    return [r[0] for r in conn.execute(statement, params).fetchall()]


def changes(
    conn: psycopg.Connection,
    *,
    actor: str | None = None,
    via: str | None = None,
    layer: str | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[HistoryEntry]:
    """What one user (``actor``) or one channel (``via``, e.g. ``import:42``) changed.

    Oldest first; filters combine with AND.
    """
    where: list[sql.Composable] = [sql.SQL("true")]
    params: list[Any] = []
    for column, value in (("actor", actor), ("via", via), ("layer", layer)):
        if value is not None:
            where.append(sql.SQL("{} = %s").format(sql.Identifier(column)))
            params.append(value)
    if since is not None:
        where.append(sql.SQL("at >= %s"))
        params.append(since)
    if until is not None:
        where.append(sql.SQL("at <= %s"))
        params.append(until)
    rows = _query(
        conn,
        sql.SQL("SELECT {cols} FROM asset_history WHERE {where} ORDER BY id LIMIT %s OFFSET %s").format(
            cols=sql.SQL(_ENTRY_COLUMNS), where=sql.SQL(" AND ").join(where)
        ),
        [*params, limit, offset],
    )
    return [_entry(r) for r in rows]


# ---------------------------------------------------------------- undo


@dataclass
class UndoReport:
    """What an undo did, per kind of record."""

    via: str
    undo_via: str
    reverted: int = 0
    deleted: int = 0
    recreated: int = 0
    unchanged: int = 0

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form for the API and CLI."""
        return dict(self.__dict__)


def _restorable_columns(conn: psycopg.Connection, table: str) -> list[str]:
    """The table's stored, non-generated columns a revert writes back."""
    rows = conn.execute(
        "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0 "
        "AND NOT attisdropped AND attgenerated = '' ORDER BY attnum",
        (table,),
    ).fetchall()
    return [r[0] for r in rows]


def snapshot_geom(snapshot: sql.Composable) -> sql.Composable:
    """The stored geometry of a history snapshot, which keeps it as GeoJSON at full
    precision (sql/0110): what a revert writes back."""
    return sql.SQL("ST_SetSRID(ST_GeomFromGeoJSON({} -> 'geom'), {})").format(
        snapshot, sql.Literal(STORAGE_SRID)
    )


def _write_back(
    conn: psycopg.Connection, table: str, snapshots: dict[uuid.UUID, dict[str, Any]], *, is_asset: bool
) -> tuple[int, int]:
    """Make each row equal to its snapshot: one UPDATE for the rows that exist, one
    INSERT for those that are gone (not a statement per record: an import's undo may
    hold 100,000). Returns (reverted, recreated)."""
    columns = _restorable_columns(conn, table)
    skip = _NOT_RESTORED if is_asset else frozenset({"id"})
    settable = [c for c in columns if c not in skip]
    t = sql.Identifier(table)
    ids = list(snapshots)
    existing = {
        r[0]
        for r in conn.execute(sql.SQL("SELECT id FROM {} WHERE id = ANY(%s)").format(t), (ids,)).fetchall()
    }
    # the snapshots as a relation: d.id, d.snap (the geometry is set from its GeoJSON)
    source = sql.SQL("unnest(%s::uuid[], %s::jsonb[]) AS d(id, snap)")
    record = sql.SQL("jsonb_populate_record(NULL::{t}, d.snap - 'geom')").format(t=t)
    geom = snapshot_geom(sql.SQL("d.snap"))
    rcols = sql.SQL(", ").join(sql.SQL("r.{}").format(sql.Identifier(c)) for c in settable)
    old = [i for i in ids if i in existing]
    gone = [i for i in ids if i not in existing]
    if old:
        sets = sql.SQL("({cols}) = (SELECT {rcols} FROM {record} r)").format(
            cols=sql.SQL(", ").join(map(sql.Identifier, settable)), rcols=rcols, record=record
        )
        if is_asset:
            sets = sql.SQL("{}, geom = {}").format(sets, geom)
        conn.execute(
            sql.SQL("UPDATE {t} SET {sets} FROM {source} WHERE {t}.id = d.id").format(
                t=t, sets=sets, source=source
            ),
            (old, [Jsonb(snapshots[i]) for i in old]),
        )
    if gone:
        cols = ["id", *settable, *(["geom"] if is_asset else [])]
        select = sql.SQL("d.id, {}{}").format(
            rcols, sql.SQL(", {}").format(geom) if is_asset else sql.SQL("")
        )
        conn.execute(
            sql.SQL(
                "INSERT INTO {t} ({cols}) SELECT {select} FROM {source} CROSS JOIN LATERAL {record} r"
            ).format(
                t=t,
                cols=sql.SQL(", ").join(map(sql.Identifier, cols)),
                select=select,
                source=source,
                record=record,
            ),
            (gone, [Jsonb(snapshots[i]) for i in gone]),
        )
    return len(old), len(gone)


def undo(
    conn: psycopg.Connection,
    via: str,
    *,
    actor: str,
    comment: str | None = None,
    force: bool = False,
) -> UndoReport:
    """Put every record written through ``via`` back to its state before the first such write.

    Records the batch created are soft-deleted (child records are removed); records it
    changed or deleted get their before-state back. When something else changed one of
    the records afterwards, UndoConflict lists them unless ``force``. The undo itself
    is recorded with ``via = 'undo:<via>'`` and runs in the caller's transaction.
    """
    kind, _, batch = via.partition(":")
    if not kind or not batch:
        raise NotABatch("").with_message("undo_not_a_batch", via=repr(via))
    undo_via = f"undo:{via}"
    rows = _query(
        conn,
        sql.SQL("SELECT {cols} FROM asset_history WHERE via = %s ORDER BY id").format(
            cols=sql.SQL(_ENTRY_COLUMNS)
        ),
        (via,),
    )
    if not rows:
        raise NothingToUndo("").with_message("undo_nothing", via=repr(via))
    if conn.execute("SELECT 1 FROM asset_history WHERE via = %s LIMIT 1", (undo_via,)).fetchone():
        raise UndoConflict("").with_message("undo_already", via=repr(via), undo_via=repr(undo_via))
    # first entry per record: its before-state is what we go back to
    first: dict[tuple[str, uuid.UUID], dict[str, Any]] = {}
    last_id: dict[tuple[str, uuid.UUID], int] = {}
    for r in rows:
        key = (r["child_table"] or r["layer"], r["child_id"] or r["asset_id"])
        first.setdefault(key, r)
        last_id[key] = r["id"]
    conflicts: list[dict[str, Any]] = []
    parents = list({r["asset_id"] for r in rows})
    later_rows = conn.execute(
        "SELECT id, asset_id, child_id, actor, via, at FROM asset_history "
        "WHERE asset_id = ANY(%s) AND via <> %s AND id > %s ORDER BY id",
        (parents, via, min(last_id.values())),
    ).fetchall()
    by_record = {k[1]: k for k in last_id}
    seen: set[uuid.UUID] = set()
    for later_id, asset_id, child_id, later_actor, later_via, later_at in later_rows:
        record_id = child_id or asset_id
        key = by_record.get(record_id)
        if key is None or later_id <= last_id[key] or record_id in seen:
            continue
        seen.add(record_id)
        conflicts.append(
            {
                "table": key[0],
                "id": str(record_id),
                "code": "changed_later",
                "params": {"actor": later_actor, "via": later_via, "at": later_at.isoformat()},
            }
        )
    if conflicts and not force:
        raise UndoConflict("", errors=conflicts).with_message(
            "undo_changed_after", n=len(conflicts), via=repr(via)
        )
    set_actor(conn, actor, via=undo_via, comment=comment or f"undo of {via}")
    # an undo may take an asset back through its workflow: the database records it as a
    # reopen whose reason is the undo's comment (sql/0060_workflows.sql)
    conn.execute("SELECT set_config('registry.reopen', 'on', true)")
    report = UndoReport(via=via, undo_via=undo_via)
    # One statement per table and kind of step, children first: removing a water test
    # refreshes its site, which is then reverted.
    removals: dict[tuple[str, bool], list[uuid.UUID]] = {}
    restores: dict[tuple[str, bool], dict[uuid.UUID, dict[str, Any]]] = {}
    for (table, record_id), entry in first.items():
        is_asset = entry["child_table"] is None
        if entry["before"] is None:
            removals.setdefault((table, is_asset), []).append(record_id)
        else:
            restores.setdefault((table, is_asset), {})[record_id] = entry["before"]
    for table, is_asset in sorted(set(removals) | set(restores), key=lambda k: k[1]):
        ids = removals.get((table, is_asset), [])
        if ids and is_asset:
            done = conn.execute(
                sql.SQL(
                    "UPDATE {} SET deleted_at = now(), deleted_by = registry_actor() "
                    "WHERE id = ANY(%s) AND deleted_at IS NULL"
                ).format(sql.Identifier(table)),
                (ids,),
            ).rowcount
        elif ids:
            done = conn.execute(
                sql.SQL("DELETE FROM {} WHERE id = ANY(%s)").format(sql.Identifier(table)), (ids,)
            ).rowcount
        else:
            done = 0
        report.deleted += done
        report.unchanged += len(ids) - done
        snapshots = restores.get((table, is_asset))
        if snapshots:
            reverted, recreated = _write_back(conn, table, snapshots, is_asset=is_asset)
            report.reverted += reverted
            report.recreated += recreated
    return report
