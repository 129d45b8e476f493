"""Agents for the mlgo-env environments: training (PPO, MaskablePPO, behavioural cloning, ES), evaluation, ablations.

Each script runs as ``python -m agents.<script> --help``; shared helpers live in `agents.common`, the
policy network and its ONNX export in `agents.policy_net`, shipped policies in ``agents/policies/``.
"""
