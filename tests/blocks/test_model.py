from __future__ import annotations

import numpy as np
import pytest
import torch

from mlgo_env.blocks.checkpoint import load_checkpoint, save_checkpoint
from mlgo_env.blocks.dataset import MeasuredBlock, split_by_application
from mlgo_env.blocks.model import BlockCostModel, ModelConfig, collate
from mlgo_env.blocks.predict import SHIPPED_CHECKPOINT, CostModel
from mlgo_env.blocks.tokenize import Vocabulary
from mlgo_env.x86 import decode

BLOCKS = ["4801d8", "480fafc3", "4801d84801d94801da4801de", "c5fc58c1", "488b00"]


def test_forward_and_checkpoint_roundtrip(tmp_path):
    torch.manual_seed(0)
    insns = [decode(bytes.fromhex(h)) for h in BLOCKS]
    vocab = Vocabulary.build(insns, min_count=1)
    model = BlockCostModel(ModelConfig(vocab.n_opcodes, vocab.n_tokens, dim=32, layers=1, heads=2)).eval()
    batch = collate([vocab.encode_instructions(b) for b in insns], [100, 300, 100, 300, 400])
    out = model(batch)
    assert out.shape == (5,) and torch.isfinite(out).all()
    save_checkpoint(tmp_path / "m.pt", model, vocab, {"note": "test"})
    loaded, vocab2, meta = load_checkpoint(tmp_path / "m.pt")
    assert meta == {"note": "test"} and vocab2.opcodes == vocab.opcodes
    torch.testing.assert_close(loaded(batch), out)


def test_padding_does_not_change_predictions():
    insns = [decode(bytes.fromhex(h)) for h in BLOCKS]
    vocab = Vocabulary.build(insns, min_count=1)
    torch.manual_seed(0)
    model = BlockCostModel(ModelConfig(vocab.n_opcodes, vocab.n_tokens, dim=32, layers=2, heads=2)).eval()
    alone = model(collate([vocab.encode_instructions(insns[0])]))
    padded = model(collate([vocab.encode_instructions(b) for b in insns]))[0]
    torch.testing.assert_close(alone[0], padded)


def test_split_by_application_never_tests_a_trained_block():
    rows = [
        MeasuredBlock("aa", 100, frozenset({"tensorflow"})),
        MeasuredBlock("bb", 100, frozenset({"ffmpeg", "openblas-dgemm.goto"})),
        MeasuredBlock("cc", 100, frozenset({"ffmpeg"})),
        MeasuredBlock("dd", 100, frozenset({"embree"})),
    ]
    train, valid, test = split_by_application(rows, ["embree"], ["ffmpeg"])
    assert [r.hex for r in train] == ["aa", "bb"]
    assert [r.hex for r in valid] == ["dd"] and [r.hex for r in test] == ["cc"]


@pytest.mark.skipif(not SHIPPED_CHECKPOINT.exists(), reason="no shipped checkpoint")
def test_shipped_model_records_the_cpu_it_was_trained_on():
    model = CostModel()
    assert model.cpu == "znver4"  # its training data was measured on AMD Zen 4
    weights = torch.load(SHIPPED_CHECKPOINT, weights_only=True)["state_dict"].values()
    assert all(v.dtype == torch.float16 for v in weights if v.is_floating_point())  # still small


@pytest.mark.skipif(not SHIPPED_CHECKPOINT.exists(), reason="no shipped checkpoint")
def test_shipped_model_predicts_known_blocks_plausibly():
    model = CostModel()
    cycles = model.cycles(BLOCKS + [bytes.fromhex("4801d8")])
    assert cycles.shape == (6,) and np.all(cycles > 0)
    assert cycles[0] == pytest.approx(cycles[-1])  # bytes or hex, same block
    assert cycles[1] > cycles[0]  # imul chain slower than add chain
    assert 0.5 < cycles[0] < 2.0
