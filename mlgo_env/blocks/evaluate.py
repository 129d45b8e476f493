"""Compares cost models on held-out measured blocks.

The learned models (the shipped fast model of the rows' CPU, and the transformer where it was
trained on that CPU), llvm-mca, OSACA, the bag-of-mnemonics baseline, and the measurement floor
(repeatability), on the same rows: overall, for register-only and memory-touching blocks apart,
and per application; with each model's blocks per second. The rows' CPU (their ``cpu`` column)
is the target: llvm-mca and OSACA model it, and a learned model trained on another CPU is warned
about (or refused).

Speed is first-sight speed: the fast model starts with empty memo and parse caches (a model
warmed up on three other blocks is thrown away first: a reward runs in a warm process), and is
compared with llvm-mca run the fastest way it can run, every block a region of one process at
100 iterations (`mca_batched_speed`; the accuracy figures use `mlgo_env.mca.McaBlockModel`, which
runs up to 1,000 iterations so that pipeline fill does not skew short blocks). Both are the
median of `SPEED_REPEATS` runs: one run of the fast model lasts tens of milliseconds, and a
single one moved by a third between runs on a 2-core VM.
"""

from __future__ import annotations

import csv
import dataclasses
import functools
import gc
import logging
import random
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from rich.table import Table

from mlgo_env import x86
from mlgo_env.blocks.dataset import MeasuredBlock, measured_on, read_measured, split_by_application
from mlgo_env.blocks.features import clear_caches
from mlgo_env.blocks.metrics import Accuracy, accuracy, repeatability
from mlgo_env.blocks.predict import SHIPPED_CHECKPOINT, CostModel, CpuModel, load_model, shipped_model
from mlgo_env.blocks.train import decode_rows
from mlgo_env.machine import UNKNOWN, is_mcpu
from mlgo_env.toolchain import get_toolchain

__all__ = ["OSACA_ARCHS", "Evaluation", "ModelResult", "mca_batched_speed", "osaca_cycles"]

SPEED_REPEATS = 7
"""Runs of each speed measurement; the median is reported."""
_WARM_UP = [bytes.fromhex(h) for h in ("4801d8", "480fafc3", "c5fc58c1488b00")]
"""add rax, rbx; imul rax, rbx; vaddps ymm0, ymm0, ymm1 + mov rax, [rax]: not blocks of any sample."""

logger = logging.getLogger(__name__)

OSACA_ARCHS = {
    "znver1": "zen1", "znver2": "zen2", "znver3": "zen3", "znver4": "zen4",
    "sandybridge": "snb", "ivybridge": "ivb", "haswell": "hsw", "broadwell": "bdw",
    "skylake-avx512": "skx", "cascadelake": "csx", "icelake-client": "icl", "icelake-server": "icx",
    "sapphirerapids": "spr",
}  # fmt: skip
"""OSACA's machine model for each LLVM ``-mcpu`` name it has one for."""


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
def _osaca(arch: str) -> tuple[Any, Any, Any]:
    from osaca.parser import ParserX86ATT
    from osaca.semantics import ArchSemantics, MachineModel

    parser = ParserX86ATT()
    model = MachineModel(arch=arch)
    return parser, model, ArchSemantics(parser, model)


def osaca_cycles(code: bytes, arch: str) -> float:
    """OSACA's cycles per iteration of a block on `arch` (``zen4``, `OSACA_ARCHS`).

    Max(port-pressure bound, longest loop-carried chain).
    """
    from osaca.semantics import ArchSemantics, KernelDG

    parser, model, semantics = _osaca(arch)
    asm = "\n".join(x86.att_lines(code, partial=True) or []) + "\n"
    kernel = parser.parse_file(asm)
    kernel = [line for line in kernel if line.mnemonic]
    semantics.normalize_instruction_forms(kernel)
    semantics.add_semantics(kernel)
    semantics.assign_optimal_throughput(kernel)
    graph = KernelDG(kernel, parser, model, semantics, 10)
    ports = ArchSemantics.get_throughput_sum(kernel) or [0.0]
    lcd = max((d["latency"] for d in graph.get_loopcarried_dependencies().values()), default=0.0)
    return float(max(max(ports), lcd))


def mca_batched_speed(blocks: Sequence[bytes], mcpu: str, iterations: int = 100, repeats: int = SPEED_REPEATS) -> float:
    """Blocks per second of llvm-mca with every block a region of one process (its fastest use).

    Includes writing the AT&T text (capstone) and parsing nothing: the output is discarded. The
    median of `repeats` runs.
    """
    return float(np.median([_mca_batched_once(blocks, mcpu, iterations) for _ in range(repeats)]))


def _mca_batched_once(blocks: Sequence[bytes], mcpu: str, iterations: int) -> float:
    start = time.perf_counter()
    regions = [x86.att_lines(b, partial=True) or ["nop"] for b in blocks]
    text = "".join(f"# LLVM-MCA-BEGIN b{k}\n" + "\n".join(r) + "\n# LLVM-MCA-END\n" for k, r in enumerate(regions))
    with tempfile.NamedTemporaryFile("w", suffix=".s") as f:
        f.write(text)
        f.flush()
        cmd = [str(get_toolchain().tool("llvm-mca")), f"-mcpu={mcpu}", f"--iterations={iterations}", "--json",
               "--resource-pressure=false", "--instruction-info=false", f.name]  # fmt: skip
        subprocess.run(cmd, capture_output=True, check=True)
    return len(blocks) / (time.perf_counter() - start)


def _timed(
    predict: Callable[[list[bytes]], Sequence[float] | np.ndarray], blocks: list[bytes]
) -> tuple[np.ndarray, float]:
    gc.collect()  # a full collection that the imports made due is nobody's cost (timeit disables it)
    start = time.perf_counter()
    out = np.asarray(predict(blocks), dtype=np.float64)
    return out, len(blocks) / max(time.perf_counter() - start, 1e-9)


class Evaluation:
    """Held-out measured blocks and the models compared on them.

    Args:
        rows: held-out rows (whole applications never trained on).
        gbt: the bag-of-mnemonics baseline's predictions for `rows` (cycles per 100 iterations),
            fitted on the training applications; None when not available.
        allow_mixed_cpus: accept rows measured on several CPUs (then the target CPU is unknown).

    Attributes:
        cpu: LLVM's ``-mcpu`` name of the CPU the rows were measured on (`UNKNOWN` if they do not say).
        model_cpu: the learned model's CPU, once `run` has loaded it (`UNKNOWN` if it does not say).

    Raises:
        dataset.MixedCpus: the rows name several CPUs and `allow_mixed_cpus` is not set.
    """

    def __init__(
        self, rows: Sequence[MeasuredBlock], gbt: np.ndarray | None = None, allow_mixed_cpus: bool = False
    ) -> None:
        self.rows = list(rows)
        self.gbt = gbt
        self.cpu: str = measured_on(self.rows, allow_mixed_cpus, source="the held-out rows")["mcpu"]
        self.model_cpu = UNKNOWN
        self.measured = np.array([r.throughput for r in self.rows])
        self.results: dict[str, ModelResult] = {}
        self.predictions: dict[str, np.ndarray] = {}
        """Cycles per 100 iterations of each model (OSACA: NaN where it gave none)."""
        self.mca_batched_blocks_per_s: float | None = None
        self.learned_memoised_blocks_per_s: float | None = None
        self.learned_runs_blocks_per_s: list[float] = []
        """Every first-sight run of the learned model (its median is its blocks/s)."""
        self.memory = np.array(
            [any(i.touches_memory for i in x86.decode(bytes.fromhex(r.hex)) or []) for r in self.rows]
        )
        """Rows whose block reads or writes memory (the others are register-only)."""

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
        allow_mixed_cpus: bool = False,
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
            allow_mixed_cpus: accept data measured on several CPUs.

        Raises:
            dataset.MixedCpus: the data names several CPUs and `allow_mixed_cpus` is not set.
        """
        from mlgo_env.blocks.baseline import MnemonicGBT

        measured = [r for r in read_measured(data) if r.throughput > 0]
        measured_on(measured, allow_mixed_cpus, source=", ".join(map(str, data)))
        train, _, test = split_by_application(measured, valid_apps, test_apps)
        train = [r for r in train if r.noise is None or r.noise <= max_noise]
        rng = random.Random(seed)
        if rows is not None and rows < len(test):
            test = rng.sample(test, rows)
        if gbt_train_rows is not None and gbt_train_rows < len(train):
            train = rng.sample(train, gbt_train_rows)
        train, train_insns = decode_rows(train)
        test, test_insns = decode_rows(test)
        if not test:
            raise ValueError(f"{', '.join(map(str, data))} has no rows of the test applications {test_apps}")
        if not train:  # only held-out rows (a re-measured sample): there is nothing to fit the baseline on
            logger.warning("no rows of training applications: the bag-of-mnemonics baseline is left out")
            return cls(test, None, allow_mixed_cpus)
        gbt = MnemonicGBT().fit(train_insns, [r.throughput for r in train]).predict(test_insns)
        return cls(test, gbt, allow_mixed_cpus)

    @classmethod
    def from_heldout(cls, path: Path, cpu: str = UNKNOWN) -> Evaluation:
        """A held-out sample written by `write_heldout` (with the baseline's predictions).

        Args:
            path: the sample.
            cpu: the ``-mcpu`` name of rows whose ``cpu`` column is empty or missing (older samples).
        """
        with Path(path).open() as f:
            records = list(csv.DictReader(f))
        gbt = np.array([float(r["gbt"]) for r in records]) if records and "gbt" in records[0] else None
        rows = [r if r.cpu != UNKNOWN else dataclasses.replace(r, cpu=cpu) for r in read_measured([path])]
        return cls(rows, gbt)

    def write_heldout(self, path: Path) -> None:
        """Writes the rows (with est_a/est_b, their CPU and the baseline's predictions) as a CSV."""
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        with Path(path).open("w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["hex", "throughput", "source", "cpu", "noise", "est_a", "est_b", "gbt"])
            for k, r in enumerate(self.rows):
                gbt = f"{self.gbt[k]:.2f}" if self.gbt is not None else ""
                w.writerow([r.hex, f"{r.throughput:.2f}", ";".join(sorted(r.apps)), r.cpu, f"{r.noise:.5f}",
                            f"{r.est_a:.2f}", f"{r.est_b:.2f}", gbt])  # fmt: skip

    def run(self, checkpoint: Path | None = None, osaca_rows: int | None = None, strict_cpu: bool = False) -> None:
        """Predicts every row with each model and records accuracy and blocks per second.

        The rows' CPU is the target: the learned model is its shipped fast model (or `checkpoint`,
        checked against it: a warning, or `machine.CpuMismatch` with `strict_cpu`); the shipped
        transformer is compared too where it was trained on that CPU. llvm-mca and OSACA model it
        (llvm-mca models the host when the rows do not name a CPU; OSACA runs only for CPUs it has
        a model of). llvm-mca runs without its on-disk cache (a fresh in-memory one); the fast
        model starts with empty caches. OSACA is slow (a Python model per block): `osaca_rows`
        limits it to the first rows of a seeded shuffle, and rows it cannot model (an exception,
        or 0 cycles when it knows none of the instruction forms) are left out of its accuracy
        (its ``rows`` says how many remain).

        Raises:
            predict.NoModelForCpu: no `checkpoint` and no shipped model of the rows' CPU.
        """
        from mlgo_env.mca import McaBlockModel, McaCache

        blocks = [bytes.fromhex(r.hex) for r in self.rows]

        def fresh() -> CpuModel:
            return load_model(checkpoint) if checkpoint else shipped_model.__wrapped__(self.cpu)

        warm = fresh()
        warm.check_cpu(self.cpu, strict=strict_cpu)
        warm.cycles(_WARM_UP)  # the process's one-time costs (first BLAS call, first allocations)
        self.model_cpu = warm.cpu or UNKNOWN
        speeds = self.learned_runs_blocks_per_s = []
        for _ in range(SPEED_REPEATS):  # each a first sight: a fresh model, parse caches cleared
            clear_caches()
            learned = fresh()
            pred, speed = _timed(learned.cycles, blocks)
            speeds.append(speed)
        self._record("learned", f"learned, {learned.path.name} (trained on {self.model_cpu})", pred, np.median(speeds))
        self.learned_memoised_blocks_per_s = _timed(learned.cycles, blocks)[1]  # the same blocks again
        if checkpoint is None and SHIPPED_CHECKPOINT.exists():
            transformer = CostModel(SHIPPED_CHECKPOINT)
            if transformer.cpu == self.cpu:
                self._add("transformer", f"transformer, {SHIPPED_CHECKPOINT.name} (slow)", transformer.cycles, blocks)
        mca = McaBlockModel(mcpu=self.cpu if is_mcpu(self.cpu) else None, cache=McaCache(None))
        self._add("llvm-mca", f"llvm-mca-19 -mcpu={mca.mcpu}", mca.cycles, blocks)
        self.mca_batched_blocks_per_s = mca_batched_speed(blocks, mca.mcpu)
        if self.gbt is not None:
            self.predictions["gbt"] = self.gbt
            self.results["gbt"] = ModelResult("bag-of-mnemonics GBT", accuracy(self.gbt, self.measured), None)
        self._run_osaca(blocks, osaca_rows)

    def _add(self, key: str, name: str, predict: Callable[[list[bytes]], Any], blocks: list[bytes]) -> None:
        self._record(key, name, *_timed(predict, blocks))

    def _record(self, key: str, name: str, pred: np.ndarray, speed: float) -> None:
        """A model's predictions (cycles per iteration) and its blocks per second."""
        self.predictions[key] = 100 * pred
        self.results[key] = ModelResult(name, accuracy(100 * pred, self.measured), float(speed))

    def _run_osaca(self, blocks: list[bytes], rows: int | None) -> None:
        arch = OSACA_ARCHS.get(self.cpu)
        if arch is None or rows == 0:
            return
        try:
            _osaca(arch)
        except ImportError:
            return
        idx = list(range(len(blocks)))
        random.Random(0).shuffle(idx)
        idx = sorted(idx[:rows] if rows is not None else idx)
        ok, pred = [], []
        start = time.perf_counter()
        for k in idx:
            try:
                cycles = osaca_cycles(blocks[k], arch)
            except Exception:  # noqa: BLE001 (OSACA raises anything on forms it does not know)
                continue
            if cycles > 0:  # 0: every instruction form unknown to OSACA's model
                pred.append(100 * cycles)
                ok.append(k)
        speed = len(idx) / max(time.perf_counter() - start, 1e-9)
        if ok:
            self.results["osaca"] = ModelResult(f"OSACA {arch}", accuracy(pred, self.measured[ok]), speed)
            self.predictions["osaca"] = np.full(len(blocks), np.nan)
            self.predictions["osaca"][ok] = pred

    def floor(self) -> dict[str, float]:
        """Repeatability of the measurements of these rows (see `metrics.repeatability`)."""
        a = [r.est_a for r in self.rows if r.est_a is not None]
        b = [r.est_b for r in self.rows if r.est_b is not None]
        return repeatability(a, b)

    def _breakdown(self, mask: np.ndarray) -> dict[str, dict[str, float]]:
        """Each model's mape and kendall_tau on the rows of `mask` (and how many it predicted)."""
        out: dict[str, dict[str, float]] = {}
        for name, pred in self.predictions.items():
            keep = mask & ~np.isnan(pred)
            if keep.sum() >= 2:
                a = accuracy(pred[keep], self.measured[keep])
                out[name] = {"mape": a.mape, "kendall_tau": a.kendall_tau, "rows": a.rows}
        a_rows = [r for r, m in zip(self.rows, mask, strict=True) if m and r.est_a is not None and r.est_b is not None]
        if a_rows:
            out["floor"] = {**repeatability([r.est_a for r in a_rows], [r.est_b for r in a_rows]),  # type: ignore[misc]
                            "rows": len(a_rows)}  # fmt: skip
        return out

    def summary(self) -> dict[str, object]:
        """The benchmark's JSON.

        One entry per model (``mape``, ``kendall_tau``, ...), ``floor``, ``rows``, ``cpu`` (the
        rows'), ``model_cpu``, ``speed`` (``learned_blocks_per_s``, ``mca_batched_blocks_per_s``,
        ``ratio``, ``learned_memoised_blocks_per_s``: the same blocks a second time, and
        ``learned_runs_blocks_per_s``: each first-sight run, of which the median is reported),
        ``by_kind`` (``register_only`` and ``memory``: each model's accuracy and the floor) and
        ``per_app`` (the same per application).
        """
        out: dict[str, object] = {name: res.to_json() for name, res in self.results.items()}
        out["floor"] = self.floor()
        out["rows"] = len(self.rows)
        out["cpu"] = self.cpu
        out["model_cpu"] = self.model_cpu
        learned = self.results.get("learned")
        if learned is not None and learned.blocks_per_s and self.mca_batched_blocks_per_s:
            out["speed"] = {
                "learned_blocks_per_s": learned.blocks_per_s,
                "mca_batched_blocks_per_s": self.mca_batched_blocks_per_s,
                "ratio": learned.blocks_per_s / self.mca_batched_blocks_per_s,
                "learned_memoised_blocks_per_s": self.learned_memoised_blocks_per_s,
                "learned_runs_blocks_per_s": [round(x) for x in self.learned_runs_blocks_per_s],
            }
        out["by_kind"] = {"register_only": self._breakdown(~self.memory), "memory": self._breakdown(self.memory)}
        apps = np.array([sorted(r.apps)[0] for r in self.rows])
        out["per_app"] = {app: self._breakdown(apps == app) for app in sorted(set(apps.tolist()))}
        return out

    def table(self) -> Table:
        """A readable table of `results` and the floor."""
        title = f"Held-out blocks: {len(self.rows)} rows (cycles per 100 iterations, measured on {self.cpu})"
        table = Table(title=title)
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
