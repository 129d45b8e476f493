"""The learned cost model: a transformer over a block's instructions, attending along data flow.

Why this model: throughput is set by two things, which instructions a block holds (port pressure,
a bag-of-mnemonics already captures much of it) and how they depend on each other (latency
chains, within an iteration and carried across iterations). Ithemal's LSTM has to rediscover the
dependencies from register names read in order; Granite makes them graph edges. Here each
instruction is an embedding of its opcode plus a bag of operand/register tokens, and a small
transformer attends between instructions with a learned per-head bias for each dependency kind
(`tokenize.dependency_matrix`), in both directions: a graph network's inductive bias with a
transformer's batching, small enough to train on two CPU cores in minutes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from mlgo_env.blocks.tokenize import MAX_INSTRUCTIONS, MAX_TOKENS, N_DEP_KINDS, EncodedBlock

__all__ = ["Batch", "BlockCostModel", "ModelConfig", "collate"]


class Batch(NamedTuple):
    """Padded model inputs for B blocks of at most N instructions."""

    opcodes: torch.Tensor
    """[B, N] opcode ids (0 = padding)."""
    tokens: torch.Tensor
    """[B, N, MAX_TOKENS] token ids."""
    deps: torch.Tensor
    """[B, N, N] dependency kinds."""
    mask: torch.Tensor
    """[B, N] True for real instructions."""
    target: torch.Tensor | None = None
    """[B] log of measured cycles per 100 iterations, when training."""

    def to(self, device: torch.device | str) -> Batch:
        """The batch on `device`."""
        return Batch(*(t.to(device) if t is not None else None for t in self))  # type: ignore[arg-type]


def collate(blocks: Sequence[EncodedBlock], targets: Sequence[float] | None = None) -> Batch:
    """Pads encoded blocks into one `Batch`; `targets` are cycles per 100 iterations."""
    n = max(len(b) for b in blocks)
    size = len(blocks)
    opcodes = np.zeros((size, n), dtype=np.int64)
    tokens = np.zeros((size, n, MAX_TOKENS), dtype=np.int64)
    deps = np.zeros((size, n, n), dtype=np.int64)
    for k, b in enumerate(blocks):
        m = len(b)
        opcodes[k, :m] = b.opcodes
        tokens[k, :m] = b.tokens
        deps[k, :m, :m] = b.deps
    opcodes_t = torch.from_numpy(opcodes)
    target = None
    if targets is not None:
        target = torch.log(torch.tensor(np.asarray(targets, dtype=np.float32)))
    return Batch(opcodes_t, torch.from_numpy(tokens), torch.from_numpy(deps), opcodes_t != 0, target)


@dataclass(frozen=True)
class ModelConfig:
    """Sizes of `BlockCostModel`."""

    n_opcodes: int
    n_tokens: int
    dim: int = 128
    layers: int = 3
    heads: int = 4
    ff: int = 256
    dropout: float = 0.05

    def to_dict(self) -> dict[str, int | float]:
        """JSON-able form, stored in checkpoints."""
        return asdict(self)


class DependencyAttention(nn.Module):
    """Multi-head self-attention whose logits get a learned bias per dependency kind and head."""

    def __init__(self, dim: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.out = nn.Linear(dim, dim)
        self.forward_bias = nn.Embedding(N_DEP_KINDS, heads)
        self.reverse_bias = nn.Embedding(N_DEP_KINDS, heads)
        self.dropout = dropout

    def forward(self, x: torch.Tensor, deps: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Attends within each block: `x` [B, N, D], `deps` [B, N, N], `mask` [B, N]."""
        b, n, d = x.shape
        q, k, v = self.qkv(x).view(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        bias = self.forward_bias(deps) + self.reverse_bias(deps.transpose(1, 2))  # [B, N, N, H]
        bias = bias.permute(0, 3, 1, 2)
        bias = bias.masked_fill(~mask[:, None, None, :], float("-inf"))
        attended = F.scaled_dot_product_attention(
            q, k, v, attn_mask=bias, dropout_p=self.dropout if self.training else 0.0
        )
        return self.out(attended.transpose(1, 2).reshape(b, n, d))


class EncoderLayer(nn.Module):
    """Pre-norm transformer layer with `DependencyAttention`."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(cfg.dim)
        self.attn = DependencyAttention(cfg.dim, cfg.heads, cfg.dropout)
        self.norm2 = nn.LayerNorm(cfg.dim)
        self.ff = nn.Sequential(nn.Linear(cfg.dim, cfg.ff), nn.GELU(), nn.Linear(cfg.ff, cfg.dim))
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor, deps: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """One layer over `x` [B, N, D]."""
        x = x + self.drop(self.attn(self.norm1(x), deps, mask))
        return x + self.drop(self.ff(self.norm2(x)))


class BlockCostModel(nn.Module):
    """Predicts log(cycles per 100 iterations) of a basic block run in a loop.

    Args:
        cfg: sizes.
    """

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.opcode_emb = nn.Embedding(cfg.n_opcodes, cfg.dim, padding_idx=0)
        self.token_emb = nn.Embedding(cfg.n_tokens, cfg.dim, padding_idx=0)
        self.position_emb = nn.Embedding(MAX_INSTRUCTIONS, cfg.dim)
        self.instruction = nn.Sequential(nn.LayerNorm(cfg.dim), nn.Linear(cfg.dim, cfg.dim), nn.GELU())
        self.layers = nn.ModuleList(EncoderLayer(cfg) for _ in range(cfg.layers))
        self.norm = nn.LayerNorm(cfg.dim)
        self.head = nn.Sequential(nn.Linear(2 * cfg.dim + 1, cfg.ff), nn.GELU(), nn.Linear(cfg.ff, 1))

    def forward(self, batch: Batch) -> torch.Tensor:
        """[B] predicted log cycles per 100 iterations."""
        mask = batch.mask
        n = batch.opcodes.shape[1]
        x = self.opcode_emb(batch.opcodes) + self.token_emb(batch.tokens).sum(dim=2)
        x = self.instruction(x + self.position_emb.weight[:n])
        for layer in self.layers:
            x = layer(x, batch.deps, mask)
        x = self.norm(x)
        m = mask.unsqueeze(-1).to(x.dtype)
        count = m.sum(dim=1)
        mean = (x * m).sum(dim=1) / count
        peak = x.masked_fill(~mask.unsqueeze(-1), float("-inf")).max(dim=1).values
        features = torch.cat([mean, peak, torch.log(count)], dim=-1)
        return self.head(features).squeeze(-1) + torch.log(100.0 * count.squeeze(-1))
