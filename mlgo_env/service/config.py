"""How a compiler service runs, and what a client may ask of it: the limits and their checks.

Clients set only what the service allows: timeouts up to its own, at most `MAX_REWARDS` rewards
with bounded weights, and the reward options each reward declares (`rewards.wire`).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from mlgo_env.onnx_policy import PolicyLimits
from mlgo_env.service.proto import pb

__all__ = ["MAX_OPTIONS_BYTES", "MAX_REWARDS", "MAX_WEIGHT", "ServiceConfig", "capped", "reward_options", "weight"]

MAX_REWARDS = 8
"""Most rewards one compile configuration may combine."""
MAX_OPTIONS_BYTES = 4096
"""Longest JSON options string of one reward."""
MAX_WEIGHT = 100.0
"""Largest absolute weight of a reward in a combination (weights are exponents: `rewards.WeightedSum`)."""


@dataclass
class ServiceConfig:
    """How the service runs: corpus, limits, defaults and who may connect.

    Attributes:
        corpus: the corpus served (None: the bundled one).
        max_sessions: Step sessions and running rollouts at once.
        idle_timeout: seconds after its last request that a session is closed.
        decision_timeout: seconds the compiler may take per decision; also the most a client may ask.
        compile_timeout: seconds one compile may take; also the most a client may ask.
        reward_timeout: the most a client may set a reward's own time limit to (``runtime``'s
            ``timeout``, ``perf_model``'s ``profile_timeout``).
        max_scorers: reward configurations kept (least recently used dropped first).
        workdir: where sessions' directories go (None: the system's temporary directory).
        token: the shared token clients must send (None: none, where `security` allows it).
        insecure: accept plain TCP on loopback without a token (the operator's explicit choice).
        tls_cert: PEM certificate chain: the service speaks TLS (with `tls_key`).
        tls_key: PEM private key of `tls_cert`.
        policy_limits: what one uploaded ONNX policy may cost (`mlgo_env.onnx_policy`).
    """

    corpus: Path | None = None
    max_sessions: int = 64
    idle_timeout: float = 600.0
    decision_timeout: float = 60.0
    compile_timeout: float = 600.0
    reward_timeout: float = 3600.0
    max_scorers: int = 32
    workdir: Path | None = None
    token: str | None = None
    insecure: bool = False
    tls_cert: Path | None = None
    tls_key: Path | None = None
    policy_limits: PolicyLimits = field(default_factory=PolicyLimits)

    def __post_init__(self) -> None:
        if self.max_sessions < 1 or self.max_scorers < 1:
            raise ValueError(
                f"max_sessions and max_scorers must be at least 1, not {self.max_sessions}, {self.max_scorers}"
            )
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("TLS needs both a certificate (--tls-cert) and its key (--tls-key)")


def capped(name: str, asked: float, cap: float) -> float:
    """A client's time limit: the service's `cap` when it asked none (0); refused when not in (0, cap]."""
    if not asked:
        return cap
    if not math.isfinite(asked) or asked < 0 or asked > cap:
        raise ValueError(f"{name}={asked:g} is outside (0, {cap:g}], the limit of this service")
    return asked


def reward_options(spec: pb.RewardSpec) -> dict[str, object]:
    """The options a client sent for one reward: a JSON object, small."""
    if len(spec.options_json) > MAX_OPTIONS_BYTES:
        raise ValueError(f"options of reward {spec.name!r} exceed {MAX_OPTIONS_BYTES} bytes")
    try:
        options = json.loads(spec.options_json) if spec.options_json else {}
    except (ValueError, RecursionError) as exc:
        raise ValueError(f"options of reward {spec.name!r} are not valid JSON: {exc}") from None
    if not isinstance(options, dict):
        raise ValueError(f"options of reward {spec.name!r} must be a JSON object, not {spec.options_json[:80]!r}")
    return options


def weight(spec: pb.RewardSpec) -> float:
    """A reward's weight in a combination: 1 when unset; finite and bounded."""
    weight = spec.weight or 1.0
    if not math.isfinite(weight) or abs(weight) > MAX_WEIGHT:
        raise ValueError(f"weight of reward {spec.name!r} must be finite and at most {MAX_WEIGHT:g} in size")
    return weight
