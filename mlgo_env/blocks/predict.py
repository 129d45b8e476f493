"""Batched inference with a trained cost model; the shipped one loads lazily on first use."""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from mlgo_env.blocks.checkpoint import load_checkpoint
from mlgo_env.blocks.train import predict_encoded

__all__ = ["SHIPPED_CHECKPOINT", "CostModel", "shipped_model"]

SHIPPED_CHECKPOINT = Path(__file__).with_name("data") / "costmodel.pt"
"""The small model trained on this project's measurements (AMD Zen 4), shipped with the package."""


class CostModel:
    """Predicts core cycles per iteration of x86-64 basic blocks (run as a loop body).

    Args:
        checkpoint: a checkpoint written by `mlgo-env blocks train`.
        device: torch device ("cpu", "cuda").
        batch_size: blocks per forward pass.
        threads: torch threads during inference. One is fastest for this small model: on a
            busy 2-core machine, 2 threads ran 7x slower (OpenMP workers spin waiting for each
            other), and batches of 64 ran 7x faster than batches of 512.

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
