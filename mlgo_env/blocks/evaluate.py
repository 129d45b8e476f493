"""Compares cost models on held-out measured blocks.

The learned model, llvm-mca, OSACA, the bag-of-mnemonics baseline, and the measurement floor
(repeatability), on the same rows, with each model's blocks per second.
"""

from __future__ import annotations

import csv
import functools
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import capstone
import numpy as np
from rich.table import Table

from mlgo_env.blocks.dataset import MeasuredBlock, read_measured, split_by_application
from mlgo_env.blocks.metrics import Accuracy, accuracy, repeatability
from mlgo_env.blocks.predict import SHIPPED_CHECKPOINT, CostModel
from mlgo_env.blocks.train import decode_rows

__all__ = ["Evaluation", "ModelResult", "osaca_cycles"]

OSACA_ARCH = "zen4"
"""OSACA's model of this machine's CPU (AMD Zen 4)."""


@dataclass(frozen=True)
class ModelResult:
    """One model's accuracy on the held-out rows and its speed."""

    name: str
    accuracy: Accuracy
    blocks_per_s: float | None
    """None for predictions made ahead of time (the baseline's, in the shipped sample)."""

    def to_json(self) -> dict[str, float | None]:
        """The JSON shape of the benchmark: mape, kendall_tau, spearman_rho, blocks_per_s, rows."""
        a = self.accuracy
        return {"mape": a.mape, "kendall_tau": a.kendall_tau, "spearman_rho": a.spearman_rho,
                "blocks_per_s": self.blocks_per_s, "rows": a.rows}  # fmt: skip


@functools.cache
def _osaca() -> tuple[Any, Any, Any]:
    from osaca.parser import ParserX86ATT
    from osaca.semantics import ArchSemantics, MachineModel

    parser = ParserX86ATT()
    model = MachineModel(arch=OSACA_ARCH)
    return parser, model, ArchSemantics(parser, model)


@functools.cache
def _att() -> capstone.Cs:
    md = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_64)
    md.syntax = capstone.CS_OPT_SYNTAX_ATT
    return md


def osaca_cycles(code: bytes) -> float:
    """OSACA's cycles per iteration of a block: max(port-pressure bound, longest loop-carried chain)."""
    from osaca.semantics import ArchSemantics, KernelDG

    parser, model, semantics = _osaca()
    asm = "\n".join(f"{m} {ops}".strip() for _, _, m, ops in _att().disasm_lite(code, 0)) + "\n"
    kernel = parser.parse_file(asm)
    kernel = [line for line in kernel if line.mnemonic]
    semantics.normalize_instruction_forms(kernel)
    semantics.add_semantics(kernel)
    semantics.assign_optimal_throughput(kernel)
    graph = KernelDG(kernel, parser, model, semantics, 10)
    ports = ArchSemantics.get_throughput_sum(kernel) or [0.0]
    lcd = max((d["latency"] for d in graph.get_loopcarried_dependencies().values()), default=0.0)
    return float(max(max(ports), lcd))


def _timed(
    predict: Callable[[list[bytes]], Sequence[float] | np.ndarray], blocks: list[bytes]
) -> tuple[np.ndarray, float]:
    start = time.perf_counter()
    out = np.asarray(predict(blocks), dtype=np.float64)
    return out, len(blocks) / max(time.perf_counter() - start, 1e-9)


class Evaluation:
    """Held-out measured blocks and the models compared on them.

    Args:
        rows: held-out rows (whole applications never trained on).
        gbt: the bag-of-mnemonics baseline's predictions for `rows` (cycles per 100 iterations),
            fitted on the training applications; None when not available.
    """

    def __init__(self, rows: Sequence[MeasuredBlock], gbt: np.ndarray | None = None) -> None:
        self.rows = list(rows)
        self.gbt = gbt
        self.measured = np.array([r.throughput for r in self.rows])
        self.results: dict[str, ModelResult] = {}

    @classmethod
    def from_data(
        cls,
        data: list[Path],
        valid_apps: Sequence[str],
        test_apps: Sequence[str],
        rows: int | None = None,
        gbt_train_rows: int | None = None,
        max_noise: float = 0.1,
        seed: int = 0,
    ) -> Evaluation:
        """The held-out split of measured CSVs, with the baseline fitted on the training split.

        Args:
            data: measured CSVs.
            valid_apps: validation applications (left out of both).
            test_apps: held-out applications.
            rows: evaluate a seeded random sample of this many held-out rows (None: all).
            gbt_train_rows: fit the baseline on a seeded sample of this many training rows.
            max_noise: training rows noisier than this are dropped (as in training).
            seed: sampling seed.
        """
        from mlgo_env.blocks.baseline import MnemonicGBT

        measured = [r for r in read_measured(data) if r.throughput > 0]
        train, _, test = split_by_application(measured, valid_apps, test_apps)
        train = [r for r in train if r.noise is None or r.noise <= max_noise]
        rng = random.Random(seed)
        if rows is not None and rows < len(test):
            test = rng.sample(test, rows)
        if gbt_train_rows is not None and gbt_train_rows < len(train):
            train = rng.sample(train, gbt_train_rows)
        train, train_insns = decode_rows(train)
        test, test_insns = decode_rows(test)
        gbt = MnemonicGBT().fit(train_insns, [r.throughput for r in train]).predict(test_insns)
        return cls(test, gbt)

    @classmethod
    def from_heldout(cls, path: Path) -> Evaluation:
        """A held-out sample written by `write_heldout` (with the baseline's predictions)."""
        with Path(path).open() as f:
            records = list(csv.DictReader(f))
        gbt = np.array([float(r["gbt"]) for r in records]) if records and "gbt" in records[0] else None
        return cls(read_measured([path]), gbt)

    def write_heldout(self, path: Path) -> None:
        """Writes the rows (with est_a/est_b and the baseline's predictions) as a CSV."""
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        with Path(path).open("w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["hex", "throughput", "source", "noise", "est_a", "est_b", "gbt"])
            for k, r in enumerate(self.rows):
                gbt = f"{self.gbt[k]:.2f}" if self.gbt is not None else ""
                w.writerow([r.hex, f"{r.throughput:.2f}", ";".join(sorted(r.apps)), f"{r.noise:.5f}",
                            f"{r.est_a:.2f}", f"{r.est_b:.2f}", gbt])  # fmt: skip

    def run(self, checkpoint: Path | None = None, osaca_rows: int | None = None, mcpu: str | None = None) -> None:
        """Predicts every row with each model and records accuracy and blocks per second.

        llvm-mca runs without its on-disk cache (a fresh in-memory one), so its speed is its own;
        the learned model starts with cold decoding caches too. OSACA is slow (a Python model per
        block): `osaca_rows` limits it to the first rows of a seeded shuffle, and rows it cannot
        model (an exception, or 0 cycles when it knows none of the instruction forms) are left out
        of its accuracy (its ``rows`` says how many remain).
        """
        from mlgo_env.mca import McaBlockModel, McaCache

        blocks = [bytes.fromhex(r.hex) for r in self.rows]
        learned = CostModel(checkpoint or SHIPPED_CHECKPOINT)
        pred, speed = _timed(learned.cycles, blocks)
        self.results["learned"] = ModelResult("learned", accuracy(100 * pred, self.measured), speed)
        mca = McaBlockModel(mcpu=mcpu, cache=McaCache(None))
        pred, speed = _timed(mca.cycles, blocks)
        name = f"llvm-mca-19 -mcpu={mca.mcpu}"
        self.results["llvm-mca"] = ModelResult(name, accuracy(100 * pred, self.measured), speed)
        if self.gbt is not None:
            self.results["gbt"] = ModelResult("bag-of-mnemonics GBT", accuracy(self.gbt, self.measured), None)
        self._run_osaca(blocks, osaca_rows)

    def _run_osaca(self, blocks: list[bytes], rows: int | None) -> None:
        try:
            _osaca()
        except ImportError:
            return
        if rows == 0:
            return
        idx = list(range(len(blocks)))
        random.Random(0).shuffle(idx)
        idx = sorted(idx[:rows] if rows is not None else idx)
        ok, pred = [], []
        start = time.perf_counter()
        for k in idx:
            try:
                cycles = osaca_cycles(blocks[k])
            except Exception:  # noqa: BLE001 (OSACA raises anything on forms it does not know)
                continue
            if cycles > 0:  # 0: every instruction form unknown to OSACA's model
                pred.append(100 * cycles)
                ok.append(k)
        speed = len(idx) / max(time.perf_counter() - start, 1e-9)
        if ok:
            self.results["osaca"] = ModelResult(f"OSACA {OSACA_ARCH}", accuracy(pred, self.measured[ok]), speed)

    def floor(self) -> dict[str, float]:
        """Repeatability of the measurements of these rows (see `metrics.repeatability`)."""
        a = [r.est_a for r in self.rows if r.est_a is not None]
        b = [r.est_b for r in self.rows if r.est_b is not None]
        return repeatability(a, b)

    def summary(self) -> dict[str, object]:
        """The benchmark's JSON: one entry per model, ``floor`` and ``rows``."""
        out: dict[str, object] = {name: res.to_json() for name, res in self.results.items()}
        out["floor"] = self.floor()
        out["rows"] = len(self.rows)
        return out

    def table(self) -> Table:
        """A readable table of `results` and the floor."""
        table = Table(title=f"Held-out blocks: {len(self.rows)} rows (cycles per 100 iterations, this CPU)")
        for col in ("model", "rows", "MAPE", "Kendall τ", "Spearman ρ", "blocks/s"):
            table.add_column(col, justify="left" if col == "model" else "right")
        for res in self.results.values():
            a = res.accuracy
            table.add_row(res.name, str(a.rows), f"{a.mape:.1%}", f"{a.kendall_tau:.3f}", f"{a.spearman_rho:.3f}",
                          "-" if res.blocks_per_s is None else f"{res.blocks_per_s:,.0f}")  # fmt: skip
        floor = self.floor()
        table.add_row("measurement floor (even vs odd passes)", str(len(self.rows)), f"{floor['mape']:.1%}",
                      "", "", "", end_section=True)  # fmt: skip
        return table
