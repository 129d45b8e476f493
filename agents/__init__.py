"""Agents for the mlgo-env environments: training (PPO, MaskablePPO, behavioural cloning, ES), evaluation, ablations.

Each script runs as ``python -m agents.<script> --help`` and is an ``Args`` dataclass and a ``main``;
what they share (flags, runs, rollouts, the policy network, training loops, labels, compiled
variants, timing, results files) lives in `agents.lib`, shipped policies in ``agents/policies/``.
Every script takes ``--corpus DIR``: its embedded service serves that corpus.
"""
