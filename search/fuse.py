"""Fusing the dense and lexical legs into one ranking."""

from collections.abc import Callable

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


def z_score(scores: NDArray[np.float64]) -> NDArray[np.float64]:
    """Standardise over this query's candidates (mean 0, standard deviation 1); equal
    scores all become 0.

    Unlike `min_max`, every candidate sets the scale, not the lowest and highest alone,
    and a leg whose best stands far above the rest of its pool keeps that lead (min-max
    makes any best 1). Used where whole documents are ranked (`ranking.rank_documents`).
    """
    if scores.size == 0:
        return scores
    spread = float(scores.std())
    if spread < 1e-12:
        return np.zeros_like(scores)
    return (scores - scores.mean()) / spread


def convex_fusion(
    dense: NDArray[np.float64], lexical: NDArray[np.float64], dense_weight: float = DENSE_WEIGHT,
    normalise: Callable[[NDArray[np.float64]], NDArray[np.float64]] = min_max,
) -> NDArray[np.float64]:
    """`w * normalise(dense) + (1 - w) * normalise(lexical)` over aligned candidate scores
    (`normalise`: `min_max` or `z_score`)."""
    return dense_weight * normalise(dense) + (1.0 - dense_weight) * normalise(lexical)


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
