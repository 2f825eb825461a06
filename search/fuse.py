"""Fusing the dense and lexical legs into one ranking."""

import numpy as np
from numpy.typing import NDArray

# Weight of the dense leg in the convex combination (chosen on SciFact's train queries).
DENSE_WEIGHT = 0.5
RRF_K = 60


def min_max(scores: NDArray[np.float64]) -> NDArray[np.float64]:
    """Scale to [0, 1] over this query's candidates; equal scores all become 1."""
    if scores.size == 0:
        return scores
    low, high = float(scores.min()), float(scores.max())
    if high - low < 1e-12:
        return np.ones_like(scores)
    return (scores - low) / (high - low)


def convex_fusion(
    dense: NDArray[np.float64], lexical: NDArray[np.float64], dense_weight: float = DENSE_WEIGHT
) -> NDArray[np.float64]:
    """`w * minmax(dense) + (1 - w) * minmax(lexical)` over aligned candidate scores."""
    return dense_weight * min_max(dense) + (1.0 - dense_weight) * min_max(lexical)


def reciprocal_rank_fusion(
    dense: NDArray[np.float64], lexical: NDArray[np.float64], k: int = RRF_K
) -> NDArray[np.float64]:
    """Sum of 1 / (k + rank) over both legs, ranks taken over the aligned candidates."""
    def ranks(scores: NDArray[np.float64]) -> NDArray[np.float64]:
        order = np.argsort(-scores, kind="stable")
        result = np.empty_like(scores)
        result[order] = np.arange(1, scores.size + 1)
        return result

    return 1.0 / (k + ranks(dense)) + 1.0 / (k + ranks(lexical))
