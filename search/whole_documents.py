"""Searches grouped by document, ranked by what each whole document says.

When a search asks for documents (`group_by="document"`), the unit being ranked is the
document, so its evidence is the document's: BM25 over its whole text (term counts and
length of the document, not of one chunk) and the cosine of its mean chunk vector (its
overall topic), beside its best chunk's cosine. A document whose words are spread over
several chunks, none of which wins alone, is found and ranked by the whole. The per
document data is written with the chunks (`indexer.whole_documents`); its BM25 postings
are held in memory per generation like the chunks', and so are the mean vectors unless
they are too many (`search.document_memory`). A Milvus store holds the same evidence on
its document rows (`indexer.milvus_documents`). The ranking here is the one for both
stores: it asks a store's evidence through `DocumentEvidence` (`IndexEvidence` for an
index directory, `search.milvus_documents.MilvusDocuments` for Milvus).

Filters keep or drop whole documents, so a document that passes one is scored on all
of its text. A document found by its whole-text BM25 alone, none of whose chunks was a
candidate, has its chunks scored too; one of them is the hit shown. `min_score` keeps a
document while one of its chunks passes it (on the cosine, or BM25 in lexical mode).
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

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


class DocumentEvidence(Protocol):
    """What ranking whole documents asks of a store, for one query: the embedded index's
    (`IndexEvidence`) or a Milvus store's (`search.milvus_documents.MilvusDocuments`)."""

    def chunk_documents(self, chunk_ids: list[int]) -> dict[int, int]:
        """The document id of each chunk of `chunk_ids` (missing ids left out)."""
        ...

    def documents_chunks(self, doc_ids: list[int]) -> dict[int, int]:
        """The document id of every chunk of the documents of `doc_ids`, by chunk id."""
        ...

    def top(self, limit: int, filters: Filters) -> list[tuple[int, float]]:
        """Top `limit` (document id, whole-text BM25) among the documents `filters` keeps."""
        ...

    def scores(self, doc_ids: list[int]) -> dict[int, float]:
        """Whole-text BM25 of each document of `doc_ids` (0 without a query word)."""
        ...

    def chunk_scores(self, chunk_ids: list[int], query: NDArray[np.float32] | None
                     ) -> tuple[dict[int, float], dict[int, float]]:
        """(cosine, BM25) by chunk id of the chunks of `chunk_ids` (no cosines when
        `query` is None)."""
        ...

    def mean_cosines(self, doc_ids: list[int], query: NDArray[np.float32]) -> dict[int, float]:
        """Cosine of each document's mean chunk vector with `query`."""
        ...


class IndexEvidence:
    """The whole-document evidence of an index directory's snapshot, for `query`."""

    def __init__(self, snapshot: Snapshot, query: str) -> None:
        self.snapshot, self.query = snapshot, query
        memory = snapshot.documents
        self.bm25 = DocumentQuery(snapshot.store, query,
                                  memory.bm25 if memory is not None else None)

    def chunk_documents(self, chunk_ids: list[int]) -> dict[int, int]:
        return self.snapshot.store.chunk_documents(chunk_ids)

    def documents_chunks(self, doc_ids: list[int]) -> dict[int, int]:
        return self.snapshot.store.documents_chunks(doc_ids)

    def top(self, limit: int, filters: Filters) -> list[tuple[int, float]]:
        return self.bm25.top(limit, filters)

    def scores(self, doc_ids: list[int]) -> dict[int, float]:
        return self.bm25.scores(doc_ids)

    def chunk_scores(self, chunk_ids: list[int], query: NDArray[np.float32] | None
                     ) -> tuple[dict[int, float], dict[int, float]]:
        snapshot = self.snapshot
        lexical = LexicalQuery(snapshot.store, self.query, snapshot.bm25).scores(chunk_ids)
        dense = complete_dense(snapshot.vectors, query, chunk_ids, {}) \
            if query is not None else {}
        return dense, lexical

    def mean_cosines(self, doc_ids: list[int], query: NDArray[np.float32]) -> dict[int, float]:
        return mean_cosines(self.snapshot.store, self.snapshot.documents, doc_ids, query)


def document_evidence(snapshot: Snapshot | Any, query: str) -> DocumentEvidence | None:
    """The whole-document evidence of `snapshot` for `query`, or None where the store
    holds none: an index made before the whole-document rows (until its next sync), a
    Milvus store built before them (until a `--rebuild`) or read with Milvus' own BM25.
    """
    if isinstance(snapshot, Snapshot):
        ready = snapshot.store.whole_documents.ready()
        return IndexEvidence(snapshot, query) if ready else None
    evidence: DocumentEvidence | None = snapshot.document_evidence(query)
    return evidence


def group_documents(snapshot: Snapshot | Any, query: str,
                    vector: Callable[[], NDArray[np.float32]], mode: Mode, filters: Filters,
                    min_score: float | None, pool: int, ranked: Ranked,
                    dense: dict[int, float], lexical: dict[int, float]) -> Grouped:
    """One hit per document: in hybrid or lexical mode by whole-document evidence
    (`group_whole_documents`), else by each document's best chunks.

    Documents are ranked by their best chunks in dense mode (the mean vector lowered
    SciFact train nDCG@10 there) and where the store holds no whole-document evidence
    (`document_evidence`): hybrid by `fuse_documents`, dense and lexical by
    `best_per_document`.

    Raises:
        IndexCorruptError: a candidate has no row in the store.
    """
    evidence = document_evidence(snapshot, query) if mode != Mode.DENSE else None
    if evidence is not None:
        return group_whole_documents(evidence, vector, mode, filters, min_score, pool,
                                     ranked, dense, lexical)
    documents = snapshot.store.chunk_documents([c for c, _ in ranked])
    shown = fuse_documents(ranked, dense, lexical, documents) if mode == Mode.HYBRID \
        else best_per_document(ranked, documents)
    return Grouped(shown, ranked, documents, dense, lexical)


def group_whole_documents(evidence: DocumentEvidence,
                          vector: Callable[[], NDArray[np.float32]], mode: Mode,
                          filters: Filters, min_score: float | None, pool: int,
                          ranked: Ranked, dense: dict[int, float],
                          lexical: dict[int, float]) -> Grouped:
    """Rank documents by whole-document evidence from the legs' chunk scores, in
    hybrid or lexical mode.

    `dense` and `lexical` are the legs' scores by chunk id (see `Searcher._legs`),
    `ranked` their chunks as `rank` orders them, gated by `min_score` (None: no gate).

    Raises:
        IndexCorruptError: a candidate has no row in the store.
    """
    dense, lexical = dict(dense), dict(lexical)
    documents = evidence.chunk_documents([c for c, _ in ranked])
    found = set(documents.values())
    extra = [d for d, _ in evidence.top(pool, filters) if d not in found]
    if extra:  # their chunks become candidates, scored by both legs
        extra_chunks = evidence.documents_chunks(extra)
        ranked = ranked + _extra_chunks(evidence, vector, mode, min_score, extra_chunks,
                                        dense, lexical)
        documents.update(extra_chunks)
    owners = [documents[c] for c, _ in best_per_document(ranked, documents)]
    mean_cosine = evidence.mean_cosines(owners, vector()) if mode == Mode.HYBRID else {}
    shown = rank_documents(mode, ranked, documents, dense, evidence.scores(owners),
                           mean_cosine)
    return Grouped(shown, ranked, documents, dense, lexical)


def _extra_chunks(evidence: DocumentEvidence, vector: Callable[[], NDArray[np.float32]],
                  mode: Mode, min_score: float | None, owners: dict[int, int],
                  dense: dict[int, float], lexical: dict[int, float]) -> Ranked:
    """The chunks of documents only the whole-text BM25 found (`owners`: their document
    by chunk id), scored by both legs into `dense` and `lexical`, ranked among
    themselves: after the legs' candidates, whose order (which chunk a document shows,
    which others its highlight may use) stays as it was."""
    more_dense, more_lexical = evidence.chunk_scores(
        list(owners), vector() if mode == Mode.HYBRID else None)
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
