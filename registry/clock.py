"""The registry's one clock: what day it is for deadlines, overdue flags and reports.

Every "today" in the app comes from :func:`today` (or is passed in explicitly), never
from ``date.today()`` scattered around, so a test fixes the date in one place and a
server can be run as of a given day (``REGISTRY_TODAY=2025-07-10``). The bureau's day
is China Standard Time (UTC+8): a deadline passes at midnight in Jiaozuo, not in UTC.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from contextlib import contextmanager

CHINA = dt.timezone(dt.timedelta(hours=8), "CST")

_fixed: dt.date | None = None


def today() -> dt.date:
    """The current day in Jiaozuo, or the fixed day (``set_today``, ``REGISTRY_TODAY``)."""
    if _fixed is not None:
        return _fixed
    if env := os.environ.get("REGISTRY_TODAY"):
        return dt.date.fromisoformat(env)
    return dt.datetime.now(CHINA).date()


def set_today(day: dt.date | None) -> None:
    """Fix the day the whole process sees (None: back to the real clock)."""
    global _fixed  # the one settable clock of the process, by design
    _fixed = day


@contextmanager
def fixed_today(day: dt.date) -> Iterator[dt.date]:
    """``with fixed_today(date(2025, 7, 10)):`` — the clock reads that day inside."""
    before = _fixed
    set_today(day)
    try:
        yield day
    finally:
        set_today(before)
