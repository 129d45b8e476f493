"""Block datasets: BHive-layout CSVs, the CPU they were measured on, and the split by application.

Sources are ``hex,freq`` rows (BHive's layout, a third column may name the application);
measured rows are ``hex,throughput,...`` (BHive's, plus provenance, CPU and noise columns).
"""

from __future__ import annotations

import csv
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlgo_env.errors import MlgoEnvError
from mlgo_env.machine import UNKNOWN, is_mcpu

__all__ = [
    "BlockSource",
    "MeasuredBlock",
    "MixedCpus",
    "measured_on",
    "read_sources",
    "read_measured",
    "split_by_application",
]

SOURCE_SEP = ";"
"""Separates the applications of a block found in several."""


@dataclass
class BlockSource:
    """Where a unique block was found: its applications and its summed static frequency."""

    apps: set[str]
    freq: float = 0.0

    @property
    def source(self) -> str:
        """The applications, sorted, joined with `SOURCE_SEP`."""
        return SOURCE_SEP.join(sorted(self.apps))


def _csv_files(paths: Iterable[Path]) -> list[Path]:
    files: list[Path] = []
    for p in map(Path, paths):
        files.extend(sorted(p.glob("*.csv")) if p.is_dir() else [p])
    return files


def read_sources(paths: Iterable[Path]) -> dict[str, BlockSource]:
    """Unique blocks of BHive-layout source CSVs (``HEX,FREQ[,SOURCE]``, no header).

    A file's stem is the application of its rows unless a third column names it; blocks are
    deduplicated by bytes, keeping every application they occur in.
    """
    blocks: dict[str, BlockSource] = defaultdict(lambda: BlockSource(set()))
    for path in _csv_files(paths):
        with path.open() as f:
            for row in csv.reader(f):
                if not row or row[0] == "hex":
                    continue
                block = blocks[row[0].strip().lower()]
                block.apps.update((row[2] if len(row) > 2 and row[2] else path.stem).split(SOURCE_SEP))
                block.freq += float(row[1]) if len(row) > 1 and row[1] else 0.0
    return dict(blocks)


@dataclass(frozen=True)
class MeasuredBlock:
    """One measured row: throughput in cycles per 100 iterations, its applications and CPU.

    Attributes:
        cpu: the row's ``cpu`` column as written: LLVM's ``-mcpu`` name of the CPU it was
            measured on (``znver1``); older files hold a model name (``AMD EPYC``) there; `UNKNOWN`
            when the column is empty or missing (BHive's files).
    """

    hex: str
    throughput: float
    apps: frozenset[str]
    noise: float | None = None
    est_a: float | None = None
    est_b: float | None = None
    cpu: str = UNKNOWN


def read_measured(paths: Iterable[Path]) -> list[MeasuredBlock]:
    """Rows of measured CSVs: ours (with a header, ``cpu`` among the columns) or BHive's ``hex,throughput``."""
    rows: list[MeasuredBlock] = []
    for path in _csv_files(paths):
        with path.open() as f:
            reader = csv.reader(f)
            header: list[str] | None = None
            for row in reader:
                if header is None and row and row[0] == "hex":
                    header = row
                    continue
                rec = dict(zip(header or ["hex", "throughput"], row, strict=False))
                num = {k: float(rec[k]) if rec.get(k) else None for k in ("noise", "est_a", "est_b")}
                apps = frozenset((rec.get("source") or path.stem).split(SOURCE_SEP))
                cpu = (rec.get("cpu") or "").strip() or UNKNOWN
                rows.append(MeasuredBlock(rec["hex"], float(rec["throughput"]), apps, **num, cpu=cpu))
    return rows


class MixedCpus(MlgoEnvError, ValueError):
    """Measured rows of more than one CPU would make one data set (timings of different machines)."""


def _cpu_text(cpu: str, rows: int) -> str:
    if cpu == UNKNOWN:
        return f"unknown ({rows:,} rows that name no CPU)"
    if not is_mcpu(cpu):
        return f"{cpu!r} ({rows:,} rows; not an LLVM -mcpu name: older files wrote the model name)"
    return f"{cpu} ({rows:,} rows)"


def measured_on(rows: Iterable[MeasuredBlock], allow_mixed: bool = False, source: str = "the rows") -> dict[str, Any]:
    """The CPU `rows` were measured on, as a checkpoint records it (the shape of `CpuInfo.record`, in part).

    ``{"mcpu": name, "rows": {cpu column: row count}}``; ``mcpu`` is `UNKNOWN` when the rows do not
    name an LLVM ``-mcpu`` (no column, or an older file's model name, which is kept as
    ``model_name``) or name several CPUs.

    Args:
        rows: measured rows.
        allow_mixed: accept rows of several CPUs (or some of unknown CPU) instead of refusing.
        source: what the rows are, for the error message (the CSV paths).

    Raises:
        MixedCpus: the rows name more than one CPU and `allow_mixed` is not set.
    """
    counts = Counter(row.cpu for row in rows)
    if len(counts) > 1 and not allow_mixed:
        cpus = ", ".join(_cpu_text(cpu, n) for cpu, n in counts.most_common())
        raise MixedCpus(
            f"{source} hold blocks measured on {len(counts)} CPUs: {cpus}. A cost model learns one CPU's "
            f"timings: train on one CPU's rows (mlgo-env blocks measure writes the host's -mcpu name in the "
            f"cpu column), or pass --allow-mixed-cpus (allow_mixed_cpus=True) to mix them anyway."
        )
    record: dict[str, Any] = {"mcpu": UNKNOWN, "rows": dict(counts.most_common())}
    if len(counts) == 1:
        (cpu,) = counts
        if is_mcpu(cpu):
            record["mcpu"] = cpu
        elif cpu != UNKNOWN:
            record["model_name"] = cpu
    return record


def split_by_application(
    rows: Iterable[MeasuredBlock], valid_apps: Iterable[str], test_apps: Iterable[str]
) -> tuple[list[MeasuredBlock], list[MeasuredBlock], list[MeasuredBlock]]:
    """Train, validation and test rows, keeping whole applications apart.

    A block seen in any training application trains; otherwise a block seen in a validation
    application validates; blocks found only in test applications test. So no test block (by
    bytes) was ever trained on. An app matches by name or by prefix (``openblas`` matches every
    ``openblas-*``).
    """

    def matches(app: str, names: set[str]) -> bool:
        return app in names or app.split("-")[0] in names

    valid, test = set(valid_apps), set(test_apps)
    splits: tuple[list[MeasuredBlock], list[MeasuredBlock], list[MeasuredBlock]] = ([], [], [])
    for row in rows:
        if any(not matches(a, valid | test) for a in row.apps):
            splits[0].append(row)
        elif any(matches(a, valid) for a in row.apps):
            splits[1].append(row)
        else:
            splits[2].append(row)
    return splits
