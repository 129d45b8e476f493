"""Blackbox evolution strategies (MLGO's ES trainer): score whole policies in the service's rollout mode.

Each generation perturbs the policy's weights θ with ``population`` antithetic pairs θ ± σε,
exports every candidate to ONNX, and runs it on a batch of training programs inside the
compiler service (``env.unwrapped.rollout``: one RPC per compile, the fast path). A candidate's
fitness is its mean reward over the batch (for ``reward="size"``: the mean relative ``.text``
reduction vs ``-Oz``); both members of a pair see the same programs. The gradient estimate uses
centred ranks of the fitnesses (robust to the heavy-tailed per-program rewards) and Adam ascends it.
Every ``eval_every`` generations θ is scored on every training program and the best θ is kept.

Inlining policies map the call site's features to two logits. Eviction policies
(``--env-id mlgo/RegallocEviction-v0``) score every candidate register with one shared scorer and
pick the best legal one (`agents.lib.policy_net.CandidateEncoder`): about twenty weights for a linear
scorer, few enough for ES. Zero weights tie every candidate, so the first legal one is evicted.

Usage::

    python -m agents.es --generations 30 --output agents/policies/inlining_size.onnx
    python -m agents.es --env-id mlgo/RegallocEviction-v0 --reward perf_model --opt-level=-O2 \
        --output agents/policies/eviction_perf.onnx
    python -m agents.es --ray --ray-address auto --workers 0    # the candidates on a Ray cluster
    tensorboard --logdir runs

Resume with ``--resume runs/<run>/checkpoint.pt``.
"""

from __future__ import annotations

from pathlib import Path

from agents.lib.es import EsArgs as Args
from agents.lib.es import train_es
from agents.lib.flags import parse_args


def main(args: Args) -> Path:
    """Run ES (`agents.lib.es.train_es`); returns the run directory."""
    return train_es(args)


if __name__ == "__main__":
    main(parse_args(Args))
