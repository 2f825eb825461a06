"""A Milvus store's whole-document evidence for one query (`indexer.milvus_documents`):
what `search.whole_documents` asks of a store (`DocumentEvidence`), answered from the
document rows of the view's generation.

The whole-text BM25 is the chunks' (`MilvusView.query_weights`, `milvus_lexical`) with
the statistics of whole documents: Milvus ranks `LEXICAL_OVERFETCH` times the documents
wanted by the stored weights, and those are scored exactly with the committed number of
documents, their document frequencies and mean length, as FTS5 scores the embedded
index's `documents_fts`. The BM25 fields of rows read once are kept for the query's
other asks; mean vectors are read for the documents ranked only, and chunk vectors
(by key: `MilvusView.cosines`) for a hybrid search's added chunks only.
"""

from typing import Any

import numpy as np
from numpy.typing import NDArray

from semsearch.indexer.milvus_documents import DOCUMENT_TERMS
from semsearch.indexer.milvus_lexical import stored_bm25
from semsearch.indexer.milvus_store import batches, visible
from semsearch.search.document_memory import unit_means
from semsearch.search.milvus_filters import filter_expression
from semsearch.search.milvus_view import LEXICAL_OVERFETCH, MAX_LIMIT, MilvusView
from semsearch.search.options import Filters

_LEXICAL_FIELDS = ["doc_id", "whole_lexical", "whole_length"]
_CHUNK_FIELDS = ["pk", "doc_id", "lexical", "lexical_length"]


class MilvusDocuments:
    """The whole-document evidence of `view` (a generation of a store that holds it) for
    `query`."""

    def __init__(self, view: MilvusView, query: str) -> None:
        self.view, self.query, self.state = view, query, view.state
        self.weights = view.query_weights(query, DOCUMENT_TERMS, self.state.documents)
        self.rows: dict[int, dict[str, Any]] = {}  # indexed documents' BM25 fields
        self.chunk_rows: dict[int, dict[str, Any]] = {}  # of `documents_chunks`, by id

    def chunk_documents(self, chunk_ids: list[int]) -> dict[int, int]:
        return self.view.chunk_documents(chunk_ids)

    def documents_chunks(self, doc_ids: list[int]) -> dict[int, int]:
        store = self.view.store
        for batch in batches(doc_ids):
            self.chunk_rows.update((row["pk"], row) for row in store.query(
                store.chunks, f"doc_id in {batch} and {visible(self.view.generation)}",
                _CHUNK_FIELDS))
        wanted = set(doc_ids)
        return {chunk_id: row["doc_id"] for chunk_id, row in self.chunk_rows.items()
                if row["doc_id"] in wanted}

    def top(self, limit: int, filters: Filters) -> list[tuple[int, float]]:
        if not self.weights:
            return []
        view = self.view
        expression = (f"{filter_expression(filters, view.generation, view.store)} "
                      'and status == "indexed"')
        hits = view.client.search(
            view.store.documents, data=[self.weights], anns_field="whole_lexical",
            limit=min(limit * LEXICAL_OVERFETCH, MAX_LIMIT), filter=expression,
            output_fields=_LEXICAL_FIELDS, search_params={"metric_type": "IP"},
            consistency_level="Strong")[0]
        self.rows.update((hit["entity"]["doc_id"], hit["entity"]) for hit in hits)
        scores = [(hit["entity"]["doc_id"], self._exact(hit["entity"])) for hit in hits]
        ranked = sorted(((d, s) for d, s in scores if s > 0), key=lambda i: (-i[1], i[0]))
        return ranked[:limit]

    def scores(self, doc_ids: list[int]) -> dict[int, float]:
        if not self.weights:
            return dict.fromkeys(doc_ids, 0.0)
        self.rows.update((row["doc_id"], row) for row in self._read(
            [d for d in doc_ids if d not in self.rows], _LEXICAL_FIELDS))
        return {d: self._exact(self.rows[d]) if d in self.rows else 0.0 for d in doc_ids}

    def chunk_scores(self, chunk_ids: list[int], query: NDArray[np.float32] | None
                     ) -> tuple[dict[int, float], dict[int, float]]:
        weights = self.view.query_weights(self.query)
        rows = [self.chunk_rows[chunk_id] for chunk_id in chunk_ids]
        lexical = {c: self.view.exact(weights, row) if weights else 0.0
                   for c, row in zip(chunk_ids, rows, strict=True)}
        return {} if query is None else self.view.cosines(chunk_ids, query), lexical

    def mean_cosines(self, doc_ids: list[int], query: NDArray[np.float32]) -> dict[int, float]:
        """As `DocumentMemory.mean_cosines`: each mean made unit length (`unit_means`)."""
        held = {row["doc_id"]: row["mean"] for row in self._read(doc_ids, ["doc_id", "mean"])}
        kept = [d for d in doc_ids if d in held]
        means = np.asarray([held[d] for d in kept],
                           dtype=np.float32).reshape(len(kept), -1)
        return dict(zip(kept, (unit_means(means) @ query).tolist(), strict=True))

    def _read(self, doc_ids: list[int], fields: list[str]) -> list[dict[str, Any]]:
        """`fields` of the indexed documents of `doc_ids`, at the view's generation."""
        store, generation = self.view.store, self.view.generation
        rows: list[dict[str, Any]] = []
        for batch in batches(doc_ids):
            rows += store.query(store.documents, f'doc_id in {batch} and status == '
                                f'"indexed" and {visible(generation)}', fields)
        return rows

    def _exact(self, row: dict[str, Any]) -> float:
        """FTS5's BM25 of a document row's whole text (0 for a text without terms)."""
        length = row["whole_length"]
        if not length:
            return 0.0
        assert self.state.document_reference_length is not None
        return stored_bm25(self.weights, row["whole_lexical"], length,
                           self.state.document_reference_length,
                           self.state.document_mean_length)
