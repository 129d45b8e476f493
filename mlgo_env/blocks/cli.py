"""``mlgo-env blocks``: extract, measure, train, evaluate and query the basic-block cost model."""

from __future__ import annotations

import contextlib
import csv
import json
import logging
import random
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from tqdm import tqdm

from mlgo_env.cache import cache_dir

if TYPE_CHECKING:
    from mlgo_env.blocks.fastmodel import FastConfig

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


DEFAULT_DATA = cache_dir("blocks", "measured.csv")


Inputs = Annotated[list[Path], typer.Argument(help="Block CSVs (HEX,FREQ[,SOURCE]) or folders of them.")]
AllowMixedCpus = Annotated[
    bool, typer.Option(help="Accept data measured on several CPUs (refused by default: one model, one CPU).")
]
StrictCpu = Annotated[bool, typer.Option(help="Refuse, instead of warning, a model trained on another CPU.")]


@contextlib.contextmanager
def _refusals() -> Iterator[None]:
    """Turns a refusal (mixed CPUs, a model of another CPU, no counters) into its message and exit status 1."""
    from mlgo_env.blocks.dataset import MixedCpus
    from mlgo_env.blocks.exegesis import CountersUnavailable
    from mlgo_env.machine import CpuMismatch

    try:
        yield
    except (MixedCpus, CpuMismatch, CountersUnavailable) as exc:
        typer.secho(str(exc), err=True, fg="red")
        raise typer.Exit(1) from exc


@app.command()
def extract(
    inputs: Annotated[
        list[Path],
        typer.Argument(help="Objects, C files, program folders, a corpus folder, or ComPile Parquet files."),
    ],
    out: Annotated[Path, typer.Option(help="Output CSV (HEX,FREQ,SOURCE; appended, resumable).")],
    opt: Annotated[
        str, typer.Option(help="Optimisation levels for C sources and bitcode, comma-separated (-O1,-O2,-O3).")
    ] = "-O2",
    workers: Annotated[int, typer.Option(help="Inputs compiled and read in parallel.")] = 2,
) -> None:
    """Extract the basic blocks of compiled code through LLVM's address map, deduplicated by bytes.

    ComPile-format Parquet (a ``content`` column of bitcode modules) gives one input per row group,
    each module lowered at every level of --opt.
    """
    from mlgo_env.blocks.extract import done_inputs, expand_inputs, extract_input

    inputs_named = expand_inputs(inputs)
    done = done_inputs(out)
    todo = [(name, files) for name, files in inputs_named if name not in done]
    out.parent.mkdir(parents=True, exist_ok=True)
    rows = 0
    with ProcessPoolExecutor(max_workers=workers) as pool, out.open("a", newline="") as f:
        writer = csv.writer(f)
        futures = [pool.submit(extract_input, name, files, opt) for name, files in todo]
        for future in tqdm(as_completed(futures), total=len(futures), unit="input"):
            for hex_code, freq, name in future.result():
                writer.writerow([hex_code, f"{freq:.6g}", name])
                rows += 1
            f.flush()
    console.print(f"{len(todo)} inputs ({len(done)} already done): {rows} blocks -> {out}")


@app.command()
def measure(
    inputs: Inputs,
    out: Annotated[Path, typer.Option(help="Measured CSV (appended; rejects in PATH.rejected.csv).")] = DEFAULT_DATA,
    backend: Annotated[
        str, typer.Option(help="'auto' (exegesis where counters work, else harness), 'harness' (TSC) or 'exegesis'.")
    ] = "auto",
    limit: Annotated[int, typer.Option(help="Measure at most this many new blocks (0: all).")] = 0,
    passes: Annotated[int, typer.Option(help="Passes per block, seconds apart (even: two estimates).")] = 6,
    workers: Annotated[int, typer.Option(help="Harness processes, one per core.")] = 2,
    chunk_size: Annotated[int, typer.Option(help="Blocks per pass (sets the spacing of passes).")] = 3000,
    seed: Annotated[int, typer.Option(help="Shuffle seed (a prefix of the order is a random sample).")] = 0,
) -> None:
    """Measure the throughput of blocks on this CPU (resumable: measured blocks are skipped)."""
    from mlgo_env.blocks.dataset import read_sources
    from mlgo_env.blocks.exegesis import choose_backend
    from mlgo_env.blocks.measure import BACKEND, EXEGESIS_BACKEND, MeasuredWriter, Measurement, measure_blocks

    try:
        with _refusals():
            backend = choose_backend(backend)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    sources = read_sources(inputs)
    with _refusals():
        name = EXEGESIS_BACKEND if backend == "exegesis" else BACKEND
        writer = MeasuredWriter(out, {h: (s.source, s.freq) for h, s in sources.items()}, backend=name)
    done = writer.done()
    todo = sorted(h for h in sources if h not in done)
    random.Random(seed).shuffle(todo)
    if limit:
        todo = todo[:limit]
    console.print(
        f"{len(sources)} unique blocks, {len(done)} already done, measuring {len(todo)} with {backend} -> {out}"
    )
    counts = {"measured": 0, "rejected": 0}
    with tqdm(total=len(todo), unit="block") as bar:

        def save(results: list) -> None:
            writer.write(results)
            n = sum(isinstance(r, Measurement) for r in results)
            counts["measured"] += n
            counts["rejected"] += len(results) - n
            bar.update(len(results))

        measure_blocks(todo, passes=passes, workers=workers, chunk_size=chunk_size, on_chunk=save, backend=backend)
    console.print(f"measured {counts['measured']}, rejected {counts['rejected']} (reasons: {writer.rejected_path})")


@app.command()
def train(
    data: Inputs = [DEFAULT_DATA],  # noqa: B006 (typer needs a list default)
    run_dir: Annotated[Path, typer.Option(help="Checkpoints and TensorBoard logs.")] = Path("runs/blocks"),
    epochs: Annotated[int, typer.Option(help="At most this many epochs (early stopping).")] = 40,
    time_budget: Annotated[float, typer.Option(help="Stop after this many seconds of training.")] = 1e9,
    valid_apps: Annotated[str, typer.Option(help="Comma-separated validation applications.")] = "embree",
    test_apps: Annotated[str, typer.Option(help="Comma-separated held-out applications.")] = "ffmpeg,eigen",
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    lr: Annotated[float, typer.Option(help="Peak learning rate (cosine decay).")] = 5e-4,
    loss: Annotated[str, typer.Option(help="'mape' or 'log-l1'.")] = "mape",
    batch_size: Annotated[int, typer.Option(help="Blocks per step.")] = 128,
    dim: Annotated[int, typer.Option(help="Model width.")] = 128,
    layers: Annotated[int, typer.Option(help="Transformer layers.")] = 3,
    ship: Annotated[bool, typer.Option(help="Also write the best model (fp16) as the shipped one.")] = False,
    allow_mixed_cpus: AllowMixedCpus = False,
    fast: Annotated[
        bool, typer.Option(help="Train the fast model (what rewards use) instead of the transformer.")
    ] = False,
    init: Annotated[
        str | None, typer.Option(help="--fast: start from this CPU's shipped fast model, or a .npz path.")
    ] = None,
    min_count: Annotated[
        int, typer.Option(help="--fast without --init: tokens seen fewer times in training are unknown.")
    ] = 3,
) -> None:
    """Train the learned cost model on one CPU's measurements (split by application, early stopping).

    With --fast --ship the model is installed as the shipped model of the data's CPU.
    """
    from mlgo_env.blocks.checkpoint import load_checkpoint, save_checkpoint
    from mlgo_env.blocks.predict import SHIPPED_CHECKPOINT
    from mlgo_env.blocks.train import TrainConfig, Trainer

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if fast:
        from mlgo_env.blocks.fastmodel import FastConfig

        with _refusals():
            _train_fast(list(data), run_dir, valid_apps.split(","), test_apps.split(","),
                        FastConfig(seed=seed, min_count=min_count), init, ship, allow_mixed_cpus)  # fmt: skip
        return
    cfg = TrainConfig(list(data), run_dir, tuple(valid_apps.split(",")), tuple(test_apps.split(",")),
                      epochs=epochs, seed=seed, time_budget_s=time_budget, lr=lr, loss=loss,
                      batch_size=batch_size, dim=dim, layers=layers, allow_mixed_cpus=allow_mixed_cpus)  # fmt: skip
    with _refusals():
        trainer = Trainer(cfg)
    metrics = trainer.run()
    console.print_json(json.dumps(metrics))
    if ship:
        model, vocab, meta = load_checkpoint(run_dir / "best.pt")
        save_checkpoint(SHIPPED_CHECKPOINT, model, vocab, meta, half=True)
        console.print(f"shipped -> {SHIPPED_CHECKPOINT} ({SHIPPED_CHECKPOINT.stat().st_size / 1e6:.2f} MB)")


def _train_fast(
    data: list[Path], run_dir: Path, valid_apps: list[str], test_apps: list[str], config: FastConfig,
    init: str | None, ship: bool, allow_mixed_cpus: bool,
) -> None:  # fmt: skip
    """``train --fast``: the fast model on one CPU's measured rows, written to RUN/fast.npz (and shipped)."""
    import numpy as np

    from mlgo_env.blocks.dataset import measured_on, read_measured, split_by_application
    from mlgo_env.blocks.fastmodel import FastWeights, train_fast
    from mlgo_env.blocks.predict import fast_model_path
    from mlgo_env.machine import UNKNOWN

    rows = [r for r in read_measured(data) if r.throughput > 0]
    cpu = measured_on(rows, allow_mixed_cpus, source=", ".join(map(str, data)))
    train_rows, valid_rows, _ = split_by_application(rows, valid_apps, test_apps)
    train_rows = [r for r in train_rows if r.noise is None or r.noise <= 0.1]
    if not train_rows or not valid_rows:
        raise typer.BadParameter(f"need training and validation rows (validation apps: {','.join(valid_apps)})")
    split = lambda rs: ([bytes.fromhex(r.hex) for r in rs], np.array([r.throughput for r in rs]))  # noqa: E731
    start = None
    if init:
        start = FastWeights.load(Path(init) if init.endswith(".npz") else fast_model_path(init))
    meta = {"cpu": cpu, "source": ", ".join(map(str, data)), "init": init}
    weights = train_fast(split(train_rows), split(valid_rows), config, meta, init=start)
    weights.save(run_dir / "fast.npz")
    console.print_json(json.dumps({k: v for k, v in weights.meta.items() if k != "source"}))
    if ship:
        if cpu["mcpu"] == UNKNOWN:
            raise typer.BadParameter("--ship needs data of one CPU that names its -mcpu (the cpu column)")
        target = fast_model_path(cpu["mcpu"])
        weights.save(target)
        console.print(f"shipped -> {target} ({target.stat().st_size / 1e6:.2f} MB)")


@app.command("eval")
def evaluate(
    data: Inputs = [DEFAULT_DATA],  # noqa: B006 (typer needs a list default)
    checkpoint: Annotated[Path | None, typer.Option(help="Model to evaluate (default: shipped).")] = None,
    valid_apps: Annotated[str, typer.Option(help="Comma-separated validation applications.")] = "embree",
    test_apps: Annotated[str, typer.Option(help="Comma-separated held-out applications.")] = "ffmpeg,eigen",
    rows: Annotated[int, typer.Option(help="Held-out rows to evaluate, a seeded sample (0: all).")] = 0,
    gbt_train_rows: Annotated[int, typer.Option(help="Training rows for the baseline (0: all).")] = 0,
    write_heldout: Annotated[Path | None, typer.Option(help="Write the evaluated rows here first.")] = None,
    osaca_rows: Annotated[int, typer.Option(help="Rows OSACA predicts (it is slow).")] = 300,
    allow_mixed_cpus: AllowMixedCpus = False,
    strict_cpu: StrictCpu = False,
) -> None:
    """Compare the learned model, llvm-mca, OSACA and the bag-of-mnemonics baseline on held-out apps.

    The data's CPU is the target: llvm-mca and OSACA model it, and the learned model is checked against it.
    """
    from mlgo_env.blocks.evaluate import Evaluation

    with _refusals():
        ev = Evaluation.from_data(list(data), valid_apps.split(","), test_apps.split(","), rows or None,
                                  gbt_train_rows or None, allow_mixed_cpus=allow_mixed_cpus)  # fmt: skip
        if write_heldout:
            ev.write_heldout(write_heldout)
            console.print(f"{len(ev.rows)} held-out rows -> {write_heldout}")
        ev.run(checkpoint, osaca_rows=osaca_rows, strict_cpu=strict_cpu)
    console.print(ev.table())
    console.print_json(json.dumps(ev.summary()))


@app.command()
def predict(
    blocks: Annotated[list[str], typer.Argument(help="Hex-encoded blocks (without the final branch).")],
    checkpoint: Annotated[
        Path | None, typer.Option(help="A model file (.npz fast model or .pt transformer) instead of the shipped one.")
    ] = None,
    cpu: Annotated[
        str | None, typer.Option(help="LLVM -mcpu name the predictions are for (default: this host's).")
    ] = None,
    strict_cpu: StrictCpu = False,
) -> None:
    """Predict core cycles per iteration of blocks on a CPU, with the shipped model of that CPU.

    Without --checkpoint the model of --cpu is used, and a CPU without one is refused with how to
    make one; a --checkpoint trained on another CPU is warned about, or refused with --strict-cpu.
    """
    from mlgo_env.blocks.predict import load_model, shipped_model
    from mlgo_env.x86 import decode

    with _refusals():
        model = load_model(checkpoint) if checkpoint else shipped_model(cpu)
        model.check_cpu(cpu, strict=strict_cpu)
    console.print(f"[dim]core cycles per iteration on {model.cpu or 'a CPU the model does not record'}[/dim]")
    for hex_code, cycles in zip(blocks, model.cycles(blocks), strict=True):
        text = "; ".join(i.text for i in decode(bytes.fromhex(hex_code)) or [])
        console.print(f"{cycles:8.2f}  {hex_code}  [dim]{text}[/dim]")


if __name__ == "__main__":
    app()
