"""A generation's whole-document evidence held in memory (see `search.whole_documents`)."""

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from semsearch.indexer.store import Store
from semsearch.search.lexical import COLUMN_WEIGHTS
from semsearch.search.lexical_memory import MEMORY_BM25_MAX_CHUNKS, MemoryBM25

# Mean chunk vectors are held in memory up to this many bytes (4 per dimension and
# document: 256 MiB is 175,000 documents of 384 dimensions); above it a query reads those
# of its candidate documents from SQLite (about 1,000 for 100 grouped hits, ~5 ms).
MEAN_VECTORS_MAX_BYTES = 256 * 2**20


@dataclass(frozen=True)
class DocumentMemory:
    """The whole-document BM25 postings of one generation and, unless too large, each
    document's mean chunk vector, normalised (row i is document `bm25.rowids[i]`).
    Immutable, so any number of threads may read it."""

    bm25: MemoryBM25
    unit_means: NDArray[np.float32] | None

    def mean_cosines(self, doc_ids: list[int],
                     query: NDArray[np.float32]) -> dict[int, float] | None:
        """Cosine of each document's mean chunk vector with `query` (documents not held
        left out), or None when the vectors are not held."""
        if self.unit_means is None:
            return None
        ids = np.asarray(doc_ids, dtype=np.int64)
        rows = np.searchsorted(self.bm25.rowids, ids).clip(max=len(self.bm25.rowids) - 1)
        held = self.bm25.rowids[rows] == ids if len(self.bm25.rowids) else ids < 0
        cosines = self.unit_means[rows[held]] @ query
        return dict(zip(ids[held].tolist(), cosines.tolist(), strict=True))


def build_document_memory(store: Store, generation: int) -> DocumentMemory | None:
    """The whole-document evidence of `generation`; None if the store has moved on, has
    no whole-document rows yet, or is above `MEMORY_BM25_MAX_CHUNKS`."""
    with store.transaction(write=False):
        whole = store.whole_documents
        if store.generation() != generation or not whole.ready() or \
                store.chunk_count() > MEMORY_BM25_MAX_CHUNKS:
            return None
        rowids, lengths = whole.fts.row_lengths()
        bm25 = MemoryBM25.build(rowids, lengths, whole.fts.postings(),
                                whole.fts.vocabulary_size(), COLUMN_WEIGHTS)
        return DocumentMemory(bm25, _unit_means(store, rowids))


def _unit_means(store: Store, rowids: NDArray[np.int64]) -> NDArray[np.float32] | None:
    dimension = store.whole_documents.dimension()
    if len(rowids) * dimension * 4 > MEAN_VECTORS_MAX_BYTES:
        return None
    found, means = store.whole_documents.mean_vectors(rowids.tolist())
    if not np.array_equal(found, rowids):
        return None  # not one vector per BM25 row: read them from SQLite per query
    return unit_means(means)


def unit_means(means: NDArray[np.float32]) -> NDArray[np.float32]:
    """Mean chunk vectors made unit length in float32 (a zero row stays zero): what the
    mean-vector cosine of a document is taken with, in memory and from Milvus alike."""
    norms = np.linalg.norm(means, axis=1, keepdims=True)
    return (means / np.where(norms > 0, norms, 1.0)).astype(np.float32)
