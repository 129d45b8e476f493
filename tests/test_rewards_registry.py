"""The reward registry, composition, and the size reward against llvm-size's figures."""

from __future__ import annotations

import math
import subprocess
from pathlib import Path

import pytest

import rewards
from mlgo_env.artifacts import CompiledModule
from rewards.base import relative_improvement
from rewards.size import allocated_size, text_size


def _object(tmp_path: Path, toolchain) -> Path:
    source = tmp_path / "s.c"
    source.write_text("int table[64] = {1};\nint f(int x) { return table[x & 63] * x; }\n")
    obj = tmp_path / "s.o"
    subprocess.run([str(toolchain.clang), "-O2", "-ffunction-sections", "-c", str(source), "-o", str(obj)], check=True)
    return obj


def test_registry() -> None:
    assert "size" in rewards.available()
    assert isinstance(rewards.get("size"), rewards.Reward)
    with pytest.raises(KeyError, match="Did you mean: size"):
        rewards.get("sise")
    with pytest.raises(TypeError):
        rewards.resolve(3)  # type: ignore[arg-type]


def test_size_matches_llvm_size(tmp_path: Path, toolchain) -> None:
    obj = _object(tmp_path, toolchain)
    sysv = subprocess.run(
        [str(toolchain.tool("llvm-size")), "-A", str(obj)], capture_output=True, text=True, check=True
    ).stdout
    sections = {line.split()[0]: int(line.split()[1]) for line in sysv.splitlines() if line.startswith(".")}
    assert text_size(obj) == sum(v for k, v in sections.items() if k.startswith(".text"))
    assert allocated_size(obj) > text_size(obj)  # .data holds the table
    module = CompiledModule(benchmark="t", object_path=obj, toolchain=toolchain, workdir=tmp_path)
    assert rewards.get("size").cost(module) == text_size(obj)
    assert rewards.get("size", all_sections=True).cost(module) == allocated_size(obj)


def test_weighted_sum_in_log_space(tmp_path: Path, toolchain) -> None:
    obj = _object(tmp_path, toolchain)
    module = CompiledModule(benchmark="t", object_path=obj, toolchain=toolchain, workdir=tmp_path)
    combined = rewards.resolve({"size": 0.5})
    assert combined.cost(module) == pytest.approx(math.sqrt(text_size(obj)))
    assert relative_improvement(90, 100) == pytest.approx(0.1)
    assert relative_improvement(0, 0) == 0.0
