"""The server (registry/coords.py) and the map (web/static/app/coords.js) shift
coordinates identically, including where the "outside China" box starts: a grid over
the whole box and just across each of its edges, run through both implementations."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import numpy as np

from registry import coords
from registry.settings import PROJECT_ROOT

COORDS_JS = PROJECT_ROOT / "web" / "static" / "app" / "coords.js"


def _grid() -> list[tuple[float, float]]:
    west, south, east, north = coords.CHINA_BOX
    points = [(float(x), float(y)) for x in np.linspace(60, 150, 31) for y in np.linspace(-5, 65, 29)]
    for eps in (1e-6, -1e-6):
        for y in (20.0, 35.2155):
            points += [(west + eps, y), (east + eps, y)]
        for x in (100.0, 113.2418):
            points += [(x, south + eps), (x, north + eps)]
    return points


def _node(points: list[tuple[float, float]]) -> list[list[float]]:
    node = shutil.which("node") or shutil.which("nodejs")
    assert node, "node is needed for the front-end checks (./dev.sh test installs it)"
    script = (
        f"import * as C from {json.dumps(COORDS_JS.as_uri())};"
        f"const pts = {json.dumps(points)};"
        "console.log(JSON.stringify(pts.map(([x, y]) => [...C.wgs84ToGcj02(x, y), ...C.gcj02ToBd09(x, y)])));"
    )
    out = subprocess.run(
        [node, "--input-type=module", "-e", script], capture_output=True, text=True, check=True, timeout=60
    )
    return json.loads(out.stdout)


def test_the_china_box_is_the_same_number_in_both_implementations() -> None:
    body = re.search(r"function outOfChina\(lon, lat\) \{\s*return (.*?);", COORDS_JS.read_text()).group(1)
    js = [float(v) for v in re.findall(r"[<>] ([0-9.]+)", body)]
    west, south, east, north = coords.CHINA_BOX
    assert js == [west, east, south, north]


def test_gcj02_and_bd09_agree_between_server_and_map_on_a_grid_across_the_box() -> None:
    points = _grid()
    lon = np.array([p[0] for p in points])
    lat = np.array([p[1] for p in points])
    gx, gy = coords.wgs84_to_gcj02(lon, lat)
    bx, by = coords.gcj02_to_bd09(lon, lat)
    js = np.array(_node(points))
    np.testing.assert_allclose(js[:, 0], gx, atol=1e-9)
    np.testing.assert_allclose(js[:, 1], gy, atol=1e-9)
    np.testing.assert_allclose(js[:, 2], bx, atol=1e-9)
    np.testing.assert_allclose(js[:, 3], by, atol=1e-9)
    shifted = (js[:, 0] != lon) | (js[:, 1] != lat)
    assert shifted.any() and (~shifted).any(), "the grid crosses the box edge"
