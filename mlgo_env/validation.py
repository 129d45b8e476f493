"""Semantics checks: a compiled program must still print its reference output.

CompilerGym calls this validation. `validate_corpus` checks every runnable benchmark under LLVM's heuristics;
the service's ``Validate`` RPC checks the program an episode just compiled. A compiler crash is a finding
(an LLVM bug), so `failure_kind` tells it apart from a plain compile error, a timeout and a wrong output.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from mlgo_env.artifacts import Artifact
from mlgo_env.compilation import CompileOptions, compile_baseline
from mlgo_env.corpus import Corpus
from mlgo_env.errors import CompilerError, CompilerTimeout, MlgoEnvError, ValidationFailed
from mlgo_env.programs import run_program, validate_output
from mlgo_env.toolchain import Toolchain, get_toolchain

__all__ = ["ValidationResult", "compiler_message", "failure_kind", "validate_corpus"]

_CRASH = re.compile(
    r"PLEASE submit a bug report|Stack dump:|LLVM ERROR:|error in backend|Assertion .* failed|"
    r"exited with signal|due to signal|Segmentation fault"
)
"""What LLVM prints when it crashes (signal, assertion, fatal error), as opposed to a diagnostic."""


def failure_kind(error: MlgoEnvError) -> str:
    """How a compile-and-run failed: "crashed", "timeout", "compile error", "wrong output" or "failed"."""
    if isinstance(error, CompilerTimeout) or isinstance(error.__cause__, subprocess.TimeoutExpired):
        return "timeout"  # the compiler, or the compiled program, ran too long
    if isinstance(error, CompilerError):
        return "crashed" if _CRASH.search(str(error)) else "compile error"
    if isinstance(error, ValidationFailed):
        return "wrong output"
    return "failed"


def compiler_message(error: MlgoEnvError, limit: int = 2000) -> str:
    """The compiler's own words for a failure: its stderr up to the stack trace's frames, else the message."""
    stderr = error.stderr if isinstance(error, CompilerError) and error.stderr else str(error)
    lines = []
    for line in stderr.strip().splitlines():
        if re.match(r"\s*#\d+ 0x", line):  # stack frames: long, and the same for every report
            break
        lines.append(line)
    return "\n".join(lines)[:limit]


@dataclass(frozen=True)
class ValidationResult:
    """One benchmark's validation: "ok", or the `failure_kind` with the message."""

    benchmark: str
    status: str
    message: str
    runtime_s: float

    @property
    def ok(self) -> bool:
        """Whether the program compiled, ran and printed its reference output."""
        return self.status == "ok"


def validate_corpus(
    corpus: Corpus, toolchain: Toolchain | None = None, opt_level: str | None = None, progress: bool = False
) -> Iterator[ValidationResult]:
    """Compile, link and run every runnable benchmark of `corpus`; yield one result each."""
    toolchain = toolchain or get_toolchain()
    options = CompileOptions(opt_level=opt_level, artifacts=Artifact.OBJECT | Artifact.EXECUTABLE)
    benchmarks = [b for b in corpus if b.program is not None]
    iterator = benchmarks
    if progress:
        from tqdm import tqdm

        iterator = tqdm(benchmarks, desc="validating", unit="program")
    for benchmark in iterator:
        assert benchmark.program is not None
        workdir = Path(tempfile.mkdtemp(prefix="mlgo-validate-"))
        try:
            module = compile_baseline(toolchain, benchmark, options, workdir)
            assert module.executable_path is not None
            run = run_program(module.executable_path, benchmark.program)
            validate_output(run, benchmark.program)
            yield ValidationResult(benchmark.uri, "ok", "ok", run.seconds)
        except MlgoEnvError as exc:
            kind = failure_kind(exc)
            message = compiler_message(exc) if kind == "crashed" else str(exc)
            yield ValidationResult(benchmark.uri, kind, message, 0.0)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
