"""Machine blocks and frequencies read from LLVM 19's basic-block address map."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile

from mlgo_env.bbaddrmap import MachineBlock, MissingAddressMap, MissingBlockFrequencies, read_blocks

LOOPS = """
int dot(const int *a, const int *b, int n) {
  int s = 0;
  for (int i = 0; i < n; i++)
    s += a[i] * b[i] + (a[i] > b[i] ? 3 : 1);
  return s;
}
int clamp(int x) { return x < 0 ? 0 : x > 255 ? 255 : x; }
"""


def _by_function(blocks: list[MachineBlock]) -> dict[str, list[MachineBlock]]:
    functions: dict[str, list[MachineBlock]] = {}
    for block in blocks:
        functions.setdefault(block.function, []).append(block)
    return functions


def test_loop_blocks_are_hotter_than_the_entry(compile_c) -> None:
    functions = _by_function(read_blocks(compile_c(LOOPS)))
    assert set(functions) == {"dot", "clamp"}
    dot = functions["dot"]
    assert dot[0].block_id == 0 and dot[0].frequency == 1.0 and dot[0].offset == 0
    assert max(block.frequency for block in dot) > 10  # the loop body
    assert all(block.frequency <= 1.0 for block in functions["clamp"])  # no loop
    assert any(block.code.endswith(b"\xc3") for block in dot)  # a block ends with ret


def test_blocks_tile_their_section(compile_c) -> None:
    obj = compile_c(LOOPS, flags=("-O2", "-ffunction-sections"))
    blocks = read_blocks(obj)
    with open(obj, "rb") as handle:
        elf = ELFFile(handle)
        for block in blocks:
            section = elf.get_section(block.section_index)
            assert section.name == f".text.{block.function}"
            assert section.data()[block.offset : block.offset + block.size] == block.code
            assert len(block.code) == block.size


def test_function_sections_change_offsets_only(compile_c) -> None:
    plain = read_blocks(compile_c(LOOPS, name="plain"))
    split = read_blocks(compile_c(LOOPS, name="split", flags=("-O2", "-ffunction-sections")))
    assert [(b.function, b.block_id, b.code, b.frequency) for b in plain] == [
        (b.function, b.block_id, b.code, b.frequency) for b in split
    ]
    assert len({b.section_index for b in split}) == 2  # one section per function
    assert len({b.section_index for b in plain}) == 1
    assert [b.offset for b in split if b.function == "clamp"][0] == 0
    assert [b.offset for b in plain if b.function == "clamp"][0] > 0


def test_llc_and_linked_program(compile_c, tmp_path: Path, toolchain) -> None:
    source = tmp_path / "m.c"
    source.write_text(LOOPS + "int main(void) { int a[4] = {1, 2, 3, 4}; return dot(a, a, 4) + clamp(7); }\n")
    bitcode = tmp_path / "m.bc"
    subprocess.run([str(toolchain.clang), "-O2", "-c", "-emit-llvm", str(source), "-o", str(bitcode)], check=True)
    obj = tmp_path / "m.o"
    subprocess.run(
        [
            str(toolchain.llc),
            "-O2",
            "-filetype=obj",
            "--basic-block-address-map",
            "-pgo-analysis-map=func-entry-count,bb-freq,br-prob",
            str(bitcode),
            "-o",
            str(obj),
        ],
        check=True,
    )
    from_llc = read_blocks(obj)
    assert {b.function for b in from_llc} == {"dot", "clamp", "main"}
    program = tmp_path / "m"
    subprocess.run([str(toolchain.clang), str(obj), "-o", str(program)], check=True)
    linked = read_blocks(program)
    assert [(b.function, b.code) for b in linked] == [(b.function, b.code) for b in from_llc]


def test_missing_map_and_frequencies_are_explained(compile_c) -> None:
    with pytest.raises(MissingAddressMap, match="-fbasic-block-address-map"):
        read_blocks(compile_c(LOOPS, name="plain", address_map=False))
    no_freq = compile_c(
        LOOPS,
        name="nofreq",
        address_map=False,
        flags=("-O2", "-fbasic-block-address-map", "-mllvm", "-pgo-analysis-map=func-entry-count"),
    )
    with pytest.raises(MissingBlockFrequencies, match="bb-freq"):
        read_blocks(no_freq)
