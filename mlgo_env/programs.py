"""Linking a compiled module into its program, running it, and checking its output (validation)."""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from mlgo_env.artifacts import ProgramInfo
from mlgo_env.errors import CompilerError, ValidationFailed
from mlgo_env.toolchain import Toolchain

__all__ = ["link_program", "run_program", "RunResult", "validate_output"]


def link_program(toolchain: Toolchain, objects: list[Path], program: ProgramInfo, output: Path) -> Path:
    """Link `objects` with the program's link arguments into `output` (with clang and lld)."""
    command = [str(toolchain.clang), *map(str, objects), *program.link_args, "-o", str(output)]
    if toolchain.has("ld.lld"):
        command.insert(1, "-fuse-ld=lld")
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        raise CompilerError(f"linking {program.name} failed", result.stderr)
    return output


@dataclass(frozen=True)
class RunResult:
    """What one run of a program printed and how long it took."""

    stdout: str
    returncode: int
    seconds: float


def run_program(executable: Path, program: ProgramInfo, timeout: float = 60.0) -> RunResult:
    """Run `executable` once with the program's arguments, in its directory."""
    start = time.perf_counter()
    try:
        result = subprocess.run(
            [str(executable), *program.run_args],
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=program.directory,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired as exc:
        raise ValidationFailed(f"{program.name} did not finish within {timeout:.0f} s") from exc
    return RunResult(result.stdout, result.returncode, time.perf_counter() - start)


def validate_output(run: RunResult, program: ProgramInfo) -> None:
    """Raise `ValidationFailed` unless the run exited 0 and printed the reference output."""
    if run.returncode != 0:
        raise ValidationFailed(f"{program.name} exited with status {run.returncode}")
    if program.expected_output is not None and run.stdout != program.expected_output:
        raise ValidationFailed(
            f"{program.name} printed a different output than its reference:\n"
            f"expected: {program.expected_output[:300]!r}\n     got: {run.stdout[:300]!r}"
        )
