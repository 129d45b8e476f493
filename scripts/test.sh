#!/usr/bin/env bash
# Sets up what is missing (scripts/setup.sh), then runs the default test suite.
# Extra arguments go to pytest (e.g. -m slow for the long checks).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/python -m pytest -q "$@"
