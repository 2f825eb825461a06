"""Approximate vector indexes (indexer/vector_index.py, indexer/vector_policy.py).

Every kind (flat, hnsw, ivf) on a few thousand seeded clustered vectors, against numpy
brute force, with the policy's thresholds lowered through its parameters; then a real
sync of a small folder forced to hnsw, changed and synced again.
"""

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from semsearch.cli import app
from semsearch.indexer.encoders import Encoder, EncoderSpec
from semsearch.indexer.index_dir import load_vectors, vectors_path
from semsearch.indexer.neighbours import ExactNeighbours
from semsearch.indexer.stats import index_stats
from semsearch.indexer.store import Store
from semsearch.indexer.sync import SyncOptions, sync_folder
from semsearch.indexer.vector_build import build_vector_index
from semsearch.indexer.vector_index import ReadOnlyIndexError, VectorIndex
from semsearch.indexer.vector_policy import VectorIndexPolicy
from semsearch.search.options import SearchOptions
from semsearch.search.searcher import Searcher
from semsearch.settings import Settings

DIMENSION = 32
SIZE = 3000
KINDS = ["flat", "hnsw", "ivf"]


class Data:
    """`SIZE` unit vectors in 30 Gaussian clusters under scattered ids, and queries."""

    def __init__(self, seed: int = 42) -> None:
        rng = np.random.default_rng(seed)
        centres = rng.standard_normal((30, DIMENSION))
        self.ids = np.sort(rng.choice(10_000_000, SIZE, replace=False)).astype(np.int64) + 1
        self.vectors = self._around(rng, centres, SIZE)
        self.queries = self._around(rng, centres, 40)

    @staticmethod
    def _around(rng: np.random.Generator, centres: np.ndarray, rows: int) -> np.ndarray:
        points = centres[rng.integers(0, len(centres), rows)]
        points = points + 0.45 * rng.standard_normal((rows, DIMENSION))
        return (points / np.linalg.norm(points, axis=1, keepdims=True)).astype(np.float32)

    def read(self, wanted: np.ndarray | None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        if wanted is None:
            for start in range(0, SIZE, 700):
                yield self.ids[start:start + 700], self.vectors[start:start + 700]
        else:
            yield wanted, self.vectors[np.searchsorted(self.ids, wanted)]

    def build(self, policy: VectorIndexPolicy, count: int = SIZE) -> VectorIndex:
        ids = self.ids[:count]
        return build_vector_index(
            DIMENSION, ids, lambda wanted: self.read(ids if wanted is None else wanted), policy)


@pytest.fixture(scope="module")
def data() -> Data:
    return Data()


def _policy(kind: str, **overrides: object) -> VectorIndexPolicy:
    return VectorIndexPolicy(kind=kind, **overrides)  # type: ignore[arg-type]


def _truth(vectors: np.ndarray, ids: np.ndarray, queries: np.ndarray,
           k: int = 10) -> ExactNeighbours:
    truth = ExactNeighbours(queries, k)
    truth.update(ids, vectors)
    return truth


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_finds_the_exact_neighbours(data: Data, kind: str) -> None:
    index = data.build(_policy(kind))
    assert index.kind == kind and len(index) == SIZE
    scores, found = index.search(data.queries, 10)
    assert _truth(data.vectors, data.ids, data.queries).recall(found) >= 0.9
    # Scores are cosines of the returned vectors (ivf: of 8-bit approximations).
    rows = np.searchsorted(data.ids, found)
    cosines = np.einsum("qd,qkd->qk", data.queries, data.vectors[rows])
    np.testing.assert_allclose(scores, cosines, atol=2e-2 if kind == "ivf" else 1e-5)
    if kind != "flat":
        assert index.search_effort > 0
        assert index.info().params["ef_search" if kind == "hnsw" else "nprobe"] == \
            index.search_effort


@pytest.mark.parametrize("kind", KINDS)
def test_removed_ids_are_never_returned(data: Data, kind: str) -> None:
    index = data.build(_policy(kind))
    gone = data.ids[::3]
    index.remove(gone)
    kept = np.ones(SIZE, dtype=bool)
    kept[::3] = False
    assert len(index) == kept.sum()
    assert set(index.ids().tolist()) == set(data.ids[kept].tolist())
    assert index.tombstones == (len(gone) if kind == "hnsw" else 0)
    # Not even as the nearest neighbour of itself, nor when every vector is asked for.
    _, found = index.search(data.vectors[::3][:50], 5)
    assert not np.isin(found, gone).any()
    _, everything = index.search(data.queries[:3], SIZE)
    assert not np.isin(everything, gone).any()
    _, found = index.search(data.queries, 10)
    assert _truth(data.vectors[kept], data.ids[kept], data.queries).recall(found) >= 0.9


@pytest.mark.parametrize("kind", KINDS)
def test_an_updated_id_returns_its_new_vector(data: Data, kind: str) -> None:
    index = data.build(_policy(kind))
    changed = data.ids[[10, 20]]
    # New text: the queries least like the old vectors, from the same distribution.
    new = data.queries[np.argmin(data.vectors[[10, 20]] @ data.queries.T, axis=1)]
    assert np.einsum("rd,rd->r", new, data.vectors[[10, 20]]).max() < 0
    index.remove(changed)
    index.add(changed, new)
    assert len(index) == SIZE
    scores, found = index.search(new, 1)
    np.testing.assert_array_equal(found[:, 0], changed)
    np.testing.assert_allclose(scores[:, 0], 1.0, atol=2e-2)
    np.testing.assert_allclose(index.vectors(changed), new, atol=1e-2)
    _, near_old = index.search(data.vectors[[10, 20]], 10)
    assert not np.isin(near_old, changed).any()


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("allowed_count", [60, 1200])  # exact path, then IDSelector path
def test_filters_are_respected(data: Data, kind: str, allowed_count: int) -> None:
    index = data.build(_policy(kind))
    index.remove(data.ids[:100])  # removed ids stay out even when allowed
    rng = np.random.default_rng(3)
    allowed = rng.choice(data.ids, allowed_count, replace=False)
    live = np.setdiff1d(allowed, data.ids[:100])
    _, found = index.search(data.queries, 10, allowed)
    assert np.isin(found[found >= 0], live).all()
    rows = np.searchsorted(data.ids, live)
    recall = _truth(data.vectors[rows], live, data.queries).recall(found)
    if kind == "flat" or (kind == "hnsw" and allowed_count == 60):
        assert recall == 1.0  # exact, or exact over the few allowed vectors
    else:  # walks, or ivf's 8-bit vectors, which can swap near ties
        assert recall >= 0.9


@pytest.mark.parametrize("kind", KINDS)
def test_save_and_mapped_load_round_trip(tmp_path: Path, data: Data, kind: str) -> None:
    index = data.build(_policy(kind))
    index.remove(data.ids[:50])
    path = tmp_path / "vectors.faiss"
    index.save(path)
    assert [p.name for p in tmp_path.iterdir()] == ["vectors.faiss"]
    mapped = VectorIndex.load(path, mapped=True)
    assert (mapped.kind, len(mapped), mapped.info()) == (kind, len(index), index.info())
    assert sorted(mapped.ids().tolist()) == sorted(index.ids().tolist())
    for allowed in (None, data.ids[40:1400]):
        a_scores, a_ids = index.search(data.queries, 10, allowed)
        b_scores, b_ids = mapped.search(data.queries, 10, allowed)
        np.testing.assert_array_equal(a_ids, b_ids)
        np.testing.assert_allclose(a_scores, b_scores, rtol=1e-6)
    with pytest.raises(ReadOnlyIndexError):
        mapped.add(data.ids[:1], data.vectors[:1])
    with pytest.raises(ReadOnlyIndexError):
        mapped.remove(data.ids[60:61])
    # Read whole, it can change, and the file keeps its tombstones or deletions.
    writable = VectorIndex.load(path)
    writable.add(data.ids[:1], data.vectors[:1])
    assert len(writable) == len(index) + 1


def test_mapped_index_outlives_its_file(tmp_path: Path, data: Data) -> None:
    path = tmp_path / "vectors.faiss"
    data.build(_policy("ivf")).save(path)
    mapped = VectorIndex.load(path, mapped=True)
    before = mapped.search(data.queries, 5)[1]
    path.unlink()  # a sync deletes the previous generation while a server still maps it
    np.testing.assert_array_equal(mapped.search(data.queries, 5)[1], before)


def test_auto_switches_kind_at_the_threshold(data: Data) -> None:
    policy = _policy("auto", approximate_from=2000)
    assert policy.kind_for(1999) == "flat" and policy.kind_for(2000) == "ivf"
    small = data.build(policy, count=1500)
    assert small.kind == "flat" and not small.needs_rebuild(policy)
    small.add(data.ids[1500:2100], data.vectors[1500:2100])
    assert small.needs_rebuild(policy)  # grew past the line: the sync rebuilds it
    large = data.build(policy, count=2100)
    assert large.kind == "ivf" and not large.needs_rebuild(policy)
    large.remove(data.ids[:900])  # 1200 left: between half the line and the line
    assert not large.needs_rebuild(policy)
    large.remove(data.ids[900:1200])  # 900 left: under half the line
    assert large.needs_rebuild(policy)
    hnsw_policy = _policy("auto", approximate_from=2000, auto_approximate="hnsw")
    assert data.build(hnsw_policy, count=2100).kind == "hnsw"


def test_ivf_too_small_to_train_stays_flat(data: Data) -> None:
    policy = _policy("ivf")
    assert policy.ivf_lists(400) < policy.ivf_min_lists
    index = data.build(policy, count=400)
    assert index.kind == "flat" and not index.needs_rebuild(policy)
    index.add(data.ids[400:], data.vectors[400:])
    assert index.needs_rebuild(policy)
    assert data.build(policy).kind == "ivf"


def test_ivf_lists_are_retrained_when_the_size_moves_far(data: Data) -> None:
    policy = _policy("ivf")
    index = data.build(policy)
    lists = int(index.info().params["nlist"])
    assert not policy.lists_are_off(lists, SIZE)
    assert policy.lists_are_off(lists, SIZE * 16)


def test_hnsw_tombstones_are_compacted(data: Data) -> None:
    policy = _policy("hnsw", compact_fraction=0.2)
    index = data.build(policy)
    index.remove(data.ids[:500])
    assert index.tombstones == 500 and not index.needs_rebuild(policy)
    index.remove(data.ids[500:700])
    assert index.needs_rebuild(policy)  # 700 of 3000 are tombstones
    kept = data.ids[700:]
    compacted = build_vector_index(
        DIMENSION, kept, lambda wanted: data.read(kept if wanted is None else wanted), policy)
    assert compacted.tombstones == 0 and len(compacted) == len(index)
    _, found = compacted.search(data.queries, 10)
    assert _truth(data.vectors[700:], kept, data.queries).recall(found) >= 0.9


@pytest.mark.parametrize("kind", ["hnsw", "ivf"])
def test_tuning_stops_where_more_effort_buys_nothing(data: Data, kind: str) -> None:
    index = data.build(_policy(kind))
    truth = _truth(data.vectors, data.ids, data.queries)
    reached = index.tune(truth, target_recall=1.01)  # unreachable: take the plateau
    most = 1024 if kind == "hnsw" else int(index.info().params["nlist"])
    assert index.search_effort < most
    index.search_effort = most
    best = truth.recall(index.search(data.queries, 10)[1])
    assert reached >= best - 0.005 and reached >= 0.9


def test_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown vector index 'annoy'"):
        VectorIndexPolicy(kind="annoy")
    with pytest.raises(ValidationError):
        Settings(vector_index="annoy")  # type: ignore[arg-type]
    assert Settings(vector_index="hnsw").vector_index == "hnsw"


def test_cli_refuses_an_unknown_vector_index(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["index", str(tmp_path), "--index-dir",
                                      str(tmp_path / "index"), "--vector-index", "annoy"])
    assert result.exit_code == 2
    assert "annoy" in result.output and not (tmp_path / "index").exists()


# --- end to end: a real sync forced to hnsw ---------------------------------------------
DOCS = {
    "tea.txt": "Green tea is brewed with water at eighty degrees for two minutes.",
    "bike.md": "# Bicycles\n\nPump the tyre and patch the inner tube when it goes flat.",
    "mars.txt": "The rover landed in Jezero crater to look for ancient microbial life.",
    "bread.txt": "Sourdough bread rises slowly with wild yeast from a starter.",
}


def _sync(root: Path, index_dir: Path, encoder: Encoder, policy: VectorIndexPolicy) -> None:
    sync_folder(root, index_dir, EncoderSpec.of(encoder),
                SyncOptions(chunk_tokens=64, chunk_overlap=8, vector_index=policy))


def _top_path(searcher: Searcher, query: str) -> str:
    return searcher.search(query, SearchOptions(k=1, mode="dense", highlight=False)).results[0].path


def test_sync_with_hnsw_stays_correct(tmp_path: Path, index_dir: Path,
                                      encoder: Encoder) -> None:
    root = tmp_path / "docs"
    root.mkdir()
    for name, text in DOCS.items():
        (root / name).write_text(text, encoding="utf-8")
    policy = _policy("hnsw", compact_fraction=0.9)  # keep the tombstones: they are tested
    _sync(root, index_dir, encoder, policy)
    stats = index_stats(index_dir)
    assert stats.vector_index == {
        "type": "hnsw", "params": VectorIndex.load(vectors_path(index_dir, 1)).info().params,
        "vectors": 4, "tombstones": 0, "requested": "hnsw"}
    searcher = Searcher(index_dir, EncoderSpec.of(encoder))
    assert _top_path(searcher, "how do I fix a flat tyre") == "bike.md"

    (root / "bike.md").write_text("Knitting a wool scarf needs two needles and patience.",
                                  encoding="utf-8")
    (root / "mars.txt").unlink()
    _sync(root, index_dir, encoder, policy)
    stats = index_stats(index_dir)
    vector_index = stats.vector_index
    assert isinstance(vector_index, dict)
    assert (vector_index["type"], vector_index["vectors"]) == ("hnsw", 3)
    assert vector_index["tombstones"] == 2  # the old bike chunk and mars
    store = Store.open_readonly(index_dir)
    try:
        vectors = load_vectors(store, index_dir, encoder.dimension, repair=False)
        assert np.sort(vectors.ids()).tolist() == store.chunk_ids().tolist()
    finally:
        store.close()
    # The searcher reloads the new generation: the new text is found, the old is gone.
    assert _top_path(searcher, "knitting a scarf") == "bike.md"
    paths = {hit.path for hit in searcher.search("rover on Mars looking for life",
            SearchOptions(k=10, mode="dense", highlight=False)).results}
    assert "mars.txt" not in paths
    assert _top_path(searcher, "how do I fix a flat tyre") != "bike.md"
    searcher.close()

    # A later sync whose policy finds too many tombstones compacts from SQLite.
    (root / "tea.txt").unlink()
    _sync(root, index_dir, encoder, _policy("hnsw", compact_fraction=0.2))
    vector_index = index_stats(index_dir).vector_index
    assert isinstance(vector_index, dict)
    assert (vector_index["type"], vector_index["vectors"], vector_index["tombstones"]) == \
        ("hnsw", 2, 0)


def test_sync_keeps_the_recorded_choice_and_ivf_falls_back_to_flat(
        tmp_path: Path, index_dir: Path, encoder: Encoder) -> None:
    root = tmp_path / "docs"
    root.mkdir()
    for name, text in DOCS.items():
        (root / name).write_text(text, encoding="utf-8")
    _sync(root, index_dir, encoder, _policy("ivf"))  # four vectors: too few to train
    vector_index = index_stats(index_dir).vector_index
    assert isinstance(vector_index, dict)
    assert (vector_index["type"], vector_index["requested"]) == ("flat", "ivf")
    # Synced without a choice, the recorded one stays; with another, the index follows.
    sync_folder(root, index_dir, EncoderSpec.of(encoder),
                SyncOptions(chunk_tokens=64, chunk_overlap=8))
    assert json.loads(json.dumps(index_stats(index_dir).vector_index))["requested"] == "ivf"
    _sync(root, index_dir, encoder, _policy("hnsw"))  # nothing changed: still rebuilt
    vector_index = index_stats(index_dir).vector_index
    assert isinstance(vector_index, dict)
    assert (vector_index["type"], vector_index["requested"]) == ("hnsw", "hnsw")
    assert VectorIndex.load(vectors_path(index_dir, 1)).kind == "hnsw"
