"""csmith differential testing: random MLGO decisions must not change what a program computes.

Each csmith program is compiled at -O0 (the reference) and then with random inlining and random
eviction decisions through the interactive channel; the printed checksums must agree. A
mismatch is reported with the csmith seed and decision seed that reproduce it. A compiler crash under
legal decisions is an LLVM bug: it is reported apart from skips and timeouts, with the seeds, the
decisions given before the crash and the compiler's message.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from rich.table import Table

from mlgo_env.artifacts import Artifact, ProgramInfo
from mlgo_env.compilation import CompileOptions
from mlgo_env.corpus import Benchmark, _compile_to_bitcode
from mlgo_env.episode import run_episode
from mlgo_env.errors import CompilerError, MlgoEnvError, ToolNotFound, ValidationFailed
from mlgo_env.policies import builtin_policy
from mlgo_env.programs import run_program
from mlgo_env.tasks import get_task
from mlgo_env.toolchain import Toolchain, get_toolchain
from mlgo_env.validation import compiler_message, failure_kind

__all__ = ["DifferentialReport", "run_differential", "CSMITH_INCLUDE"]

CSMITH_INCLUDE = Path("/usr/include/csmith")
RUN_TIMEOUT = 10.0
STATUSES = ("same", "different", "crashed", "timeout", "skipped")


@dataclass
class Case:
    """One (program, task) check."""

    csmith_seed: int
    task: str
    decision_seed: int
    decisions: int
    status: str
    """One of `STATUSES`: "crashed" is the compiler crashing, "timeout" the compile or a run too long."""
    detail: str = ""
    actions: list[int | float] = field(default_factory=list)
    """For a crash: the decisions given before it (the decision seed gives them again)."""


@dataclass
class DifferentialReport:
    """Every case checked; `mismatches` are the cases whose output differed from -O0."""

    cases: list[Case] = field(default_factory=list)

    @property
    def mismatches(self) -> list[Case]:
        """Cases whose checksum differs from the -O0 reference."""
        return [c for c in self.cases if c.status == "different"]

    @property
    def crashes(self) -> list[Case]:
        """Cases where the compiler crashed under random legal decisions."""
        return [c for c in self.cases if c.status == "crashed"]

    def to_json(self) -> dict:
        """The report as plain data."""
        counts = {s: sum(c.status == s for c in self.cases) for s in STATUSES}
        return {"counts": counts, "cases": [asdict(c) for c in self.cases]}

    def table(self) -> Table:
        """A summary table per task."""
        table = Table(title="csmith differential check (random decisions vs -O0)")
        for column in ("task", "programs", *STATUSES, "decisions"):
            table.add_column(column, overflow="fold")
        for task in sorted({c.task for c in self.cases}):
            cases = [c for c in self.cases if c.task == task]
            table.add_row(
                task,
                str(len(cases)),
                *(str(sum(c.status == s for c in cases)) for s in STATUSES),
                str(sum(c.decisions for c in cases)),
            )
        for case in self.mismatches + self.crashes:
            first_line = case.detail.strip().splitlines()[0][:100] if case.detail.strip() else ""
            table.add_row(
                f"[red]{'MISMATCH' if case.status == 'different' else 'CRASH'} csmith seed {case.csmith_seed}",
                case.task,
                f"decision seed {case.decision_seed}",
                f"{case.decisions} decisions",
                first_line,
                *[""] * (len(STATUSES) - 2),
            )
        return table


def _generate(csmith: str, seed: int, path: Path) -> None:
    # csmith writes platform.info into its working directory: keep it in the program's folder.
    result = subprocess.run(
        [csmith, "--seed", str(seed), "-o", str(path)], capture_output=True, text=True, timeout=60, cwd=path.parent
    )
    if result.returncode != 0:
        raise MlgoEnvError(f"csmith --seed {seed} failed: {result.stderr[:300]}")


def _reference_output(toolchain: Toolchain, source: Path, workdir: Path) -> str | None:
    executable = workdir / "reference"
    build = subprocess.run(
        [str(toolchain.clang), "-O0", "-w", f"-I{CSMITH_INCLUDE}", str(source), "-o", str(executable)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    if build.returncode != 0:
        raise CompilerError(f"-O0 build of {source.name} failed", build.stderr)
    try:
        run = run_program(executable, ProgramInfo(name=source.stem, directory=workdir), timeout=RUN_TIMEOUT)
    except ValidationFailed:
        return None  # csmith programs occasionally run for very long: not a useful case
    return run.stdout if run.returncode == 0 else None


def _check(benchmark: Benchmark, task: str, decision_seed: int, toolchain: Toolchain, workdir: Path) -> Case:
    csmith_seed = int(benchmark.name.split("_")[-1])
    options = CompileOptions(artifacts=Artifact.OBJECT | Artifact.EXECUTABLE, decision_timeout=60, compile_timeout=300)
    keep = workdir / f"{task}-{decision_seed}"
    random_policy = builtin_policy("random", get_task(task), decision_seed)
    actions: list[int | float] = []

    def policy(observation: dict) -> int | float:
        actions.append(random_policy(observation))
        return actions[-1]

    try:
        trajectory = run_episode(
            benchmark,
            task,
            policy,
            toolchain=toolchain,
            options=options,
            keep_dir=keep,
            record_observations=False,
        )
    except MlgoEnvError as exc:
        kind = failure_kind(exc)
        if kind == "crashed":
            return Case(csmith_seed, task, decision_seed, len(actions), kind, compiler_message(exc), actions)
        status = "timeout" if kind == "timeout" else "skipped"
        return Case(csmith_seed, task, decision_seed, len(actions), status, f"{kind}: {exc}"[:300])
    assert trajectory.executable_path is not None and benchmark.program is not None
    try:
        run = run_program(trajectory.executable_path, benchmark.program, timeout=RUN_TIMEOUT * 3)
    except ValidationFailed as exc:
        return Case(csmith_seed, task, decision_seed, trajectory.decisions, "different", str(exc))
    same = run.returncode == 0 and run.stdout == benchmark.program.expected_output
    detail = (
        "" if same else f"expected {benchmark.program.expected_output!r}, got {run.stdout!r} (status {run.returncode})"
    )
    return Case(csmith_seed, task, decision_seed, trajectory.decisions, "same" if same else "different", detail)


def run_differential(
    count: int,
    first_seed: int = 1,
    tasks: Sequence[str] = ("inlining", "regalloc_eviction"),
    toolchain: Toolchain | None = None,
    progress: bool = False,
) -> DifferentialReport:
    """Generate `count` csmith programs (seeds first_seed...) and check each task on each."""
    csmith = shutil.which("csmith")
    if csmith is None:
        raise ToolNotFound("csmith is not installed: sudo apt-get install csmith libcsmith-dev")
    if not (CSMITH_INCLUDE / "csmith.h").exists():
        raise ToolNotFound("csmith's headers are missing: sudo apt-get install libcsmith-dev")
    toolchain = toolchain or get_toolchain()
    report = DifferentialReport()
    seeds = range(first_seed, first_seed + count)
    iterator = seeds
    if progress:
        from tqdm import tqdm

        iterator = tqdm(seeds, desc="csmith", unit="program")
    for seed in iterator:
        with tempfile.TemporaryDirectory(prefix=f"mlgo-csmith-{seed}-") as tmp:
            workdir = Path(tmp)
            benchmark = _benchmark(csmith, seed, toolchain, workdir)
            if benchmark is None:
                report.cases.extend(
                    Case(seed, task, seed, 0, "skipped", "-O0 reference did not finish") for task in tasks
                )
                continue
            for task in tasks:
                report.cases.append(_check(benchmark, task, seed, toolchain, workdir))
    return report


def _benchmark(csmith: str, seed: int, toolchain: Toolchain, workdir: Path) -> Benchmark | None:
    """The csmith program of `seed` as a benchmark in `workdir` with its -O0 output, or None when that ran too long."""
    source = workdir / f"csmith_{seed}.c"
    _generate(csmith, seed, source)
    expected = _reference_output(toolchain, source, workdir)
    if expected is None:
        return None
    bitcode = workdir / f"csmith_{seed}.bc"
    _compile_to_bitcode(toolchain, source, bitcode, ["-O2", "-w", f"-I{CSMITH_INCLUDE}"])
    program = ProgramInfo(name=source.stem, expected_output=expected, directory=workdir)
    return Benchmark(uri=f"csmith://{seed}", name=source.stem, bitcode=bitcode, options=("-O2",), program=program)
