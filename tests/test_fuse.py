"""search.fuse: min-max scaling, z-scores, convex fusion and reciprocal rank fusion, exact
values."""

import numpy as np
import pytest

from semsearch.search.fuse import (
    DENSE_WEIGHT,
    RRF_K,
    convex_fusion,
    min_max,
    reciprocal_rank_fusion,
    z_score,
)


def _array(*values: float) -> np.ndarray:
    return np.array(values, dtype=np.float64)


def test_min_max_scales_to_unit_interval() -> None:
    np.testing.assert_allclose(min_max(_array(2.0, 4.0, 6.0)), [0.0, 0.5, 1.0])
    np.testing.assert_allclose(min_max(_array(-1.0, 3.0, 1.0)), [0.0, 1.0, 0.5])


def test_min_max_of_equal_scores_is_all_ones() -> None:
    np.testing.assert_array_equal(min_max(_array(0.3, 0.3, 0.3)), [1.0, 1.0, 1.0])
    np.testing.assert_array_equal(min_max(_array(7.0)), [1.0])


def test_min_max_of_nothing_is_nothing() -> None:
    assert min_max(_array()).size == 0


def test_min_max_does_not_change_its_input() -> None:
    scores = _array(1.0, 2.0, 3.0)
    min_max(scores)
    np.testing.assert_array_equal(scores, [1.0, 2.0, 3.0])


def test_convex_fusion_weights_the_scaled_legs() -> None:
    dense = _array(0.2, 0.4, 0.6)  # scaled: 0, 0.5, 1
    lexical = _array(10.0, 0.0, 5.0)  # scaled: 1, 0, 0.5
    np.testing.assert_allclose(convex_fusion(dense, lexical, 0.5), [0.5, 0.25, 0.75])
    np.testing.assert_allclose(convex_fusion(dense, lexical, 0.8), [0.2, 0.4, 0.9])
    np.testing.assert_allclose(convex_fusion(dense, lexical, 1.0), [0.0, 0.5, 1.0])
    np.testing.assert_allclose(convex_fusion(dense, lexical, 0.0), [1.0, 0.0, 0.5])


def test_convex_fusion_default_weight() -> None:
    dense, lexical = _array(0.0, 1.0), _array(1.0, 0.0)
    np.testing.assert_allclose(convex_fusion(dense, lexical),
                               [1.0 - DENSE_WEIGHT, DENSE_WEIGHT])


def test_convex_fusion_with_a_flat_leg() -> None:
    # A leg where every candidate scores the same adds its full weight to each.
    np.testing.assert_allclose(convex_fusion(_array(0.1, 0.3), _array(0.0, 0.0), 0.5),
                               [0.5, 1.0])


def test_z_score_standardises() -> None:
    root = np.sqrt(1.5)  # (2, 4, 6): mean 4, standard deviation sqrt(8 / 3)
    np.testing.assert_allclose(z_score(_array(2.0, 4.0, 6.0)), [-root, 0.0, root])
    np.testing.assert_allclose(z_score(_array(0.0, 0.0, 0.0, 8.0)),
                               [-1 / np.sqrt(3)] * 3 + [np.sqrt(3)])


def test_z_score_of_equal_scores_is_all_zeros() -> None:
    np.testing.assert_array_equal(z_score(_array(0.3, 0.3, 0.3)), [0.0, 0.0, 0.0])
    np.testing.assert_array_equal(z_score(_array(7.0)), [0.0])


def test_z_score_of_nothing_is_nothing() -> None:
    assert z_score(_array()).size == 0


def test_z_score_does_not_change_its_input() -> None:
    scores = _array(1.0, 2.0, 3.0)
    z_score(scores)
    np.testing.assert_array_equal(scores, [1.0, 2.0, 3.0])


def test_convex_fusion_of_z_scores() -> None:
    dense, lexical = _array(0.1, 0.2, 0.3, 0.4), _array(8.0, 0.0, 0.0, 0.0)
    z_dense = (dense - 0.25) / np.sqrt(0.0125)
    z_lexical = np.array([np.sqrt(3)] + [-1 / np.sqrt(3)] * 3)
    np.testing.assert_allclose(convex_fusion(dense, lexical, 0.6, z_score),
                               0.6 * z_dense + 0.4 * z_lexical)


def test_reciprocal_rank_fusion_exact() -> None:
    dense = _array(0.9, 0.1, 0.5)  # ranks 1, 3, 2
    lexical = _array(1.0, 2.0, 3.0)  # ranks 3, 2, 1
    expected = [1 / 61 + 1 / 63, 1 / 63 + 1 / 62, 1 / 62 + 1 / 61]
    np.testing.assert_allclose(reciprocal_rank_fusion(dense, lexical, k=60), expected)


def test_reciprocal_rank_fusion_default_k_and_ties() -> None:
    assert RRF_K == 60
    # Ties are ranked in order of position (a stable sort).
    fused = reciprocal_rank_fusion(_array(1.0, 1.0), _array(5.0, 5.0))
    np.testing.assert_allclose(fused, [2 / (RRF_K + 1), 2 / (RRF_K + 2)])


@pytest.mark.parametrize("k", [1, 10])
def test_reciprocal_rank_fusion_small_k(k: int) -> None:
    fused = reciprocal_rank_fusion(_array(3.0, 2.0, 1.0), _array(1.0, 2.0, 3.0), k=k)
    np.testing.assert_allclose(
        fused, [1 / (k + 1) + 1 / (k + 3), 2 / (k + 2), 1 / (k + 3) + 1 / (k + 1)])
