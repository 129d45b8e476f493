"""MaskablePPO (sb3-contrib) for the greedy register allocator's eviction choices.

Each step picks one of the 33 columns (32 candidate registers, then "evict nothing"); only the
columns of LLVM's ``mask`` feature are legal, and MaskablePPO samples only those (it calls the
environment's ``action_masks()``). The reward arrives at the end of the compile: the relative
improvement of ``--reward`` over the default eviction advisor. Use a performance reward
(``perf_model`` or ``mca`` where `rewards.available()` lists them) at ``-O2``.

Usage::

    python -m agents.ppo_eviction --reward mca --total-timesteps 50000
    tensorboard --logdir runs
"""

from __future__ import annotations

from dataclasses import dataclass

from sb3_contrib import MaskablePPO

from agents.lib.flags import parse_args
from agents.lib.sb3 import SB3Args, train_sb3


@dataclass
class Args(SB3Args):
    """Train MaskablePPO on mlgo/RegallocEviction-v0 (every hyper-parameter is a flag)."""

    exp_name: str = "ppo_eviction"
    """the name of this experiment"""
    env_id: str = "mlgo/RegallocEviction-v0"
    """the environment id"""
    opt_level: str = "-O2"
    """the optimisation level (the reward's baseline is the default eviction advisor at this level)"""
    n_steps: int = 1024
    """steps per environment per policy rollout (compiles ask hundreds of evictions)"""


def main(args: Args) -> MaskablePPO:
    """Train and return the model (logs, checkpoints and the ONNX policy go to the run dir)."""
    model, _ = train_sb3(MaskablePPO, args, mask_feature="mask")
    return model  # type: ignore[return-value]


if __name__ == "__main__":
    main(parse_args(Args))
