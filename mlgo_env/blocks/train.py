"""Trains `BlockCostModel` on measured blocks, split by application, with early stopping.

Loss: mean relative error |predicted / measured - 1| (Ithemal's; it is the MAPE reported), or
L1 on log cycles.
Training rows whose two independent estimates differ by more than ``max_noise`` are dropped
(their label is unreliable); validation and test keep every row. The data must come from one CPU
(its ``cpu`` column), which every checkpoint records; rows of several CPUs are refused unless
``allow_mixed_cpus``. TensorBoard curves go to ``RUN/tb`` (``losses/train``, ``charts/valid_mape``,
``charts/valid_tau``), checkpoints to ``RUN/best.pt`` and ``RUN/last.pt``.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from mlgo_env.blocks.checkpoint import load_checkpoint, save_checkpoint
from mlgo_env.blocks.dataset import MeasuredBlock, measured_on, read_measured, split_by_application
from mlgo_env.blocks.metrics import Accuracy, accuracy
from mlgo_env.blocks.model import BlockCostModel, ModelConfig, collate
from mlgo_env.blocks.tokenize import EncodedBlock, Vocabulary
from mlgo_env.machine import UNKNOWN
from mlgo_env.seeding import seed_everything
from mlgo_env.x86 import Instruction, decode

__all__ = ["TrainConfig", "Trainer", "decode_rows", "predict_encoded"]

logger = logging.getLogger(__name__)

DEFAULT_VALID_APPS = ("embree",)
DEFAULT_TEST_APPS = ("ffmpeg", "eigen")


@dataclass
class TrainConfig:
    """Settings of one training run."""

    data: list[Path]
    """Measured CSVs."""
    run_dir: Path
    """Where checkpoints and TensorBoard logs go."""
    valid_apps: tuple[str, ...] = DEFAULT_VALID_APPS
    """Applications for early stopping (names or prefixes)."""
    test_apps: tuple[str, ...] = DEFAULT_TEST_APPS
    """Applications held out for evaluation."""
    epochs: int = 40
    batch_size: int = 128
    lr: float = 5e-4
    weight_decay: float = 1e-4
    patience: int = 8
    """Epochs without a better validation MAPE before stopping."""
    loss: str = "mape"
    """"mape": mean |predicted / measured - 1| (Ithemal's normalised L1, what is reported);
    "log-l1": mean |log predicted - log measured|."""
    max_noise: float = 0.1
    allow_mixed_cpus: bool = False
    """Train on rows measured on several CPUs (refused by default: one model, one CPU's timings)."""
    seed: int = 0
    threads: int = 2
    dim: int = 128
    layers: int = 3
    heads: int = 4
    time_budget_s: float = float("inf")
    """Stop after the epoch that crosses this wall-clock budget."""
    device: str = field(default_factory=lambda: "cuda" if torch.cuda.is_available() else "cpu")


def decode_rows(rows: Sequence[MeasuredBlock]) -> tuple[list[MeasuredBlock], list[list[Instruction]]]:
    """Rows whose bytes decode, and their instructions."""
    kept, decoded = [], []
    for row in rows:
        instructions = decode(bytes.fromhex(row.hex))
        if instructions:
            kept.append(row)
            decoded.append(instructions)
    return kept, decoded


def _batches(lengths: Sequence[int], batch_size: int, rng: random.Random | None) -> Iterator[list[int]]:
    """Index batches of similar length (little padding); shuffled when `rng` is given."""
    order = sorted(range(len(lengths)), key=lambda k: (lengths[k], rng.random() if rng else 0))
    batches = [order[k : k + batch_size] for k in range(0, len(order), batch_size)]
    if rng:
        rng.shuffle(batches)
    yield from batches


@torch.inference_mode()
def predict_encoded(
    model: BlockCostModel, blocks: Sequence[EncodedBlock], batch_size: int = 512, device: str = "cpu"
) -> np.ndarray:
    """Predicted cycles per 100 iterations of encoded blocks, in order."""
    model.eval()
    out = np.zeros(len(blocks))
    for idx in _batches([len(b) for b in blocks], batch_size, None):
        batch = collate([blocks[k] for k in idx]).to(device)
        out[idx] = torch.exp(model(batch).float()).cpu().numpy()
    return out


class Trainer:
    """One training run: data, model, optimiser, logging and early stopping.

    Args:
        cfg: the run's settings.

    Raises:
        dataset.MixedCpus: the data holds rows of several CPUs and ``cfg.allow_mixed_cpus`` is not set.
    """

    def __init__(self, cfg: TrainConfig) -> None:
        self.cfg = cfg
        seed_everything(cfg.seed)
        torch.set_num_threads(cfg.threads)
        rows = [r for r in read_measured(cfg.data) if r.throughput > 0]
        self.cpu = measured_on(rows, cfg.allow_mixed_cpus, source=", ".join(map(str, cfg.data)))
        if self.cpu["mcpu"] == UNKNOWN:
            logger.warning("the data does not name one LLVM -mcpu (%s): the model will not know its CPU",
                           ", ".join(self.cpu["rows"]) or "no rows")  # fmt: skip
        train, valid, test = split_by_application(rows, cfg.valid_apps, cfg.test_apps)
        train = [r for r in train if r.noise is None or r.noise <= cfg.max_noise]
        self.train_rows, train_insns = decode_rows(train)
        self.valid_rows, valid_insns = decode_rows(valid)
        self.test_rows, self.test_insns = decode_rows(test)
        self.train_insns = train_insns
        self.vocab = Vocabulary.build(train_insns)
        self.train_x = [self.vocab.encode_instructions(b) for b in train_insns]
        self.valid_x = [self.vocab.encode_instructions(b) for b in valid_insns]
        self.test_x = [self.vocab.encode_instructions(b) for b in self.test_insns]
        self.model_cfg = ModelConfig(
            self.vocab.n_opcodes, self.vocab.n_tokens, dim=cfg.dim, layers=cfg.layers, heads=cfg.heads
        )
        self.model = BlockCostModel(self.model_cfg).to(cfg.device)
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        logger.info("train %d, valid %d, test %d rows", len(self.train_x), len(self.valid_x), len(self.test_x))

    def _epoch(self, rng: random.Random, epoch: int) -> float:
        self.model.train()
        y = [r.throughput for r in self.train_rows]
        steps = max(1, (len(self.train_x) + self.cfg.batch_size - 1) // self.cfg.batch_size)
        total, count = 0.0, 0
        for step, idx in enumerate(_batches([len(b) for b in self.train_x], self.cfg.batch_size, rng)):
            lr = self.cfg.lr * 0.5 * (1 + np.cos(np.pi * (epoch + step / steps) / self.cfg.epochs))
            for group in self.optimizer.param_groups:
                group["lr"] = lr
            batch = collate([self.train_x[k] for k in idx], [y[k] for k in idx]).to(self.cfg.device)
            log_ratio = self.model(batch) - batch.target
            if self.cfg.loss == "mape":
                loss = torch.abs(torch.expm1(log_ratio)).mean()
            else:
                loss = torch.abs(log_ratio).mean()
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
            self.optimizer.step()
            total += loss.item() * len(idx)
            count += len(idx)
        return total / count

    def evaluate(self, blocks: Sequence[EncodedBlock], rows: Sequence[MeasuredBlock]) -> Accuracy:
        """Accuracy of the current model on `blocks` against the rows' throughputs."""
        predicted = predict_encoded(self.model, blocks, device=self.cfg.device)
        return accuracy(predicted, [r.throughput for r in rows])

    def run(self) -> dict[str, object]:
        """Trains until early stopping; returns the metrics of the best checkpoint."""
        from torch.utils.tensorboard import SummaryWriter

        cfg = self.cfg
        cfg.run_dir.mkdir(parents=True, exist_ok=True)
        writer = SummaryWriter(str(cfg.run_dir / "tb"))
        writer.add_text("hyperparameters", json.dumps(asdict(cfg), default=str))
        rng = random.Random(cfg.seed)
        best, stale, start = float("inf"), 0, time.time()
        for epoch in range(cfg.epochs):
            loss = self._epoch(rng, epoch)
            valid = self.evaluate(self.valid_x, self.valid_rows)
            writer.add_scalar("losses/train", loss, epoch)
            writer.add_scalar("charts/valid_mape", valid.mape, epoch)
            writer.add_scalar("charts/valid_tau", valid.kendall_tau, epoch)
            logger.info("epoch %d loss %.4f valid MAPE %.4f tau %.3f (%.0fs)", epoch, loss, valid.mape,
                        valid.kendall_tau, time.time() - start)  # fmt: skip
            meta = {"epoch": epoch, "valid": asdict(valid), "cpu": self.cpu}
            save_checkpoint(cfg.run_dir / "last.pt", self.model, self.vocab, meta)
            if valid.mape < best:
                best, stale = valid.mape, 0
                save_checkpoint(cfg.run_dir / "best.pt", self.model, self.vocab, meta)
            else:
                stale += 1
            if stale >= cfg.patience or time.time() - start > cfg.time_budget_s:
                break
        writer.close()
        self.model = load_checkpoint(cfg.run_dir / "best.pt", cfg.device)[0]
        test = self.evaluate(self.test_x, self.test_rows)
        metrics = {"best_valid_mape": best, "test": asdict(test), "cpu": self.cpu, "rows": {
            "train": len(self.train_x), "valid": len(self.valid_x), "test": len(self.test_x)}}  # fmt: skip
        save_checkpoint(cfg.run_dir / "best.pt", self.model, self.vocab, metrics)
        return metrics
