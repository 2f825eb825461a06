"""The embedding cache: same vectors as the model, bounded, least recently used out,
thread-safe; and the Searcher answers a repeated query from it."""

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray

from semsearch.indexer.encoders import Encoder, EncoderSpec
from semsearch.search.embedding_cache import EmbeddingCache
from semsearch.search.options import SearchOptions
from semsearch.search.searcher import Searcher


class _Counted:
    """The real model's `encode`, counting the texts it is asked for."""

    def __init__(self, encoder: Encoder) -> None:
        self.encoder = encoder
        self.calls: list[list[str]] = []
        self._lock = threading.Lock()

    def __call__(self, texts: list[str]) -> NDArray[np.float32]:
        with self._lock:
            self.calls.append(list(texts))
        return self.encoder.encode(texts)


def test_a_hit_returns_the_models_vector_without_the_model(encoder: Encoder) -> None:
    model = _Counted(encoder)
    cache = EmbeddingCache(model, size=8)
    first = cache.embed(["fix a flat tyre", "bake bread"])
    again = cache.embed(["bake bread", "fix a flat tyre"])
    assert model.calls == [["fix a flat tyre", "bake bread"]]
    assert np.array_equal(again, first[::-1])
    assert np.array_equal(first, encoder.encode(["fix a flat tyre", "bake bread"]))
    assert (cache.hits, cache.misses) == (2, 2)


def test_only_the_missing_texts_go_to_the_model_in_one_call(encoder: Encoder) -> None:
    model = _Counted(encoder)
    cache = EmbeddingCache(model, size=8)
    cache.embed(["one"])
    vectors = cache.embed(["two", "one", "two", "three"])
    assert model.calls == [["one"], ["two", "three"]]
    assert vectors.shape == (4, encoder.dimension)
    assert np.array_equal(vectors[0], vectors[2])


def test_size_is_bounded_and_the_least_recently_used_goes(encoder: Encoder) -> None:
    model = _Counted(encoder)
    cache = EmbeddingCache(model, size=3)
    cache.embed(["a", "b", "c"])
    cache.embed(["a"])  # now the most recent: b is the oldest
    cache.embed(["d"])
    assert len(cache) == 3
    model.calls.clear()
    cache.embed(["a", "c", "d"])
    assert model.calls == []
    cache.embed(["b"])
    assert model.calls == [["b"]]
    assert len(cache) == 3
    cache.embed([f"text {i}" for i in range(10)])  # more than fit in one call
    assert len(cache) == 3


def test_callers_cannot_change_what_is_cached(encoder: Encoder) -> None:
    cache = EmbeddingCache(encoder.encode, size=4)
    vectors = cache.embed(["zorblax"])
    vectors[:] = 0.0
    assert np.linalg.norm(cache.embed(["zorblax"])[0]) == pytest.approx(1.0, abs=1e-5)


def test_size_zero_caches_nothing(encoder: Encoder) -> None:
    model = _Counted(encoder)
    cache = EmbeddingCache(model, size=0)
    cache.embed(["x"])
    cache.embed(["x"])
    assert model.calls == [["x"], ["x"]] and len(cache) == 0
    with pytest.raises(ValueError, match="size"):
        EmbeddingCache(model, size=-1)


def test_empty_input_gives_no_rows(encoder: Encoder) -> None:
    assert EmbeddingCache(encoder.encode).embed([]).shape == (0, encoder.dimension)


def test_threads_share_it_safely(encoder: Encoder) -> None:
    cache = EmbeddingCache(encoder.encode, size=5)
    texts = [f"query number {i}" for i in range(8)]
    expected = dict(zip(texts, encoder.encode(texts), strict=True))
    errors: list[str] = []

    def work(offset: int) -> None:
        for step in range(20):
            batch = [texts[(offset + step + j) % len(texts)] for j in range(3)]
            for text, vector in zip(batch, cache.embed(batch), strict=True):
                if not np.allclose(vector, expected[text], atol=1e-5):
                    errors.append(text)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(cache) <= 5


# --- the Searcher's use of it ---------------------------------------------------------------

@dataclass
class _CountingEncoder:
    """The session's real encoder, counting the texts embedded through it."""

    inner: Encoder
    texts: list[str]

    @property
    def model_name(self) -> str:
        return self.inner.model_name

    @property
    def device(self) -> str:
        return self.inner.device

    @property
    def backend(self) -> str:
        return self.inner.backend

    @property
    def dimension(self) -> int:
        return self.inner.dimension

    @property
    def max_tokens(self) -> int:
        return self.inner.max_tokens

    @property
    def tokenizer(self) -> Any:
        return self.inner.tokenizer

    def encode(self, texts: list[str], batch_size: int = 64) -> NDArray[np.float32]:
        self.texts.extend(texts)
        return self.inner.encode(texts, batch_size)


@pytest.mark.parametrize("mode", ["dense", "hybrid"])
def test_a_repeated_search_skips_the_model_and_answers_the_same(
        search_index: tuple[Path, Path], encoder: Encoder, mode: str) -> None:
    counting = _CountingEncoder(encoder, [])
    searcher = Searcher(search_index[1], EncoderSpec.of(counting))
    try:
        first = searcher.search("mending a puncture", SearchOptions(k=5, mode=mode))
        assert "mending a puncture" in counting.texts
        counting.texts.clear()
        second = searcher.search("mending a puncture", SearchOptions(k=5, mode=mode))
        assert counting.texts == []  # the query, and any highlight sentences, from memory
        assert [h.to_dict() for h in second.results] == [h.to_dict() for h in first.results]
    finally:
        searcher.close()


def test_search_batch_embeds_its_queries_in_one_call(search_index: tuple[Path, Path],
                                                     encoder: Encoder) -> None:
    calls: list[list[str]] = []

    class Recording(_CountingEncoder):
        def encode(self, texts: list[str], batch_size: int = 64) -> NDArray[np.float32]:
            calls.append(list(texts))
            return super().encode(texts, batch_size)

    searcher = Searcher(search_index[1], EncoderSpec.of(Recording(encoder, [])))
    try:
        queries = ["zorblax enzyme", "sourdough starter", "great wall history"]
        searcher.search_batch(queries, SearchOptions(k=3, mode="dense", highlight=False))
        assert calls == [queries]
    finally:
        searcher.close()


def test_a_lone_hybrid_query_answers_as_it_does_in_a_batch(
        search_searcher: Searcher) -> None:
    # Alone, a hybrid query is embedded in the background while BM25 runs; in a batch,
    # all are embedded first. Same answers either way.
    queries = ["zorblax enzyme", "how do I repair a flat bicycle tyre", "明朝重修长城"]
    batch = search_searcher.search_batch(queries, SearchOptions(k=5, mode="hybrid"))
    for query, in_batch in zip(queries, batch, strict=True):
        alone = search_searcher.search(query, SearchOptions(k=5, mode="hybrid"))
        assert [h.chunk_id for h in alone.results] == [h.chunk_id for h in in_batch.results]
        for a, b in zip(alone.results, in_batch.results, strict=True):
            assert a.scores == pytest.approx(b.scores, abs=1e-5)
            assert a.highlights == b.highlights
        assert alone.timings_ms["total"] >= alone.timings_ms["lexical"]


def test_an_embedding_error_in_the_background_reaches_the_caller(
        search_index: tuple[Path, Path], encoder: Encoder) -> None:
    class Failing(_CountingEncoder):
        def encode(self, texts: list[str], batch_size: int = 64) -> NDArray[np.float32]:
            raise RuntimeError("the model ran out of memory")

    searcher = Searcher(search_index[1], EncoderSpec.of(Failing(encoder, [])))
    try:
        for mode in ("hybrid", "dense"):
            with pytest.raises(RuntimeError, match="ran out of memory"):
                searcher.search("zorblax enzyme", SearchOptions(k=3, mode=mode))
        assert searcher.search("zorblax enzyme",
                SearchOptions(k=3, mode="lexical", highlight=False)).results
    finally:
        searcher.close()
