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
    assert result["cpu"] in ("znver4", "znver1")  # this machine's sample if one ships, else Zen 4's ...
    assert result["model_cpu"] == result["cpu"]  # ... and the model of the same CPU
    speed = result["speed"]
    assert speed["ratio"] == pytest.approx(speed["learned_blocks_per_s"] / speed["mca_batched_blocks_per_s"])
    assert {"learned", "llvm-mca", "floor"} <= set(result["by_kind"]["register_only"])
    assert set(result["by_kind"]) == {"register_only", "memory"}  # blocks that touch memory apart (if any)
    assert "ffmpeg" in result["per_app"] and "learned" in result["per_app"]["ffmpeg"]


def test_data_of_held_out_applications_only_is_evaluated_without_the_baseline(tmp_path, caplog):
    # a re-measured held-out sample (this machine's figures for the shipped blocks) has no training rows
    from mlgo_env.blocks.evaluate import Evaluation

    rows = (ROOT / "benchmarks" / "data" / "blocks_heldout.csv").read_text().splitlines()[:21]
    sample = tmp_path / "remeasured.csv"
    sample.write_text("\n".join(rows) + "\n")
    evaluation = Evaluation.from_data([sample], ["embree"], ["ffmpeg", "eigen"])
    assert len(evaluation.rows) == 20 and evaluation.gbt is None
    assert "bag-of-mnemonics baseline is left out" in caplog.text
    with pytest.raises(ValueError, match="no rows of the test applications"):
        Evaluation.from_data([sample], ["embree"], ["lua"])
