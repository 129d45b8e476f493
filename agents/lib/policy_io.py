"""Saved policies: the ONNX model's bytes beside a ``.json`` of metadata, and where the shipped ones live."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

__all__ = ["POLICY_DIR", "load_policy", "save_policy"]

POLICY_DIR = Path(__file__).resolve().parent.parent / "policies"
"""Where the shipped policies live (ONNX ``.onnx`` plus a ``.json`` of metadata)."""


def save_policy(path: Path, model: bytes, metadata: dict[str, Any]) -> Path:
    """Write ``path`` (the ONNX model's bytes) and ``path.with_suffix('.json')`` (metadata)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(model)
    path.with_suffix(".json").write_text(json.dumps(metadata, indent=1, sort_keys=True) + "\n")
    return path


def load_policy(path: Path) -> tuple[bytes, dict[str, Any]]:
    """The ONNX model's bytes and the metadata written by `save_policy`."""
    meta_path = path.with_suffix(".json")
    metadata = json.loads(meta_path.read_text()) if meta_path.is_file() else {}
    return path.read_bytes(), metadata
