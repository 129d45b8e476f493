"""Block datasets: BHive-layout CSVs and the split of measured blocks by application.

Sources are ``hex,freq`` rows (BHive's layout, a third column may name the application);
measured rows are ``hex,throughput,...`` (BHive's, plus provenance and noise columns).
"""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

__all__ = ["BlockSource", "MeasuredBlock", "read_sources", "read_measured", "split_by_application"]

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
    """One measured row: throughput in cycles per 100 iterations, and its applications."""

    hex: str
    throughput: float
    apps: frozenset[str]
    noise: float | None = None
    est_a: float | None = None
    est_b: float | None = None


def read_measured(paths: Iterable[Path]) -> list[MeasuredBlock]:
    """Rows of measured CSVs: ours (with a header) or BHive's ``hex,throughput`` (without)."""
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
                apps = rec.get("source") or path.stem
                rows.append(
                    MeasuredBlock(rec["hex"], float(rec["throughput"]), frozenset(apps.split(SOURCE_SEP)), **num)
                )
    return rows


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
