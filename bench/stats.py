"""Small statistics helpers: percentiles and summaries of samples."""

from __future__ import annotations

import math
from collections.abc import Sequence


def percentile(samples: Sequence[float], pct: float) -> float:
    """The `pct` percentile (0-100) by the nearest-rank method; NaN for no samples."""
    if not samples:
        return math.nan
    ordered = sorted(samples)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


def summary(samples: Sequence[float], scale: float = 1.0, digits: int = 1) -> dict[str, float]:
    """p50, p99, max and count of `samples`, each multiplied by `scale` and rounded."""
    return {
        "p50": round(percentile(samples, 50) * scale, digits),
        "p99": round(percentile(samples, 99) * scale, digits),
        "max": round(max(samples) * scale, digits) if samples else math.nan,
        "count": len(samples),
    }


def ratio(a: float, b: float, digits: int = 2) -> float:
    return round(a / b, digits) if b else math.nan
