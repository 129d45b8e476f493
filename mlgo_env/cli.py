"""The ``mlgo-env`` command line: serve, doctor, corpus tools, csmith checks, blocks, transform."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(help="Gymnasium environments over real LLVM MLGO decisions.", no_args_is_help=True)
corpus_app = typer.Typer(help="Build, list and validate corpora (LLVM mlgo-utils layout).", no_args_is_help=True)
app.add_typer(corpus_app, name="corpus")
console = Console()


def _mount_optional(module: str, name: str) -> None:
    """Mount a sub-command group whose module may need optional extras."""
    try:
        sub = __import__(module, fromlist=["app"]).app
    except ImportError:
        return
    app.add_typer(sub, name=name)


@app.command()
def serve(
    address: Annotated[str, typer.Option(help="host:port or unix:PATH")] = "127.0.0.1:50051",
    corpus: Annotated[Path | None, typer.Option(help="corpus directory (default: the bundled programs)")] = None,
    allow_remote: Annotated[
        bool, typer.Option(help="allow listening beyond loopback (needs a token and --tls-cert/--tls-key)")
    ] = False,
    token: Annotated[
        str | None,
        typer.Option(envvar="MLGO_SERVICE_TOKEN", help="shared token clients must send (default: a fresh one)"),
    ] = None,
    insecure: Annotated[
        bool, typer.Option(help="no token on loopback: every local user and container can use the service")
    ] = False,
    tls_cert: Annotated[Path | None, typer.Option(help="PEM certificate chain: speak TLS")] = None,
    tls_key: Annotated[Path | None, typer.Option(help="PEM private key of --tls-cert")] = None,
    idle_timeout: Annotated[float, typer.Option(help="close sessions idle this many seconds")] = 600.0,
    max_sessions: Annotated[int, typer.Option(help="most sessions and rollouts at once")] = 64,
    workdir: Annotated[
        Path | None, typer.Option(help="where sessions' directories go (default: the system's temporary directory)")
    ] = None,
    parent_pid: Annotated[int | None, typer.Option(hidden=True, help="stop when this process exits")] = None,
    ready_file: Annotated[Path | None, typer.Option(hidden=True, help="write the port here once listening")] = None,
) -> None:
    """Run a compiler service until interrupted; prints how to connect (with the token it made)."""
    from mlgo_env.errors import PermissionDenied
    from mlgo_env.service.server import ServiceConfig
    from mlgo_env.service.server import serve as run

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    config = ServiceConfig(
        corpus=corpus,
        token=token,
        insecure=insecure,
        tls_cert=tls_cert,
        tls_key=tls_key,
        idle_timeout=idle_timeout,
        max_sessions=max_sessions,
        workdir=workdir,
    )
    try:
        run(address, config, allow_remote=allow_remote, parent_pid=parent_pid, ready_file=ready_file)
    except PermissionDenied as exc:
        console.print(f"[red]{exc}")
        raise typer.Exit(2) from None


@app.command()
def doctor() -> None:
    """Report this CPU, the tools found (path, version), what is missing, and whether hardware counters work."""
    from mlgo_env import load_latency
    from mlgo_env.blocks import features
    from mlgo_env.doctor import check_tools
    from mlgo_env.machine import hardware_counters, host
    from mlgo_env.rollout_loop import loop_status

    machine = Table(title="this machine")
    machine.add_column("what")
    machine.add_column("value")
    for what, value in host().describe():
        machine.add_row(what, value)
    console.print(machine)
    table = Table(title="mlgo-env doctor")
    for column in ("tool", "status", "path", "version / install"):
        table.add_column(column, overflow="fold")  # paths and install commands are never cut
    missing_required = 0
    for status in check_tools():
        if status.path:
            table.add_row(status.name, "[green]found", status.path, status.version)
        else:
            missing_required += status.required
            table.add_row(status.name, "[red]missing" if status.required else "[yellow]optional", "", status.install)
    console.print(table)
    ok, message = hardware_counters()
    console.print(f"hardware performance counters: {'[green]usable' if ok else '[yellow]not usable'}[/] — {message}")
    native, loop = loop_status()
    console.print(f"rollout loop: {'[green]' if native else '[yellow]'}{loop}")
    featuriser = "native (mlgo_env._native._blocks)" if features.NATIVE else features.FALLBACK
    console.print(f"cost-model featuriser: {'[green]' if features.NATIVE else '[yellow]'}{featuriser}")
    try:
        costs = load_latency.measure()
        levels = ", ".join(f"L{level} {cost.latency:.0f}" for level, cost in costs.levels)
        console.print(
            f"load latency, cycles (measured once per machine; what perf_model charges a miss): {levels}, "
            f"memory {costs.memory.latency:.0f}; a swept line from memory {costs.memory.stream:.1f}; "
            f"a page fault {costs.page_fault:.0f}"
        )
        told = load_latency.data_caches()[-1].size
        held = costs.effective_last_level(told)
        console.print(f"last level: working sets stay in {held >> 20} of the {told >> 20} MiB this machine is told of")
    except load_latency.LoadLatencyError as exc:
        console.print(f"[yellow]load latency: not measured[/] — {exc}")
    if missing_required:
        console.print(f"[red]{missing_required} required tool(s) missing[/]: run the install commands above")
        raise typer.Exit(1)


@corpus_app.command("build")
def corpus_build(
    source: Annotated[Path, typer.Argument(help="a folder of program folders, or a compile_commands.json")],
    output: Annotated[Path, typer.Option("-o", "--output", help="corpus directory to write")],
    name: Annotated[str, typer.Option(help="corpus name (benchmark://NAME/...)")] = "user-v0",
    llvm_version: Annotated[int | None, typer.Option(help="LLVM version")] = None,
    jobs: Annotated[int | None, typer.Option("-j", "--jobs", help="compiles at once (default: one per core)")] = None,
) -> None:
    """Make a corpus (one .bc + .cmd per module) from sources or a compilation database.

    From a compile_commands.json, entries that fail are left out and listed (also in
    DIR/build_report.json); the others make the corpus.
    """
    from mlgo_env.corpus import build_from_compile_commands, build_from_programs
    from mlgo_env.toolchain import get_toolchain

    toolchain = get_toolchain(llvm_version)
    if source.is_file() and source.name.endswith(".json"):
        build = build_from_compile_commands(source, output, toolchain, name=name, progress=True, jobs=jobs)
        if build.failed:
            table = Table(title=f"{len(build.failed)} entries left out")
            table.add_column("source")
            table.add_column("cause")
            for path, cause in sorted(build.failed.items()):
                table.add_row(path, cause)
            console.print(table)
        if build.duplicates:
            console.print(f"{len(build.duplicates)} sources compiled more than once were kept once")
        corpus = build.corpus
    else:
        corpus = build_from_programs(source, output, toolchain, name=name, progress=True, jobs=jobs)
    console.print(f"wrote {len(corpus)} modules to {output}")


@corpus_app.command("fetch")
def corpus_fetch(
    packages: Annotated[list[str], typer.Argument(help="Debian source packages (lua5.4, zstd, xz-utils, ...)")],
    output: Annotated[Path, typer.Option("-o", "--output", help="corpus directory (sources go to DIR/sources)")],
    name: Annotated[str, typer.Option(help="corpus name (benchmark://NAME/...)")] = "debian-v0",
    llvm_version: Annotated[int | None, typer.Option(help="LLVM version whose clang builds everything")] = None,
    parallel: Annotated[int, typer.Option(help="packages built at once")] = 2,
    jobs: Annotated[int | None, typer.Option("-j", "--jobs", help="make jobs per package (default: cores)")] = None,
    timeout: Annotated[float, typer.Option(help="seconds one package's build may take")] = 3600.0,
) -> None:
    """Fetch Debian source packages, build each under bear with the corpus's clang, and make one corpus.

    Adds the deb-src entry apt needs (and says so), installs build dependencies with apt-get
    build-dep, and writes DIR/fetch_report.json (built / failed with the cause, modules, seconds).
    Packages already fetched or built are not redone.
    """
    from mlgo_env.debian import fetch_corpus
    from mlgo_env.errors import CorpusError
    from mlgo_env.toolchain import get_toolchain

    try:
        report = fetch_corpus(
            packages, output, get_toolchain(llvm_version), name=name, parallel=parallel, jobs=jobs,
            timeout=timeout, progress=True,
        )  # fmt: skip
    except CorpusError as exc:
        console.print(f"[red]{exc}")
        raise typer.Exit(1) from None
    if report.added_source:
        console.print(f"added a deb-src entry to apt's sources:\n{report.added_source}")
    console.print(report.table())
    console.print(f"wrote {report.modules} modules to {output} (report: {output / 'fetch_report.json'})")


@corpus_app.command("link")
def corpus_link(
    corpus: Annotated[Path, typer.Argument(help="a corpus that corpus build or corpus fetch made")],
    output: Annotated[Path, typer.Option("-o", "--output", help="whole-program corpus directory to write")],
    root: Annotated[
        list[Path] | None,
        typer.Option(help="build tree holding the executables (repeatable; default: a fetched corpus's packages)"),
    ] = None,
    name: Annotated[str, typer.Option(help="corpus name (benchmark://NAME/...)")] = "whole-program-v0",
    llvm_version: Annotated[int | None, typer.Option(help="LLVM version")] = None,
) -> None:
    """Make a whole-program corpus: one module per executable of the build, its sources linked and internalized.

    The sources of each executable come from its DWARF (build with -g); every symbol but main is
    internalized, as in an LTO build. Executables left out are listed (also in DIR/link_report.json).
    """
    from mlgo_env.debian import package_trees
    from mlgo_env.errors import CorpusError
    from mlgo_env.toolchain import get_toolchain
    from mlgo_env.whole_program import link_programs

    roots = root or package_trees(corpus)
    if not roots:
        console.print(f"[red]{corpus} is not a fetched corpus: say where the build is with --root DIR")
        raise typer.Exit(2)
    try:
        report = link_programs(corpus, roots, output, get_toolchain(llvm_version), name=name, progress=True)
    except CorpusError as exc:
        console.print(f"[red]{exc}")
        raise typer.Exit(1) from None
    if report.failed:
        table = Table(title=f"{len(report.failed)} executables left out")
        table.add_column("executable", overflow="fold")
        table.add_column("cause")
        for path, cause in sorted(report.failed.items()):
            table.add_row(path, cause)
        console.print(table)
    incomplete = sum(1 for p in report.programs if p.missing)
    console.print(
        f"wrote {len(report.programs)} program modules to {output} ({incomplete} lack sources the corpus has not; "
        f"{len(report.duplicates)} executables were copies; report: {output / 'link_report.json'})"
    )


@corpus_app.command("list")
def corpus_list(
    corpus: Annotated[Path | None, typer.Argument(help="corpus directory (default: bundled)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Show the benchmarks of a corpus with their split and kind."""
    from mlgo_env.corpus import Corpus, default_corpus

    loaded = Corpus.load(corpus) if corpus else default_corpus(progress=True)
    rows: list[dict[str, str | bool | int]] = [
        {"uri": b.uri, "split": b.split or "", "runnable": b.program is not None,
         "memory_bound": bool(b.program and b.program.memory_bound), "bitcode_bytes": b.bitcode.stat().st_size}
        for b in loaded
    ]  # fmt: skip
    if as_json:
        typer.echo(json.dumps(rows, indent=1))
        return
    table = Table(title=f"{loaded.name}: {len(rows)} modules ({loaded.root})")
    table.add_column("benchmark", overflow="fold")  # names are never cut, however narrow the terminal
    for column in ("split", "runnable", "memory-bound", "bitcode"):
        table.add_column(column)
    for row in rows:
        table.add_row(
            str(row["uri"]),
            str(row["split"]),
            str(row["runnable"]),
            str(row["memory_bound"]),
            f"{row['bitcode_bytes']:,} B",
        )
    console.print(table)


@corpus_app.command("validate")
def corpus_validate(
    corpus: Annotated[Path | None, typer.Argument(help="corpus directory (default: bundled)")] = None,
    opt_level: Annotated[str | None, typer.Option(help="override the recorded -O level")] = None,
    json_path: Annotated[Path | None, typer.Option("--json", help="write the results as JSON")] = None,
) -> None:
    """Compile every runnable module with LLVM's heuristics, run it, compare with its reference.

    A compiler crash (an LLVM bug) is reported apart from compile errors, timeouts and wrong output.
    """
    from mlgo_env.corpus import Corpus, default_corpus
    from mlgo_env.validation import validate_corpus

    loaded = Corpus.load(corpus) if corpus else default_corpus(progress=True)
    outcomes = list(validate_corpus(loaded, opt_level=opt_level, progress=True))
    table = Table(title=f"validation of {loaded.name}")
    for column in ("benchmark", "result", "runtime (s)", "message"):
        table.add_column(column, overflow="fold")
    for outcome in outcomes:
        result = "[green]ok" if outcome.ok else f"[red]{outcome.status}"
        message = "" if outcome.ok else outcome.message[:300]
        table.add_row(outcome.benchmark, result, f"{outcome.runtime_s:.3f}", message)
    console.print(table)
    counts = {status: sum(o.status == status for o in outcomes) for status in dict.fromkeys(o.status for o in outcomes)}
    console.print(", ".join(f"{n} {status}" for status, n in counts.items()))
    if json_path:
        json_path.write_text(json.dumps({"counts": counts, "results": [vars(o) for o in outcomes]}, indent=1))
    if any(not o.ok for o in outcomes):
        raise typer.Exit(1)


@app.command()
def csmith(
    count: Annotated[int, typer.Option("-n", "--count", help="programs to generate")] = 20,
    seed: Annotated[int, typer.Option(help="first csmith seed (program i uses seed+i)")] = 1,
    tasks: Annotated[str, typer.Option(help="comma-separated tasks to randomise")] = "inlining,regalloc_eviction",
    json_path: Annotated[Path | None, typer.Option("--json", help="write the results as JSON")] = None,
) -> None:
    """Differential test: random inlining/eviction decisions vs -O0 on csmith programs.

    Fails on a mismatch or a compiler crash (reported apart from skips and timeouts, with the seeds,
    the decisions and the compiler's message).
    """
    from mlgo_env.csmith import run_differential

    report = run_differential(count, seed, tasks.split(","), progress=True)
    console.print(report.table())
    for case in report.crashes:  # an LLVM bug: everything needed to reproduce and file it
        console.print(
            f"[red]compiler crash[/]: csmith --seed {case.csmith_seed}, task {case.task}, random decisions with seed "
            f"{case.decision_seed} ({case.decisions} given: {case.actions[:40]}{' ...' if case.decisions > 40 else ''})"
            f"\n{case.detail}"
        )
    if json_path:
        json_path.write_text(json.dumps(report.to_json(), indent=1))
    if report.mismatches or report.crashes:
        raise typer.Exit(1)


_mount_optional("mlgo_env.blocks.cli", "blocks")
_mount_optional("mlgo_env.transform.cli", "transform")
_mount_optional("mlgo_env.distributed.cli", "ray")

if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    app()
