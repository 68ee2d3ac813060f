"""The map's JavaScript coordinate transforms (web/static/app/coords.js), run in
Chromium, agree with the registry's Python ones (registry/coords.py) across the city."""

from __future__ import annotations

import numpy as np
import pytest

from registry import coords
from tests.browser.conftest import MapPage, in_module

pytestmark = pytest.mark.browser

# A grid over the prefecture (and one point outside China, which must not move).
POINTS = [(lon, lat) for lon in np.linspace(112.6, 113.7, 6) for lat in np.linspace(34.8, 35.5, 5)] + [
    (2.35, 48.85)
]


def _js(mp: MapPage, fn: str) -> np.ndarray:
    return np.array(in_module(mp.page, "coords.js", f"(C, pts) => pts.map(([x, y]) => C.{fn}(x, y))", POINTS))


@pytest.mark.parametrize(
    ("js", "py", "tol"),
    [
        ("wgs84ToGcj02", coords.wgs84_to_gcj02, 1e-9),
        ("gcj02ToWgs84", coords.gcj02_to_wgs84, 1e-7),  # both iterate; ~1 cm
        ("wgs84ToBd09", coords.wgs84_to_bd09, 1e-9),
        ("bd09ToWgs84", coords.bd09_to_wgs84, 1e-7),
    ],
)
def test_js_transforms_match_python(map_page: MapPage, js: str, py, tol: float) -> None:
    got = _js(map_page, js)
    lon, lat = py(np.array([p[0] for p in POINTS]), np.array([p[1] for p in POINTS]))
    assert np.abs(got[:, 0] - lon).max() < tol
    assert np.abs(got[:, 1] - lat).max() < tol
    if "bd09" not in js.lower():  # GCJ-02 leaves points outside China alone (Baidu's step does not)
        assert tuple(got[-1]) == POINTS[-1]
