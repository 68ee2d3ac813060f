"""Field capture (issue 14): the server's part of recording on a phone, often offline.

A phone queues what it records and sends each item later, perhaps twice (a lost answer,
a retry after a crash). Three things make that safe, all in the database and in the
request's one transaction:

* the **idempotency store** (``field_submissions``): the first request with a key claims
  the row ``(account, key)`` before writing, and the write, its answer and the key
  commit together; a second request with the key waits on that row and answers what is
  stored, so nothing is written twice, even when both arrive at once;
* **batches** (``field_batches``): one account's work on one device on one day (the
  registry's one clock, China Standard Time); each write is recorded in history with
  ``via = 'field:<batch id>'`` and a batch is undone like an import;
* **conflicts**: an update or a step names the version it was based on; when the asset
  changed meanwhile the answer carries both versions, never a silent overwrite.

The writes themselves go through the same store functions as the API (registry.store,
registry.inspections, registry.workflow_store). Nothing here knows HTTP.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from registry import store
from registry.catalog import LayerCatalog
from registry.errors import RegistryError
from registry.permissions import Action
from registry.properties import parse_instant
from registry.spec import LayerSpec

VIA_PREFIX = "field"
# status of a field_submissions row whose write is under way (sql/0120)
UNDER_WAY = 0


class FieldError(RegistryError):
    """A refusal of the field API, its message from the zh/en table (registry.messages)."""

    status = 422
    code = "field_error"

    def __init__(
        self, message_code: str, *, errors: list[dict[str, Any]] | None = None, **params: Any
    ) -> None:
        super().__init__("", errors=errors)
        self.with_message(message_code, **params)


class IdempotencyKeyRequired(FieldError):
    """A submission without an Idempotency-Key: a resend could be written twice."""

    status = 428
    code = "idempotency_key_required"


class InvalidFieldParameter(FieldError):
    """A malformed header or form field (Idempotency-Key, X-Field-Device, lon…);
    ``parameter`` names it."""

    status = 400
    code = "invalid_parameter"

    def __init__(self, parameter: str, message_code: str, **params: Any) -> None:
        super().__init__(message_code, **params)
        self.parameter = parameter


class FieldPermissionDenied(FieldError):
    """The role may not record anything in the field (no layer grants it a write)."""

    status = 403
    code = "permission_denied"


class IdempotencyKeyReused(FieldError):
    """The key was used before by this account for a different request body."""

    code = "idempotency_key_reused"


class PositionInaccurate(FieldError):
    """A GPS position worse than ``REGISTRY_FIELD_MAX_ACCURACY_M`` for a new asset."""

    code = "position_inaccurate"


class BaseVersionRequired(FieldError):
    """An update or a step that does not say which version it was based on."""

    code = "base_version_required"


class PhotoNotUploaded(FieldError):
    """A submission names a photo this account has not uploaded."""

    code = "photo_not_uploaded"


class FieldConflict(store.VersionConflict):
    """The asset changed since the phone read it: ``yours`` is what was sent, ``theirs``
    the asset as it is now (properties, geometry, version, who changed it and when)."""

    def __init__(self, *, yours: dict[str, Any], theirs: dict[str, Any]) -> None:
        params = {
            "code": str(theirs["code"]),
            "by": theirs["updated_by"],
            "at": theirs["updated_at"],
            "current": theirs["version"],
            "yours": yours["base_version"],
        }
        super().__init__("", current_version=theirs["version"], expected_version=yours["base_version"])
        self.with_message("field_version_conflict", **params)
        self.yours, self.theirs = yours, theirs


def error_entry(field: str, message_code: str, value: Any = None, **params: Any) -> dict[str, Any]:
    """One ``errors[]`` entry naming its message of the table (``code`` + ``params``): the
    API renders its ``message`` in the reader's language (web.errors.field_errors)."""
    return {"field": field, "code": message_code, "params": params, "value": value}


def via_of(batch_id: int) -> str:
    """The history channel of a batch: ``field:<id>``."""
    return f"{VIA_PREFIX}:{batch_id}"


def request_digest(body: Any) -> str:
    """SHA-256 of the request body as canonical JSON (key order and spacing do not count)."""
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Stored:
    """The answer kept for an idempotency key."""

    status: int
    media_type: str
    body: str


def claim(conn: psycopg.Connection, *, account_id: int, key: uuid.UUID, digest: str) -> Stored | None:
    """Claim the key for this request (None: go on and write), or the stored answer.

    A request holding the key uncommitted makes this wait (the primary key), so two
    sends of one key never both write. A key used before with another body is refused.
    """
    inserted = conn.execute(
        "INSERT INTO field_submissions (account_id, key, request_sha256) VALUES (%s, %s, %s) "
        "ON CONFLICT (account_id, key) DO NOTHING RETURNING 1",
        (account_id, key, digest),
    ).fetchone()
    if inserted is not None:
        return None
    row = conn.execute(
        "SELECT request_sha256, status, media_type, response FROM field_submissions "
        "WHERE account_id = %s AND key = %s",
        (account_id, key),
    ).fetchone()
    assert row is not None and row[1] != UNDER_WAY  # the claiming transaction committed
    if row[0] != digest:
        raise IdempotencyKeyReused("field_key_reused")
    return Stored(row[1], row[2], row[3])


def batch_for(conn: psycopg.Connection, *, account_id: int, actor: str, device: str, day: dt.date) -> int:
    """The batch of this account, device and day (created on its first write; after an
    undo of it, the day's next batch).

    An existing batch is only read here, not locked: its counts are updated when the
    write is done (:func:`finish`), so one device's sends hold its row only from then
    to their commit."""
    row = conn.execute(
        "SELECT b.id, b.seq, EXISTS (SELECT 1 FROM asset_history h WHERE h.via = %s || b.id) "
        "FROM field_batches b WHERE account_id = %s AND device = %s AND day = %s "
        "ORDER BY seq DESC LIMIT 1",
        (f"undo:{VIA_PREFIX}:", account_id, device, day),
    ).fetchone()
    if row is not None and not row[2]:
        return int(row[0])
    seq = 1 if row is None else int(row[1]) + 1
    created = conn.execute(
        "INSERT INTO field_batches (account_id, actor, device, day, seq) VALUES (%s, %s, %s, %s, %s) "
        "ON CONFLICT (account_id, device, day, seq) DO NOTHING RETURNING id",
        (account_id, actor, device, day, seq),
    ).fetchone()
    if created is None:  # another send of this device created it a moment ago
        created = conn.execute(
            "SELECT id FROM field_batches WHERE account_id = %s AND device = %s AND day = %s AND seq = %s",
            (account_id, device, day, seq),
        ).fetchone()
    assert created is not None
    return int(created[0])


# the batch counter each kind of submission adds to
_COUNTER = {"create": "creates", "update": "updates", "inspection": "inspections", "step": "steps"}


@dataclass(frozen=True)
class Outcome:
    """What one submission did, kept with its key."""

    status: int
    media_type: str
    body: str
    batch_id: int | None = None
    kind: str | None = None
    layer: str | None = None
    action: str | None = None
    asset_id: str | None = None
    photos: int = 0
    recorded_at: dt.datetime | None = None


def finish(conn: psycopg.Connection, *, account_id: int, key: uuid.UUID, outcome: Outcome) -> None:
    """Keep the answer with the key and count a successful write in its batch."""
    conn.execute(
        "UPDATE field_submissions SET status = %s, media_type = %s, response = %s, batch_id = %s, "
        "kind = %s, layer = %s, action = %s, asset_id = %s, recorded_at = %s "
        "WHERE account_id = %s AND key = %s",
        (
            outcome.status,
            outcome.media_type,
            outcome.body,
            outcome.batch_id,
            outcome.kind,
            outcome.layer,
            outcome.action,
            outcome.asset_id,
            outcome.recorded_at,
            account_id,
            key,
        ),
    )
    if outcome.batch_id is not None and outcome.kind in _COUNTER and outcome.status < 300:
        counter = sql.Identifier(_COUNTER[outcome.kind])
        conn.execute(
            sql.SQL(
                "UPDATE field_batches SET {c} = {c} + 1, photos = photos + %s, updated_at = now() "
                "WHERE id = %s"
            ).format(c=counter),
            (outcome.photos, outcome.batch_id),
        )


# ---------------------------------------------------------------- photos


@dataclass(frozen=True)
class UploadedPhoto:
    """A photo this account uploaded (the file is in the photo store)."""

    sha256: str
    file_name: str
    content_type: str
    size_bytes: int
    taken_at: dt.datetime | None
    lon: float | None
    lat: float | None
    accuracy_m: float | None


def record_upload(conn: psycopg.Connection, *, account_id: int, photo: UploadedPhoto) -> bool:
    """Note a stored photo as this account's upload; False when it had sent these bytes
    before (the first upload's position and time are kept)."""
    row = conn.execute(
        "INSERT INTO field_photos (account_id, sha256, file_name, content_type, size_bytes, taken_at, "
        "position, accuracy_m) VALUES (%s, %s, %s, %s, %s, %s, "
        "CASE WHEN %s::float8 IS NULL OR %s::float8 IS NULL THEN NULL "
        "ELSE ST_SetSRID(ST_MakePoint(%s, %s), 4490) END, %s) "
        "ON CONFLICT (account_id, sha256) DO NOTHING RETURNING 1",
        (
            account_id,
            photo.sha256,
            photo.file_name,
            photo.content_type,
            photo.size_bytes,
            photo.taken_at,
            photo.lon,
            photo.lat,
            photo.lon,
            photo.lat,
            photo.accuracy_m,
        ),
    ).fetchone()
    return row is not None


def uploaded(
    conn: psycopg.Connection, *, account_id: int, refs: list[Mapping[str, Any]]
) -> list[UploadedPhoto]:
    """The photos a submission names (``sha256``, optional ``taken_at``/``lon``/``lat``
    overriding what the upload said), or PhotoNotUploaded naming the first one missing;
    one query for them all."""
    digests = [str(ref["sha256"]).lower() for ref in refs]
    if not digests:
        return []
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(
            "SELECT sha256, file_name, content_type, size_bytes, taken_at, ST_X(position) AS lon, "
            "ST_Y(position) AS lat, accuracy_m FROM field_photos WHERE account_id = %s AND sha256 = ANY(%s)",
            (account_id, digests),
        ).fetchall()
    found = {r["sha256"]: r for r in rows}
    out: list[UploadedPhoto] = []
    for i, (digest, ref) in enumerate(zip(digests, refs, strict=True)):
        row = found.get(digest)
        if row is None:
            raise PhotoNotUploaded(
                "field_photo_not_uploaded",
                sha256=digest,
                errors=[
                    error_entry(f"photos[{i}].sha256", "field_photo_not_uploaded", digest, sha256=digest)
                ],
            )
        out.append(
            UploadedPhoto(
                digest,
                row["file_name"],
                row["content_type"],
                row["size_bytes"],
                parse_instant(ref["taken_at"]) if ref.get("taken_at") else row["taken_at"],
                ref["lon"] if ref.get("lon") is not None else row["lon"],
                ref["lat"] if ref.get("lat") is not None else row["lat"],
                row["accuracy_m"],
            )
        )
    return out


def place_photos(conn: psycopg.Connection, asset_id: Any, photos: Iterable[UploadedPhoto]) -> None:
    """Give the asset's photos the position and time the phone recorded for them (one
    round trip: executemany pipelines the updates)."""
    with conn.cursor() as cur:
        cur.executemany(
            "UPDATE asset_photos SET taken_at = COALESCE(%s, taken_at), accuracy_m = %s, "
            "position = CASE WHEN %s::float8 IS NULL OR %s::float8 IS NULL THEN position "
            "ELSE ST_SetSRID(ST_MakePoint(%s, %s), 4490) END WHERE asset_id = %s AND sha256 = %s",
            [(p.taken_at, p.accuracy_m, p.lon, p.lat, p.lon, p.lat, asset_id, p.sha256) for p in photos],
        )


def pending_photo(conn: psycopg.Connection, *, account_id: int, sha256: str) -> str | None:
    """The content type of a photo this account uploaded, or None (served to its uploader
    before it belongs to any asset)."""
    row = conn.execute(
        "SELECT content_type FROM field_photos WHERE account_id = %s AND sha256 = %s", (account_id, sha256)
    ).fetchone()
    return row[0] if row else None


# ---------------------------------------------------------------- conflicts


def theirs(conn: psycopg.Connection, spec: LayerSpec, asset_id: Any) -> dict[str, Any]:
    """The asset as it is now, for a conflict: properties, geometry, version, who, when."""
    record = store.get_asset(conn, spec, asset_id)
    writable = {a.name for a in spec.writable_attrs}
    return {
        "version": record["version"],
        "properties": {k: v for k, v in record.items() if k in writable},
        "geometry": record.get("geom"),
        "updated_by": record.get("updated_by"),
        "updated_at": record.get("updated_at"),
        "code": record.get("code"),
    }


# ---------------------------------------------------------------- batches


def batch_rights(
    conn: psycopg.Connection, catalog: LayerCatalog, via: str
) -> tuple[int | None, list[tuple[str, LayerSpec | None]]]:
    """For undo: the account a ``field:<id>`` batch belongs to and the rights its writes
    needed (action, layer); (None, []) for any other channel."""
    kind, _, ident = via.partition(":")
    if kind != VIA_PREFIX or not ident.isdigit():
        return None, []
    row = conn.execute("SELECT account_id FROM field_batches WHERE id = %s", (int(ident),)).fetchone()
    if row is None:
        return None, []
    used = conn.execute(
        "SELECT DISTINCT action, layer FROM field_submissions "
        "WHERE batch_id = %s AND status < 300 AND action IS NOT NULL",
        (int(ident),),
    ).fetchall()
    layers = catalog.layers
    # a layer no longer in the catalogue: only the undo right may undo it
    rights = [(Action(a), layers.get(layer)) for a, layer in used]
    return int(row[0]), rights


def list_batches(
    conn: psycopg.Connection, *, account_id: int | None, limit: int = 200
) -> list[dict[str, Any]]:
    """Batches newest first (one account's, or everyone's for None), with their counts and
    whether they were undone (the undo's own history entries say when and by whom)."""
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(
            """
            SELECT b.id, b.account_id, b.actor, b.device, b.day, b.seq, b.created_at, b.updated_at,
                   b.creates, b.updates, b.inspections, b.steps, b.photos, u.at AS undone_at,
                   u.actor AS undone_by
            FROM field_batches b
            LEFT JOIN LATERAL (
                SELECT h.at, h.actor FROM asset_history h
                WHERE h.via = 'undo:' || %s || ':' || b.id ORDER BY h.id LIMIT 1
            ) u ON true
            WHERE %s::bigint IS NULL OR b.account_id = %s
            ORDER BY b.day DESC, b.id DESC LIMIT %s
            """,
            (VIA_PREFIX, account_id, account_id, limit),
        ).fetchall()
    return [
        {
            "id": r["id"],
            "via": via_of(r["id"]),
            "account_id": r["account_id"],
            "actor": r["actor"],
            "device": r["device"],
            "day": r["day"].isoformat(),
            "seq": r["seq"],
            "created_at": r["created_at"].isoformat(),
            "updated_at": r["updated_at"].isoformat(),
            "counts": {k: r[k] for k in ("creates", "updates", "inspections", "steps", "photos")},
            "undone_at": r["undone_at"].isoformat() if r["undone_at"] else None,
            "undone_by": r["undone_by"],
        }
        for r in rows
    ]
