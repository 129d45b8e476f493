"""The fast cost model: vectorised features, NumPy inference equal to training's, memo, one model per CPU."""

from __future__ import annotations

import numpy as np
import pytest

from mlgo_env import x86
from mlgo_env.blocks.fastmodel import FastConfig, FastWeights, train_fast
from mlgo_env.blocks.features import Featuriser, instruction_info
from mlgo_env.blocks.metrics import accuracy
from mlgo_env.blocks.predict import (
    MODELS_DIR,
    FastCostModel,
    NoModelForCpu,
    fast_model_path,
    shipped_cpus,
    shipped_model,
)

from .conftest import BLOCKS

ADD, IMUL = "4801d8", "480fafc3"
CHAIN = "4801c14801ca4801d64801f0"  # add rcx, rax; add rdx, rcx; add rsi, rdx; add rax, rsi: carried chain of 4


def test_lite_batch_decoding_matches_capstone_detail():
    blocks = [bytes.fromhex(h) for h in [*BLOCKS, "ffff", "", "48", "c5fc58c1", "488b00"]]
    lite = x86.decode_lite_batch(blocks)
    assert lite.ok.tolist() == [x86.decode(b) is not None and len(b) > 0 for b in blocks]
    texts = [(m.decode(), o.decode()) for m, o in x86.lite_strings(lite.text)]
    expected = [(i.mnemonic, i.op_str) for k, b in enumerate(blocks) if lite.ok[k] for i in x86.decode(b) or []]
    assert texts == expected
    assert lite.block.tolist() == [k for k, b in enumerate(blocks) if lite.ok[k] for _ in x86.decode(b) or []]


def test_register_effects_follow_the_text():
    add = instruction_info("add", "rax, rbx")
    store = instruction_info("mov", "qword ptr [rdi + 8], rax")
    zero = instruction_info("xor", "eax, eax")
    fma = instruction_info("vfmadd231ps", "ymm0, ymm1, ymm2")
    assert add.form == "add r64,r64" and store.form == "mov m64,r64" and fma.form == "vfmadd231ps v256,v256,v256"
    assert store.stores and not store.loads and store.writes == 0
    assert zero.reads == 0 and zero.writes != 0  # a zero idiom reads nothing
    assert fma.reads & fma.writes  # FMA accumulates into its destination


def test_chains_and_critical_forms():
    features = Featuriser({})([bytes.fromhex(h) for h in (ADD, CHAIN, "4831c0")])
    one_iteration, growth = np.expm1(features.dense[:, 3]), np.expm1(features.dense[:, 4])
    assert one_iteration.round().tolist() == [1, 4, 1]
    assert growth.round().tolist() == [1, 4, 0]  # xor eax, eax breaks its own chain
    assert np.bincount(features.chain_block, minlength=3).tolist() == [1, 4, 0]


def _data(rng: np.random.Generator, n: int) -> tuple[list[bytes], np.ndarray]:
    """Random chains of adds and imuls with their cycles (1 per add, 3 per imul, a dependent chain)."""
    blocks, cycles = [], []
    for _ in range(n):
        kinds = rng.integers(0, 2, size=rng.integers(1, 6))
        blocks.append(b"".join(bytes.fromhex(IMUL if k else ADD) for k in kinds))
        cycles.append(100.0 * sum(3 if k else 1 for k in kinds))
    return blocks, np.array(cycles)


@pytest.fixture(scope="module")
def trained() -> tuple[FastWeights, tuple[list[bytes], np.ndarray]]:
    rng = np.random.default_rng(0)
    valid = _data(rng, 64)
    cfg = FastConfig(dim=8, chain_dim=4, hidden=16, epochs=40, lr=1e-2, patience=40, min_count=1)
    return train_fast(_data(rng, 256), valid, cfg, {"cpu": {"mcpu": "znver3"}}), valid


def test_numpy_inference_is_the_trained_network(trained):
    weights, (blocks, cycles) = trained
    predicted = np.exp(weights.predict_log(Featuriser(weights.token_ids())(blocks)))
    assert accuracy(predicted, cycles).mape == pytest.approx(weights.meta["valid_mape"], abs=1e-4)
    assert weights.meta["valid_mape"] < 0.2  # learned that imul chains cost more than add chains


def test_save_load_and_memo(trained, tmp_path):
    weights, (blocks, _) = trained
    path = tmp_path / "fast-znver3.npz"
    weights.save(path)
    model = FastCostModel(path)
    assert model.cpu == "znver3"
    first = model.cycles(blocks[:10])
    np.testing.assert_allclose(
        first, np.exp(weights.predict_log(Featuriser(weights.token_ids())(blocks[:10]))) / 100, rtol=0.01
    )  # fmt: skip  (float16 storage)
    seen = []
    featurise = model._featurise
    model._featurise = lambda new: seen.append(list(new)) or featurise(new)  # type: ignore[method-assign]
    again = model.cycles([*blocks[:10], bytes.fromhex(CHAIN), blocks[0].hex()])
    assert seen == [[bytes.fromhex(CHAIN)]]  # only the block never seen before is computed
    np.testing.assert_array_equal(again[:10], first)
    assert again[-1] == first[0]  # hex or bytes, the same block


def test_not_a_model_is_refused(tmp_path):
    path = tmp_path / "x.npz"
    np.savez(path, a=np.zeros(1))
    with pytest.raises(ValueError, match="blocks train --fast"):
        FastWeights.load(path)


@pytest.mark.parametrize("cpu", ["znver4", "znver1"])
def test_a_model_ships_for_each_measured_cpu(cpu):
    assert cpu in shipped_cpus()
    model = shipped_model(cpu)
    assert model.cpu == cpu and fast_model_path(cpu).stat().st_size < 10e6
    add, imul, chain = model.cycles([ADD, IMUL, CHAIN])
    assert 0.5 < add < 2.0 and imul > add and chain > add  # orderings only: real code has few pure chains


def test_a_cpu_without_a_model_is_refused_with_how_to_make_one():
    assert not fast_model_path("skylake").exists()
    with pytest.raises(NoModelForCpu) as refused:
        shipped_model("skylake")
    text = str(refused.value)
    assert "skylake" in text and "blocks measure" in text and "blocks train" in text and "--fast" in text
    assert "minutes" in text and str(MODELS_DIR) in text


def test_zero_idiom_needs_two_registers():
    assert instruction_info("xor", "qword ptr [rax], rax").reads != 0  # a read-modify-write of memory
    assert instruction_info("xor", "eax, eax").reads == 0


def test_texts_parsed_together_have_the_effects_of_each_parsed_alone():
    from mlgo_env.blocks.features import Featuriser, clear_caches

    blocks = [bytes.fromhex(h) for h in [*BLOCKS, ADD, IMUL, CHAIN, "4831c0", "c5fc58c1", "488b00", "52", "48f7e1"]]
    texts = [(i.mnemonic, i.op_str) for b in blocks for i in x86.decode(b) or []]
    clear_caches()
    alone = [instruction_info(m, o) for m, o in texts]  # one text per parse: operand counts 0..3 apart
    names = sorted({t for i in alone for t in (i.mnemonic, i.form)})
    clear_caches()
    together = Featuriser({name: k + 2 for k, name in enumerate(names)})(blocks)
    expected = [k + 2 for i in alone for k in (names.index(i.mnemonic), names.index(i.form))]
    assert together.tokens.tolist() == expected
    assert {i.form for i in alone} >= {"push r64", "mul r64", "vaddps v256,v256,v256", "mov r64,m64"}
