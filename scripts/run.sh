#!/usr/bin/env bash
# The main job on the bundled corpus: set up what is missing, train a short inlining-for-size
# policy on the train programs at -Oz (behavioural cloning of LLVM's size rule
# `cost_estimate < threshold` as a warm start, then evolution strategies over whole compiles in
# the service's rollout mode), and compare it with LLVM's own inliner and a random policy on the
# held-out test programs (.text bytes, geometric mean; table, JSON and bar chart in runs/main/).
# Extra arguments go to the ES trainer (python -m agents.es --help).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
mkdir -p runs/main
.venv/bin/python -m agents.behavioral_cloning --teacher margin --hidden --output runs/main/warm_start.pt
.venv/bin/python -m agents.es --init runs/main/warm_start.pt --generations 8 --population 4 \
  --benchmarks-per-generation 6 --eval-every 4 --output runs/main/inlining_size.onnx "$@"
.venv/bin/python -m agents.evaluate --inlining-policy runs/main/inlining_size.onnx --skip-eviction \
  --json runs/main/evaluation.json --plot runs/main/evaluation.png
