"""The fast cost model: a bag of instruction tokens and data-flow chains, an MLP, inference in NumPy.

Made for speed (a reward costs every new block of every variant): features are vectorised over
all blocks at once (`features.Featuriser`), the network is an embedding bag (the mean of token
vectors per block) plus block-level features into a two-layer MLP, evaluated with NumPy in one
pass, and predictions are memoised by block bytes for the life of the model. It is trained
(`train_fast`) on measured blocks of one CPU, or distilled from the transformer
(`model.BlockCostModel`) on its predictions; ``mlgo-env blocks train --fast`` does either, and
the file records the CPU (``meta["cpu"]``) as transformer checkpoints do.

A model file is a NumPy ``.npz``: the weights, the token names, and a JSON ``meta``.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse

from mlgo_env.blocks.features import N_DENSE, BlockFeatures, Featuriser, instruction_info
from mlgo_env.x86 import decode_lite_batch, lite_strings

__all__ = ["FAST_FORMAT", "FastConfig", "FastWeights", "count_tokens", "train_fast"]

logger = logging.getLogger(__name__)

FAST_FORMAT = "mlgo-env-fast-blocks-v1"
PAD, UNK = 0, 1
_WEIGHTS = ("embedding", "chain_embedding", "dense_mean", "dense_std", "w1", "b1", "w2", "b2", "w3", "b3")


@dataclass
class FastWeights:
    """The fast model's parameters (float32 arrays) and token names (ids from 2).

    Attributes:
        embedding: [V, D] token vectors, averaged per block (the length is a block feature).
        chain_embedding: [V, C] form vectors, summed over the loop-carried critical chain and divided
            by the block's length (the output is per instruction: a chain's latency shared out).
        dense_mean: [N_DENSE] block-feature means (standardisation).
        dense_std: [N_DENSE] their standard deviations.
        w1, b1, w2, b2, w3, b3: the MLP ``[D + C + N_DENSE] -> H -> H -> 1``.
        tokens: token names (mnemonics and forms), id k + 2 for ``tokens[k]``.
        meta: training metadata: ``cpu`` (as `dataset.measured_on` records it), metrics, source.
    """

    embedding: np.ndarray
    chain_embedding: np.ndarray
    dense_mean: np.ndarray
    dense_std: np.ndarray
    w1: np.ndarray
    b1: np.ndarray
    w2: np.ndarray
    b2: np.ndarray
    w3: np.ndarray
    b3: np.ndarray
    tokens: list[str]
    meta: dict[str, Any]

    def token_ids(self) -> dict[str, int]:
        """Token name -> id."""
        return {name: k + 2 for k, name in enumerate(self.tokens)}

    def predict_log(self, features: BlockFeatures) -> np.ndarray:
        """[B] predicted log(core cycles per 100 iterations)."""
        n = len(features.length)
        bag = _bag_sums(self.embedding, features.tokens, features.token_block, n)
        bag /= np.maximum(np.bincount(features.token_block, minlength=n), 1)[:, None]
        chain = _bag_sums(self.chain_embedding, features.chain_tokens, features.chain_block, n)
        chain /= np.maximum(features.length, 1)[:, None].astype(np.float32)
        dense = (features.dense - self.dense_mean) / self.dense_std
        x = np.concatenate([bag, chain, dense], axis=1)
        h = _gelu(x @ self.w1 + self.b1)
        h = _gelu(h @ self.w2 + self.b2)
        out = h @ self.w3 + self.b3
        return out + np.log(100.0 * np.maximum(features.length, 1))

    def save(self, path: Path) -> None:
        """Writes the model as an ``.npz`` (float16 weights: half the size, same predictions within noise)."""
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        arrays = {name: getattr(self, name).astype(np.float16) for name in _WEIGHTS}
        header = {"format": FAST_FORMAT, "tokens": self.tokens, "meta": self.meta}
        with Path(path).open("wb") as f:
            np.savez_compressed(f, header=np.frombuffer(json.dumps(header).encode(), dtype=np.uint8), **arrays)

    @classmethod
    def load(cls, path: Path) -> FastWeights:
        """Reads a model written by `save`.

        Raises:
            ValueError: the file is not a fast cost model.
        """
        try:
            with np.load(path, allow_pickle=False) as data:
                header = json.loads(data["header"].tobytes())
                arrays = {name: data[name].astype(np.float32) for name in _WEIGHTS}
        except (KeyError, ValueError, OSError) as exc:
            raise ValueError(f"{path} is not a {FAST_FORMAT} model ({exc}); train one with "
                             "`mlgo-env blocks train --fast`") from exc  # fmt: skip
        if header.get("format") != FAST_FORMAT:
            raise ValueError(f"{path} is not a {FAST_FORMAT} model; train one with `mlgo-env blocks train --fast`")
        return cls(**arrays, tokens=header["tokens"], meta=header["meta"])


def _bag_sums(table: np.ndarray, tokens: np.ndarray, owner: np.ndarray, n: int) -> np.ndarray:
    """[n, D]: the sum of `table` rows of each block's `tokens` (`owner`: their blocks).

    A sparse [n, V] matrix of token counts times `table`: 15x faster than ``np.add.reduceat`` over
    the gathered rows (0.6 against 9.4 ms for 2,000 blocks, measured on an Intel guest).
    """
    counts = scipy.sparse.csr_matrix(
        (np.ones(len(tokens), dtype=np.float32), (owner, tokens)), shape=(n, table.shape[0])
    )
    return np.asarray(counts @ table, dtype=np.float32)


def _gelu(x: np.ndarray) -> np.ndarray:
    """GELU, tanh form (as torch's ``approximate="tanh"``, which training uses); ``x * x * x``: ``x**3`` is slow."""
    return 0.5 * x * (1.0 + np.tanh(0.7978845608 * (x + 0.044715 * (x * x * x))))


def count_tokens(blocks: Sequence[bytes]) -> Counter[str]:
    """How often each token (mnemonic, form) occurs in `blocks`."""
    lite = decode_lite_batch(blocks)
    texts, counts = np.unique(lite.text, return_counts=True)
    tokens: Counter[str] = Counter()
    for (mnemonic, op_str), count in zip(lite_strings(texts), counts.tolist(), strict=True):
        info = instruction_info(mnemonic.decode(), op_str.decode())
        tokens[info.mnemonic] += count
        tokens[info.form] += count
    return tokens


@dataclass
class FastConfig:
    """Settings of `train_fast`."""

    dim: int = 64
    """Token vector size."""
    chain_dim: int = 16
    """Size of the critical-chain form vectors."""
    hidden: int = 128
    epochs: int = 60
    batch_size: int = 256
    lr: float = 1e-3
    weight_decay: float = 1e-4
    patience: int = 10
    """Epochs without a better validation MAPE before stopping."""
    min_count: int = 3
    """Tokens seen fewer times in training are unknown (the Intel model used 1: on its 44k rows, 1
    gave a lower validation MAPE in two runs of three; the seeds spread the figure by about 5 points)."""
    seed: int = 0
    time_budget_s: float = 1e9
    threads: int = 1
    """Torch threads: one is fastest for this small network on a shared machine."""


def train_fast(
    train: tuple[Sequence[bytes], np.ndarray],
    valid: tuple[Sequence[bytes], np.ndarray],
    cfg: FastConfig,
    meta: dict[str, Any],
    init: FastWeights | None = None,
) -> FastWeights:
    """Trains the fast model on blocks and their cycles per 100 iterations.

    Loss: L1 on log cycles (the relative error to first order, and stable); early stopping on
    the validation MAPE.

    Args:
        train: training blocks and cycles.
        valid: validation blocks and cycles (early stopping on their MAPE).
        cfg: settings.
        meta: stored with the model (``cpu`` at least); the validation metrics are added.
        init: start from this model's weights (another CPU's: its tokens and shapes are kept),
            the usual way to train on the few thousand blocks one machine can measure in an hour.
    """
    import torch
    from torch import nn

    from mlgo_env.seeding import seed_everything

    seed_everything(cfg.seed)
    torch.set_num_threads(cfg.threads)
    start = time.monotonic()
    tokens = init.tokens if init else sorted(t for t, c in count_tokens(train[0]).items() if c >= cfg.min_count)
    ids = {name: k + 2 for k, name in enumerate(tokens)}
    featurise = Featuriser(ids, UNK)
    f_train, f_valid = featurise(train[0]), featurise(valid[0])
    mean = init.dense_mean if init else f_train.dense.mean(axis=0)
    std = init.dense_std if init else f_train.dense.std(axis=0) + 1e-3
    dim, hidden = (init.embedding.shape[1], init.w1.shape[1]) if init else (cfg.dim, cfg.hidden)
    chain_dim = init.chain_embedding.shape[1] if init else cfg.chain_dim

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bag = nn.EmbeddingBag(len(tokens) + 2, dim, mode="mean")
            self.chain = nn.EmbeddingBag(len(tokens) + 2, chain_dim, mode="sum")
            nn.init.normal_(self.chain.weight, std=0.1)
            gelu = nn.GELU(approximate="tanh")
            self.mlp = nn.Sequential(
                nn.Linear(dim + chain_dim + N_DENSE, hidden),
                gelu,
                nn.Linear(hidden, hidden),
                gelu,
                nn.Linear(hidden, 1),
            )

        def forward(self, tok: torch.Tensor, offsets: torch.Tensor, chain: torch.Tensor, chain_offsets: torch.Tensor,
                    length: torch.Tensor, dense: torch.Tensor) -> torch.Tensor:  # fmt: skip
            chain_share = self.chain(chain, chain_offsets) / length[:, None]
            x = torch.cat([self.bag(tok, offsets), chain_share, dense], dim=1)
            return self.mlp(x).squeeze(-1)

    net = Net()
    if init:
        state = {"bag.weight": init.embedding, "chain.weight": init.chain_embedding,
                 "mlp.0.weight": init.w1.T, "mlp.0.bias": init.b1,
                 "mlp.2.weight": init.w2.T, "mlp.2.bias": init.b2, "mlp.4.weight": init.w3[:, None].T,
                 "mlp.4.bias": init.b3.reshape(1)}  # fmt: skip
        net.load_state_dict({k: torch.from_numpy(np.ascontiguousarray(v, dtype=np.float32)) for k, v in state.items()})

    def bag(tokens: np.ndarray, owner: np.ndarray, n: int, idx: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """The tokens of blocks `idx`, concatenated, and where each block's start (EmbeddingBag's input)."""
        counts = np.bincount(owner, minlength=n)
        starts = np.cumsum(counts) - counts
        offsets = np.concatenate([[0], np.cumsum(counts[idx])[:-1]]).astype(np.int64)
        within = np.arange(int(counts[idx].sum())) - np.repeat(offsets, counts[idx])
        return torch.from_numpy(tokens[np.repeat(starts[idx], counts[idx]) + within]), torch.from_numpy(offsets)

    def tensors(f: BlockFeatures, idx: np.ndarray) -> tuple[torch.Tensor, ...]:
        n = len(f.length)
        dense = (f.dense[idx] - mean) / std
        base = np.log(100.0 * np.maximum(f.length[idx], 1))
        length = torch.from_numpy(np.maximum(f.length[idx], 1).astype(np.float32))
        return (*bag(f.tokens, f.token_block, n, idx), *bag(f.chain_tokens, f.chain_block, n, idx), length,
                torch.from_numpy(dense.astype(np.float32)), torch.from_numpy(base.astype(np.float32)))  # fmt: skip

    y_train = torch.from_numpy(np.log(np.asarray(train[1], dtype=np.float32)))
    valid_all = tensors(f_valid, np.arange(len(valid[1])))
    y_valid = np.asarray(valid[1], dtype=np.float64)
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, cfg.epochs)
    best, best_state, stale = float("inf"), None, 0
    rng = np.random.default_rng(cfg.seed)
    for epoch in range(cfg.epochs):
        net.train()
        for batch in np.array_split(rng.permutation(len(train[1])), max(1, len(train[1]) // cfg.batch_size)):
            *inputs, base = tensors(f_train, batch)
            pred = net(*inputs) + base
            loss = (pred - y_train[batch]).abs().mean()
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            opt.step()
        sched.step()
        net.eval()
        with torch.no_grad():
            *inputs, base = valid_all
            pred = np.exp((net(*inputs) + base).numpy().astype(np.float64))
        mape = float(np.mean(np.abs(pred - y_valid) / y_valid))
        logger.info("fast model epoch %d: valid MAPE %.4f", epoch, mape)
        if mape < best:
            best, stale = mape, 0
            best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
        else:
            stale += 1
        if stale >= cfg.patience or time.monotonic() - start > cfg.time_budget_s:
            break
    assert best_state is not None
    s = {k: v.numpy() for k, v in best_state.items()}
    meta = {**meta, "valid_mape": best, "epochs": epoch + 1, "train_rows": len(train[1]),
            "train_seconds": round(time.monotonic() - start, 1)}  # fmt: skip
    return FastWeights(s["bag.weight"], s["chain.weight"], mean.astype(np.float32), std.astype(np.float32),
                       s["mlp.0.weight"].T,
                       s["mlp.0.bias"], s["mlp.2.weight"].T, s["mlp.2.bias"], s["mlp.4.weight"][0],
                       s["mlp.4.bias"], tokens, meta)  # fmt: skip
