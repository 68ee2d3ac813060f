"""QGIS, headless, reads the registry the way a desktop user's QGIS does.

Run by the *system* python (``/usr/bin/python3``), which Debian's ``python3-qgis``
binds to, never by the project's .venv; ``tests/test_ogc_clients.py`` starts it as a
subprocess. It stores a "Basic" authentication configuration (user name, API token as
the password) in a fresh QGIS authentication database under a master password set
here, then loads an OGC API Features layer and a vector tile layer without ``authcfg``
(they must read nothing) and with it. It prints one JSON object:

``{"qgis": version, "oapif": {"valid", "count", "lonlat"}, "oapif_anonymous": {...},
"tiles": {"valid", "features": {mvt layer: count}, "tiles": n}, "tiles_anonymous": {...}}``

Usage: ``qgis_client.py '{"workdir": ..., "ogc": ..., "username": ..., "token": ...,
"collection": ..., "centre": [lon, lat]}'``
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

# Before QGIS starts: no display; the authentication database, settings and network
# cache in our own folder, never the user's (~/.cache would keep authenticated responses
# and answer a later run's anonymous requests from them).
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
SPEC: dict[str, Any] = json.loads(sys.argv[1])
os.environ["QGIS_AUTH_DB_DIR_PATH"] = SPEC["workdir"]
for _variable in ("HOME", "XDG_CACHE_HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_RUNTIME_DIR"):
    _folder = os.path.join(SPEC["workdir"], _variable.lower())
    os.makedirs(_folder, mode=0o700, exist_ok=True)
    os.environ[_variable] = _folder

from qgis.core import (  # noqa: E402  (system python only, after the environment above)
    Qgis,
    QgsApplication,
    QgsAuthMethodConfig,
    QgsCoordinateReferenceSystem,
    QgsCoordinateTransform,
    QgsDataSourceUri,
    QgsMapRendererSequentialJob,
    QgsMapSettings,
    QgsPointXY,
    QgsProject,
    QgsRectangle,
    QgsVectorLayer,
    QgsVectorTileLayer,
    QgsVectorTileRenderer,
)
from qgis.PyQt.QtCore import QSize  # noqa: E402

MASTER_PASSWORD = "registry-test-master-password"


class CountingRenderer(QgsVectorTileRenderer):
    """A vector tile renderer that draws nothing and counts the features of each tile."""

    def __init__(self, counts: dict[str, Any]) -> None:
        super().__init__()
        self.counts = counts

    def type(self) -> str:
        return "counting"

    def clone(self) -> CountingRenderer:
        # the layer renders with a clone; it shares the tally
        return CountingRenderer(self.counts)

    def startRender(self, context: Any, tileZoom: int, tileRange: Any) -> None:
        self.counts["zoom"] = tileZoom

    def requiredLayers(self, context: Any, tileZoom: int) -> set[str]:
        return {""}  # every layer of the tile

    def renderTile(self, tile: Any, context: Any) -> None:
        self.counts["tiles"] += 1
        for name in tile.layers():
            features = self.counts["features"]
            features[name] = features.get(name, 0) + len(tile.layerFeatures(name))

    def stopRender(self, context: Any) -> None:
        pass

    def writeXml(self, elem: Any, context: Any) -> None:
        pass

    def readXml(self, elem: Any, context: Any) -> None:
        pass


def store_basic_config(username: str, password: str) -> str:
    """A "Basic" configuration in the authentication database; its id (``authcfg``)."""
    auth = QgsApplication.authManager()
    if auth.isDisabled():
        raise SystemExit(f"QGIS authentication is disabled: {auth.disabledMessage()}")
    if not auth.setMasterPassword(MASTER_PASSWORD, True):
        raise SystemExit("could not set the QGIS master password")
    config = QgsAuthMethodConfig("Basic")
    config.setName("Jiaozuo registry")
    config.setConfig("username", username)
    config.setConfig("password", password)
    stored = auth.storeAuthenticationConfig(config)
    ok, config = stored if isinstance(stored, tuple) else (stored, config)
    if not ok or not config.id():
        raise SystemExit("could not store the QGIS authentication configuration")
    return config.id()


def read_oapif(authcfg: str | None) -> dict[str, Any]:
    """Load a collection as an OAPIF layer and read every feature."""
    uri = QgsDataSourceUri()
    uri.setParam("url", SPEC["ogc"])
    uri.setParam("typename", SPEC["collection"])
    if authcfg:
        uri.setAuthConfigId(authcfg)
    layer = QgsVectorLayer(uri.uri(False), SPEC["collection"], "OAPIF")
    result: dict[str, Any] = {"valid": layer.isValid(), "count": 0, "lonlat": []}
    if not layer.isValid():
        return result
    to_wgs84 = QgsCoordinateTransform(
        layer.crs(), QgsCoordinateReferenceSystem("EPSG:4326"), QgsProject.instance()
    )
    for feature in layer.getFeatures():
        result["count"] += 1
        centre = to_wgs84.transform(feature.geometry().centroid().asPoint())
        result["lonlat"].append([centre.x(), centre.y()])
    return result


def read_tiles(authcfg: str | None) -> dict[str, Any]:
    """Load the all-layer vector tiles as a QGIS vector tile layer and render the centre."""
    uri = QgsDataSourceUri()
    uri.setParam("type", "xyz")
    uri.setParam("url", SPEC["ogc"] + "/tiles/WebMercatorQuad/{z}/{x}/{y}")
    uri.setParam("zmin", "0")
    uri.setParam("zmax", "14")
    if authcfg:
        uri.setAuthConfigId(authcfg)
    layer = QgsVectorTileLayer(bytes(uri.encodedUri()).decode(), "registry tiles")
    counts: dict[str, Any] = {"valid": layer.isValid(), "tiles": 0, "features": {}}
    if not layer.isValid():
        return counts
    layer.setRenderer(CountingRenderer(counts))
    mercator = QgsCoordinateReferenceSystem("EPSG:3857")
    to_mercator = QgsCoordinateTransform(
        QgsCoordinateReferenceSystem("EPSG:4326"), mercator, QgsProject.instance()
    )
    lon, lat = SPEC["centre"]
    centre = to_mercator.transform(QgsPointXY(lon, lat))
    settings = QgsMapSettings()
    settings.setLayers([layer])
    settings.setDestinationCrs(mercator)
    # the seeded assets run east of the centre, ~90 m apart
    settings.setExtent(QgsRectangle(centre.x() - 300, centre.y() - 300, centre.x() + 1500, centre.y() + 300))
    settings.setOutputSize(QSize(900, 300))
    job = QgsMapRendererSequentialJob(settings)
    job.start()
    job.waitForFinished()
    counts["errors"] = [e.message for e in job.errors()]
    return counts


def main() -> None:
    """Read without credentials, then through the stored Basic configuration; report."""
    app = QgsApplication([], False, SPEC["workdir"])
    app.initQgis()
    try:
        authcfg = store_basic_config(SPEC["username"], SPEC["token"])
        # anonymous first, so nothing QGIS cached from an authenticated read can answer
        report = {
            "qgis": Qgis.version(),
            "authcfg": authcfg,
            "oapif_anonymous": read_oapif(None),
            "tiles_anonymous": read_tiles(None),
            "oapif": read_oapif(authcfg),
            "tiles": read_tiles(authcfg),
        }
    finally:
        app.exitQgis()
    sys.stdout.write(json.dumps(report) + "\n")


if __name__ == "__main__":
    main()
