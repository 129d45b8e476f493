"""The trivial learned baseline: mnemonic counts and block length, gradient-boosted trees.

A learned model earns its complexity only by beating this (see the measuring notes), so it is
trained and reported on the same split.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np

from mlgo_env.x86 import Instruction

__all__ = ["MnemonicGBT"]


class MnemonicGBT:
    """Bag of mnemonics + instruction count -> log cycles, with scikit-learn's boosted trees.

    Args:
        seed: random state of the trees.
    """

    def __init__(self, seed: int = 0) -> None:
        from sklearn.ensemble import HistGradientBoostingRegressor

        self.mnemonics: dict[str, int] = {}
        self.trees = HistGradientBoostingRegressor(max_iter=600, learning_rate=0.08, random_state=seed)

    def _features(self, blocks: Sequence[Sequence[Instruction]]) -> np.ndarray:
        x = np.zeros((len(blocks), len(self.mnemonics) + 1), dtype=np.float32)
        for k, block in enumerate(blocks):
            for name, count in Counter(i.mnemonic for i in block).items():
                col = self.mnemonics.get(name)
                if col is not None:
                    x[k, col] = count
            x[k, -1] = len(block)
        return x

    def fit(self, blocks: Sequence[Sequence[Instruction]], cycles: Sequence[float]) -> MnemonicGBT:
        """Fits on decoded blocks and their measured cycles (any consistent unit)."""
        names = sorted({i.mnemonic for block in blocks for i in block})
        self.mnemonics = {name: k for k, name in enumerate(names)}
        self.trees.fit(self._features(blocks), np.log(np.asarray(cycles, dtype=np.float64)))
        return self

    def predict(self, blocks: Sequence[Sequence[Instruction]]) -> np.ndarray:
        """Predicted cycles, in the unit of the training targets."""
        return np.exp(self.trees.predict(self._features(blocks)))
