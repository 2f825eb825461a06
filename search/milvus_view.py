"""One committed generation of a Milvus store, as the Searcher reads it: the rows
(`chunks`, `document`, ...) and the two legs, each filtered inside Milvus.

Every request filters on the generation read from the manifest when the view was made
(`milvus_store.visible`), so a search sees one committed state even while a sync writes
the next one. A sync's last step deletes the rows it replaced; a search that reads rows
after that (the kept hits' text) may find some gone: `MilvusSearcher` retries it once
on the new generation.
"""

import json
from typing import Any

import numpy as np
from numpy.typing import NDArray

from semsearch.indexer.errors import IndexCorruptError
from semsearch.indexer.fts import fts_tokens
from semsearch.indexer.lexical_text import segment
from semsearch.indexer.milvus_documents import DOCUMENT_TERMS
from semsearch.indexer.milvus_lexical import idf, stored_bm25, term_dimension
from semsearch.indexer.milvus_schema import dense_search_params
from semsearch.indexer.milvus_store import (
    CommittedState,
    MilvusStore,
    batches,
    is_visible,
    visible,
)
from semsearch.indexer.milvus_terms import frequencies
from semsearch.indexer.store import ChunkRow, DocumentRow
from semsearch.search.lexical import query_terms
from semsearch.search.milvus_filters import filter_expression
from semsearch.search.options import Filters, Mode

_ROW_FIELDS = ["pk", "doc_id", "path", "title", "format", "mtime", "ordinal", "text",
               "start", "end", "page", "headings", "page_breaks"]
# Milvus' largest top-k.
MAX_LIMIT = 16_384
# The sparse leg ranks with a reference length in place of the mean (see
# milvus_lexical); this many times `pool` candidates are scored exactly before the cut.
LEXICAL_OVERFETCH = 2
LEXICAL_KINDS = ("sparse", "native")


class MilvusView:
    """Reads generation `state.generation` of `store`; `lexical` picks the BM25: the
    sparse vectors semsearch computes (FTS5's scores) or Milvus' own BM25 function."""

    def __init__(self, store: MilvusStore, state: CommittedState, lexical: str) -> None:
        self.store, self.state, self.lexical_kind = store.at(state.build), state, lexical
        self.generation = state.generation
        self.client = store.client
        # The document of each candidate the legs found (they return it): what
        # `group_by` asks, answered without another request.
        self.documents: dict[int, int] = {}
        # Query weights asked for already (the legs', then grouping's), and the
        # document frequencies read from the `_terms` collection for them.
        self._weights: dict[tuple[str, int, int | None], dict[int, float]] = {}
        self._held: dict[int, int] = {}
        self._asked: set[int] = set()

    @property
    def holds_documents(self) -> bool:
        """Whether this generation holds whole-document evidence that readers use: a
        build made since it, read with semsearch's BM25 (Milvus' own scores chunks
        only)."""
        return self.lexical_kind == "sparse" and \
            self.state.document_reference_length is not None

    # --- rows ----------------------------------------------------------------------
    def chunks(self, chunk_ids: list[int]) -> dict[int, ChunkRow]:
        """The rows of `chunk_ids` at this generation, by id (ids not there left out)."""
        if not chunk_ids:
            return {}
        # By key alone, Milvus' cheapest read (milvus-lite scans every row for any
        # other filter), the generation checked here.
        rows = self.client.query(self.store.chunks, filter=f"pk in {list(chunk_ids)}",
                                 output_fields=[*_ROW_FIELDS, "generation", "retired"],
                                 consistency_level="Strong")
        return {row["pk"]: _chunk_row(row) for row in rows
                if is_visible(row, self.generation)}

    def chunk_documents(self, chunk_ids: list[int]) -> dict[int, int]:
        """The document of each chunk of `chunk_ids` (those the legs found, from memory)."""
        missing = [chunk_id for chunk_id in chunk_ids if chunk_id not in self.documents]
        self.documents.update((chunk_id, row.doc_id)
                              for chunk_id, row in self.chunks(missing).items())
        return {chunk_id: self.documents[chunk_id] for chunk_id in chunk_ids
                if chunk_id in self.documents}

    def document(self, doc_id: int) -> DocumentRow | None:
        rows = self.client.query(
            self.store.documents, filter=f"doc_id == {doc_id} and {visible(self.generation)}",
            output_fields=["doc_id", "path", "content_hash", "size", "mtime", "title",
                           "format", "status", "error"], consistency_level="Strong")
        if not rows:
            return None
        row = rows[0]
        return DocumentRow(row["doc_id"], row["path"], row["content_hash"], row["size"],
                           row["mtime"], row["title"], row["format"], row["status"],
                           row["error"] or None)

    def document_chunks(self, doc_id: int) -> list[ChunkRow]:
        rows = self.store.query(self.store.chunks,
                                f"doc_id == {doc_id} and {visible(self.generation)}",
                                _ROW_FIELDS)
        return sorted((_chunk_row(row) for row in rows), key=lambda row: row.ordinal)

    # --- legs ----------------------------------------------------------------------
    def legs(self, query: str, vector: Any, mode: Mode, filters: Filters,
             pool: int) -> tuple[dict[int, float], dict[int, float]]:
        """(cosine, BM25) by chunk id of each leg's top `pool`, both filtered by Milvus;
        in hybrid mode both legs score every candidate of either (BM25 0 where no query
        word matches), as `Searcher._legs` does."""
        expression = filter_expression(filters, self.generation, self.store)
        lexical: dict[int, float] = {}
        weights = self.query_weights(query) if mode != Mode.DENSE else {}
        if weights:
            lexical = self._lexical_leg(query, weights, expression, pool)
        if mode == Mode.LEXICAL:
            return {}, lexical
        query_vector: NDArray[np.float32] = vector()
        dense, dense_rows = self._dense_leg(query_vector, expression, pool)
        if mode == Mode.HYBRID:
            missing = [c for c in dense if c not in lexical]
            lexical.update(self._bm25_of(query, weights, missing, dense_rows))
            dense.update(self.cosines([c for c in lexical if c not in dense], query_vector))
        return dense, lexical

    def cosines(self, chunk_ids: list[int], query_vector: NDArray[np.float32]
                ) -> dict[int, float]:
        """The cosine of each chunk of `chunk_ids` with `query_vector`, in their order,
        from the stored vectors of these chunks only: the legs read none (the lexical
        leg overfetches, and a lexical search needs none), nor do the whole documents'.

        Raises:
            IndexCorruptError: a chunk's row is gone (a commit deleted it since the leg).
        """
        cosines: dict[int, float] = {}
        for batch in batches(chunk_ids):
            # By key alone, Milvus' cheapest read: a chunk's key is a hash of its
            # content, so every row of that key holds the same vector.
            rows = self.client.query(self.store.chunks, filter=f"pk in {batch}",
                                     output_fields=["dense"], consistency_level="Strong")
            cosines.update((row["pk"], float(np.asarray(row["dense"], dtype=np.float32)
                                             @ query_vector)) for row in rows)
        if len(cosines) < len(chunk_ids):
            raise IndexCorruptError("a candidate chunk's row is gone from Milvus")
        return {chunk_id: cosines[chunk_id] for chunk_id in chunk_ids}  # in their order

    def _dense_leg(self, query_vector: NDArray[np.float32], expression: str,
                   pool: int) -> tuple[dict[int, float], dict[int, dict[str, Any]]]:
        hits = self.client.search(
            self.store.chunks, data=[query_vector.tolist()], anns_field="dense",
            limit=min(pool, MAX_LIMIT), filter=expression,
            output_fields=["doc_id", "lexical", "lexical_length"],
            search_params=dense_search_params(self.state.dense_index, min(pool, MAX_LIMIT)),
            consistency_level="Strong")[0]
        return ({hit["pk"]: float(hit["distance"]) for hit in hits}, self._found(hits))

    def query_weights(self, query: str, shift: int = 0,
                      rows: int | None = None) -> dict[int, float]:
        """Each query term's dimension with its IDF, times the times the query holds it
        (FTS5 sums a term once per query phrase that yields it): over the chunks, or
        over `rows` rows whose frequencies are counted at dimension + `shift` (whole
        documents: `milvus_documents.DOCUMENT_TERMS`)."""
        key = (query, shift, rows)
        if key not in self._weights:
            self._weights[key] = self._query_weights(query, shift, rows)
        return self._weights[key]

    def _query_weights(self, query: str, shift: int, rows: int | None) -> dict[int, float]:
        dimensions = [term_dimension(token) for found in fts_tokens(tuple(query_terms(query)))
                      for token in found]
        held = self._frequencies(dimensions)
        count = self.state.chunks if rows is None else rows
        weights: dict[int, float] = {}
        for dimension in dimensions:
            weights[dimension] = weights.get(dimension, 0.0) + idf(
                held.get(dimension + shift, 0), count)
        return {d: w for d, w in weights.items() if held.get(d + shift)}

    def _frequencies(self, dimensions: list[int]) -> dict[int, int]:
        """The document frequencies this view read, those of `dimensions` included: of
        chunks, and where the generation holds them of whole documents (at dimension +
        DOCUMENT_TERMS), read together in one request for what was not read yet, so a
        grouped search reads `_terms` once."""
        shifts = (0, DOCUMENT_TERMS) if self.holds_documents else (0,)
        wanted = sorted({d + shift for d in dimensions for shift in shifts} - self._asked)
        if wanted:
            self._held.update(frequencies(self.store, wanted, self.generation))
            self._asked.update(wanted)
        return self._held

    def _lexical_leg(self, query: str, weights: dict[int, float], expression: str,
                     pool: int) -> dict[int, float]:
        if self.lexical_kind == "native":
            hits = self._native_search(query, expression, pool)
            self._found(hits)
            return {hit["pk"]: abs(float(hit["distance"])) for hit in hits}
        hits = self.client.search(
            self.store.chunks, data=[weights], anns_field="lexical",
            limit=min(pool * LEXICAL_OVERFETCH, MAX_LIMIT), filter=expression,
            output_fields=["doc_id", "lexical", "lexical_length"],
            search_params={"metric_type": "IP"}, consistency_level="Strong")[0]
        scores = {chunk_id: self.exact(weights, row)
                  for chunk_id, row in self._found(hits).items()}
        best = sorted(scores.items(), key=lambda item: (-item[1], item[0]))[:pool]
        return dict(best)

    def _native_search(self, query: str, expression: str, limit: int) -> list[Any]:
        # Milvus' BM25 is never negative; milvus-lite hands it back negated.
        return list(self.client.search(
            self.store.chunks, data=[segment(query)], anns_field="native_bm25",
            limit=min(limit, MAX_LIMIT), filter=expression, output_fields=["doc_id"],
            search_params={"metric_type": "BM25"}, consistency_level="Strong")[0])

    def _found(self, hits: Any) -> dict[int, dict[str, Any]]:
        """The entities of a search's hits by id; their documents remembered."""
        found = {hit["pk"]: hit["entity"] for hit in hits}
        self.documents.update((chunk_id, row["doc_id"]) for chunk_id, row in found.items())
        return found

    def _bm25_of(self, query: str, weights: dict[int, float], chunk_ids: list[int],
                 rows: dict[int, dict[str, Any]]) -> dict[int, float]:
        """BM25 of `chunk_ids` (dense candidates), 0 where no query word matches."""
        if not chunk_ids or not weights:
            return dict.fromkeys(chunk_ids, 0.0)
        if self.lexical_kind == "native":
            hits = self._native_search(query, f"pk in {chunk_ids}", len(chunk_ids))
            found = {hit["pk"]: abs(float(hit["distance"])) for hit in hits}
            return {c: found.get(c, 0.0) for c in chunk_ids}
        return {c: self.exact(weights, rows[c]) for c in chunk_ids}

    def exact(self, weights: dict[int, float], row: dict[str, Any]) -> float:
        """FTS5's BM25 of a chunk `row` (`lexical`, `lexical_length`) for the query
        `weights` (`query_weights`)."""
        return stored_bm25(weights, row["lexical"], row["lexical_length"],
                           self.state.reference_length, self.state.mean_length)


def _chunk_row(row: dict[str, Any]) -> ChunkRow:
    return ChunkRow(
        id=row["pk"], doc_id=row["doc_id"], path=row["path"], title=row["title"],
        format=row["format"], mtime=row["mtime"], ordinal=row["ordinal"], text=row["text"],
        start=row["start"], end=row["end"], page=None if row["page"] < 0 else row["page"],
        headings=tuple(json.loads(row["headings"])),
        page_breaks=tuple(json.loads(row["page_breaks"])))
