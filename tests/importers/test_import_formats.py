"""Real files of every format and CRS, bad inputs, dry run, atomicity, undo."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from import_helpers import POINTS, assets, manhole_rows, write_vector
from pyproj import Transformer

from importers import ImportOptions, run_import, undo
from importers import errors as E
from registry import coords


@pytest.fixture
def settings(db, tmp_path):
    return db.model_copy(update={"data_dir": tmp_path / "data"})


@pytest.fixture
def spec(catalog):
    return catalog.get("manholes")


def _imp(conn, spec, path, settings, **opts):
    return run_import(conn, spec, path, settings=settings, actor="tester", options=ImportOptions(**opts))


def _zip(path: Path, files: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return path


def _shp_zip(tmp: Path, rows, *, encoding: str, cpg: bool, crs=4490, points=None) -> Path:
    folder = tmp / "shp"
    folder.mkdir(exist_ok=True)
    shp = write_vector(folder / "jg.shp", rows, crs=crs, points=points, encoding=encoding)
    for p in folder.glob("jg.cpg"):
        if not cpg:
            p.unlink()
    return _zip(tmp / "jg.zip", {p.name: p.read_bytes() for p in folder.iterdir() if p.stem == shp.stem})


def _close(conn, spec, code, lon, lat, tol_m=0.05):
    x, y = conn.execute(f"SELECT ST_X(geom), ST_Y(geom) FROM {spec.name} WHERE code = %s", (code,)).fetchone()
    conn.rollback()
    assert abs(x - lon) * 91_000 < tol_m and abs(y - lat) * 111_000 < tol_m, (x, y, lon, lat)


def test_gbk_shapefile_without_cpg_is_detected(conn, spec, settings, tmp_path) -> None:
    z = _shp_zip(tmp_path, manhole_rows(), encoding="GBK", cpg=False)
    rep = _imp(conn, spec, z, settings)
    assert rep.status == "committed" and rep.summary()["created"] == 5
    rows = assets(conn, spec)
    assert rows["JG-2025-0001"]["owner_unit"] == "焦作市排水公司"
    assert rows["JG-2025-0001"]["extra"]["调查员"] == "张0"


def test_forcing_utf8_on_a_gbk_shapefile_is_a_mojibake_error(conn, spec, settings, tmp_path) -> None:
    z = _shp_zip(tmp_path, manhole_rows(), encoding="GBK", cpg=False)
    with pytest.raises(E.BadEncoding):
        _imp(conn, spec, z, settings, encoding="utf-8")
    assert assets(conn, spec) == {}


def test_utf8_shapefile_with_cpg(conn, spec, settings, tmp_path) -> None:
    # UTF-8 Chinese takes 3 bytes a character: names must fit DBF's 10 bytes.
    short = {
        "井盖状况": "状况",
        "井盖材质": "材质",
        "井盖尺寸": "尺寸",
        "权属单位": "权属",
        "所在道路": "道路",
    }
    rows = [{short.get(k, k): v for k, v in r.items()} for r in manhole_rows()]
    z = _shp_zip(tmp_path, rows, encoding="UTF-8", cpg=True)
    assert _imp(conn, spec, z, settings).summary()["created"] == 5
    assert assets(conn, spec)["JG-2025-0001"]["owner_unit"] == "焦作市排水公司"


def test_gcj02_csv_from_a_phone_app_lands_within_a_metre(conn, spec, settings, tmp_path) -> None:
    lon, lat = POINTS[0]
    gx, gy = coords.wgs84_to_gcj02(lon, lat)
    df = pd.DataFrame([{**manhole_rows(1)[0], "经度": float(gx), "纬度": float(gy)}])
    f = tmp_path / "phone.csv"
    df.to_csv(f, index=False, encoding="utf-8-sig")
    rep = _imp(conn, spec, f, settings, crs="gcj02")
    assert rep.status == "committed" and rep.crs == "gcj02"
    _close(conn, spec, "JG-2025-0001", lon, lat, tol_m=1.0)


@pytest.mark.parametrize("epsg", [4547, 4526, 3857])
def test_projected_geopackage_is_converted(conn, spec, settings, tmp_path, epsg) -> None:
    t = Transformer.from_crs(4490, epsg, always_xy=True)
    pts = [t.transform(*p) for p in POINTS[:3]]
    f = write_vector(tmp_path / "gk.gpkg", manhole_rows(3), crs=epsg, points=pts)
    rep = _imp(conn, spec, f, settings)
    assert rep.status == "committed" and rep.crs == f"EPSG:{epsg}"
    _close(conn, spec, "JG-2025-0002", *POINTS[1])


def test_csv_in_gk_without_crs_stops_and_names_the_crs(conn, spec, settings, tmp_path) -> None:
    x, y = Transformer.from_crs(4490, 4526, always_xy=True).transform(*POINTS[0])
    f = tmp_path / "gk.csv"
    pd.DataFrame([{**manhole_rows(1)[0], "x": x, "y": y}]).to_csv(f, index=False)
    with pytest.raises(E.CrsMissing, match="EPSG:4526"):
        _imp(conn, spec, f, settings)
    assert _imp(conn, spec, f, settings, crs="EPSG:4526").summary()["created"] == 1


def test_gbk_csv_and_xlsx(conn, spec, settings, tmp_path) -> None:
    rows = [{**r, "经度": p[0], "纬度": p[1]} for r, p in zip(manhole_rows(3), POINTS, strict=False)]
    f = tmp_path / "gbk.csv"
    pd.DataFrame(rows).to_csv(f, index=False, encoding="gbk")
    assert _imp(conn, spec, f, settings).summary()["created"] == 3
    x = tmp_path / "t.xlsx"
    pd.DataFrame([{**r, "编号": r["编号"] + "X"} for r in rows]).to_excel(x, index=False)
    assert _imp(conn, spec, x, settings).summary()["created"] == 3


def test_geojson_sequence_and_kml_and_kmz(conn, spec, settings, tmp_path) -> None:
    seq = write_vector(tmp_path / "s.geojsonl", manhole_rows(2), driver="GeoJSONSeq")
    assert _imp(conn, spec, seq, settings).summary()["created"] == 2
    # Ovi-style KML: attributes as "键：值" lines in the description.
    placemarks = "".join(
        f"<Placemark><name>OV-{i}</name><description>编号：OV-{i}<br/>状态：在用<br/>井类：雨水<br/>"
        f"井盖状况：完好</description><Point><coordinates>{p[0]},{p[1]},0</coordinates></Point></Placemark>"
        for i, p in enumerate(POINTS[5:8])
    )
    kml = (
        '<?xml version="1.0" encoding="UTF-8"?><kml xmlns="http://www.opengis.net/kml/2.2"><Document>'
        f"<Folder><name>奥维</name>{placemarks}</Folder></Document></kml>"
    )
    k = tmp_path / "ovi.kml"
    k.write_text(kml, encoding="utf-8")
    rep = _imp(conn, spec, k, settings)
    assert rep.summary()["created"] == 3, rep.as_dict("en")["rows"][:3]
    kmz = _zip(tmp_path / "ovi.kmz", {"doc.kml": kml.replace("OV-", "KZ-").encode()})
    assert _imp(conn, spec, kmz, settings).summary()["created"] == 3


def test_errors_commit_nothing_dry_run_writes_nothing_skip_rejected_writes_good_rows(
    conn, spec, settings, tmp_path
) -> None:
    rows = manhole_rows(4)
    rows[1]["井类"] = "下水道"  # not an allowed value
    rows[2]["编号"] = rows[0]["编号"]  # duplicate code in the file
    f = write_vector(tmp_path / "bad.gpkg", rows)
    rep = _imp(conn, spec, f, settings)
    assert rep.status == "rejected" and assets(conn, spec) == {}
    bad = {(r["row"], r["field"]) for r in rep.as_dict("en")["rows"] if r["level"] == "error"}
    assert {(2, "kind"), (1, "code"), (3, "code")} <= bad
    zh = rep.as_dict("zh")["rows"]
    assert any("不是允许的取值" in r["reason"] for r in zh)
    dry = _imp(conn, spec, f, settings, dry_run=True)
    assert dry.status == "dry_run" and dry.summary()["created"] == 1 and assets(conn, spec) == {}
    ok = _imp(conn, spec, f, settings, skip_rejected=True)
    assert ok.status == "committed" and set(assets(conn, spec)) == {"JG-2025-0004"}
    assert "行号" in ok.to_csv() and '"rows"' in ok.to_json()


def test_outside_jiaozuo_with_swap_hint(conn, spec, settings, tmp_path) -> None:
    f = write_vector(tmp_path / "swap.gpkg", manhole_rows(1), points=[(35.2155, 113.2418)])
    rep = _imp(conn, spec, f, settings)
    (row,) = [r for r in rep.as_dict("en")["rows"] if r["level"] == "error"]
    # (latitude 113 is out of range: said so, with the swap that fixes it)
    assert "out of range" in row["reason"] and "swapping x and y" in row["reason"]
    assert "交换" in rep.as_dict("zh")["rows"][0]["reason"]


def test_corrected_file_updates_only_changed_rows_and_undo_restores(
    conn, spec, catalog, settings, tmp_path
) -> None:
    first = _imp(conn, spec, write_vector(tmp_path / "a.gpkg", manhole_rows(4)), settings)
    before = assets(conn, spec)
    rows = manhole_rows(5)
    rows[1]["井盖状况"] = "破损"
    second = _imp(conn, spec, write_vector(tmp_path / "b.gpkg", rows), settings)
    assert (second.summary()["created"], second.summary()["updated"], second.summary()["unchanged"]) == (
        1,
        1,
        3,
    )
    assert assets(conn, spec)["JG-2025-0002"]["condition"] == "damaged"
    result = undo(conn, catalog, second.import_id, actor="tester")
    assert result["deleted"] == 1 and result["restored"] == 1
    after = assets(conn, spec)
    skip = {"version", "updated_at", "updated_by"}
    assert {k: {c: v for c, v in r.items() if c not in skip} for k, r in after.items()} == {
        k: {c: v for c, v in r.items() if c not in skip} for k, r in before.items()
    }
    with pytest.raises(E.UndoConflict):
        undo(conn, catalog, second.import_id, actor="tester")
    assert first.status == "committed"


def test_undo_puts_a_moved_point_back_bit_for_bit(conn, spec, catalog, settings, tmp_path) -> None:
    # The undo reads the before-state from the history, which keeps a geometry as
    # GeoJSON text: it has to come back exactly, not to within a rounding.
    odd = [(POINTS[0][0] + 0.0000012345678912345, POINTS[0][1] - 0.0000098765432198765)]
    _imp(conn, spec, write_vector(tmp_path / "a.gpkg", manhole_rows(1), points=odd), settings)
    before = assets(conn, spec)["JG-2025-0001"]
    moved = [(odd[0][0] + 0.00003, odd[0][1])]
    second = _imp(conn, spec, write_vector(tmp_path / "b.gpkg", manhole_rows(1), points=moved), settings)
    assert second.summary()["updated"] == 1
    assert assets(conn, spec)["JG-2025-0001"]["ewkb"] != before["ewkb"]
    assert undo(conn, catalog, second.import_id, actor="tester")["restored"] == 1
    assert assets(conn, spec)["JG-2025-0001"]["ewkb"] == before["ewkb"]


def test_near_duplicate_point_is_a_warning(conn, spec, settings, tmp_path) -> None:
    _imp(conn, spec, write_vector(tmp_path / "a.gpkg", manhole_rows(1)), settings)
    p = (POINTS[0][0] + 0.000003, POINTS[0][1])  # ~0.3 m east
    rep = _imp(
        conn, spec, write_vector(tmp_path / "b.gpkg", manhole_rows(1, 编号="JG-NEW-1"), points=[p]), settings
    )
    assert rep.status == "committed"
    assert any(r["level"] == "warning" and r["value"] == "JG-2025-0001" for r in rep.as_dict("en")["rows"])


def test_invalid_polygon_rejected_then_repaired(conn, catalog, settings, tmp_path) -> None:
    from shapely.geometry import Polygon

    from tests.factories import make_properties  # noqa: F401  (layer-agnostic factory exists)

    spec = catalog.get("parking")
    x, y = POINTS[0]
    bowtie = Polygon([(x, y), (x + 1e-4, y + 1e-4), (x + 1e-4, y), (x, y + 1e-4), (x, y)])
    kind = spec.attr("kind").choices[0].code
    status = spec.statuses[0].code
    props = {"code": "TC-1", "status": status, "kind": kind}
    for a in spec.writable_attrs:
        if a.required and a.name not in props:
            props[a.name] = a.choices[0].code if a.choices else 1
    f = write_vector(tmp_path / "p.gpkg", [props], points=[bowtie])
    rep = _imp(conn, spec, f, settings)
    assert rep.status == "rejected"
    assert any("invalid geometry" in r["reason"] for r in rep.as_dict("en")["rows"])
    fixed = _imp(conn, spec, f, settings, repair_geometry=True)
    assert fixed.status == "committed", fixed.as_dict("en")["rows"]


def test_bad_inputs_each_get_a_specific_error_and_nothing_is_written(conn, spec, settings, tmp_path) -> None:
    empty = tmp_path / "e.geojson"
    empty.write_bytes(b"")
    with pytest.raises(E.EmptyFile):
        _imp(conn, spec, empty, settings)
    good = write_vector(tmp_path / "g.gpkg", manhole_rows())
    trunc = tmp_path / "t.gpkg"
    trunc.write_bytes(good.read_bytes()[:3000])
    with pytest.raises(E.CorruptFile):
        _imp(conn, spec, trunc, settings)
    with pytest.raises(E.ZipWithoutShapefile):
        _imp(conn, spec, _zip(tmp_path / "noshp.zip", {"readme.txt": b"hello", "a.dbf": b"x"}), settings)
    with pytest.raises(E.UnsafeArchive):
        _imp(conn, spec, _zip(tmp_path / "trav.zip", {"../../evil.shp": b"x"}), settings)
    with pytest.raises(E.ZipBomb):
        _imp(conn, spec, _zip(tmp_path / "bomb.zip", {"a.shp": b"\0" * (20 * 1024 * 1024)}), settings)
    xxe = tmp_path / "x.kml"
    xxe.write_text(
        '<?xml version="1.0"?><!DOCTYPE kml [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]>'
        "<kml><Document><name>&b;</name></Document></kml>"
    )
    with pytest.raises(E.XmlEntities):
        _imp(conn, spec, xxe, settings)
    small = settings.model_copy(update={"import_max_bytes": 100})
    with pytest.raises(E.FileTooLarge):
        _imp(conn, spec, good, small)
    utf8 = tmp_path / "u.csv"
    pd.DataFrame([{**manhole_rows(1)[0], "lon": 113.24, "lat": 35.21}]).to_csv(utf8, index=False)
    with pytest.raises(E.BadEncoding):
        _imp(conn, spec, utf8, settings, encoding="gbk")
    assert assets(conn, spec) == {}
    statuses = [s for (s,) in conn.execute("SELECT status FROM imports")]
    assert statuses and set(statuses) == {"failed"}


def test_photos_in_the_zip_are_attached(conn, spec, settings, tmp_path) -> None:
    rows = [
        {**r, "经度": p[0], "纬度": p[1], "照片": f"p{i}.jpg"}
        for i, (r, p) in enumerate(zip(manhole_rows(2), POINTS, strict=False))
    ]
    buf = io.StringIO()
    pd.DataFrame(rows).to_csv(buf, index=False)
    z = _zip(
        tmp_path / "withphotos.zip",
        {"data.csv": buf.getvalue().encode(), "p0.jpg": b"\xff\xd8jpeg0", "p1.jpg": b"\xff\xd8jpeg1"},
    )
    rep = _imp(conn, spec, z, settings)
    assert rep.summary()["photos"] == 2
    (n,) = conn.execute("SELECT count(*) FROM asset_photos").fetchone()
    assert n == 2 and len(list((settings.data_dir / "photos").rglob("*.jpg"))) == 2
