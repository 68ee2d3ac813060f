"""What a reader hands the shared pipeline: batches of source rows, never the whole file."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from registry.spec import Problem

BATCH_SIZE = 20_000


@dataclass
class Batch:
    """Consecutive source rows: attribute columns as in the file, geometries in the
    source CRS (None where missing), and the row numbers the report shows."""

    frame: pd.DataFrame
    geoms: np.ndarray[Any, Any]
    rows: np.ndarray[Any, Any]
    problems: dict[int, list[Problem]] = field(default_factory=dict)


@dataclass
class Source:
    """An opened input file: its CRS (when the file says), size and a batch iterator.

    ``photos`` maps bare file names found next to the data (in the same zip) to
    extracted paths; ``field_names`` maps shortened names (Shapefile's 10 characters)
    back to full ones, from the sidecar our export writes.
    """

    name: str
    format: str
    crs: str | None
    columns: list[str]
    total: int | None
    batches: Callable[[], Iterator[Batch]]
    photos: dict[str, Path] = field(default_factory=dict)
    field_names: dict[str, str] = field(default_factory=dict)
    layer_name: str | None = None
