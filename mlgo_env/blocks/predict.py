"""Inference with trained cost models, one per CPU; the shipped ones load lazily on first use.

A model predicts the cycles of the CPU its training data was measured on (its ``cpu``). The
package ships a fast model (`FastCostModel`) for every CPU the project has measured
(``data/fast-<mcpu>.npz``, `shipped_cpus`); `shipped_model` picks the one of a target CPU and
refuses a CPU without one (`NoModelForCpu`, saying how to measure and train it). The Zen 4
transformer it was distilled from (`CostModel`, ``data/costmodel.pt``) stays available: slower,
and more accurate on that CPU. Using any model for another CPU warns, or refuses when asked
(`CpuModel.check_cpu`).
"""

from __future__ import annotations

import functools
import logging
import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mlgo_env.blocks.checkpoint import load_checkpoint, model_cpu
from mlgo_env.blocks.fastmodel import FastWeights
from mlgo_env.blocks.features import Featuriser
from mlgo_env.blocks.train import predict_encoded
from mlgo_env.machine import CpuMismatch, check_cpu, host_mcpu

__all__ = [
    "MODELS_DIR",
    "SHIPPED_CHECKPOINT",
    "CostModel",
    "CpuModel",
    "FastCostModel",
    "NoModelForCpu",
    "fast_model_path",
    "load_model",
    "shipped_cpus",
    "shipped_model",
    "shipped_transformer",
]

logger = logging.getLogger(__name__)

MODELS_DIR = Path(__file__).with_name("data")
SHIPPED_CHECKPOINT = MODELS_DIR / "costmodel.pt"
"""The transformer shipped with the package, trained on blocks measured on AMD Zen 4 (``znver4``,
recorded in its metadata); the teacher of the fast Zen 4 model."""
MEASURE_AND_TRAIN = (
    "measure blocks on a {cpu} machine and train one there: `mlgo-env blocks measure SOURCES --limit 8000 "
    "--out measured-{cpu}.csv` (BHive-layout sources; about 4 minutes for 8,000 blocks on 2 busy cores, of "
    "which about 70% are kept), then `mlgo-env blocks train measured-{cpu}.csv --fast --init {init} --ship` "
    "(about 3 minutes), which installs {path}"
)
"""How to make a model for a CPU without one; the durations were measured on a 2-core Zen 1 VM
shared with other work (5,641 of 8,000 BHive blocks kept in 3 min 49 s)."""


class NoModelForCpu(CpuMismatch):
    """The package has no cost model for the target CPU."""


def fast_model_path(cpu: str) -> Path:
    """Where the shipped fast model of `cpu` (an LLVM ``-mcpu`` name) lives."""
    return MODELS_DIR / f"fast-{cpu}.npz"


def shipped_cpus() -> list[str]:
    """The ``-mcpu`` names the package has a fast model for."""
    return sorted(p.stem.removeprefix("fast-") for p in MODELS_DIR.glob("fast-*.npz"))


class CpuModel:
    """What every cost model shares: the CPU it was trained for, and the check against a target.

    Attributes:
        path: the model file.
        meta: its training metadata (``cpu`` as `dataset.measured_on` records it).
        cpu: LLVM's ``-mcpu`` name of the CPU the training data was measured on (None: not recorded).
    """

    def __init__(self, path: Path, meta: dict[str, Any]) -> None:
        self.path = Path(path)
        self.meta = meta
        self.cpu = model_cpu(meta)

    def check_cpu(self, target: str | None = None, strict: bool = False) -> str | None:
        """Warns (or with `strict` refuses) when the model's CPU is not `target`.

        The warning goes through `warnings.warn` and this module's logger; its text names both
        CPUs and how to measure and train a model for `target`.

        Args:
            target: the ``-mcpu`` name the predictions are for (default: this host's).
            strict: raise instead of warning.

        Returns:
            The warning text, or None when the model was trained for `target`.

        Raises:
            machine.CpuMismatch: the CPUs differ (or the model's is not recorded) and `strict` is set.
        """
        target = target or host_mcpu()
        what = f"the cost model {self.path}"
        record = self.meta.get("cpu")
        measured_on = ", ".join(record.get("rows", {})) if isinstance(record, dict) else ""
        if self.cpu is None and measured_on:
            what += f" (trained on blocks measured on {measured_on})"
        message = check_cpu(self.cpu, target, what, refuse=strict)
        if message is not None:
            warnings.warn(message, stacklevel=2)
            logger.warning(message)
        return message

    def cycles(self, blocks: Sequence[bytes | str]) -> np.ndarray:
        """Predicted core cycles per iteration of each block (bytes or hex), in order."""
        raise NotImplementedError


class FastCostModel(CpuModel):
    """The fast model (`fastmodel`): vectorised features, an MLP in NumPy, predictions memoised by block.

    A reward over a program variant costs only the blocks this model has not seen before.

    Args:
        path: a model written by ``mlgo-env blocks train --fast``.
        memo_limit: blocks remembered before the memo starts afresh (bounds its memory).
    """

    def __init__(self, path: Path, memo_limit: int = 1 << 20) -> None:
        self.weights = FastWeights.load(path)
        super().__init__(path, self.weights.meta)
        self.memo_limit = memo_limit
        self._featurise = Featuriser(self.weights.token_ids())
        self._memo: dict[bytes, float] = {}

    def cycles(self, blocks: Sequence[bytes | str]) -> np.ndarray:
        """Predicted core cycles per iteration of each block (bytes or hex), in order.

        Blocks that do not decode are predicted from their length alone.
        """
        keys = [b if isinstance(b, bytes) else bytes.fromhex(b) for b in blocks]
        memo = self._memo
        new = [k for k in dict.fromkeys(keys) if k not in memo]
        if new:
            if len(memo) + len(new) > self.memo_limit:
                memo.clear()
            predicted = np.exp(self.weights.predict_log(self._featurise(new))) / 100.0
            memo.update(zip(new, predicted.tolist(), strict=True))
        return np.array([memo[k] for k in keys], dtype=np.float64)


class CostModel(CpuModel):
    """The transformer (`model.BlockCostModel`): core cycles per iteration of x86-64 blocks on the model's CPU.

    The cycles are those of the CPU the training data was measured on (`cpu`), whatever the host;
    `check_cpu` compares it with the CPU the predictions are for.

    Args:
        checkpoint: a checkpoint written by `mlgo-env blocks train`.
        device: torch device ("cpu", "cuda").
        batch_size: blocks per forward pass.
        threads: torch threads during inference. One is fastest for this small model: on a
            busy 2-core machine, 2 threads ran 7x slower (OpenMP workers spin waiting for each
            other), and batches of 64 ran 7x faster than batches of 512.

    Attributes:
        cpu: LLVM's ``-mcpu`` name of the CPU the training data was measured on (None: not recorded).

    Example:
        >>> model = CostModel()  # doctest: +SKIP
        >>> model.cycles([bytes.fromhex("4801d8")])  # add rax, rbx  # doctest: +SKIP
        array([1.0...])
    """

    def __init__(
        self, checkpoint: Path = SHIPPED_CHECKPOINT, device: str = "cpu", batch_size: int = 64, threads: int = 1
    ) -> None:
        self.checkpoint = Path(checkpoint)
        self.model, self.vocab, meta = load_checkpoint(self.checkpoint, device)
        super().__init__(self.checkpoint, meta)
        self.device = device
        self.batch_size = batch_size
        self.threads = threads

    def cycles(self, blocks: Sequence[bytes | str]) -> np.ndarray:
        """Predicted cycles per iteration of each block (bytes or hex), in order.

        Blocks are decoded and encoded once per distinct block (an LRU cache), grouped by
        length and run in batches.
        """
        if not blocks:
            return np.zeros(0)
        encoded = [self.vocab.encode(b) for b in blocks]
        previous = torch.get_num_threads()
        torch.set_num_threads(self.threads)
        try:
            return predict_encoded(self.model, encoded, self.batch_size, self.device) / 100.0
        finally:
            torch.set_num_threads(previous)


def load_model(path: Path) -> CpuModel:
    """A model file of either kind: a fast model (``.npz``) or a transformer checkpoint."""
    return FastCostModel(path) if Path(path).suffix == ".npz" else CostModel(path)


@functools.cache
def shipped_model(cpu: str | None = None) -> FastCostModel:
    """The shipped fast model of `cpu` (default: this host's), loaded once (on first call, never at import).

    Raises:
        NoModelForCpu: the package has no model of `cpu`; the message says how to make one.
    """
    cpu = cpu or host_mcpu()
    path = fast_model_path(cpu)
    if not path.exists():
        have = ", ".join(shipped_cpus()) or "none"
        how = MEASURE_AND_TRAIN.format(cpu=cpu, init=next(iter(shipped_cpus()), "CPU"), path=path)
        raise NoModelForCpu(f"no learned cost model for {cpu} (the package has models for: {have}); {how}")
    return FastCostModel(path)


def shipped_transformer() -> CostModel:
    """The shipped transformer (Zen 4), loaded once.

    Inference uses ``$MLGO_ENV_BLOCKS_THREADS`` torch threads (default 1, see `CostModel`).

    Raises:
        FileNotFoundError: the package was installed without its checkpoint.
    """
    return _shipped_transformer(int(os.environ.get("MLGO_ENV_BLOCKS_THREADS", "1")))


@functools.cache
def _shipped_transformer(threads: int) -> CostModel:
    if not SHIPPED_CHECKPOINT.exists():
        raise FileNotFoundError(f"{SHIPPED_CHECKPOINT} is missing; train one with `mlgo-env blocks train --ship`")
    return CostModel(SHIPPED_CHECKPOINT, threads=threads)
