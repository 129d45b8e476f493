"""Flags: a script's ``Args`` dataclass becomes its command line, and the flags every experiment shares."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TypeVar

import tyro

__all__ = ["CorpusArgs", "ExperimentArgs", "parse_args"]

T = TypeVar("T")


def parse_args(cls: type[T], argv: Sequence[str] | None = None) -> T:
    """The script's flags from its ``Args`` dataclass, as CleanRL does: ``tyro.cli``.

    Fields become ``--kebab-case`` flags and the docstring under each field its ``--help`` text.
    """
    return tyro.cli(cls, args=argv)


@dataclasses.dataclass
class CorpusArgs:
    """The corpus flag of every script: the programs its embedded service serves."""

    corpus: str = ""
    """a corpus directory (mlgo-env corpus build) to work on, served by the embedded service; empty: the bundled one"""


@dataclasses.dataclass
class ExperimentArgs(CorpusArgs):
    """Flags every training script shares (each script's ``Args`` adds its own and sets defaults)."""

    exp_name: str = "experiment"
    """the name of this experiment"""
    seed: int = 1
    """seed of the experiment (torch, numpy, the benchmark picks)"""
    env_id: str = "mlgo/Inlining-v0"
    """the environment id"""
    reward: str = "size"
    """the reward (see rewards.available())"""
    opt_level: str = "-Oz"
    """the optimisation level (the reward's baseline is the same level without the advisor)"""
    split: str = "train"
    """the corpus split the training programs come from"""
    benchmarks: tuple[str, ...] = ()
    """train on these benchmarks instead of the whole split"""
    init: str = ""
    """a PolicyNet state dict to start from (e.g. behavioral_cloning.py --output); ES also takes a policy .onnx"""
    service: str | None = None
    """address of a running compiler service (default: an embedded one over --corpus)"""
    runs_dir: str = "runs"
    """where TensorBoard logs and checkpoints go"""
    resume: str = ""
    """a checkpoint to continue training from"""
    output: str = ""
    """write the final greedy policy as ONNX (+ .json metadata) here"""
