"""Survey files in, registry records out (and back out again as exports).

Readers only read (``importers.ogr``, ``importers.tabular``); every format then goes
through the same stages in ``importers.pipeline``. Importers receive a LayerSpec and
never import ``layers``.
"""

from importers.pipeline import ImportOptions, run_import, run_multi_import
from importers.undo import get_import, undo

__all__ = ["ImportOptions", "get_import", "run_import", "run_multi_import", "undo"]
