#!/usr/bin/env bash
# The two commands of this project:
#   ./dev.sh up    install what is missing, start the embedded database, migrate,
#                  load the Jiaozuo demo data and serve http://127.0.0.1:8000
#   ./dev.sh test  install what is missing (incl. Chromium for browser tests and Node.js
#                  for the front end's checks), lint (Python and JavaScript), run the
#                  JavaScript unit tests, then the full test suite against a real
#                  PostGIS the tests start
# Both work on a fresh Debian 12 machine as root with nothing installed by hand.
set -euo pipefail
cd "$(dirname "$0")"

cmd="${1:-}"
case "$cmd" in
  up)
    scripts/setup.sh
    shift
    exec .venv/bin/registry up "$@"
    ;;
  test)
    scripts/setup.sh --with-browser
    shift
    .venv/bin/ruff check .
    .venv/bin/ruff format --check .
    .venv/bin/lint-imports
    node_modules/.bin/eslint
    # the files, not the folder: from Node 21 on a folder argument no longer works
    node --test tests/js/*.test.js
    exec .venv/bin/pytest "$@"
    ;;
  *)
    echo "usage: ./dev.sh up | test [pytest args]" >&2
    exit 64
    ;;
esac
