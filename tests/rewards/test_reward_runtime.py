"""The ``runtime`` reward and interleaved runtime measurement of real programs."""

from __future__ import annotations

from pathlib import Path

import pytest

import rewards
from mlgo_env.artifacts import Artifact, CompiledModule, ProgramInfo
from mlgo_env.errors import ValidationFailed
from mlgo_env.timing import StopRule, run_once, time_variants
from rewards.runtime import ProgramFailed

# Appends its name to log.txt in the working directory, then prints a fixed line.
LOGGER = """
#include <stdio.h>
int main(int argc, char **argv) {
  FILE *log = fopen("log.txt", "a");
  fprintf(log, "%s\\n", NAME);
  fclose(log);
  printf("sum %d\\n", argc + 41);
  return EXIT;
}
"""


def _program(compile_c, name: str, exit_code: int = 0) -> Path:
    return compile_c(
        LOGGER,
        name=name,
        link=True,
        address_map=False,
        flags=("-O1", f'-DNAME="{name}"', f"-DEXIT={exit_code}"),
    )


def test_runs_are_interleaved(compile_c, tmp_path: Path) -> None:
    binaries = {name: _program(compile_c, name) for name in ("a", "b", "c")}
    stop = StopRule(target_halfwidth=0.0, budget_s=60.0, min_rounds=2, max_rounds=2, warmup=1)
    timing = time_variants(binaries, cwd=tmp_path, expected_output="sum 42\n", stop=stop)
    log = (tmp_path / "log.txt").read_text().split()
    assert len(log) == 9 and all(sorted(log[i : i + 3]) == ["a", "b", "c"] for i in range(0, 9, 3))
    assert timing.rounds == 2
    assert all(timing.seconds(name) > 0 and timing.spread(name) >= 0 for name in binaries)


def _module(toolchain, tmp_path: Path, executable: Path, expected: str = "sum 42\n") -> CompiledModule:
    return CompiledModule(
        benchmark="t",
        object_path=tmp_path / "unused.o",
        toolchain=toolchain,
        workdir=tmp_path,
        executable_path=executable,
        program=ProgramInfo(name="logger", expected_output=expected, directory=tmp_path),
    )


def test_runtime_reward_times_each_variant_interleaved_with_its_baseline(compile_c, toolchain, tmp_path: Path) -> None:
    reward = rewards.get("runtime", repeats=3, warmup=0, halfwidth=0.5)
    assert reward.requires & Artifact.EXECUTABLE and not reward.deterministic and reward.platform_dependent
    baseline = _program(compile_c, "a")
    baseline_seconds = reward.cost(_module(toolchain, tmp_path, baseline))  # the first build: the baseline
    assert 0 < baseline_seconds < 5 and (tmp_path / "log.txt").read_text().split() == ["a"] * 3
    baseline.unlink()  # the scorer deletes the baseline's build: the reward keeps its own copy
    (tmp_path / "log.txt").unlink()
    variant = _module(toolchain, tmp_path, _program(compile_c, "b"))
    seconds = reward.cost(variant)
    rounds = (tmp_path / "log.txt").read_text().split()
    assert len(rounds) == 2 * variant.extra["runtime_rounds"]  # type: ignore[operator]
    assert all(sorted(rounds[i : i + 2]) == ["a", "b"] for i in range(0, len(rounds), 2))  # both in every round
    ratio = variant.extra["runtime_ratio"]
    assert isinstance(ratio, dict) and ratio["low"] <= ratio["estimate"] <= ratio["high"]
    assert reward.reward(seconds, baseline_seconds) == pytest.approx(1 - ratio["estimate"])
    assert variant.extra["runtime_resolvable"] == (ratio["low"] > 1 or ratio["high"] < 1)
    assert len(variant.extra["runtime_samples"]) == variant.extra["runtime_rounds"]  # type: ignore[arg-type]
    assert variant.extra["runtime_noise"] >= 0  # type: ignore[operator]


def test_wrong_output_crash_and_timeout_are_detected(compile_c, toolchain, tmp_path: Path) -> None:
    program = _program(compile_c, "a")
    with pytest.raises(ValidationFailed):
        rewards.get("runtime", repeats=2).cost(_module(toolchain, tmp_path, program, expected="sum 43\n"))
    with pytest.raises(ProgramFailed, match="exited with 3"):
        run_once(_program(compile_c, "crash", exit_code=3), cwd=tmp_path)
    sleeper = compile_c(
        "#include <unistd.h>\nint main(void) { sleep(5); return 0; }\n", name="sleeper", link=True, address_map=False
    )
    with pytest.raises(ProgramFailed, match="timeout"):
        run_once(sleeper, timeout=0.3)
    with pytest.raises(ValueError):
        rewards.get("runtime", clock="cycles")
    with pytest.raises(ValueError, match="min_rounds"):
        rewards.get("runtime", repeats=1)


def test_cpu_clock_ignores_waiting(compile_c, tmp_path: Path) -> None:
    sleeper = compile_c(
        "#include <unistd.h>\nint main(void) { usleep(300000); return 0; }\n", name="nap", link=True, address_map=False
    )
    wall, cpu = run_once(sleeper)
    assert wall >= 0.3 and cpu < 0.1  # asleep, the program uses no CPU
