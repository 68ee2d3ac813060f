"""Offset systems and CRS conversion against published reference pairs."""

from __future__ import annotations

import numpy as np
import pytest

from registry import coords


def test_wgs84_to_gcj02_matches_coordtransform_readme() -> None:
    lon, lat = coords.wgs84_to_gcj02(116.404, 39.915)
    assert float(lon) == pytest.approx(116.41024449916938, abs=1e-12)
    assert float(lat) == pytest.approx(39.91640428150164, abs=1e-12)


def test_gcj02_bd09_match_coordtransform_readme() -> None:
    lon, lat = coords.gcj02_to_bd09(116.404, 39.915)
    assert (float(lon), float(lat)) == pytest.approx((116.41036949371029, 39.92133699351021), abs=1e-12)
    lon, lat = coords.bd09_to_gcj02(116.404, 39.915)
    assert (float(lon), float(lat)) == pytest.approx((116.39762729119315, 39.90865673957631), abs=1e-12)


def test_iterative_gcj02_inverse_is_better_than_one_step_readme_value() -> None:
    # The README's one-step inverse gives (116.39775550083061, 39.91359571849836); the
    # iterative inverse must land within 1 m of it and round-trip to < 1 cm.
    lon, lat = coords.gcj02_to_wgs84(116.404, 39.915)
    assert abs(float(lon) - 116.39775550083061) < 1e-5
    back = coords.wgs84_to_gcj02(lon, lat)
    assert abs(float(back[0]) - 116.404) < 1e-9 and abs(float(back[1]) - 39.915) < 1e-9


def test_round_trips_over_jiaozuo_are_below_a_centimetre() -> None:
    rng = np.random.default_rng(1)
    lon = rng.uniform(112.6, 113.7, 1000)
    lat = rng.uniform(34.8, 35.5, 1000)
    g = coords.wgs84_to_gcj02(lon, lat)
    # GCJ-02 shifts Jiaozuo by hundreds of metres, the inverse undoes it.
    assert np.all(np.abs(g[0] - lon) > 1e-3)
    w = coords.gcj02_to_wgs84(*g)
    assert np.max(np.abs(w[0] - lon)) < 1e-7 and np.max(np.abs(w[1] - lat)) < 1e-7
    b = coords.wgs84_to_bd09(lon, lat)
    w2 = coords.bd09_to_wgs84(*b)
    # Baidu's published BD-09 inverse is itself approximate (~1.2e-6°, ~13 cm); every
    # converter uses it, so we do too.
    assert np.max(np.abs(w2[0] - lon)) < 2e-6 and np.max(np.abs(w2[1] - lat)) < 2e-6


def test_outside_china_is_left_unshifted() -> None:
    lon, lat = coords.wgs84_to_gcj02(2.35, 48.85)
    assert (float(lon), float(lat)) == (2.35, 48.85)


@pytest.mark.parametrize("crs", ["EPSG:4547", "4526", "EPSG:3857", "gcj02", "bd09", "EPSG:4326"])
def test_to_storage_round_trips_every_supported_crs(crs: str) -> None:
    from pyproj import Transformer

    lon, lat = np.array([113.2418, 112.95]), np.array([35.2155, 35.08])
    if crs == "gcj02":
        x, y = coords.wgs84_to_gcj02(lon, lat)
    elif crs == "bd09":
        x, y = coords.wgs84_to_bd09(lon, lat)
    else:
        x, y = Transformer.from_crs(4490, coords.parse_crs(crs), always_xy=True).transform(lon, lat)
    back = coords.to_storage(x, y, crs)
    tol = 2e-6 if crs == "bd09" else 1e-7  # published BD-09 inverse: ~13 cm
    assert np.max(np.abs(back[0] - lon)) < tol and np.max(np.abs(back[1] - lat)) < tol


def test_to_storage_accepts_wkt() -> None:
    wkt = coords.parse_crs(4547).to_wkt()
    lon, lat = coords.to_storage([420_000.0], [3_900_000.0], wkt)
    assert 113 < lon[0] < 114 and 35 < lat[0] < 36


def test_unknown_crs_is_a_readable_error() -> None:
    with pytest.raises(ValueError, match="unknown coordinate system"):
        coords.to_storage([1.0], [2.0], "EPSG:99999999")


@pytest.mark.parametrize(
    ("x", "y", "expected"),
    [
        (38_422_000.0, 3_898_000.0, "EPSG:4526"),
        (422_000.0, 3_898_000.0, "EPSG:4547"),
        (12_606_000.0, 4_194_000.0, "EPSG:3857"),
        (113.24, 35.21, None),
    ],
)
def test_guess_crs_names_what_numbers_look_like(x: float, y: float, expected: str | None) -> None:
    assert coords.guess_crs([x], [y]) == expected
