from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_quick_benchmark_writes_the_agreed_json(tmp_path):
    out = tmp_path / "accuracy.json"
    subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "costmodel_accuracy.py"), "--quick", "--json", str(out)],
        check=True,
        timeout=300,
    )
    result = json.loads(out.read_text())
    for model in ("learned", "llvm-mca", "osaca"):
        assert {"mape", "kendall_tau", "blocks_per_s"} <= set(result[model])
    assert result["floor"]["mape"] > 0 and result["rows"] > 0
    assert result["cpu"] == "znver4"  # the shipped sample was measured on Zen 4 ...
    assert result["model_cpu"] == "znver4"  # ... and so was the shipped model's training data
