"""CSV (UTF-8, UTF-8 with BOM, GBK/GB18030) and XLSX tables with longitude/latitude
(or x/y) columns or a WKT column, read in chunks."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import shapely

from importers.base import BATCH_SIZE, Batch, Source
from importers.errors import (
    BadEncoding,
    BadOption,
    CorruptFile,
    EmptyFile,
    GeometryColumnsMissing,
    ImportFileError,
)
from importers.safety import SAMPLE_BYTES, detect_encoding
from registry.messages import problem
from registry.spec import Problem

XY_PAIRS = (
    ("经度", "纬度"),
    ("x坐标", "y坐标"),
    ("easting", "northing"),
    ("e", "n"),
    ("东", "北"),
    ("east", "north"),
    ("lon", "lat"),
    ("lng", "lat"),
    ("long", "lat"),
    ("longitude", "latitude"),
    ("x", "y"),
    ("东坐标", "北坐标"),
    ("横坐标", "纵坐标"),
)
WKT_NAMES = ("wkt", "geometry", "geom", "几何", "the_geom", "shape")


def _norm(name: str) -> str:
    return "".join(unicodedata.normalize("NFKC", str(name)).lower().split())


def geometry_columns(
    columns: list[str], name: str, x_column: str | None = None, y_column: str | None = None
) -> tuple[str, str] | str:
    """The (x, y) column pair (as named by the user, else found by name, case- and
    width-insensitive), or the WKT column."""
    by_norm = {_norm(c): c for c in columns}
    if x_column or y_column:
        for given in (x_column, y_column):
            if given is None or _norm(given) not in by_norm:
                raise BadOption.of(
                    "column_not_found", file=name, column=given or "-", columns=", ".join(columns)
                )
        return by_norm[_norm(str(x_column))], by_norm[_norm(str(y_column))]
    for xn, yn in XY_PAIRS:
        if xn in by_norm and yn in by_norm:
            return by_norm[xn], by_norm[yn]
    for w in WKT_NAMES:
        if w in by_norm:
            return by_norm[w]
    raise GeometryColumnsMissing.of("no_coordinate_columns", file=name, columns=", ".join(columns))


def _geoms(
    frame: pd.DataFrame, geo: tuple[str, str] | str, rows: np.ndarray[Any, Any]
) -> tuple[np.ndarray[Any, Any], dict[int, list[Problem]]]:
    problems: dict[int, list[Problem]] = {}
    if isinstance(geo, str):
        raw = frame.pop(geo)
        text = raw.where(raw.astype(str).str.strip() != "", None)
        geoms = shapely.from_wkt(text.to_numpy(dtype=object), on_invalid="ignore")
        for i in np.flatnonzero(pd.isna(geoms) & text.notna().to_numpy()):
            problems.setdefault(int(rows[i]), []).append(
                problem(geo, "unreadable_wkt", raw.iloc[i], value=str(raw.iloc[i])[:60])
            )
        return geoms, problems
    xc, yc = geo
    rx, ry = frame.pop(xc), frame.pop(yc)
    x = pd.to_numeric(rx, errors="coerce").to_numpy(dtype=float)
    y = pd.to_numeric(ry, errors="coerce").to_numpy(dtype=float)
    for col, raw, num in ((xc, rx, x), (yc, ry, y)):
        blank = raw.isna().to_numpy() | (raw.astype(str).str.strip() == "").to_numpy()
        for i in np.flatnonzero(np.isnan(num) & ~blank):
            problems.setdefault(int(rows[i]), []).append(
                problem(col, "not_a_number", raw.iloc[i], value=raw.iloc[i])
            )
    ok = np.isfinite(x) & np.isfinite(y)
    geoms = np.full(len(frame), None, dtype=object)
    geoms[ok] = shapely.points(x[ok], y[ok])
    return geoms, problems


def open_csv(
    path: Path, *, encoding: str | None = None, x_column: str | None = None, y_column: str | None = None
) -> Source:
    """A CSV file; the encoding is detected from the first megabytes unless forced."""
    with path.open("rb") as f:
        sample = f.read(SAMPLE_BYTES)
    enc = detect_encoding(sample, encoding, what=path.name)
    try:
        header = pd.read_csv(path, encoding=enc, dtype=str, nrows=0, keep_default_na=False)
    except pd.errors.EmptyDataError:
        raise EmptyFile.of("file_no_content", file=path.name) from None
    except (UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise CorruptFile.of("file_unparsable", file=path.name, reason=str(exc)) from None
    columns = [str(c) for c in header.columns]
    geo = geometry_columns(columns, path.name, x_column, y_column)

    def batches() -> Iterator[Batch]:
        line = 2  # the header is line 1, as a spreadsheet shows it
        try:
            reader = pd.read_csv(path, encoding=enc, dtype=str, keep_default_na=False, chunksize=BATCH_SIZE)
            for frame in reader:
                rows = np.arange(line, line + len(frame))
                line += len(frame)
                frame = frame.reset_index(drop=True)
                geoms, problems = _geoms(frame, geo, rows)
                yield Batch(frame=frame, geoms=geoms, rows=rows, problems=problems)
        except UnicodeDecodeError as exc:
            raise BadEncoding.of(
                "encoding_mixed", file=path.name, encoding=enc, line=line, reason=exc.reason
            ) from None
        except pd.errors.ParserError as exc:
            raise CorruptFile.of("file_unparsable_near", file=path.name, line=line, reason=str(exc)) from None

    return Source(name=path.name, format="csv", crs=None, columns=columns, total=None, batches=batches)


def open_xlsx(
    path: Path, *, sheet: str | None = None, x_column: str | None = None, y_column: str | None = None
) -> Source:
    """The first (or named) sheet of a workbook; the first row holds the column names."""
    import zipfile

    from openpyxl import load_workbook

    try:
        wb = load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise CorruptFile.of("xlsx_invalid", file=path.name, reason=str(exc)) from None
    if sheet and sheet not in wb.sheetnames:
        wb.close()
        raise ImportFileError.of(
            "sheet_not_found", file=path.name, sheet=sheet, choices=", ".join(wb.sheetnames)
        )
    ws = wb[sheet] if sheet else wb.worksheets[0]
    rows_iter = ws.iter_rows(values_only=True)
    try:
        header = next(rows_iter)
    except StopIteration:
        wb.close()
        raise EmptyFile.of("sheet_empty", file=path.name) from None
    columns = [str(c).strip() if c is not None else f"column_{i + 1}" for i, c in enumerate(header)]
    wb.close()
    geo = geometry_columns(columns, path.name, x_column, y_column)

    def batches() -> Iterator[Batch]:
        wb2 = load_workbook(path, read_only=True, data_only=True)
        try:
            ws2 = wb2[sheet] if sheet else wb2.worksheets[0]
            chunk: list[tuple[int, Any]] = []
            for line, r in enumerate(ws2.iter_rows(values_only=True, min_row=2), start=2):
                if r is None or all(v is None for v in r):
                    continue
                chunk.append((line, r))
                if len(chunk) >= BATCH_SIZE:
                    yield _xlsx_batch(chunk, columns, geo)
                    chunk = []
            if chunk:
                yield _xlsx_batch(chunk, columns, geo)
        finally:
            wb2.close()

    return Source(
        name=path.name,
        format="xlsx",
        crs=None,
        columns=columns,
        total=ws.max_row and ws.max_row - 1,
        batches=batches,
    )


def _xlsx_batch(chunk: list[tuple[int, Any]], columns: list[str], geo: tuple[str, str] | str) -> Batch:
    rows = np.array([n for n, _ in chunk])
    data = [list(r[: len(columns)]) + [None] * (len(columns) - len(r)) for _, r in chunk]
    frame = pd.DataFrame(data, columns=columns, dtype=object)
    geoms, problems = _geoms(frame, geo, rows)
    return Batch(frame=frame, geoms=geoms, rows=rows, problems=problems)
