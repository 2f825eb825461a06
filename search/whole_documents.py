"""Searches grouped by document, ranked by what each whole document says.

When a search asks for documents (`group_by="document"`), the unit being ranked is the
document, so its evidence is the document's: BM25 over its whole text (term counts and
length of the document, not of one chunk) and the cosine of its mean chunk vector (its
overall topic), beside its best chunk's cosine. A document whose words are spread over
several chunks, none of which wins alone, is found and ranked by the whole. The per
document data is written with the chunks (`indexer.whole_documents`); its BM25 postings
are held in memory per generation like the chunks', and so are the mean vectors unless
they are too many (`search.document_memory`).

Filters keep or drop whole documents, so a document that passes one is scored on all
of its text. A document found by its whole-text BM25 alone, none of whose chunks was a
candidate, has its chunks scored too; one of them is the hit shown. `min_score` keeps a
document while one of its chunks passes it (on the cosine, or BM25 in lexical mode).
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from semsearch.indexer.store import Store
from semsearch.search.document_memory import DocumentMemory
from semsearch.search.lexical import COLUMN_WEIGHTS, LexicalQuery, query_terms
from semsearch.search.lexical_memory import MemoryBM25
from semsearch.search.options import Filters, Mode
from semsearch.search.ranking import (
    Ranked,
    best_per_document,
    complete_dense,
    fuse_documents,
    gate,
    rank,
    rank_documents,
)
from semsearch.search.reader import Snapshot


@dataclass
class Grouped:
    """A search grouped by document: `shown`, one (chunk id, score) per document, best
    first; `chunks`, the candidate chunks ranked; `documents`, their document ids by
    chunk id; the legs' scores by chunk id (the chunks of `chunks`, at least)."""

    shown: Ranked
    chunks: Ranked
    documents: dict[int, int]
    dense: dict[int, float]
    lexical: dict[int, float]


class DocumentQuery:
    """One query's BM25 over whole documents: in memory when `memory` holds the postings
    of the generation `store` reads, else by FTS5."""

    def __init__(self, store: Store, query: str, memory: MemoryBM25 | None) -> None:
        self.store, self.terms = store, query_terms(query)
        tokens = memory.tokens(self.terms) if memory is not None and self.terms else None
        self.scored = memory.score(tokens) if memory is not None and tokens is not None \
            else None

    def top(self, limit: int, filters: Filters) -> list[tuple[int, float]]:
        """Top `limit` (document id, BM25) pairs among the documents `filters` keeps."""
        if not self.terms:
            return []
        if self.scored is not None:
            allowed = None if filters.is_empty() else self.store.filtered_document_ids(filters)
            return self.scored.top(limit, allowed)
        return self.store.document_bm25_search(_or(self.terms), limit, filters,
                                               COLUMN_WEIGHTS)

    def scores(self, doc_ids: list[int]) -> dict[int, float]:
        """BM25 of each document of `doc_ids` (0 without a query word)."""
        if not self.terms or not doc_ids:
            return dict.fromkeys(doc_ids, 0.0)
        if self.scored is not None:
            return self.scored.of(doc_ids)
        found = self.store.whole_documents.fts.scores(_or(self.terms), doc_ids,
                                                      COLUMN_WEIGHTS)
        return {doc_id: found.get(doc_id, 0.0) for doc_id in doc_ids}


def group_documents(snapshot: Snapshot | Any, query: str,
                    vector: Callable[[], NDArray[np.float32]], mode: Mode, filters: Filters,
                    min_score: float | None, pool: int, ranked: Ranked,
                    dense: dict[int, float], lexical: dict[int, float]) -> Grouped:
    """One hit per document: in hybrid or lexical mode by whole-document evidence
    (`group_whole_documents`), else by each document's best chunks.

    Documents are ranked by their best chunks in dense mode (the mean vector lowered
    SciFact train nDCG@10 there), in a Milvus snapshot (`MilvusSearcher` supplies its
    own legs; its store holds no whole-document data), and in an index made before the
    whole-document rows, until its next sync writes them: hybrid by `fuse_documents`,
    dense and lexical by `best_per_document`.

    Raises:
        IndexCorruptError: a candidate has no row in SQLite.
    """
    if mode != Mode.DENSE and isinstance(snapshot, Snapshot) and \
            snapshot.store.whole_documents.ready():
        return group_whole_documents(snapshot, query, vector, mode, filters, min_score,
                                     pool, ranked, dense, lexical)
    documents = snapshot.store.chunk_documents([c for c, _ in ranked])
    shown = fuse_documents(ranked, dense, lexical, documents) if mode == Mode.HYBRID \
        else best_per_document(ranked, documents)
    return Grouped(shown, ranked, documents, dense, lexical)


def group_whole_documents(snapshot: Snapshot, query: str,
                          vector: Callable[[], NDArray[np.float32]], mode: Mode,
                          filters: Filters, min_score: float | None, pool: int,
                          ranked: Ranked, dense: dict[int, float],
                          lexical: dict[int, float]) -> Grouped:
    """Rank documents by whole-document evidence from the legs' chunk scores, in
    hybrid or lexical mode.

    `dense` and `lexical` are the legs' scores by chunk id (see `Searcher._legs`),
    `ranked` their chunks as `rank` orders them, gated by `min_score` (None: no gate).

    Raises:
        IndexCorruptError: a candidate has no row in SQLite.
    """
    store = snapshot.store
    dense, lexical = dict(dense), dict(lexical)
    memory = snapshot.documents
    by_document = DocumentQuery(store, query, memory.bm25 if memory is not None else None)
    documents = store.chunk_documents([c for c, _ in ranked])
    found = set(documents.values())
    extra = [d for d, _ in by_document.top(pool, filters) if d not in found]
    if extra:  # their chunks become candidates, scored by both legs
        extra_chunks = store.documents_chunks(extra)
        ranked = ranked + _extra_chunks(snapshot, query, vector, mode, min_score,
                                        extra_chunks, dense, lexical)
        documents.update(extra_chunks)
    owners = [documents[c] for c, _ in best_per_document(ranked, documents)]
    mean_cosine = mean_cosines(store, memory, owners, vector()) if mode == Mode.HYBRID \
        else {}
    shown = rank_documents(mode, ranked, documents, dense, by_document.scores(owners),
                           mean_cosine)
    return Grouped(shown, ranked, documents, dense, lexical)


def _extra_chunks(snapshot: Snapshot, query: str, vector: Callable[[], NDArray[np.float32]],
                  mode: Mode, min_score: float | None, owners: dict[int, int],
                  dense: dict[int, float], lexical: dict[int, float]) -> Ranked:
    """The chunks of documents only the whole-text BM25 found (`owners`: their document
    by chunk id), scored by both legs into `dense` and `lexical`, ranked among
    themselves: after the legs' candidates, whose order (which chunk a document shows,
    which others its highlight may use) stays as it was."""
    chunk_ids = list(owners)
    more_lexical = LexicalQuery(snapshot.store, query, snapshot.bm25).scores(chunk_ids)
    more_dense = complete_dense(snapshot.vectors, vector(), chunk_ids, {}) \
        if mode == Mode.HYBRID else {}
    lexical.update(more_lexical)
    dense.update(more_dense)
    added = rank(mode, more_dense, more_lexical)
    return gate(added, more_dense, min_score) if min_score is not None else added


def mean_cosines(store: Store, memory: DocumentMemory | None, doc_ids: list[int],
                  query: NDArray[np.float32]) -> dict[int, float]:
    """Cosine of each document's mean chunk vector with `query`: from memory when the
    vectors are held there, else read from SQLite."""
    held = memory.mean_cosines(doc_ids, query) if memory is not None else None
    if held is not None:
        return held
    ids, means = store.whole_documents.mean_vectors(doc_ids)
    norms = np.linalg.norm(means, axis=1)
    cosines = (means @ query) / np.where(norms > 0, norms, 1.0)
    return dict(zip(ids.tolist(), cosines.tolist(), strict=True))


def _or(terms: list[str]) -> str:
    return " OR ".join(f'"{term}"' for term in terms)
