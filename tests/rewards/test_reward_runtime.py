"""The ``runtime`` reward and interleaved runtime measurement of real programs."""

from __future__ import annotations

from pathlib import Path

import pytest

import rewards
from mlgo_env.artifacts import Artifact, CompiledModule, ProgramInfo
from mlgo_env.errors import ValidationFailed
from rewards.runtime import ProgramFailed, measure_runtimes

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
    binaries = [_program(compile_c, name) for name in ("a", "b", "c")]
    stats = measure_runtimes(binaries, repeats=2, cwd=tmp_path, warmup=1, expected_output="sum 42\n")
    assert (tmp_path / "log.txt").read_text().split() == ["a", "b", "c"] * 3
    assert [len(s.samples) for s in stats] == [2, 2, 2]
    assert all(0 < s.min <= s.median and s.spread >= 0 for s in stats)


def test_runtime_reward_reports_noise(compile_c, toolchain, tmp_path: Path) -> None:
    reward = rewards.get("runtime", repeats=3, statistic="median")
    assert reward.requires & Artifact.EXECUTABLE and not reward.deterministic and reward.platform_dependent
    module = CompiledModule(
        benchmark="t",
        object_path=tmp_path / "unused.o",
        toolchain=toolchain,
        workdir=tmp_path,
        executable_path=_program(compile_c, "a"),
        program=ProgramInfo(name="logger", expected_output="sum 42\n", directory=tmp_path),
    )
    seconds = reward.cost(module)
    assert 0 < seconds < 5
    assert len(module.extra["runtime_samples"]) == 3  # type: ignore[arg-type]
    assert module.extra["runtime_noise"] >= 0  # type: ignore[operator]


def test_wrong_output_crash_and_timeout_are_detected(compile_c, toolchain, tmp_path: Path) -> None:
    program = _program(compile_c, "a")
    module = CompiledModule(
        benchmark="t",
        object_path=tmp_path / "unused.o",
        toolchain=toolchain,
        workdir=tmp_path,
        executable_path=program,
        program=ProgramInfo(name="logger", expected_output="sum 43\n"),
    )
    with pytest.raises(ValidationFailed):
        rewards.get("runtime", repeats=1).cost(module)
    with pytest.raises(ProgramFailed, match="exited with 3"):
        measure_runtimes([_program(compile_c, "crash", exit_code=3)], repeats=1, cwd=tmp_path)
    sleeper = compile_c(
        "#include <unistd.h>\nint main(void) { sleep(5); return 0; }\n", name="sleeper", link=True, address_map=False
    )
    with pytest.raises(ProgramFailed, match="timeout"):
        measure_runtimes([sleeper], repeats=1, warmup=0, timeout=0.3)
    with pytest.raises(ValueError):
        rewards.get("runtime", statistic="mean")


def test_cpu_clock_ignores_waiting(compile_c, tmp_path: Path) -> None:
    sleeper = compile_c(
        "#include <unistd.h>\nint main(void) { usleep(300000); return 0; }\n", name="nap", link=True, address_map=False
    )
    (wall,) = measure_runtimes([sleeper], repeats=1, warmup=0)
    (cpu,) = measure_runtimes([sleeper], repeats=1, warmup=0, clock="cpu")
    assert wall.min >= 0.3 and cpu.min < 0.1  # asleep, the program uses no CPU
