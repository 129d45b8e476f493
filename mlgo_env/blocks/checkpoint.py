"""The one checkpoint format of the cost model: sizes, vocabulary, weights and metadata in one file.

The metadata holds the metrics and, under ``"cpu"``, the CPU the training data was measured on
(`dataset.measured_on`: ``{"mcpu": "znver4", ...}``): a model predicts that CPU's cycles.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from mlgo_env.blocks.model import BlockCostModel, ModelConfig
from mlgo_env.blocks.tokenize import Vocabulary
from mlgo_env.machine import UNKNOWN

__all__ = ["FORMAT", "load_checkpoint", "model_cpu", "save_checkpoint"]

FORMAT = "mlgo-env-blocks-v1"


def save_checkpoint(
    path: Path, model: BlockCostModel, vocab: Vocabulary, meta: dict[str, Any], half: bool = False
) -> None:
    """Writes `model` with its vocabulary and `meta` (metrics, epoch, ``"cpu"``) to `path`.

    ``half`` stores the weights as float16 (for the shipped model: half the size, and the
    predictions move by far less than the measurement noise).
    """
    state = {k: (v.half() if half and v.is_floating_point() else v).cpu() for k, v in model.state_dict().items()}
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    torch.save(
        {"format": FORMAT, "config": model.cfg.to_dict(), "vocab": vocab.to_json(), "state_dict": state, "meta": meta},
        path,
    )


def load_checkpoint(path: Path, device: str = "cpu") -> tuple[BlockCostModel, Vocabulary, dict[str, Any]]:
    """The model (in eval mode, float32), vocabulary and metadata stored at `path`.

    Raises:
        ValueError: the file is not a checkpoint of this format.
    """
    data = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ValueError(f"{path} is not a {FORMAT} checkpoint; train one with `mlgo-env blocks train`")
    model = BlockCostModel(ModelConfig(**data["config"]))
    model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in data["state_dict"].items()})
    model.to(device).eval()
    return model, Vocabulary.from_json(data["vocab"]), data["meta"]


def model_cpu(meta: dict[str, Any]) -> str | None:
    """The ``-mcpu`` name of the CPU a checkpoint's training data was measured on; None if not recorded."""
    cpu = meta.get("cpu")
    mcpu = cpu.get("mcpu") if isinstance(cpu, dict) else None
    return mcpu if isinstance(mcpu, str) and mcpu != UNKNOWN else None
