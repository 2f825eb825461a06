"""search.ranking: from the legs' scores to ranked chunks, and to ranked documents."""

import statistics

import pytest

from semsearch.indexer.errors import IndexCorruptError
from semsearch.search.options import Mode
from semsearch.search.ranking import (
    DOCUMENT_DENSE_WEIGHT,
    MEAN_VECTOR_SHARE,
    best_per_document,
    fuse_documents,
    rank,
    rank_documents,
)

# Document 1 has a chunk best for the cosine (10) and another best for BM25 (11);
# document 2 has one chunk (20), second on both legs; document 3 (30) is last on both.
DENSE = {10: 0.9, 11: 0.15, 20: 0.6, 30: 0.1}
LEXICAL = {10: 1.0, 11: 8.0, 20: 6.0, 30: 0.0}
DOCUMENTS = {10: 1, 11: 1, 20: 2, 30: 3}


def test_fusing_chunks_ranks_the_document_good_in_one_passage_first() -> None:
    """The baseline the document fusion changes: chunk 20 beats both chunks of doc 1."""
    ranked = rank(Mode.HYBRID, DENSE, LEXICAL)
    assert [c for c, _ in ranked] == [20, 10, 11, 30]
    assert [c for c, _ in best_per_document(ranked, DOCUMENTS)] == [20, 10, 30]


def test_fuse_documents_takes_each_legs_best_chunk_per_document() -> None:
    ranked = rank(Mode.HYBRID, DENSE, LEXICAL)
    fused = fuse_documents(ranked, DENSE, LEXICAL, DOCUMENTS)
    # Document 1: cosine 0.9 (chunk 10) and BM25 8.0 (chunk 11), the best of both legs;
    # it is shown by chunk 10, its best fused chunk.
    assert [c for c, _ in fused] == [10, 20, 30]
    scores = dict(fused)
    assert scores[10] == pytest.approx(1.0)
    assert scores[20] == pytest.approx(0.5 * 0.5 / 0.8 + 0.5 * 6.0 / 8.0)
    assert scores[30] == pytest.approx(0.0)


def test_fuse_documents_counts_a_chunk_missing_from_bm25_as_zero() -> None:
    lexical = {10: 2.0}
    ranked = rank(Mode.HYBRID, {10: 0.5, 20: 0.7}, lexical)
    fused = dict(fuse_documents(ranked, {10: 0.5, 20: 0.7}, lexical, {10: 1, 20: 2}))
    assert fused == {10: pytest.approx(0.5), 20: pytest.approx(0.5)}


def test_fuse_documents_of_nothing_is_empty() -> None:
    assert fuse_documents([], {}, {}, {}) == []


def test_fuse_documents_raises_for_a_chunk_without_a_row() -> None:
    ranked = rank(Mode.HYBRID, DENSE, LEXICAL)
    with pytest.raises(IndexCorruptError, match="not in SQLite"):
        fuse_documents(ranked, DENSE, LEXICAL, {10: 1, 11: 1, 20: 2})


def test_rank_documents_by_whole_text_bm25_in_lexical_mode() -> None:
    """Document 3's best chunk scores 0, but its whole text wins."""
    ranked = rank(Mode.LEXICAL, {}, LEXICAL)
    whole = {1: 5.0, 2: 6.0, 3: 9.0}
    assert rank_documents(Mode.LEXICAL, ranked, DOCUMENTS, {}, whole, {}) == \
        [(30, 9.0), (20, 6.0), (11, 5.0)]


def test_rank_documents_mixes_the_mean_vector_into_the_dense_score() -> None:
    """Hybrid: each leg z-scored over the documents, fused at `DOCUMENT_DENSE_WEIGHT`."""
    ranked = rank(Mode.HYBRID, DENSE, LEXICAL)
    whole = {1: 8.0, 2: 8.0, 3: 0.0}
    mean = {1: 0.1, 2: 0.6, 3: 0.1}
    fused = rank_documents(Mode.HYBRID, ranked, DOCUMENTS, DENSE, whole, mean)
    share = MEAN_VECTOR_SHARE
    dense = {10: (1 - share) * 0.9 + share * 0.1, 20: 0.6, 30: (1 - share) * 0.1 + share * 0.1}
    bm25 = {10: 8.0, 20: 8.0, 30: 0.0}

    def z(values: dict[int, float], chunk: int) -> float:
        spread = statistics.pstdev(values.values())
        return (values[chunk] - statistics.fmean(values.values())) / spread

    assert [c for c, _ in fused] == [20, 10, 30]
    for chunk, score in fused:
        assert score == pytest.approx(DOCUMENT_DENSE_WEIGHT * z(dense, chunk)
                                      + (1 - DOCUMENT_DENSE_WEIGHT) * z(bm25, chunk))


def test_rank_documents_raises_for_a_chunk_without_a_row() -> None:
    ranked = rank(Mode.LEXICAL, {}, LEXICAL)
    with pytest.raises(IndexCorruptError, match="not in SQLite"):
        rank_documents(Mode.LEXICAL, ranked, {10: 1, 11: 1, 20: 2}, {}, {}, {})
