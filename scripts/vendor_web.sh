#!/usr/bin/env bash
# Re-vendor the map's browser libraries from npm into web/static/vendor/ (see its README).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
npm init -y >/dev/null
npm install --no-audit --no-fund leaflet@1.9.4 leaflet.vectorgrid@1.3.0 @geoman-io/leaflet-geoman-free@2.20.2 \
  leaflet.locatecontrol@0.90.1 leaflet.fullscreen@5.3.3 leaflet.polylinemeasure@3.0.0 echarts@6.1.0 swagger-ui-dist@5.35.0
m=node_modules; v="$root/web/static/vendor"
mkdir -p "$v"/{leaflet,leaflet.vectorgrid,leaflet-geoman,leaflet.locatecontrol,leaflet.fullscreen,leaflet.polylinemeasure,echarts,swagger-ui}
cp -r $m/leaflet/dist/{leaflet.js,leaflet.css,images} $m/leaflet/LICENSE "$v/leaflet/"
cp $m/leaflet.vectorgrid/dist/Leaflet.VectorGrid.bundled.min.js "$v/leaflet.vectorgrid/"
cp $m/@geoman-io/leaflet-geoman-free/dist/{leaflet-geoman.min.js,leaflet-geoman.css} $m/@geoman-io/leaflet-geoman-free/LICENSE "$v/leaflet-geoman/"
cp $m/leaflet.locatecontrol/dist/L.Control.Locate.min.{js,css} $m/leaflet.locatecontrol/LICENSE.md "$v/leaflet.locatecontrol/"
cp $m/leaflet.fullscreen/dist/Control.FullScreen.{umd.js,css} $m/leaflet.fullscreen/LICENSE.md "$v/leaflet.fullscreen/"
cp $m/leaflet.polylinemeasure/Leaflet.PolylineMeasure.{js,css} $m/leaflet.polylinemeasure/LICENSE.txt "$v/leaflet.polylinemeasure/"
# the dashboard's charts: the ES-module build, imported by /static/app/dashboard.js
cp $m/echarts/dist/echarts.esm.min.mjs $m/echarts/{LICENSE,NOTICE} "$v/echarts/"
cp $m/swagger-ui-dist/{swagger-ui-bundle.js,swagger-ui.css,favicon-32x32.png,LICENSE,NOTICE} "$v/swagger-ui/"
echo "vendored into $v"
