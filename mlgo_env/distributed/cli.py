"""``mlgo-env ray …``: rollouts on a Ray cluster (a local one by default).

Importing this module needs no Ray, so the group always shows in ``--help``; the commands say
how to install the ``distributed`` extra when Ray is missing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

__all__ = ["app"]

app = typer.Typer(
    help="Rollouts on a Ray cluster (needs: pip install 'mlgo-env[distributed]').",
    no_args_is_help=True,
)
console = Console()

RayAddress = Annotated[
    str | None,
    typer.Option(
        envvar="RAY_ADDRESS",
        help="cluster address ('auto', 'ray://head:10001'); unset: a local Ray, one worker per core",
    ),
]


def _connect(address: str | None) -> None:
    from mlgo_env.distributed import connect

    try:
        cluster = connect(address)
    except ImportError as exc:
        console.print(str(exc), style="red", markup=False)
        raise typer.Exit(2) from exc
    console.print(f"Ray at {cluster.address}: {cluster.nodes} node(s), {cluster.cpus} CPU(s)")


@app.command()
def info(ray_address: RayAddress = None) -> None:
    """Connect to Ray and show the cluster's size."""
    _connect(ray_address)


@app.command()
def collect(
    out: Annotated[Path | None, typer.Option(help="Parquet dataset directory to write (unset: none)")] = None,
    policy: Annotated[str, typer.Option(help="a built-in policy, or an ONNX policy file")] = "llvm-default",
    ray_address: RayAddress = None,
    corpus: Annotated[Path | None, typer.Option(help="corpus directory (default: the bundled programs)")] = None,
    share_corpus: Annotated[
        bool, typer.Option(help="the corpus path is visible on every node (else it is shipped)")
    ] = False,
    split: Annotated[str | None, typer.Option(help="'train', 'test', or 'all'")] = "train",
    benchmark: Annotated[list[str] | None, typer.Option(help="benchmark id (repeatable; overrides --split)")] = None,
    repeat: Annotated[int, typer.Option(help="episodes per benchmark (seeds differ)")] = 1,
    task: Annotated[str, typer.Option(help="inlining, regalloc_eviction or regalloc_priority")] = "inlining",
    reward: Annotated[str, typer.Option(help="a registered reward, or 'none'")] = "size",
    workers: Annotated[int | None, typer.Option(help="worker actors (default: one per cluster CPU)")] = None,
    seed: Annotated[int, typer.Option(help="seed of the first episode (episode i uses seed + i)")] = 0,
    max_attempts: Annotated[int, typer.Option(help="attempts per episode")] = 3,
    decision_timeout: Annotated[float, typer.Option(help="seconds the compiler may take per decision")] = 60.0,
    compile_timeout: Annotated[float, typer.Option(help="seconds one compile may take")] = 600.0,
    episode_timeout: Annotated[float | None, typer.Option(help="seconds before a silent worker is replaced")] = None,
    progress: Annotated[bool, typer.Option(help="show a progress bar")] = True,
) -> None:
    """Run a policy on every benchmark of a split, streaming trajectories into a Parquet dataset."""
    from mlgo_env.distributed.actors import RolloutSettings, WorkerPool
    from mlgo_env.distributed.collect import collect as run
    from mlgo_env.policies import BUILTIN_POLICIES

    if policy not in BUILTIN_POLICIES and not Path(policy).is_file():
        raise typer.BadParameter(f"neither a built-in policy {BUILTIN_POLICIES} nor a file", param_hint="--policy")
    _connect(ray_address)
    settings = RolloutSettings(
        task=task,
        reward=None if reward == "none" else reward,
        decision_timeout=decision_timeout,
        compile_timeout=compile_timeout,
    )
    chosen = Path(policy).read_bytes() if policy not in BUILTIN_POLICIES else policy
    with WorkerPool(workers, corpus, share_corpus=share_corpus) as pool:
        ids = benchmark or [b.uri for b in pool.corpus.benchmarks(None if split == "all" else split)]
        if not ids:
            raise typer.BadParameter(f"the corpus has no benchmarks in split {split!r}", param_hint="--split")
        collection = run(
            chosen,
            [b for b in ids for _ in range(repeat)],
            pool,
            settings,
            seed=seed,
            out=out,
            max_attempts=max_attempts,
            episode_timeout=episode_timeout,
            progress=progress,
        )
        failures = [outcome for outcome in collection if not outcome.ok]
    stats = collection.stats
    table = Table(title=f"{len(collection)} episodes of {policy} on {pool.size} worker(s)")
    for column in ("finished", "failed", "retried attempts", "seconds", "episodes/s"):
        table.add_column(column)
    rate = (stats.ok + stats.failed) / stats.seconds if stats.seconds else 0.0
    table.add_row(str(stats.ok), str(stats.failed), str(stats.retries), f"{stats.seconds:.1f}", f"{rate:.2f}")
    console.print(table)
    for outcome in failures:
        cause = escape(str(outcome.faults[-1]))
        console.print(
            f"[red]failed[/] {outcome.benchmark} (seed {outcome.seed}) after {outcome.attempts} attempt(s): {cause}"
        )
    if out is not None:
        console.print(f"dataset: {out}")
    if failures:
        raise typer.Exit(1)
