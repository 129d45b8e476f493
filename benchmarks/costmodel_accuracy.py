"""Accuracy and speed of basic-block cost models on whole held-out applications.

Compares, on the same measured blocks of applications never trained on (BHive's ffmpeg and
eigen; embree was the validation set): the shipped learned model, llvm-mca-19 and OSACA (both
modelling the CPU the blocks were measured on; OSACA on a subsample: it is slow), the
bag-of-mnemonics GBT baseline, and the measurement floor (two independent estimates of each
block). The JSON names the CPU the blocks were measured on (``cpu``) and the learned model's
(``model_cpu``); a model trained on another CPU than the blocks' is warned about.

    python benchmarks/costmodel_accuracy.py --quick --json out.json
        uses the shipped model and the shipped held-out sample (benchmarks/data/blocks_heldout.csv,
        measured on AMD EPYC Zen 4, `HELDOUT_CPU`; the baseline's predictions in it were made by a
        GBT fitted on the training applications when the sample was written).
    python benchmarks/costmodel_accuracy.py --data ~/.cache/mlgo-env/blocks/measured.csv
        every held-out row of a full measured dataset (`mlgo-env blocks measure`), refitting the
        baseline on its training applications.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import tyro
from rich.console import Console

from mlgo_env.blocks.evaluate import Evaluation

HELDOUT = Path(__file__).with_name("data") / "blocks_heldout.csv"
HELDOUT_CPU = "znver4"
"""The CPU the shipped held-out sample was measured on (the file predates its ``cpu`` column)."""


@dataclass
class Args:
    quick: bool = False
    """use the shipped held-out sample (about a minute on 2 cores)"""
    data: Path | None = None
    """measured CSV(s) to split by application instead of the shipped sample"""
    json: Path | None = None
    """write the results here as JSON"""
    checkpoint: Path | None = None
    """learned model to evaluate (default: the shipped one)"""
    osaca_rows: int = 300
    """rows OSACA predicts (about 30 ms each)"""
    test_apps: str = "ffmpeg,eigen"
    valid_apps: str = "embree"


def main(args: Args) -> dict[str, object]:
    if args.quick or args.data is None:
        ev = Evaluation.from_heldout(HELDOUT, cpu=HELDOUT_CPU)
    else:
        ev = Evaluation.from_data([args.data], args.valid_apps.split(","), args.test_apps.split(","))
    ev.run(args.checkpoint, osaca_rows=args.osaca_rows)
    Console().print(ev.table())
    summary = ev.summary()
    learned, mca = summary["learned"], summary["llvm-mca"]
    Console().print(
        f"learned vs llvm-mca: MAPE ratio {learned['mape'] / mca['mape']:.2f} (target <= 0.5), "
        f"vs floor {learned['mape'] / summary['floor']['mape']:.2f}x (target <= 1.5), "
        f"speed {learned['blocks_per_s'] / mca['blocks_per_s']:.1f}x llvm-mca (target >= 50)"
    )
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2))
    return summary


if __name__ == "__main__":
    main(tyro.cli(Args))
