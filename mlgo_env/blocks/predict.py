"""Batched inference with a trained cost model; the shipped one loads lazily on first use.

A model predicts the cycles of the CPU its training data was measured on (its ``cpu``); using it
for another CPU warns, or refuses when asked (`CostModel.check_cpu`).
"""

from __future__ import annotations

import functools
import logging
import os
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from mlgo_env.blocks.checkpoint import load_checkpoint, model_cpu
from mlgo_env.blocks.train import predict_encoded
from mlgo_env.machine import check_cpu, host_mcpu

__all__ = ["SHIPPED_CHECKPOINT", "CostModel", "shipped_model"]

logger = logging.getLogger(__name__)

SHIPPED_CHECKPOINT = Path(__file__).with_name("data") / "costmodel.pt"
"""The small model shipped with the package, trained on blocks measured on AMD Zen 4 (``znver4``,
recorded in its metadata)."""


class CostModel:
    """Predicts core cycles per iteration of x86-64 basic blocks (run as a loop body) on the model's CPU.

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
        >>> model = shipped_model()  # doctest: +SKIP
        >>> model.cycles([bytes.fromhex("4801d8")])  # add rax, rbx  # doctest: +SKIP
        array([1.0...])
    """

    def __init__(
        self, checkpoint: Path = SHIPPED_CHECKPOINT, device: str = "cpu", batch_size: int = 64, threads: int = 1
    ) -> None:
        self.checkpoint = Path(checkpoint)
        self.model, self.vocab, self.meta = load_checkpoint(self.checkpoint, device)
        self.cpu = model_cpu(self.meta)
        self.device = device
        self.batch_size = batch_size
        self.threads = threads

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
        what = f"the cost model {self.checkpoint}"
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


@functools.cache
def shipped_model() -> CostModel:
    """The shipped model, loaded once (on first call, never at import).

    Inference uses ``$MLGO_ENV_BLOCKS_THREADS`` torch threads (default 1, see `CostModel`).

    Raises:
        FileNotFoundError: the package was installed without its checkpoint.
    """
    if not SHIPPED_CHECKPOINT.exists():
        raise FileNotFoundError(f"{SHIPPED_CHECKPOINT} is missing; train one with `mlgo-env blocks train --ship`")
    return CostModel(SHIPPED_CHECKPOINT, threads=int(os.environ.get("MLGO_ENV_BLOCKS_THREADS", "1")))
