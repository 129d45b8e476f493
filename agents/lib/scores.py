"""The summary every figure reports: the geometric-mean reduction over programs."""

from __future__ import annotations

import math
from collections.abc import Iterable

__all__ = ["geomean_reduction"]


def geomean_reduction(improvements: Iterable[float]) -> float:
    """Geometric-mean reduction from per-program relative improvements ``(base - cost) / base``.

    Each improvement r is a cost ratio ``1 - r``; the geometric mean of the ratios, subtracted
    from 1, is the reduction a "typical" program sees (0.05: 5% smaller than the baseline).
    """
    ratios = [1.0 - r for r in improvements]
    if not ratios:
        return float("nan")
    return 1.0 - math.exp(sum(math.log(max(r, 1e-9)) for r in ratios) / len(ratios))
