"""``mlgo-env ray collect`` on the test's local Ray."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from mlgo_env.corpus import Corpus

from .conftest import NO_RAY

pytest.importorskip("ray", reason=NO_RAY)

from mlgo_env.distributed.cli import app  # noqa: E402
from mlgo_env.distributed.dataset import read_episodes  # noqa: E402


def test_collect_a_split_into_a_dataset(ray_session: None, mini_corpus: Corpus, tmp_path: Path) -> None:
    out = tmp_path / "test.parquet"
    args = ["collect", "--corpus", str(mini_corpus.root), "--share-corpus", "--split", "test", "--repeat", "2",
            "--policy", "random", "--workers", "2", "--out", str(out), "--no-progress"]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "2 episodes of random" in result.output
    rows = read_episodes(out).to_pandas()
    assert sorted(rows["seed"]) == [0, 1] and set(rows["benchmark"]) == {"benchmark://mini-v0/huffman"}
