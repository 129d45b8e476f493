"""Interleaved runtime measurement with bootstrap intervals, on real programs compiled by clang."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from mlgo_env.errors import ValidationFailed
from mlgo_env.timing import Command, ProgramFailed, StopRule, compare_groups, time_variants
from mlgo_env.toolchain import Toolchain

# A loop of ITERATIONS (times the argument, if any) dependent steps the optimiser cannot remove; prints a fixed line.
LOOP = """
#include <stdio.h>
#include <stdlib.h>
int main(int argc, char **argv) {
  volatile unsigned long sink = 0;
  unsigned long x = 1, n = ITERATIONS * (argc > 1 ? strtoul(argv[1], 0, 10) : 1);
  for (unsigned long i = 0; i < n; i++) { x = x * 6364136223846793005UL + 1442695040888963407UL; }
  sink = x;
  printf("done\\n");
  return (int)(sink & 0);
}
"""
ITERATIONS = 5_000_000  # tens of milliseconds: well above the cost of starting a process

Build = Callable[..., Path]


@pytest.fixture
def build(tmp_path: Path, toolchain: Toolchain) -> Build:
    """Compiles and links C source text with clang -O2 (extra -D flags as given)."""

    def build_(source: str, name: str, *defines: str) -> Path:
        path = tmp_path / f"{name}.c"
        path.write_text(source)
        output = tmp_path / name
        subprocess.run(
            [str(toolchain.clang), "-O2", *defines, str(path), "-o", str(output)], check=True, capture_output=True
        )
        return output

    return build_


@pytest.fixture
def loops(build: Build, tmp_path: Path) -> dict[str, Path]:
    """A loop of N iterations, a byte-identical copy of it, and a loop of 4N."""
    fast = build(LOOP, "fast", f"-DITERATIONS={ITERATIONS}UL")
    copy = tmp_path / "copy"
    shutil.copy2(fast, copy)
    return {"fast": fast, "copy": copy, "slow": build(LOOP, "slow", f"-DITERATIONS={4 * ITERATIONS}UL")}


def test_a_slower_program_is_resolved_and_an_identical_one_is_not(loops: dict[str, Path]) -> None:
    stop = StopRule(target_halfwidth=0.03, budget_s=12, min_rounds=8)
    variants: dict[str, Path | Command] = {**loops, "longer input": Command(loops["fast"], ("3",), "done\n")}
    timing = time_variants(variants, baseline="fast", expected_output="done\n", stop=stop, confidence=0.999)
    assert timing.rounds >= 8 and timing.samples.shape == (4, timing.rounds)
    slow = timing.ratio("slow")
    assert slow.low > 1.5 and slow.resolvable  # 4x the work: clearly slower, the interval excludes 1
    assert timing.ratio("longer input").low > 1.5  # the same binary, given 3x the work
    assert timing.resolvable("slow", "copy") and timing.ratio("fast", "slow").high < 1
    same = timing.ratio("copy")
    assert same.low <= 1 <= same.high and not timing.resolvable("copy", "fast")
    record = timing.record()
    assert record["variants"]["slow"]["ratio"]["low"] == slow.low
    assert len(record["variants"]["fast"]["cpu_s"]) == timing.rounds

    groups = compare_groups([timing], {"slow": ["slow"], "same": ["copy"], "absent": ["slow", "nothing"]})
    assert groups.change["slow"].low > 1.5 and not groups.change["same"].resolvable
    assert groups.resolvable("slow", "same") and not groups.resolvable("slow", "absent")
    with pytest.raises(ValueError, match="no variant"):
        compare_groups([timing], {"ghost": ["nothing"]})


def test_the_budget_is_respected(loops: dict[str, Path]) -> None:
    stop = StopRule(target_halfwidth=0.0, budget_s=1.0, min_rounds=2, warmup=0)  # never converges
    timing = time_variants({"fast": loops["fast"], "copy": loops["copy"]}, stop=stop, clock="wall")
    assert timing.stopped == "budget" and timing.rounds < stop.max_rounds
    mean_round = timing.elapsed_s / timing.rounds  # programs, process starts and intervals
    assert timing.elapsed_s <= stop.budget_s + 2 * mean_round  # no round starts that should end past it


def test_crashing_hanging_and_wrong_programs_give_clear_errors(build: Build, loops: dict[str, Path]) -> None:
    crash = build("#include <signal.h>\nint main(void) { raise(SIGSEGV); return 0; }\n", "crash")
    with pytest.raises(ProgramFailed, match="variant 'crash'.*signal SIGSEGV"):
        time_variants({"fast": loops["fast"], "crash": crash}, stop=StopRule(min_rounds=2, warmup=0))
    hang = build("#include <unistd.h>\nint main(void) { for (;;) pause(); }\n", "hang")
    with pytest.raises(ProgramFailed, match="variant 'hang'.*timeout"):
        time_variants({"hang": hang}, timeout=0.3)
    with pytest.raises(ValidationFailed, match="variant 'fast'.*differ"):
        time_variants({"fast": loops["fast"]}, expected_output="other\n")
    with pytest.raises(ValueError, match="baseline"):
        time_variants(loops, baseline="missing")
    with pytest.raises(ValueError, match="min_rounds"):
        StopRule(min_rounds=1)
