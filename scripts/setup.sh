#!/usr/bin/env bash
# Installs whatever is missing for mlgo-env, idempotently: Debian's LLVM 19 and 22 tools, one MLIR,
# valgrind and csmith, bear and dpkg-dev (corpus fetch), a virtual environment in .venv, and the project
# with its pinned dependencies.
# Usage: scripts/setup.sh [EXTRAS]   (default extras: agents,costmodel,distributed,dev)
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-agents,costmodel,distributed,dev}"

packages=(clang-19 llvm-19 lld-19 clang-22 llvm-22 lld-22 valgrind csmith libcsmith-dev bear dpkg-dev)
# Debian's MLIR packages of two versions exclude each other (installing one removes the other):
# keep the MLIR that is installed, and install MLIR 19 only when there is none.
mlir=$(dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' 'libmlir-[0-9]*' 2>/dev/null |
  sed -n 's/^ii *libmlir-\([0-9][0-9]*\)$/\1/p' | head -1 || true)
if [ -z "$mlir" ] || [ "$mlir" = 19 ]; then
  packages+=(mlir-19-tools libmlir-19-dev)
else
  echo "setup: keeping the installed MLIR $mlir (Debian would remove it to install MLIR 19)"
  packages+=("mlir-$mlir-tools")
fi
missing=()
for package in "${packages[@]}"; do
  dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done
if ((${#missing[@]})); then
  echo "setup: installing Debian packages: ${missing[*]}"
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${missing[@]}"
fi

python=${PYTHON:-python3.11}
command -v "$python" >/dev/null 2>&1 || python=python3
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv with $($python --version)"
  "$python" -m venv .venv
fi
# torch is pinned to the CPU build (plain `torch` pulls a multi-GB CUDA build); installing it
# first keeps pip from resolving another torch for the extras.
stamp=.venv/.mlgo-env-installed
want="$(cat pyproject.toml setup.py mlgo_env/_native/*.c | sha256sum | cut -c1-16) $extras"  # setup.py builds the native loop
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "setup: installing mlgo-env[$extras] into .venv"
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q "torch==2.13.0"
  .venv/bin/python -m pip install -q -e ".[$extras]"
  echo "$want" > "$stamp"
fi
