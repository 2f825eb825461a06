"""indexer.vector_index.VectorIndex against a numpy brute force, on real FAISS."""

from pathlib import Path

import numpy as np
import pytest

from semsearch.indexer.vector_index import VectorIndex

DIMENSION = 16


def _unit(rng: np.random.Generator, rows: int) -> np.ndarray:
    vectors = rng.standard_normal((rows, DIMENSION)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


@pytest.fixture
def data() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(ids, vectors, queries): 200 unit vectors under scattered, unordered ids."""
    rng = np.random.default_rng(1234)
    ids = rng.choice(1_000_000, size=200, replace=False).astype(np.int64)
    return ids, _unit(rng, 200), _unit(rng, 5)


def _built(ids: np.ndarray, vectors: np.ndarray) -> VectorIndex:
    index = VectorIndex.empty(DIMENSION)
    index.add(ids, vectors)
    return index


def _brute(ids: np.ndarray, vectors: np.ndarray, queries: np.ndarray,
           k: int) -> tuple[np.ndarray, np.ndarray]:
    scores = queries @ vectors.T
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(scores, order, axis=1), ids[order]


def _check_matches(index: VectorIndex, ids: np.ndarray, vectors: np.ndarray,
                   queries: np.ndarray, k: int, allowed: np.ndarray | None = None) -> None:
    scores, found = index.search(queries, k, allowed)
    want_scores, want_ids = _brute(ids, vectors, queries, k)
    assert found.shape == want_ids.shape == (len(queries), k)
    np.testing.assert_array_equal(found, want_ids)
    np.testing.assert_allclose(scores, want_scores, rtol=1e-5, atol=1e-5)


def test_empty_index() -> None:
    index = VectorIndex.empty(DIMENSION)
    assert len(index) == 0 and index.dimension == DIMENSION
    assert index.ids().size == 0
    _, found = index.search(np.ones((1, DIMENSION), dtype=np.float32), 5)
    assert (found == -1).all()


def test_add_keeps_the_given_ids(data: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    ids, vectors, _ = data
    index = _built(ids, vectors)
    assert len(index) == len(ids)
    np.testing.assert_array_equal(index.ids(), ids)
    index.add(np.zeros(0, dtype=np.int64), np.zeros((0, DIMENSION), dtype=np.float32))
    assert len(index) == len(ids)


@pytest.mark.parametrize("k", [1, 7, 200])
def test_search_matches_brute_force(data: tuple[np.ndarray, np.ndarray, np.ndarray],
                                    k: int) -> None:
    ids, vectors, queries = data
    _check_matches(_built(ids, vectors), ids, vectors, queries, k)


def test_k_beyond_size_is_clamped(data: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    ids, vectors, queries = data
    index = _built(ids[:10], vectors[:10])
    scores, found = index.search(queries, 50)
    assert found.shape == (len(queries), 10)
    assert set(found[0].tolist()) == set(ids[:10].tolist())
    _check_matches(index, ids[:10], vectors[:10], queries, 10)


def test_inner_product_is_cosine(data: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    ids, vectors, _ = data
    scores, found = _built(ids, vectors).search(vectors[:3], 1)
    np.testing.assert_array_equal(found[:, 0], ids[:3])
    np.testing.assert_allclose(scores[:, 0], 1.0, atol=1e-5)


@pytest.mark.parametrize("k", [1, 10])
def test_search_among_allowed_ids(data: tuple[np.ndarray, np.ndarray, np.ndarray],
                                  k: int) -> None:
    ids, vectors, queries = data
    rng = np.random.default_rng(7)
    chosen = rng.choice(len(ids), size=30, replace=False)
    allowed = ids[chosen]
    _check_matches(_built(ids, vectors), ids[chosen], vectors[chosen], queries, k, allowed)


def test_fewer_allowed_than_k_pads_with_minus_one(
        data: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    ids, vectors, queries = data
    allowed = ids[[3, 50, 199]]
    scores, found = _built(ids, vectors).search(queries, 10, allowed)
    for row in found:
        assert set(row[:3].tolist()) == set(allowed.tolist())
        assert (row[3:] == -1).all()
    _, want = _brute(ids[[3, 50, 199]], vectors[[3, 50, 199]], queries, 3)
    np.testing.assert_array_equal(found[:, :3], want)


def test_allowed_ids_unknown_to_the_index_are_ignored(
        data: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    ids, vectors, queries = data
    absent = np.array([-5, 2_000_000], dtype=np.int64)
    _, found = _built(ids, vectors).search(queries, 3, np.concatenate([absent, ids[:2]]))
    for row in found:
        assert set(row[:2].tolist()) == set(ids[:2].tolist())
        assert (row[2:] == -1).all()


def test_remove(data: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    ids, vectors, queries = data
    index = _built(ids, vectors)
    gone = ids[::3]
    index.remove(gone)
    kept = np.ones(len(ids), dtype=bool)
    kept[::3] = False
    assert len(index) == kept.sum()
    assert set(index.ids().tolist()) == set(ids[kept].tolist())
    _check_matches(index, ids[kept], vectors[kept], queries, 20)
    # The query equal to a removed vector no longer finds it.
    _, found = index.search(vectors[:1], len(index))
    assert ids[0] not in found
    index.remove(np.zeros(0, dtype=np.int64))
    assert len(index) == kept.sum()


def test_save_load_round_trip(tmp_path: Path,
                              data: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    ids, vectors, queries = data
    index = _built(ids, vectors)
    index.remove(ids[:5])
    path = tmp_path / "vectors.faiss"
    index.save(path)
    assert [p.name for p in tmp_path.iterdir()] == ["vectors.faiss"]  # no temporary left
    loaded = VectorIndex.load(path)
    assert loaded.dimension == DIMENSION and len(loaded) == len(ids) - 5
    np.testing.assert_array_equal(loaded.ids(), index.ids())
    _check_matches(loaded, ids[5:], vectors[5:], queries, 15)
    allowed = ids[40:60]
    a_scores, a_ids = index.search(queries, 5, allowed)
    b_scores, b_ids = loaded.search(queries, 5, allowed)
    np.testing.assert_array_equal(a_ids, b_ids)
    np.testing.assert_allclose(a_scores, b_scores)


def test_save_replaces_an_existing_file(tmp_path: Path,
                                        data: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    ids, vectors, _ = data
    path = tmp_path / "vectors.faiss"
    _built(ids, vectors).save(path)
    _built(ids[:3], vectors[:3]).save(path)
    assert len(VectorIndex.load(path)) == 3
    assert [p.name for p in tmp_path.iterdir()] == ["vectors.faiss"]


def test_limit_threads_holds_for_the_calling_thread_only() -> None:
    import threading

    import faiss

    from semsearch.indexer.vector_index import limit_threads

    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(2)
    seen: list[int] = []

    def search_thread() -> None:
        limit_threads(1)
        seen.append(faiss.omp_get_max_threads())

    try:
        worker = threading.Thread(target=search_thread)
        worker.start()
        worker.join()
        assert seen == [1]
        assert faiss.omp_get_max_threads() == 2  # a sync in this thread keeps its threads
    finally:
        faiss.omp_set_num_threads(before)
