"""Accuracy of throughput predictions: MAPE and rank correlations (as reported for BHive)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

__all__ = ["Accuracy", "accuracy", "repeatability"]


@dataclass(frozen=True)
class Accuracy:
    """How well predictions match measurements.

    Attributes:
        mape: mean of |predicted - measured| / measured.
        kendall_tau: Kendall's tau-b between predicted and measured.
        spearman_rho: Spearman's rank correlation.
        rows: number of blocks compared.
    """

    mape: float
    kendall_tau: float
    spearman_rho: float
    rows: int


def accuracy(predicted: Sequence[float] | np.ndarray, measured: Sequence[float] | np.ndarray) -> Accuracy:
    """Accuracy of `predicted` against `measured` (same units, same order)."""
    p = np.asarray(predicted, dtype=np.float64)
    m = np.asarray(measured, dtype=np.float64)
    mape = float(np.mean(np.abs(p - m) / m))
    tau = float(stats.kendalltau(p, m).statistic)
    rho = float(stats.spearmanr(p, m).statistic)
    return Accuracy(mape, tau, rho, len(m))


def repeatability(est_a: Sequence[float] | np.ndarray, est_b: Sequence[float] | np.ndarray) -> dict[str, float]:
    """The measurement floor from two independent estimates of each block.

    Returns ``mape`` (one estimate taken as a prediction of the other: no model can be expected
    to do better against a single measurement) and ``median`` (median relative difference).
    """
    a = np.asarray(est_a, dtype=np.float64)
    b = np.asarray(est_b, dtype=np.float64)
    rel = np.abs(a - b) / b
    return {"mape": float(np.mean(rel)), "median": float(np.median(rel))}
