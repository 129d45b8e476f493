"""Parses and verifies every schedule of the library with ``mlir-opt`` (of `MlirTools.find`).

Three checks, each a separate ``mlir-opt`` run so a failure names its culprit:

1. the whole library as one module (symbols unique, every include resolves, types match);
2. every named sequence with the sequences it includes, as its own module (nothing missing);
3. every pipeline behind a ``@__transform_main`` entry, as the environment would apply it.

`check_library` returns a list of `CheckFailure` records; an empty list means the library is
valid.
"""

from __future__ import annotations

import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from mlgo_env.transform.library import ScheduleLibrary
from mlgo_env.transform.tools import MlirTools

__all__ = ["CheckFailure", "verify_mlir", "check_library"]


@dataclass(frozen=True)
class CheckFailure:
    """One schedule (or the whole library) that mlir-opt rejected, and why."""

    subject: str
    message: str


_SPLIT = "\n// -----\n"


def verify_mlir(text: str, tools: MlirTools | None = None, timeout: float = 60.0, split: bool = False) -> str | None:
    """Parses and verifies MLIR `text` with mlir-opt; returns its diagnostics, or None if valid.

    With `split`, `text` holds several modules separated by ``// -----`` lines, each verified on
    its own (``-split-input-file``).
    """
    mlir_opt = (tools or MlirTools.find()).mlir_opt
    with tempfile.NamedTemporaryFile("w", suffix=".mlir", delete=False) as handle:
        handle.write(text)
        path = Path(handle.name)
    try:
        done = subprocess.run(
            [str(mlir_opt), str(path), "-o", "/dev/null", *(["-split-input-file"] if split else [])],
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return f"{mlir_opt} did not finish within {timeout:g} s"
    finally:
        path.unlink(missing_ok=True)
    return None if done.returncode == 0 else done.stderr.strip() or f"exit {done.returncode}"


def check_library(library: ScheduleLibrary | None = None, tools: MlirTools | None = None) -> list[CheckFailure]:
    """Verifies `library` (default: the bundled one); returns what failed, empty if nothing did."""
    library = library or ScheduleLibrary.load()
    tools = tools or MlirTools.find()
    modules = {"library": library.whole_library_text()}
    for schedule in library.all():
        modules[f"@{schedule.name} ({schedule.source.name})"] = library.module_text(library.closure([schedule.name]))
    for pipeline in library.pipelines():
        modules[f"entry of @{pipeline.name}"] = library.compose_pipeline(pipeline.name)
    # One mlir-opt run for everything; only when it fails, one run per module to name culprits.
    if verify_mlir(_SPLIT.join(modules.values()), tools, split=True) is None:
        return []
    failures = []
    for subject, text in modules.items():
        error = verify_mlir(text, tools)
        if error is not None:
            failures.append(CheckFailure(subject, error))
    return failures
