"""``mlgo-env blocks``: extract, measure, train, evaluate and query the basic-block cost model."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from tqdm import tqdm

__all__ = ["app"]

app = typer.Typer(
    help="Basic-block dataset and learned cost model: extract blocks, measure them on this CPU, "
    "train, evaluate, predict.",
    no_args_is_help=True,
)
console = Console()



@app.callback()
def main() -> None:
    """Basic-block dataset and learned cost model."""


DEFAULT_DATA = Path.home() / ".cache" / "mlgo-env" / "blocks" / "measured.csv"


@app.command()
def measure(
    inputs: Annotated[list[Path], typer.Argument(help="Block CSVs (HEX,FREQ[,SOURCE]) or folders of them, e.g. ../shared/bhive/sources.")],
    out: Annotated[Path, typer.Option(help="Measured CSV (appended; PATH.rejected.csv gets the rejects).")] = DEFAULT_DATA,
    backend: Annotated[str, typer.Option(help="'harness' (TSC timing, no counters needed) or 'exegesis' (needs hardware counters).")] = "harness",
    limit: Annotated[int, typer.Option(help="Measure at most this many new blocks (0: all).")] = 0,
    passes: Annotated[int, typer.Option(help="Passes per block, seconds apart; even and odd passes give two independent estimates.")] = 6,
    workers: Annotated[int, typer.Option(help="Harness processes, one per core.")] = 2,
    chunk_size: Annotated[int, typer.Option(help="Blocks per pass; sets the spacing of a block's passes.")] = 3000,
    seed: Annotated[int, typer.Option(help="Order blocks are measured in (a prefix is a random sample).")] = 0,
) -> None:
    """Measure the throughput of blocks on this CPU (resumable: measured blocks are skipped)."""
    from mlgo_env.blocks.dataset import read_sources
    from mlgo_env.blocks.measure import MeasuredWriter, Measurement, measure_blocks

    if backend == "exegesis":
        from mlgo_env.blocks.exegesis import require_counters

        require_counters()
    elif backend != "harness":
        raise typer.BadParameter(f"unknown backend {backend!r}: use 'harness' or 'exegesis'")
    sources = read_sources(inputs)
    writer = MeasuredWriter(out, {h: (s.source, s.freq) for h, s in sources.items()})
    done = writer.done()
    todo = sorted(h for h in sources if h not in done)
    random.Random(seed).shuffle(todo)
    if limit:
        todo = todo[:limit]
    console.print(f"{len(sources)} unique blocks, {len(done)} already done, measuring {len(todo)} -> {out}")
    counts = {"measured": 0, "rejected": 0}
    with tqdm(total=len(todo), unit="block") as bar:

        def save(results: list) -> None:
            writer.write(results)
            n = sum(isinstance(r, Measurement) for r in results)
            counts["measured"] += n
            counts["rejected"] += len(results) - n
            bar.update(len(results))

        measure_blocks(todo, passes=passes, workers=workers, chunk_size=chunk_size, on_chunk=save)
    console.print(f"measured {counts['measured']}, rejected {counts['rejected']} (reasons in {writer.rejected_path})")


if __name__ == "__main__":
    app()
