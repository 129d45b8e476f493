"""``mlgo-env transform``: check and list the schedule library, apply a schedule to a payload."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated

import typer

from mlgo_env.errors import ToolNotFound
from mlgo_env.transform.checker import check_library
from mlgo_env.transform.library import Choice, ScheduleLibrary, bundled_payloads, payload_path
from mlgo_env.transform.runner import PayloadRunner
from mlgo_env.transform.tools import MLIR_ROOT_VARIABLE, MlirTools
from rewards.kernel_time import KernelTimeReward

__all__ = ["app"]

app = typer.Typer(help="Transform-dialect schedules: check the library, list it, apply schedules.")

LibraryOption = Annotated[
    list[Path] | None,
    typer.Option("--library", "-L", help="Schedule files or folders (default: the bundled library)."),
]
VersionOption = Annotated[
    int | None,
    typer.Option(
        "--llvm-version",
        help=f"The MLIR to use (default: $MLGO_LLVM_VERSION or 19 if installed, else the installed one; "
        f"${MLIR_ROOT_VARIABLE} names an MLIR folder instead).",
    ),
]


def _tools(version: int | None) -> MlirTools:
    """The MLIR to use, said on stderr; when there is none, what to install, and exit 1."""
    try:
        tools = MlirTools.find(version)
    except ToolNotFound as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"using {tools.describe()}", err=True)
    return tools


@app.command()
def check(library: LibraryOption = None, llvm_version: VersionOption = None) -> None:
    """Parse and verify every schedule of the library with mlir-opt."""
    schedules = ScheduleLibrary.load(library)
    failures = check_library(schedules, _tools(llvm_version))
    for failure in failures:
        typer.echo(f"FAIL {failure.subject}\n{failure.message}\n", err=True)
    if failures:
        raise typer.Exit(1)
    typer.echo(f"ok: {len(schedules.all())} schedules in {len(schedules.files)} files verify")


@app.command("list")
def list_schedules(
    library: LibraryOption = None,
    all_: Annotated[bool, typer.Option("--all", help="Include internal sequences.")] = False,
) -> None:
    """List the schedules with their phase, parameters and choices."""
    for schedule in ScheduleLibrary.load(library).all():
        if schedule.phase == "internal" and not all_:
            continue
        params = ", ".join(f"{p.name} in {list(p.choices)}" for p in schedule.params)
        typer.echo(f"{schedule.name:32} {schedule.phase:9} {params}")
        if schedule.doc:
            typer.echo(f"    {schedule.doc}")
    typer.echo("payloads: " + ", ".join(bundled_payloads()))


def _parse_step(library: ScheduleLibrary, text: str) -> Choice:
    name, _, args = text.partition(":")
    values = tuple(int(v) for v in args.split(",") if v.strip())
    return Choice(library[name.strip()], values)


@app.command()
def apply(
    payload: Annotated[str, typer.Argument(help="Bundled payload name or path to a .mlir file.")],
    step: Annotated[
        list[str] | None,
        typer.Option("--step", "-s", help="A step as NAME or NAME:V1,V2,... (repeatable, in order)."),
    ] = None,
    pipeline: Annotated[
        str | None, typer.Option("--pipeline", "-p", help="A library pipeline instead of steps.")
    ] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write the composed schedule here.")] = None,
    run: Annotated[
        bool, typer.Option("--run/--no-run", help="Build, check against the reference, and time it.")
    ] = True,
    repeats: Annotated[int, typer.Option(help="Runs for min-of-k timing.")] = 3,
    library: LibraryOption = None,
    llvm_version: VersionOption = None,
) -> None:
    """Compose a schedule, apply it to a payload and (by default) time it against the baseline."""
    schedules = ScheduleLibrary.load(library)
    if pipeline and step:
        raise typer.BadParameter("give either --pipeline or --step, not both")
    try:
        if pipeline:
            text = schedules.compose_pipeline(pipeline)
        else:
            text = schedules.compose([_parse_step(schedules, s) for s in step or []])
    except (KeyError, ValueError) as exc:
        raise typer.BadParameter(str(exc)) from exc
    if output:
        output.write_text(text)
        typer.echo(f"schedule written to {output}")
    with tempfile.TemporaryDirectory(prefix="mlgo-transform-") as workdir:
        runner = PayloadRunner(payload_path(payload), Path(workdir), tools=_tools(llvm_version))
        if not run:
            runner.check_schedule(text)
            typer.echo("the schedule applies")
            return
        reward = KernelTimeReward(repeats=repeats)
        baseline = runner.build(None, "baseline")
        runner.check(baseline)
        baseline_cost = reward.cost(baseline)
        module = runner.build(text, "schedule")
        runner.check(module)
        cost = reward.cost(module)
        noise = [m.extra["timing"].noise for m in (baseline, module)]  # type: ignore[attr-defined]
        typer.echo(
            f"output matches the reference; per call: default pipeline {baseline_cost * 1e3:.3f} ms "
            f"(noise {noise[0]:.0%}), schedule {cost * 1e3:.3f} ms (noise {noise[1]:.0%}), "
            f"speed-up {baseline_cost / cost:.2f}x"
        )
