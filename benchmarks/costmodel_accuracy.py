"""Accuracy and speed of basic-block cost models on whole held-out applications.

Compares, on the same measured blocks of applications never trained on (BHive's ffmpeg and
eigen; embree was the validation set): the shipped learned model of the blocks' CPU (the fast
model rewards use) and, on Zen 4, the transformer it was distilled from; llvm-mca-19 and OSACA
(both modelling that CPU; OSACA on a subsample: it is slow); the bag-of-mnemonics GBT baseline;
and the measurement floor (two independent estimates of each block). Overall, for register-only
and memory-touching blocks apart (``by_kind``), and per application (``per_app``). ``speed``
compares the learned model's first-sight blocks per second, decoding included, with llvm-mca's
batched throughput (every block a region of one process) on the same blocks in the same run.

    python benchmarks/costmodel_accuracy.py --quick --json out.json
        the shipped held-out sample of this machine's CPU (benchmarks/data/blocks_heldout*.csv,
        each with its ``cpu`` column; Zen 4's when this CPU has none; ``--cpu`` picks one). The
        baseline's predictions in a sample were made by a GBT fitted on the training applications
        when the sample was written.
    python benchmarks/costmodel_accuracy.py --data ~/.cache/mlgo-env/blocks/measured.csv
        every held-out row of a full measured dataset (`mlgo-env blocks measure`), refitting the
        baseline on its training applications.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

import tyro
from rich.console import Console

from mlgo_env.blocks.evaluate import Evaluation
from mlgo_env.machine import host_mcpu

DATA = Path(__file__).with_name("data")
DEFAULT_CPU = "znver4"
"""The held-out sample used on a CPU that has none."""


def heldout_samples() -> dict[str, Path]:
    """The shipped held-out samples, by the CPU their rows were measured on (their ``cpu`` column)."""
    samples = {}
    for path in sorted(DATA.glob("blocks_heldout*.csv")):
        with path.open() as f:
            first = next(csv.DictReader(f), None)
        if first and first.get("cpu"):
            samples[first["cpu"]] = path
    return samples


@dataclass
class Args:
    quick: bool = False
    """use the shipped held-out sample (a few minutes on 2 cores)"""
    cpu: str | None = None
    """--quick: the CPU whose sample to use (default: this machine's if one ships, else znver4)"""
    data: Path | None = None
    """measured CSV(s) to split by application instead of the shipped sample"""
    json: Path | None = None
    """write the results here as JSON"""
    checkpoint: Path | None = None
    """learned model to evaluate (default: the shipped one of the blocks' CPU)"""
    osaca_rows: int = 300
    """rows OSACA predicts (about 30 ms each)"""
    test_apps: str = "ffmpeg,eigen"
    valid_apps: str = "embree"


def main(args: Args) -> dict[str, object]:
    if args.quick or args.data is None:
        samples = heldout_samples()
        cpu = args.cpu or (host_mcpu() if host_mcpu() in samples else DEFAULT_CPU)
        if cpu not in samples:
            raise SystemExit(f"no held-out sample of {cpu}: the shipped ones are of {', '.join(sorted(samples))}")
        ev = Evaluation.from_heldout(samples[cpu])
    else:
        ev = Evaluation.from_data([args.data], args.valid_apps.split(","), args.test_apps.split(","))
    ev.run(args.checkpoint, osaca_rows=args.osaca_rows)
    Console().print(ev.table())
    summary = ev.summary()
    learned, mca, speed = summary["learned"], summary["llvm-mca"], summary["speed"]
    Console().print(
        f"learned vs llvm-mca: MAPE ratio {learned['mape'] / mca['mape']:.2f} (target <= 0.5), "
        f"vs floor {learned['mape'] / summary['floor']['mape']:.2f}x (target <= 1.5), "
        f"speed {speed['ratio']:.1f}x llvm-mca batched (target >= 50)"
    )
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2))
    return summary


if __name__ == "__main__":
    main(tyro.cli(Args))
