"""Semantics checks: a compiled program must still print its reference output.

CompilerGym calls this validation. `validate_corpus` checks every runnable benchmark under LLVM's heuristics;
the service's ``Validate`` RPC checks the program an episode just compiled.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from mlgo_env.compilation import CompileOptions, compile_baseline
from mlgo_env.corpus import Corpus
from mlgo_env.errors import MlgoEnvError
from mlgo_env.programs import run_program, validate_output
from mlgo_env.toolchain import Toolchain, get_toolchain
from rewards.base import Artifact

__all__ = ["ValidationResult", "validate_corpus"]


@dataclass(frozen=True)
class ValidationResult:
    """One benchmark's validation: ok, or what went wrong."""

    benchmark: str
    ok: bool
    message: str
    runtime_s: float


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
            yield ValidationResult(benchmark.uri, True, "ok", run.seconds)
        except MlgoEnvError as exc:
            yield ValidationResult(benchmark.uri, False, str(exc), 0.0)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
