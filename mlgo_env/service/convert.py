"""Conversions between numpy arrays / mlgo-env types and the service's protobuf messages."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mlgo_env.episode import EpisodeRecord
from mlgo_env.protocol import ChannelHeader, TensorSpec
from mlgo_env.service.proto import pb

__all__ = [
    "spec_to_pb",
    "spec_from_pb",
    "header_specs",
    "header_from_pb",
    "array_to_pb",
    "array_from_pb",
    "observation_from_pb",
    "policy_to_pb",
    "Rollout",
]


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
    return pb.Tensor(
        spec=pb.TensorSpec(name=name, dtype=array.dtype.str, shape=list(array.shape)), data=array.tobytes()
    )


def array_from_pb(message: pb.Tensor) -> np.ndarray:
    """The array a tensor message carries."""
    dtype = np.dtype(message.spec.dtype)
    return np.frombuffer(message.data, dtype=dtype).reshape(tuple(message.spec.shape))


def observation_from_pb(message: pb.Observation, header: ChannelHeader) -> dict[str, np.ndarray]:
    """An observation from its message (fresh, writable arrays)."""
    if len(message.raw) != header.observation_nbytes:
        raise ValueError(f"observation of {len(message.raw)} bytes, expected {header.observation_nbytes}")
    return header.decode(message.raw)


def header_from_pb(features: list[pb.TensorSpec], advice: pb.TensorSpec) -> ChannelHeader:
    """A channel header from the specs a session reply carries."""
    return ChannelHeader(features=tuple(spec_from_pb(f) for f in features), advice=spec_from_pb(advice))


def policy_to_pb(policy: str | bytes | np.ndarray, seed: int = 0) -> pb.Policy:
    """A ``Rollout``'s policy: a built-in name, an ONNX model's bytes (`mlgo_env.onnx_policy`), or actions to replay."""
    if isinstance(policy, np.ndarray):
        return pb.Policy(replay=array_to_pb("actions", policy), seed=seed)
    return pb.Policy(onnx=policy, seed=seed) if isinstance(policy, bytes) else pb.Policy(builtin=policy, seed=seed)


@dataclass
class Rollout(EpisodeRecord):
    """One finished episode as the ``Rollout`` RPC returns it: the record plus the reward, flat."""

    reward: float | None = None
    cost: float | None = None
    baseline_cost: float | None = None

    @classmethod
    def from_reply(cls, reply: pb.RolloutReply) -> Rollout:
        """The rollout a ``Rollout`` RPC returned."""
        result = reply.result
        scored = result.has_reward
        return cls(
            benchmark=reply.benchmark,
            observations={t.spec.name: array_from_pb(t) for t in reply.observations},
            actions=array_from_pb(reply.actions),
            decisions=int(result.decisions),
            text_size=int(result.text_size),
            object_size=int(result.object_size),
            compile_seconds=float(result.compile_seconds),
            reward=float(result.reward) if scored else None,
            cost=float(result.cost) if scored else None,
            baseline_cost=float(result.baseline_cost) if scored else None,
        )
