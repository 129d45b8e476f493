#!/usr/bin/env bash
# Sets up what is missing (scripts/setup.sh), then runs the default test suite on LLVM 19 and the
# environment tests again on LLVM 22 (what CI runs: .ci/run). Arguments, if any, go to one pytest
# run instead (e.g. -m slow for the long checks).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
if (($#)); then
  exec .venv/bin/python -m pytest -q "$@"
fi
.venv/bin/python -m pytest -q
echo "test: the environment tests on LLVM 22"
exec env MLGO_LLVM_VERSION=22 .venv/bin/python -m pytest -q \
  tests/test_envs.py tests/test_compilation.py tests/test_protocol.py tests/test_service.py
