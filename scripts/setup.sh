#!/usr/bin/env bash
# Install what the registry needs and is missing: system packages (PostgreSQL 15,
# PostGIS 3, GDAL; with --with-browser also Chromium, a CJK font and QGIS) and the locked
# Python environment in .venv. Safe to run again: it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(postgresql-15 postgresql-15-postgis-3 gdal-bin)
if [[ "${1:-}" == "--with-browser" ]]; then
  # python3-qgis: QGIS 3.22 headless for the real-client tests (-m gis_client), ~930 MB
  packages+=(chromium fonts-wqy-microhei libatomic1 python3-qgis)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ((${#missing[@]})); then
  if [[ $EUID -eq 0 ]] && command -v apt-get >/dev/null; then
    echo "setup: installing ${missing[*]}"
    # Debian's postgresql package would create and start a "main" cluster we never use.
    mkdir -p /etc/postgresql-common/createcluster.d
    echo "create_main_cluster = false" > /etc/postgresql-common/createcluster.d/registry.conf
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "setup: missing system packages: ${missing[*]}" >&2
    echo "       install them, e.g.: sudo apt-get install ${missing[*]}" >&2
    exit 1
  fi
fi

# Python: uv installs exactly what uv.lock pins (no Python download: use this python3).
export UV_PYTHON_DOWNLOADS=never
if [[ ! -x .tools/bin/uv ]]; then
  python3 -m venv .tools
  .tools/bin/pip install -q --disable-pip-version-check "uv==0.13.9"
fi
.tools/bin/uv sync --frozen --quiet --python python3
