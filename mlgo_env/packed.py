"""The packed observation: every feature flattened, as float32, in the channel header's order, in one vector.

A policy that takes this one tensor costs one input to bind and a few graph nodes to unpack
(`agents.lib.policy_net.PackedPolicy`), instead of one input, reshape and cast per feature.
The layout is the channel header's: feature ``i`` fills ``[start_i, start_i + size_i)``. Integer
features become float32, exact up to 2**24 in magnitude (LLVM's counts are far below).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from mlgo_env.protocol import TensorSpec

__all__ = ["PACKED_INPUT", "PackedLayout"]

PACKED_INPUT = "packed"
"""The name of a policy's one packed input (an ONNX model's input, checked by `mlgo_env.onnx_policy`)."""


class PackedLayout:
    """Where each feature lies in the packed vector.

    Args:
        features: ``(name, shape)`` of every feature, in the channel header's order.
    """

    def __init__(self, features: Sequence[tuple[str, tuple[int, ...]]]) -> None:
        self.names = [name for name, _ in features]
        self.shapes = {name: tuple(shape) for name, shape in features}
        self.slices: dict[str, slice] = {}
        start = 0
        for name, shape in features:
            size = math.prod(shape)
            self.slices[name] = slice(start, start + size)
            start += size
        self.size = start

    @classmethod
    def of(cls, specs: Sequence[TensorSpec]) -> PackedLayout:
        """The layout of a channel header's features."""
        return cls([(spec.name, spec.shape) for spec in specs])

    def pack(self, observation: dict[str, np.ndarray]) -> np.ndarray:
        """The packed float32 vector of one observation (every feature of the layout must be there)."""
        return np.concatenate([np.asarray(observation[name], np.float32).reshape(-1) for name in self.names])
