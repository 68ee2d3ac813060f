"""Points of one file within 1 m of an earlier point of the same file, found in memory.

The staged points are gathered batch by batch (three numbers a point); a grid of
2e-5° cells — more than 1 m in both axes at Jiaozuo's latitude, the same prefilter the
SQL used — gives the candidate pairs (same or neighbouring cell), and the geodesic
distance on the CGCS2000 ellipsoid decides, as ``ST_DWithin(geography, 1 m)`` did.
Measured on 100,000 points (bench/import_profile.py, the 2 shared cores under load):
the staged table's spatial index, ANALYZE and self-join took ~1.3 s, this ~0.3 s.

A file with very many points in a few cells (thousands at one spot) would make the
candidate pairs quadratic in memory: above ``MAX_PAIRS`` the caller falls back to
the SQL self-join, which streams.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from registry.coords import GEOD

CELL_DEGREES = 2e-5
MAX_PAIRS = 5_000_000


@dataclass
class StagedPoints:
    """The point rows written to the stage so far: lon, lat and row number."""

    parts: list[tuple[np.ndarray[Any, Any], np.ndarray[Any, Any], np.ndarray[Any, Any]]] = field(
        default_factory=list
    )

    def add(self, lon: np.ndarray[Any, Any], lat: np.ndarray[Any, Any], rownum: np.ndarray[Any, Any]) -> None:
        """Remember one batch's staged points."""
        if len(rownum):
            self.parts.append((lon.astype(np.float64), lat.astype(np.float64), rownum.astype(np.int64)))


def near_in_file(points: StagedPoints, metres: float) -> list[tuple[int, int]] | None:
    """(row, earliest earlier row within ``metres``) for every point that has one, by
    row; None when the points are too clustered to pair in memory (use SQL)."""
    if not points.parts:
        return []
    lon = np.concatenate([p[0] for p in points.parts])
    lat = np.concatenate([p[1] for p in points.parts])
    rownum = np.concatenate([p[2] for p in points.parts])
    n = len(rownum)
    cx = np.floor(lon / CELL_DEGREES).astype(np.int64)
    cy = np.floor(lat / CELL_DEGREES).astype(np.int64)
    span = int(cy.max() - cy.min()) + 3
    base = cy.min() - 1
    key = cx * span + (cy - base)
    order = np.argsort(key, kind="stable")
    sorted_keys = key[order]
    firsts: list[np.ndarray[Any, Any]] = []
    seconds: list[np.ndarray[Any, Any]] = []
    total = 0
    for dx in (-1, 0, 1):
        for dy in (-1, 0, 1):
            want = (cx + dx) * span + (cy + dy - base)
            lo = np.searchsorted(sorted_keys, want, "left")
            hi = np.searchsorted(sorted_keys, want, "right")
            counts = hi - lo
            found = int(counts.sum())
            total += found
            if total > MAX_PAIRS:
                return None
            if not found:
                continue
            b = np.repeat(np.arange(n), counts)
            offsets = np.arange(found) - np.repeat(np.cumsum(counts) - counts, counts)
            a = order[np.repeat(lo, counts) + offsets]
            earlier = rownum[a] < rownum[b]
            firsts.append(a[earlier])
            seconds.append(b[earlier])
    if not firsts:
        return []
    a = np.concatenate(firsts)
    b = np.concatenate(seconds)
    if not len(a):
        return []
    _, _, dist = GEOD.inv(lon[a], lat[a], lon[b], lat[b])
    close = np.asarray(dist) <= metres
    best: dict[int, int] = {}
    for later, first in zip(rownum[b[close]].tolist(), rownum[a[close]].tolist(), strict=True):
        if later not in best or first < best[later]:
            best[later] = first
    return sorted(best.items())
