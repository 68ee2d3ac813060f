"""The six asset layers of the Jiaozuo registry; adding one means one module here
(plus its migration in sql/) and one entry in ALL_LAYERS."""

from __future__ import annotations

from layers.manholes import MANHOLES
from layers.markets import MARKETS
from layers.parking import PARKING
from layers.poles_wires import POLES_WIRES
from layers.road_voids import ROAD_VOIDS
from layers.water_supply import WATER_SUPPLY
from registry.catalog import LayerCatalog

ALL_LAYERS = (ROAD_VOIDS, MANHOLES, POLES_WIRES, PARKING, MARKETS, WATER_SUPPLY)


def default_catalog() -> LayerCatalog:
    """The catalogue of every layer, as the app and CLI assemble it."""
    return LayerCatalog().register(*ALL_LAYERS)
