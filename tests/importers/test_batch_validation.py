"""Column-wise validation gives exactly what ``validate_asset`` gives row by row."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pytest
from shapely.geometry import LineString, Point, Polygon

from importers.columns import validate_batch
from layers import default_catalog
from registry.validation import validate_asset
from tests.factories import make_properties, sample_geometry_for

# Values that are equal in Python but not to a validator (1/1.0/True, 0.0/-0.0), blanks,
# NaN, padded text, labels, junk: every attribute gets each of them in some row.
_RAW = [
    None,
    "",
    "  ",
    math.nan,
    0,
    1,
    1.0,
    True,
    False,
    -0.0,
    0.0,
    700,
    700.5,
    "700",
    " 12 ",
    "abc",
    "是",
    "否",
    "2025-03-01",
    "2025/3/1",
    dt.date(2025, 1, 2),
    dt.datetime(2025, 1, 2, 3, 4),
    -5,
    1e9,
    math.inf,
    "1e3",
    "在用",
    "in_service",
    "rain",
    "雨水",
]


@pytest.mark.parametrize("layer", default_catalog().names())
def test_batch_validation_equals_row_by_row(layer: str) -> None:
    spec = default_catalog().get(layer)
    base = make_properties(spec, 1)
    good = sample_geometry_for(spec, base)
    geoms = [
        good,
        None,
        Point(),
        Point(113.24, 35.21),
        LineString([(113.24, 35.21), (113.25, 35.22)]),
        Polygon([(0, 0), (1, 1), (1, 0), (0, 1), (0, 0)]),
    ]
    rows = []
    for i in range(len(_RAW) * 2):
        props = dict(base)
        for j, attr in enumerate(spec.writable_attrs):
            if (i + j) % 3 == 0:
                props[attr.name] = _RAW[(i * 7 + j) % len(_RAW)]
        if i % 11 == 5:
            props.pop("status")
        if spec.all_attrs and i % 4 == 0:
            props = dict(base)  # fully valid rows too (the layer's own validator runs)
        rows.append(props)
    # Every row has the same keys in a batch (columns of one file): drop per-row pops
    # into a separate batch each.
    seen = set()
    for keys in {tuple(r) for r in rows}:
        batch = [r for r in rows if tuple(r) == keys]
        gs = np.array([geoms[k % len(geoms)] if k % 5 else good for k in range(len(batch))], dtype=object)
        cols = {k: [r[k] for r in batch] for k in keys}
        clean, problems = validate_batch(spec, cols, gs, len(batch))
        for i, props in enumerate(batch):
            want_clean, want_problems = validate_asset(spec, props, gs[i])
            assert problems.get(i, []) == want_problems, (i, props)
            seen.add(bool(want_problems))
            if not want_problems:
                got = {a: clean[a][i] for a in clean}
                assert got == want_clean
                assert all(type(got[a]) is type(want_clean[a]) for a in got)
    assert seen == {True, False}  # both valid and invalid rows were compared
