"""The fast model's features: the C featuriser (mlgo_env._native._blocks) against the Python reference."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mlgo_env import x86
from mlgo_env.blocks import features
from mlgo_env.blocks.dataset import read_measured
from mlgo_env.blocks.features import Featuriser, clear_caches, instruction_info
from mlgo_env.blocks.predict import shipped_cpus, shipped_model

needs_native = pytest.mark.skipif(
    not features.NATIVE, reason="mlgo_env._native._blocks is not built (pip install -e . with a C compiler)"
)
HELDOUT = sorted((Path(__file__).parents[2] / "benchmarks" / "data").glob("blocks_heldout*.csv"))

# Instructions whose text exercises each rule (assembled by llvm-mc-19; the text is capstone's).
EDGE_CASES = {
    "d9c1": "fld st(1)",
    "d8c2": "fadd st(2)",
    "62f174c958c2": "vaddps zmm0 {k1} {z}, zmm1, zmm2",
    "62f174585800": "vaddps zmm0, zmm1, dword ptr [rax]{1to16}",
    "64488b042528000000": "mov rax, qword ptr fs:[0x28]",
    "f3a4": "rep movsb byte ptr [rdi], byte ptr [rsi]",
    "f00107": "lock add dword ptr [rdi], eax",
    "48f7e1": "mul rcx",
    "486bc30c": "imul rax, rbx, 0xc",
    "53": "push rbx",
    "5d": "pop rbp",
    "31c0": "xor eax, eax",
    "c5f9efc0": "vpxor xmm0, xmm0, xmm0",
    "c4e2f5b8c2": "vfmadd231pd ymm0, ymm1, ymm2",
    "488d448b10": "lea rax, [rbx + rcx*4 + 0x10]",
    "480f45c3": "cmovne rax, rbx",
    "0f94c0": "sete al",
    "4811d8": "adc rax, rbx",
    "88dc": "mov ah, bl",
    "0fb6c0": "movzx eax, al",
    "48d3e0": "shl rax, cl",
    "c5f892c8": "kmovw k1, eax",
    "62f27d4858ca": "vpbroadcastd zmm1, xmm2",
    "4899": "cqo",
    "49f7f1": "div r9",
    "c3": "ret",
    "ff5008": "call qword ptr [rax + 8]",
    "4589c8": "mov r8d, r9d",
    "664189c2": "mov r10w, ax",
    "4188f3": "mov r11b, sil",
    "4883ec18": "sub rsp, 0x18",
    "660fefdb": "pxor xmm3, xmm3",
    "c5dc57e4": "vxorps ymm4, ymm4, ymm4",
    "480fa3d0": "bt rax, rdx",
    "f6050001000001": "test byte ptr [rip + 0x100], 1",
}
FIELDS = ("tokens", "token_block", "chain_tokens", "chain_block", "dense", "length")


def _features(blocks: list[bytes], token_ids: dict[str, int], native: bool) -> features.BlockFeatures:
    clear_caches()
    return Featuriser(token_ids, native=native)(blocks)


def _assert_same(blocks: list[bytes], token_ids: dict[str, int]) -> None:
    native, reference = _features(blocks, token_ids, True), _features(blocks, token_ids, False)
    for name in FIELDS:
        np.testing.assert_array_equal(getattr(native, name), getattr(reference, name), err_msg=name)


@needs_native
@pytest.mark.parametrize("cpu", shipped_cpus())
def test_native_features_equal_the_reference_on_every_shipped_block(cpu: str) -> None:
    blocks = [bytes.fromhex(r.hex) for r in read_measured(HELDOUT)]
    assert len(blocks) > 2000
    _assert_same(blocks, shipped_model(cpu).weights.token_ids())


@needs_native
def test_native_features_equal_the_reference_on_each_rule() -> None:
    blocks = [bytes.fromhex(h) for h in EDGE_CASES]
    texts = [(m.decode(), o.decode()) for m, o in x86.lite_strings(x86.decode_lite_batch(blocks).text)]
    assert [f"{m} {o}".strip() for m, o in texts] == list(EDGE_CASES.values())  # the cases are what they say
    alone = [instruction_info(m, o) for m, o in texts]
    names = sorted({t for info in alone for t in (info.mnemonic, info.form)})
    token_ids = {name: k + 2 for k, name in enumerate(names)}
    _assert_same(blocks, token_ids)
    _assert_same([b"".join(blocks)], token_ids)  # one block: chains through all of them
    native = _features(blocks, token_ids, True)
    assert (native.tokens > 1).all()  # every mnemonic and form was named as the reference names it


@needs_native
def test_native_decoding_clears_capstone_leftovers_as_numpy_does() -> None:
    text = x86.decode_lite_batch([bytes.fromhex(h) for h in EDGE_CASES]).text
    chars = np.ascontiguousarray(text).view(np.uint8).reshape(len(text), -1)
    after_nul = np.zeros(chars.shape, dtype=bool)  # capstone's leftovers: anything after each field's NUL
    for field in (slice(0, x86.MNEMONIC_SIZE), slice(x86.MNEMONIC_SIZE, None)):
        seen = np.logical_or.accumulate(chars[:, field] == 0, axis=1)
        after_nul[:, field] = seen & np.roll(seen, 1, axis=1)
    after_nul[:, [0, x86.MNEMONIC_SIZE]] = False
    garbage = np.random.default_rng(0).integers(0, 256, chars.shape)
    raw = np.where(after_nul, garbage, chars).astype(np.uint8).view(text.dtype).reshape(-1)
    assert x86._clear_after_nul(raw, native=False).tobytes() == text.tobytes()
    np.testing.assert_array_equal(
        x86._clear_after_nul(raw, native=True).view(np.uint8), x86._clear_after_nul(raw, native=False).view(np.uint8)
    )


@pytest.mark.parametrize(
    "native", [pytest.param(True, marks=needs_native, id="native"), pytest.param(False, id="python")]
)
def test_instructions_differing_only_in_numbers_share_one_shape(native: bool) -> None:
    def shapes(*hexes: str) -> np.ndarray:
        return Featuriser({}, native=native)._hashes(x86.decode_lite_batch([bytes.fromhex(h) for h in hexes]).text)

    # mov qword ptr [rdi + 8], rax / [rdi + 0x128], rax: numbers of different lengths, one shape
    same = shapes("48894708", "48898728010000")
    # add r8, 1 / add r9, 1: registers that end in digits are not numbers
    apart = shapes("4983c001", "4983c101")
    # xor eax, eax is not xor eax, ecx
    zero = shapes("31c0", "31c8")
    assert same[0] == same[1] and apart[0] != apart[1] and zero[0] != zero[1]


@needs_native
def test_native_shapes_do_not_depend_on_the_batch() -> None:
    push = "6a08"  # push 8: alone, and beside a longer mnemonic
    alone = Featuriser({})._hashes(x86.decode_lite_batch([bytes.fromhex(push)]).text)
    beside = Featuriser({})._hashes(x86.decode_lite_batch([bytes.fromhex(h) for h in (push, "62f27d4858ca")]).text)
    assert alone[0] == beside[0]


@needs_native
def test_native_featuriser_refuses_malformed_buffers() -> None:
    from mlgo_env._native import _blocks  # type: ignore[attr-defined]

    text = x86.decode_lite_batch([bytes.fromhex("4801d8")]).text
    with pytest.raises(ValueError, match="out has"):
        _blocks.parse_rows(text, np.empty((2, 6), np.uint64), text.itemsize, x86.MNEMONIC_SIZE, {}, 1)
    with pytest.raises(ValueError, match="whole records"):
        _blocks.shape_hash(text.tobytes()[:-1], np.empty(1, np.uint64), text.itemsize, x86.MNEMONIC_SIZE)
    reads = np.zeros(2, np.uint64)
    with pytest.raises(ValueError, match="ascending"):
        _blocks.chains(np.array([1, 0]), reads, reads, np.empty((2, 2), np.float32), np.empty((2, 2), np.float32))


def test_asking_for_a_native_featuriser_that_was_not_built_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(features, "NATIVE", False)
    with pytest.raises(RuntimeError, match="pip install -e"):
        Featuriser({}, native=True)
    assert not Featuriser({}).native
