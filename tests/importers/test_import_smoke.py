from __future__ import annotations

from pathlib import Path

import pytest
from import_helpers import assets, manhole_rows, write_vector

from importers import run_import


@pytest.fixture
def settings(db, tmp_path):
    return db.model_copy(update={"data_dir": tmp_path / "data"})


def test_geojson_import_creates_then_reimport_is_noop(conn, catalog, settings, tmp_path: Path) -> None:
    spec = catalog.get("manholes")
    f = write_vector(tmp_path / "m.geojson", manhole_rows())
    rep = run_import(conn, spec, f, settings=settings, actor="tester")
    assert rep.status == "committed", rep.as_dict("en")["rows"][:5]
    assert rep.summary()["created"] == 5
    rows = assets(conn, spec)
    assert rows["JG-2025-0001"]["kind"] == "rain"
    assert rows["JG-2025-0001"]["extra"] == {"调查员": "张0"}
    rep2 = run_import(conn, spec, f, settings=settings, actor="tester")
    assert rep2.summary()["unchanged"] == 5 and rep2.summary()["created"] == 0
