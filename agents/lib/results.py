"""An evaluation's results on disk: a journal of finished modules, and the summary JSON.

Each finished module is appended at once to a JSONL journal beside the summary (``eval.json`` ->
``eval.jsonl``): a header line with the run's settings, then one line per module with its row or
the cause of its failure. A killed run loses at most the modules in flight; rerun the same
command with ``--resume`` and the modules in the journal are taken from it. The summary JSON is
rewritten from the rows now and then and at the end, atomically.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

__all__ = ["Journal", "SummaryWriter", "write_json"]


def write_json(path: Path, data: Any) -> None:
    """Write `data` as JSON atomically: a reader sees the old file or the new one, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=1) + "\n")
    tmp.replace(path)


class Journal:
    """Append-only JSONL of finished modules, per part of the evaluation, that a rerun resumes from.

    Args:
        path: the journal file.
        settings: what the rows depend on (policy digest, optimisation level, corpus, ...): a
            resumed run must have the same, or its rows would mix two evaluations.
        resume: take the finished modules from an existing journal; False starts a new one.

    Raises:
        ValueError: resuming a journal written with other settings, or one that is not a journal.
    """

    def __init__(self, path: Path, settings: dict[str, Any], resume: bool) -> None:
        self.path = path
        self.settings = json.loads(json.dumps(settings))
        self._done: dict[str, dict[str, dict]] = {}
        if resume and path.is_file():
            self._load()
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps({"settings": self.settings}) + "\n")

    def _load(self) -> None:
        text = self.path.read_text()
        if not text.endswith("\n"):  # the line being written when the run was killed: drop it
            text = text[: text.rfind("\n") + 1]
            self.path.write_text(text)
        lines = text.splitlines()
        try:
            header = json.loads(lines[0])["settings"] if lines else None
        except (ValueError, KeyError, TypeError):
            header = None
        if header is None:
            raise ValueError(f"{self.path} is not an evaluation journal; remove it or run without --resume")
        if header != self.settings:
            changed = sorted(k for k in {**header, **self.settings} if header.get(k) != self.settings.get(k))
            raise ValueError(
                f"{self.path} was written with other settings ({', '.join(changed)} differ): "
                "rerun with the same flags to resume, or without --resume to start again"
            )
        for line in lines[1:]:
            entry = json.loads(line)
            self._done.setdefault(entry["part"], {})[entry["benchmark"]] = entry["record"]

    def done(self, part: str) -> dict[str, dict]:
        """The finished modules of `part`: benchmark -> record (a row, or ``{"failed": cause}``)."""
        return dict(self._done.get(part, {}))

    def add(self, part: str, benchmark: str, record: dict) -> None:
        """Append one finished module (flushed to disk before returning)."""
        self._done.setdefault(part, {})[benchmark] = record
        with open(self.path, "a") as handle:
            handle.write(json.dumps({"part": part, "benchmark": benchmark, "record": record}) + "\n")
            handle.flush()
            os.fsync(handle.fileno())


class SummaryWriter:
    """Rewrites the summary JSON at most every `every` seconds (and always when `force`d)."""

    def __init__(self, path: Path | None, every: float = 10.0) -> None:
        self.path, self.every = path, every
        self._last = 0.0

    def __call__(self, data: Any, force: bool = False) -> None:
        """Write `data` to the summary if it is time (or `force`)."""
        if self.path is None or (not force and time.monotonic() - self._last < self.every):
            return
        write_json(self.path, data)
        self._last = time.monotonic()
