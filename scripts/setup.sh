#!/usr/bin/env bash
# Install what the registry needs and is missing: system packages (PostgreSQL 15,
# PostGIS 3, GDAL; with --with-browser, i.e. for the tests, also Chromium, a CJK font,
# QGIS and Node.js), the locked Python environment in .venv and, for the tests, the
# locked front-end checks (ESLint) in node_modules. Safe to run again: it only installs
# what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

with_browser=false
[[ "${1:-}" == "--with-browser" ]] && with_browser=true

# fonts-wqy-microhei: the Chinese font the PDF reports (月报, 一患一档) embed
packages=(postgresql-15 postgresql-15-postgis-3 gdal-bin fonts-wqy-microhei)
if $with_browser; then
  # python3-qgis: QGIS 3.22 headless for the real-client tests (-m gis_client), ~930 MB;
  # chromium-l10n: Chromium's Chinese UI (a zh-CN phone's date fields read 年/月/日)
  packages+=(chromium chromium-l10n libatomic1 python3-qgis)
  # Node.js for ESLint and `node --test tests/js/`: Debian's (Node 18 on Debian 12),
  # unless a node and an npm are already there
  if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    packages+=(nodejs npm)
  fi
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

# Front-end checks: ESLint exactly as package-lock.json pins it (ESLint 9 runs on
# Node >= 18.18), installed again only when the lock changes.
if $with_browser; then
  if ! node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 18 || (a === 18 && b >= 18) ? 0 : 1)'; then
    echo "setup: Node.js $(node --version) is too old for ESLint 9: 18.18 or newer is needed" >&2
    exit 1
  fi
  lock_sum="$(sha256sum package-lock.json | cut -d' ' -f1)"
  if [[ ! -x node_modules/.bin/eslint || "$(cat node_modules/.registry-lock.sha256 2>/dev/null)" != "$lock_sum" ]]; then
    echo "setup: installing the front-end checks (npm ci)"
    npm ci --no-audit --no-fund --loglevel=error
    echo "$lock_sum" > node_modules/.registry-lock.sha256
  fi
fi
