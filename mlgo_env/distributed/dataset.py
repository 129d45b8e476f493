"""Collected episodes on disk: a Parquet dataset with one row per episode, written as it streams in.

The dataset is a directory of Parquet files (``part-*.parquet``), each complete on its own: a part
is written to a temporary name and renamed, so a crash loses at most the rows not yet flushed and
never leaves a file readers cannot open. ``pandas.read_parquet(path)`` and
``pyarrow.parquet.read_table(path)`` read the whole directory.

Columns: ``episode`` (position in the collection's list), ``benchmark`` (URI), ``seed``,
``policy``, ``task``, ``status`` (``"ok"``/``"failed"``), ``attempts``, ``error_type``,
``error_details``, ``worker``, ``decisions``, ``text_size``, ``object_size``,
``compile_seconds``, ``reward``, ``cost``, ``baseline_cost``, ``actions`` (one entry per
decision) and ``obs.<feature>`` (one flattened tensor per decision). The schema metadata key
``mlgo.features`` records each feature's dtype and shape; `read_decisions` restores them. The key
``mlgo.cpu`` records the CPU the dataset was collected for (`mlgo_env.machine.CpuInfo.record` of the
collecting machine, whose ``-mcpu`` name is also the target of its CPU-dependent rewards);
`dataset_cpu` reads it.

Behavioural cloning note: rollouts of ``llvm-default`` carry ``obs.inlining_default``, which *is*
the action; drop it from a model's inputs.
"""

from __future__ import annotations

import json
import math
import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from mlgo_env.machine import host
from mlgo_env.protocol import TensorSpec
from mlgo_env.service.convert import Rollout

__all__ = [
    "Decisions",
    "EpisodeRow",
    "ParquetWriter",
    "check_new_dataset",
    "dataset_cpu",
    "read_decisions",
    "read_episodes",
]

_FEATURES_KEY = b"mlgo.features"
_CPU_KEY = b"mlgo.cpu"
_OBS_PREFIX = "obs."


@dataclass
class EpisodeRow:
    """One episode's row: where it came from, how it ended, and its rollout if it finished."""

    episode: int
    benchmark: str
    seed: int
    attempts: int
    worker: str
    rollout: Rollout | None = None
    error_type: str | None = None
    error_details: str | None = None


def check_new_dataset(path: Path) -> None:
    """Check that `path` can receive a new dataset.

    Raises:
        FileExistsError: `path` already holds Parquet files (results would be counted twice) or
            is a file.
    """
    if path.is_dir() and any(path.glob("*.parquet")):
        raise FileExistsError(f"{path} already holds a dataset; remove it or choose another output")
    if path.exists() and not path.is_dir():
        raise FileExistsError(f"{path} exists and is not a dataset directory")


class ParquetWriter:
    """Appends episodes to a Parquet dataset directory, one part file per `flush_every` rows.

    Args:
        path: the dataset directory; it must not hold a dataset already.
        features: the observation features (names, dtypes, shapes) of the task.
        advice: the action's spec.
        policy: how the policy is recorded (``"llvm-default"``, ``"onnx:<sha256>"``).
        task: the task name.
        flush_every: rows per part file.

    Raises:
        FileExistsError: `path` already holds Parquet files (results would be counted twice).
    """

    def __init__(
        self,
        path: Path,
        features: list[TensorSpec],
        advice: TensorSpec,
        policy: str,
        task: str,
        flush_every: int = 256,
    ) -> None:
        check_new_dataset(path)
        path.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._features = features
        self._policy, self._task = policy, task
        self._flush_every = flush_every
        self._rows: list[EpisodeRow] = []
        self._parts = 0
        self._prefix = uuid.uuid4().hex[:8]
        metadata = {
            _FEATURES_KEY: json.dumps([_spec_json(f) for f in features]).encode(),
            _CPU_KEY: json.dumps(host().record()).encode(),
        }
        self.schema = pa.schema(
            [
                ("episode", pa.int64()),
                ("benchmark", pa.string()),
                ("seed", pa.int64()),
                ("policy", pa.string()),
                ("task", pa.string()),
                ("status", pa.string()),
                ("attempts", pa.int32()),
                ("error_type", pa.string()),
                ("error_details", pa.string()),
                ("worker", pa.string()),
                ("decisions", pa.int64()),
                ("text_size", pa.int64()),
                ("object_size", pa.int64()),
                ("compile_seconds", pa.float64()),
                ("reward", pa.float64()),
                ("cost", pa.float64()),
                ("baseline_cost", pa.float64()),
                ("actions", pa.list_(pa.from_numpy_dtype(advice.dtype.newbyteorder("=")))),
                *[(_OBS_PREFIX + f.name, _feature_type(f)) for f in features],
            ],
            metadata=metadata,
        )

    def add(self, row: EpisodeRow) -> None:
        """Queue one episode; writes a part file once `flush_every` rows are queued."""
        self._rows.append(row)
        if len(self._rows) >= self._flush_every:
            self.flush()

    def flush(self) -> None:
        """Write the queued rows as one part file (atomically)."""
        if not self._rows:
            return
        table = self._table(self._rows)
        final = self.path / f"part-{self._prefix}-{self._parts:05d}.parquet"
        staging = final.with_suffix(".parquet.tmp")
        pq.write_table(table, staging)
        os.replace(staging, final)
        self._parts += 1
        self._rows = []

    def _table(self, rows: list[EpisodeRow]) -> pa.Table:
        done = [r.rollout for r in rows]

        def scalar(name: str) -> list:
            return [getattr(r, name) if r is not None else None for r in done]

        columns: dict[str, pa.Array] = {
            "episode": pa.array([r.episode for r in rows], pa.int64()),
            "benchmark": pa.array([r.benchmark for r in rows], pa.string()),
            "seed": pa.array([r.seed for r in rows], pa.int64()),
            "policy": pa.array([self._policy] * len(rows), pa.string()),
            "task": pa.array([self._task] * len(rows), pa.string()),
            "status": pa.array(["ok" if r.rollout is not None else "failed" for r in rows], pa.string()),
            "attempts": pa.array([r.attempts for r in rows], pa.int32()),
            "error_type": pa.array([r.error_type for r in rows], pa.string()),
            "error_details": pa.array([r.error_details for r in rows], pa.string()),
            "worker": pa.array([r.worker for r in rows], pa.string()),
        }
        for name in ("decisions", "text_size", "object_size"):
            columns[name] = pa.array(scalar(name), pa.int64())
        for name in ("compile_seconds", "reward", "cost", "baseline_cost"):
            columns[name] = pa.array(scalar(name), pa.float64())
        columns["actions"] = _ragged([r.actions if r else None for r in done], 1, self.schema.field("actions").type)
        for spec in self._features:
            column = _OBS_PREFIX + spec.name
            values = [r.observations.get(spec.name) if r else None for r in done]
            columns[column] = _ragged(values, math.prod(spec.shape), self.schema.field(column).type)
        return pa.Table.from_pydict(columns, schema=self.schema)

    def close(self) -> None:
        """Write what is still queued."""
        self.flush()


def _spec_json(spec: TensorSpec) -> dict:
    return {"name": spec.name, "dtype": spec.dtype.str, "shape": list(spec.shape)}


def _feature_type(spec: TensorSpec) -> pa.DataType:
    element = pa.from_numpy_dtype(spec.dtype.newbyteorder("="))
    return pa.list_(pa.list_(element, math.prod(spec.shape)))


def _ragged(arrays: list[np.ndarray | None], width: int, kind: pa.DataType) -> pa.Array:
    """One list per episode (null for failed ones) of per-decision values flattened to `width`."""
    value_type = kind.value_type
    element = value_type.value_type if pa.types.is_fixed_size_list(value_type) else value_type
    dtype = element.to_pandas_dtype()
    lengths = [0 if a is None else len(a) for a in arrays]
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)
    present = [np.asarray(a, dtype=dtype).reshape(len(a), width) for a in arrays if a is not None and len(a)]
    flat = np.concatenate(present).reshape(-1) if present else np.zeros(0, dtype=dtype)
    values: pa.Array = pa.array(flat, type=element)
    if pa.types.is_fixed_size_list(value_type):
        values = pa.FixedSizeListArray.from_arrays(values, width)
    mask = pa.array([a is None for a in arrays], pa.bool_())
    return pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), values, type=kind, mask=mask)


def read_episodes(path: Path | str) -> pa.Table:
    """The dataset, one row per episode (failed ones included)."""
    return pq.read_table(path)


def dataset_cpu(path: Path | str) -> dict | None:
    """The CPU the dataset at `path` was collected for (None for datasets from before it was recorded)."""
    metadata = pq.read_schema(next(Path(path).glob("*.parquet"))).metadata or {}
    return json.loads(metadata[_CPU_KEY]) if _CPU_KEY in metadata else None


class Decisions(NamedTuple):
    """Every decision of the dataset's finished episodes, one row each (for behavioural cloning)."""

    observations: dict[str, np.ndarray]
    """Feature name → array of shape ``(decisions, *declared shape)``."""
    actions: np.ndarray
    episode: np.ndarray
    """The episode (dataset row's ``episode``) each decision belongs to."""
    reward: np.ndarray
    """The episode's final reward, repeated for each of its decisions."""


def read_decisions(path: Path | str) -> Decisions:
    """The decisions of every finished episode in the dataset at `path`, with declared shapes."""
    table = pq.read_table(path)
    table = table.filter(pc.equal(table["status"], "ok"))
    metadata = table.schema.metadata or {}
    specs = json.loads(metadata.get(_FEATURES_KEY, b"[]"))
    counts = table["decisions"].to_numpy(zero_copy_only=False).astype(np.int64)
    observations = {}
    for spec in specs:
        column = table[_OBS_PREFIX + spec["name"]].combine_chunks()
        flat = column.flatten().flatten().to_numpy(zero_copy_only=False)
        observations[spec["name"]] = flat.astype(np.dtype(spec["dtype"]).newbyteorder("=")).reshape(-1, *spec["shape"])
    actions = table["actions"].combine_chunks().flatten().to_numpy(zero_copy_only=False)
    rewards = table["reward"].to_numpy(zero_copy_only=False).astype(np.float64)
    return Decisions(
        observations=observations,
        actions=actions,
        episode=np.repeat(table["episode"].to_numpy(zero_copy_only=False), counts),
        reward=np.repeat(rewards, counts),
    )
