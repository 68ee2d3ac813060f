"""Export → import reproduces the same records for every export format."""

from __future__ import annotations

from pathlib import Path

import pytest
from import_helpers import assets, manhole_rows, write_vector

from importers import ImportOptions, run_import
from importers.export import FORMATS, SUFFIX, export


@pytest.fixture
def settings(db, tmp_path):
    return db.model_copy(update={"data_dir": tmp_path / "data"})


@pytest.mark.parametrize("fmt", FORMATS)
def test_export_then_reimport_is_all_unchanged(fmt, conn, catalog, settings, tmp_path: Path) -> None:
    spec = catalog.get("manholes")
    rows = manhole_rows(6)
    rows[1]["井盖尺寸"] = None
    rows[2]["备注"] = "井盖有裂缝"
    src = write_vector(tmp_path / "src.gpkg", rows)
    first = run_import(conn, spec, src, settings=settings, actor="t")
    assert first.summary()["created"] == 6
    before = assets(conn, spec)
    out = tmp_path / f"export{SUFFIX[fmt]}"
    assert export(conn, spec, fmt, out) == 6
    conn.rollback()
    again = run_import(conn, spec, out, settings=settings, actor="t", options=ImportOptions())
    problems = [r for r in again.as_dict("en")["rows"] if r["level"] != "ok"]
    assert again.status == "committed", problems
    after = assets(conn, spec)
    diff = {
        k: {c: (before[k][c], after[k][c]) for c in before[k] if before[k][c] != after[k][c]}
        for k in before
        if before[k] != after.get(k)
    }
    assert again.summary()["unchanged"] == 6, (again.summary(), diff)
    assert assets(conn, spec) == before
