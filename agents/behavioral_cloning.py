"""Behavioural cloning of a teacher's inlining decisions: MLGO's warm start for RL and ES.

The teacher's episodes are collected in the service's rollout mode with ``include_default=True``
(observations and actions of every call site), then a `PolicyNet` is fitted by cross-entropy.
Teachers:

- ``llvm-default``: the ``inlining_default`` feature LLVM sends (its own decision in the ML path;
  at ``-Oz`` following it gives the same ``.text`` as plain ``-Oz`` on the programs checked here);
- ``margin``: LLVM's cost rule rebuilt from the features, inline iff ``cost_estimate < threshold``
  (a different and, for size, better rule than the default; see `margin_teacher`);
- a path to an ONNX policy (``.onnx``);
- a path to ``.npz`` labels from ``agents/search.py --output``: the best decisions a search found on
  each training program (expert iteration).

The output state dict loads into ``agents/es.py --init`` and ``agents/ppo_inlining.py --init``.

Usage::

    python -m agents.behavioral_cloning --teacher margin --output runs/bc_margin.pt
"""

from __future__ import annotations

from agents.lib.cloning import CloningArgs as Args
from agents.lib.cloning import train_clone
from agents.lib.flags import parse_args
from agents.lib.policy_net import PolicyNet


def main(args: Args) -> PolicyNet:
    """Collect the teacher's decisions, fit the net, save it (`agents.lib.cloning.train_clone`)."""
    return train_clone(args)


if __name__ == "__main__":
    main(parse_args(Args))
