"""Small real cost-model checkpoints and measured CSVs for the tests of tests/blocks."""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch

from mlgo_env.blocks.checkpoint import save_checkpoint
from mlgo_env.blocks.model import BlockCostModel, ModelConfig
from mlgo_env.blocks.tokenize import Vocabulary
from mlgo_env.x86 import decode

# Register-only blocks: add/imul/xor/mov chains of a few lengths, all decodable and timable.
BLOCKS = [
    "4801d8", "480fafc3", "4831c0", "4889d8", "4801c8", "480fafc1", "4831c9", "4889c8",
    "4801d84801d9", "480fafc3480fafc1", "4831c04831c9", "4889d84889c8",
]  # fmt: skip
MEASURED_HEADER = ["hex", "throughput", "source", "freq", "backend", "cpu", "noise", "est_a", "est_b"]


@pytest.fixture
def make_checkpoint(tmp_path: Path) -> Callable[[dict[str, Any]], Path]:
    """Writes a tiny real model (dim 16, one layer) with the given metadata; returns its path."""

    def make(meta: dict[str, Any]) -> Path:
        torch.manual_seed(0)
        insns = [decode(bytes.fromhex(h)) for h in BLOCKS]
        vocab = Vocabulary.build(insns, min_count=1)
        model = BlockCostModel(ModelConfig(vocab.n_opcodes, vocab.n_tokens, dim=16, layers=1, heads=2))
        path = tmp_path / f"model-{len(list(tmp_path.glob('model-*.pt')))}.pt"
        save_checkpoint(path, model, vocab, meta)
        return path

    return make


@pytest.fixture
def make_measured(tmp_path: Path) -> Callable[[dict[str, str]], Path]:
    """Writes a measured CSV in `measure`'s layout; ``{app: cpu}`` gives every block to each app with that CPU.

    ``embree`` validates and ``ffmpeg`` tests under the training defaults; other apps train.
    """

    def make(cpu_of_app: dict[str, str]) -> Path:
        path = tmp_path / f"measured-{len(list(tmp_path.glob('measured-*.csv')))}.csv"
        with path.open("w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(MEASURED_HEADER)
            for app, cpu in cpu_of_app.items():
                for k, hex_code in enumerate(BLOCKS):
                    cycles = 100.0 * (1 + k % 4)
                    writer.writerow([hex_code, cycles, app, 1, "tsc-harness", cpu, 0.01, cycles, cycles * 1.01])
        return path

    return make
