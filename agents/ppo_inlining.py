"""PPO (stable-baselines3) for clang's inlining decisions, one compile per episode.

The reward arrives once, at the end of the compile: the relative ``.text`` reduction against the
same program compiled with the plain heuristic at ``--opt-level`` (``reward="size"``), so
``gamma=1``. Observations go through `agents.lib.policy_net.SignedLogExtractor` (signed-log of the
heavy-tailed counts, plus LLVM's cost-vs-threshold margin). ``--init`` warm-starts the actor from
`behavioral_cloning.py`; the greedy policy is exported to ONNX for the service's rollouts.

Usage::

    python -m agents.ppo_inlining --total-timesteps 50000 --num-envs 2
    python -m agents.ppo_inlining --resume runs/<run>/final_model.zip --total-timesteps 20000
    tensorboard --logdir runs
"""

from __future__ import annotations

from dataclasses import dataclass

from stable_baselines3 import PPO

from agents.lib.flags import parse_args
from agents.lib.sb3 import SB3Args, train_sb3


@dataclass
class Args(SB3Args):
    """Train PPO on mlgo/Inlining-v0 (every hyper-parameter is a flag)."""

    exp_name: str = "ppo_inlining"
    """the name of this experiment"""
    env_id: str = "mlgo/Inlining-v0"
    """the environment id"""


def main(args: Args) -> PPO:
    """Train and return the model (logs, checkpoints and the ONNX policy go to the run dir)."""
    model, _ = train_sb3(PPO, args)
    return model  # type: ignore[return-value]


if __name__ == "__main__":
    main(parse_args(Args))
