"""Optimistic locking over HTTP, one way for every route.

A client names the version it read either in ``If-Match`` (the ETag, ``"3"``) or, for
the REST API, as ``version`` in the body. A malformed If-Match is a 400 naming the
header; a stale If-Match is a 412 (``version_mismatch``, RFC 9110: a failed
precondition), a stale body version a 409 (``version_conflict``, a conflict with the
stored state). Both carry ``current_version`` so the client can reload and merge.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from fastapi import Response

from registry import store
from registry.errors import InvalidParameter, VersionMismatch, shown

ANY_VERSION = "*"


def parse_if_match(raw: str | None) -> int | Literal["*"] | None:
    """The version in an If-Match header (``"3"``, ``W/"3"``, ``3``), ``"*"``, or None."""
    if raw is None:
        return None
    value = raw.strip()
    if value == ANY_VERSION:
        return ANY_VERSION
    try:
        return int(value.removeprefix("W/").strip('"'))
    except ValueError:
        raise InvalidParameter("If-Match", "").with_message("if_match_form", value=shown(raw)) from None


def versioned(call: Callable[[], Any], *, from_header: bool) -> Any:
    """Run a versioned write; a stale If-Match becomes a 412, a stale body version stays 409."""
    try:
        return call()
    except store.VersionConflict as exc:
        if from_header:
            raise VersionMismatch(exc.message, current_version=exc.current_version) from None
        raise


def expected_version(if_match: str | None, version: int | None) -> tuple[int | None, bool]:
    """The version a REST write expects, and whether it came from If-Match (→ 412 rather
    than 409 when stale): If-Match wins over a ``version`` in the body; ``*`` is any."""
    parsed = parse_if_match(if_match)
    if parsed is None or parsed == ANY_VERSION:
        return version, False
    return parsed, True


def versioned_write(
    response: Response, if_match: str | None, version: int | None, write: Callable[[int | None], Any]
) -> Any:
    """Run a versioned write of one record and put its new version in the ETag."""
    expected, from_header = expected_version(if_match, version)
    record = versioned(lambda: write(expected), from_header=from_header)
    response.headers["ETag"] = f'"{record["version"]}"'
    return record
