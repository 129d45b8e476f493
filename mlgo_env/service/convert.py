"""Conversions between numpy arrays / mlgo-env types and the service's protobuf messages."""

from __future__ import annotations

import numpy as np

from mlgo_env.protocol import ChannelHeader, TensorSpec
from mlgo_env.service.proto import pb

__all__ = ["spec_to_pb", "spec_from_pb", "array_to_pb", "array_from_pb", "observation_to_pb", "observation_from_pb"]


def spec_to_pb(spec: TensorSpec) -> pb.TensorSpec:
    """A `TensorSpec` as its message."""
    return pb.TensorSpec(name=spec.name, dtype=spec.dtype.str, shape=list(spec.shape))


def spec_from_pb(message: pb.TensorSpec) -> TensorSpec:
    """A `TensorSpec` from its message."""
    return TensorSpec(name=message.name, dtype=np.dtype(message.dtype), shape=tuple(message.shape))


def header_specs(header: ChannelHeader) -> tuple[list[pb.TensorSpec], pb.TensorSpec]:
    """The header's feature and advice specs as messages."""
    return [spec_to_pb(f) for f in header.features], spec_to_pb(header.advice)


def array_to_pb(name: str, array: np.ndarray) -> pb.Tensor:
    """One named array as a tensor message (little-endian bytes)."""
    array = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<"))
    return pb.Tensor(spec=pb.TensorSpec(name=name, dtype=array.dtype.str, shape=list(array.shape)), data=array.tobytes())


def array_from_pb(message: pb.Tensor) -> np.ndarray:
    """The array a tensor message carries."""
    dtype = np.dtype(message.spec.dtype)
    return np.frombuffer(message.data, dtype=dtype).reshape(tuple(message.spec.shape))


def observation_to_pb(observation: dict[str, np.ndarray], context: tuple[str, ...] = ()) -> pb.Observation:
    """An observation (feature name → array) as a message."""
    return pb.Observation(features=[array_to_pb(k, v) for k, v in observation.items()], context=list(context))


def observation_from_pb(message: pb.Observation) -> dict[str, np.ndarray]:
    """An observation from its message."""
    return {t.spec.name: array_from_pb(t).copy() for t in message.features}
