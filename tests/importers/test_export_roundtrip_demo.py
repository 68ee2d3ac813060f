"""Every export of every layer of the whole demo re-imports as a no-op (issue 12).

One seeded copy of the template serves the module: exports only read, and the
re-imports are dry runs (their data rolled back; only the ``imports`` record stays).
"""

from __future__ import annotations

import logging
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pyogrio
import pytest

from importers import ImportOptions, run_import
from importers.export import CRS_COLUMN, FORMATS, SUFFIX, export
from layers import ALL_LAYERS
from layers.demo import seed_demo
from registry.settings import Settings
from registry.spec import AttrType, LayerSpec
from tests.conftest import template_copy

logger = logging.getLogger(__name__)


def _check_types(spec: LayerSpec, fmt: str, out: Path, labels: str) -> None:
    """Integers stay integers and dates dates (GeoPackage, Shapefile); CSV states its CRS;
    a shapefile never holds the text NaT."""
    if fmt == "gpkg":
        info = pyogrio.read_info(out, layer=spec.name)
        types = dict(zip(info["fields"], info["dtypes"], strict=True))
        for a in spec.all_attrs:
            if a.type is AttrType.INTEGER:
                assert types[a.name].startswith("int"), (a.name, types[a.name])
            if a.type is AttrType.DATE:
                assert types[a.name].startswith("datetime64"), (a.name, types[a.name])
    elif fmt == "shp":
        with zipfile.ZipFile(out) as zf:
            for name in zf.namelist():
                if name.endswith(".dbf"):
                    assert b"NaT" not in zf.read(name), name
    elif fmt == "csv":
        header = out.read_text(encoding="utf-8-sig").splitlines()[0].split(",")
        assert CRS_COLUMN in header and ("编号" if labels == "zh" else "code") in header, header


@pytest.fixture(scope="module")
def demo_db(cluster, template_db) -> Iterator[Settings]:
    """A copy of the template with the whole demo seeded, shared by this module."""
    with template_copy(cluster, template_db, "test_roundtrip") as url:
        with psycopg.connect(url) as conn:
            seed_demo(conn)
        yield Settings(_env_file=None, database_url=url)  # type: ignore[call-arg]


# Every format with its default labels (Chinese for CSV/XLSX), and CSV with machine codes.
VARIANTS = [*FORMATS, "csv:codes"]


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("spec", ALL_LAYERS, ids=[s.name for s in ALL_LAYERS])
def test_demo_export_reimports_unchanged(spec, variant, demo_db: Settings, tmp_path: Path) -> None:
    settings = demo_db.model_copy(update={"data_dir": tmp_path / "data"})
    fmt, _, labels = variant.partition(":")
    out = tmp_path / f"{spec.name}{SUFFIX[fmt]}"
    t0 = time.perf_counter()
    with psycopg.connect(str(demo_db.database_url)) as conn:
        n = export(conn, spec, fmt, out, labels=labels or None)
        conn.rollback()
        assert n > 0
        _check_types(spec, fmt, out, labels or "zh")
        report = run_import(
            conn, spec, out, settings=settings, actor="roundtrip", options=ImportOptions(dry_run=True)
        )
    problems = [r for r in report.as_dict("en")["rows"] if r["level"] != "ok"][:10]
    summary = report.summary()
    assert report.status == "dry_run", problems
    assert (summary["created"], summary["updated"], summary["rejected"]) == (0, 0, 0), (summary, problems)
    assert summary["unchanged"] == n, summary
    logger.info("%s %s: %d assets in %.1f s", spec.name, fmt, n, time.perf_counter() - t0)
