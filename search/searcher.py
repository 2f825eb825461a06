"""`Searcher`: answers queries from an index directory, read-only and thread-safe.

The index's state (connections, generations, BM25 in memory) is the `IndexReader`'s;
this module runs the query pipeline over one of its snapshots: embed, the legs, fusion,
the cut to k, rerank, highlights.
"""

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from semsearch.indexer.documents import PageSpan
from semsearch.indexer.encoders import DEFAULT_RERANK_MODEL, EncoderSpec
from semsearch.indexer.encoders.cross_encoder import Reranker, RerankerLoadError
from semsearch.indexer.vector_index import VectorIndex, limit_threads
from semsearch.search.embedding_cache import EMBEDDING_CACHE_SIZE, EmbeddingCache
from semsearch.search.errors import InvalidQueryError
from semsearch.search.hit_highlights import document_candidates, highlight_hits
from semsearch.search.hits import ChunkView, DocumentView, Hit, SearchResponse
from semsearch.search.lexical import LexicalQuery
from semsearch.search.options import Filters, Mode, SearchOptions
from semsearch.search.query_embedding import QueryEmbedding, call_now
from semsearch.search.ranking import (
    complete_dense,
    gate,
    make_hits,
    rank,
)
from semsearch.search.reader import SEARCH_THREADS, IndexReader, Snapshot
from semsearch.search.rerank import RerankScorer, rerank_hits
from semsearch.search.whole_documents import group_documents

logger = logging.getLogger(__name__)

# Candidates each leg contributes before fusion, reranking and the cut to k.
CANDIDATES_PER_LEG = 100


class Searcher:
    """Searches one index directory with the model that built it."""

    def __init__(self, index_dir: Path, encoder: EncoderSpec | None = None, *,
                 rerank_model: str = DEFAULT_RERANK_MODEL,
                 embedding_cache_size: int = EMBEDDING_CACHE_SIZE) -> None:
        """Open `index_dir` and load its model.

        `encoder` may set the device and the ONNX cache folder, or hand over a loaded
        encoder (`EncoderSpec.of`); its model and backend, when set, must be the index's.
        The embeddings of the last `embedding_cache_size` query and highlight texts are
        kept, so a repeated query skips the model.

        Raises:
            IndexNotFoundError: no finished index there.
            IndexMismatchError: `encoder` names another model or backend than the index.
            ModelLoadError: the model cannot be loaded.
        """
        self._open(IndexReader(index_dir), encoder, rerank_model, embedding_cache_size)

    def _open(self, reader: IndexReader, encoder: EncoderSpec | None, rerank_model: str,
              embedding_cache_size: int) -> None:
        """Keep `reader` and load the model its manifest records (see `__init__`); a
        searcher of another store calls this with its own reader."""
        self.reader = reader
        self.index_dir = reader.index_dir
        manifest = reader.manifest
        spec = encoder or EncoderSpec()
        manifest.check(self.index_dir, model=spec.model, backend=spec.backend)
        spec = spec.with_record(manifest.model, manifest.backend)
        self.model_name, self.dimension, self.backend = (manifest.model, manifest.dimension,
                                                          manifest.backend)
        self.encoder = spec.load()
        if spec.preloaded is None:
            self.encoder.encode(["warm up"])  # the first call pays for lazy set-up
        self._embeddings = EmbeddingCache(self.encoder.encode, embedding_cache_size)
        # Embeds a lone hybrid query while its BM25 leg runs in the caller's thread.
        self._embedder = ThreadPoolExecutor(thread_name_prefix="semsearch-embed",
                                            initializer=limit_threads,
                                            initargs=(SEARCH_THREADS,))
        self.rerank_model = rerank_model
        self._reranker: Reranker | None = None
        self._reranker_failed = False  # "auto" tried the cross-encoder and it did not load
        self._lock = threading.Lock()

    @property
    def reranker(self) -> Reranker:
        with self._lock:
            if self._reranker is None:
                self._reranker = Reranker(self.rerank_model, self.encoder.device)
            return self._reranker

    def text_reranker(self, scorer: RerankScorer) -> Reranker | None:
        """What scores texts for `scorer`: the cross-encoder, or None for the cosine.

        "auto" is the cross-encoder if it loads; the first time it does not, the reason
        is logged and every later call answers None (cosine) without trying again.

        Raises:
            RerankerLoadError: `scorer` is "cross-encoder" and it cannot be loaded.
        """
        if scorer == "cosine" or (scorer == "auto" and self._reranker_failed):
            return None
        if scorer == "cross-encoder":
            return self.reranker
        try:
            return self.reranker
        except RerankerLoadError as error:
            logger.warning("rerank scorer auto: no cross-encoder (%s); ranking texts by "
                           "cosine of %s", error, self.model_name)
            self._reranker_failed = True
            return None

    def wait_for_bm25(self, timeout: float | None = None) -> bool:
        """See `IndexReader.wait_for_bm25`."""
        return self.reader.wait_for_bm25(timeout)

    def close(self) -> None:
        self._embedder.shutdown(wait=False)
        self.reader.close()

    # --- queries --------------------------------------------------------------------
    def embed(self, texts: list[str]) -> NDArray[np.float32]:
        """Unit vectors of `texts` from the index's model (recent ones from memory)."""
        return self._embeddings.embed(texts)

    def search(self, query: str, options: SearchOptions | None = None) -> SearchResponse:
        """Search for `query` and return up to `options.k` hits, best first.

        Raises:
            InvalidQueryError: an empty query.
        """
        return self.search_batch([query], options)[0]

    def search_batch(self, queries: list[str],
                     options: SearchOptions | None = None) -> list[SearchResponse]:
        """`search` for many queries, embedding them in one batch.

        `timings_ms` holds each stage's time and the `total` wall time of the query (its
        share of the batch's embedding included); a lone hybrid query is embedded while
        its BM25 leg runs, so there `embed` overlaps `lexical`.

        Raises:
            InvalidQueryError: no query, or an empty one.
        """
        options = options or SearchOptions()
        _check(queries)
        self.reader.store()  # this thread's connection and thread limit, before any encode
        embedding = self._embed_queries(queries, options.mode)
        responses = []
        for position, query in enumerate(queries):
            started = time.perf_counter()
            timings = {"embed": 0.0}  # known once the vector is (first, for reading)
            hits = self._search_one(query, partial(embedding.row, position), options,
                                    timings)
            timings["embed"] = round(embedding.ms_per_query, 2)
            elapsed = (time.perf_counter() - started) * 1000
            timings["total"] = round(elapsed + embedding.ms_before(), 2)
            responses.append(SearchResponse(query=query, results=hits, timings_ms=timings))
        return responses

    def _embed_queries(self, queries: list[str], mode: Mode) -> QueryEmbedding:
        if mode == Mode.LEXICAL:
            return QueryEmbedding.ready(np.zeros((len(queries), self.dimension), np.float32))
        if len(queries) == 1 and mode == Mode.HYBRID:
            # A lone hybrid query is embedded while its BM25 leg runs in this thread (a
            # batch is embedded first, in one call). The query runs on one thread (ONNX:
            # `SMALL_BATCH_TOKENS`; torch: `SEARCH_THREADS`), leaving BM25 the other core:
            # hybrid p50 with highlights on a quiet 2-core machine (int8), interleaved
            # with the query inline on two threads: 4.91 -> 4.24 ms at 12k chunks, 5.13 ->
            # 3.92 ms at 100k.
            return QueryEmbedding(self._embedder.submit, self._embeddings.embed, queries)
        return QueryEmbedding(call_now, self._embeddings.embed, queries)

    def _search_one(self, query: str, vector: Callable[[], NDArray[np.float32]],
                    options: SearchOptions, timings: dict[str, float]) -> list[Hit]:
        clock = _Clock(timings)
        mode, k = options.mode, options.k
        pool = max(CANDIDATES_PER_LEG, k * 5 if options.group_by else k,
                   options.rerank_candidates if options.rerank else 0)
        # At least k, so that reranking never returns fewer hits than asked for.
        keep = max(options.rerank_candidates, k) if options.rerank else k
        # A grouped hit may show another candidate chunk of its document (highlights).
        others: dict[int, list[tuple[int, float]]] = {}
        with self.reader.snapshot() as snapshot:
            dense, lexical = self._legs(snapshot, query, vector, mode, options.filters,
                                        pool, clock)
            ranked = rank(mode, dense, lexical)
            if options.min_score is not None and not options.rerank:
                ranked = gate(ranked, dense, options.min_score)
            if options.group_by == "document":
                grouped = group_documents(
                    snapshot, query, vector, mode, options.filters,
                    options.min_score if not options.rerank else None, pool, ranked, dense,
                    lexical)
                ranked, documents, shown = grouped.chunks, grouped.documents, grouped.shown
                dense, lexical = grouped.dense, grouped.lexical
                if options.highlight:
                    others = document_candidates(ranked, shown[:keep], documents)
                ranked = shown
            ranked = ranked[:keep]
            clock.lap("fuse")
            rows = snapshot.store.chunks([c for c, _ in ranked]
                                         + [c for found in others.values() for c, _ in found])
            hits = make_hits(ranked, rows, mode, dense, lexical)
            other_hits = {shown_id: make_hits(found, rows, mode, dense, lexical)
                          for shown_id, found in others.items()}
            clock.lap("rows")
        if options.rerank:
            hits = rerank_hits(self.reranker, query, hits)
            if options.min_score is not None:
                hits = [h for h in hits if h.score >= options.min_score]
            clock.lap("rerank")
        if options.highlight:
            hits = highlight_hits(query, hits[:k], other_hits, self._embeddings.embed,
                                  vector() if mode != Mode.LEXICAL else None,
                                  self.chunk_pages)
            clock.lap("highlight")
        return hits[:k]

    def _legs(self, snapshot: Snapshot, query: str,
              vector: Callable[[], NDArray[np.float32]], mode: Mode, filters: Filters,
              pool: int, clock: "_Clock") -> tuple[dict[int, float], dict[int, float]]:
        """(cosine, BM25) by chunk id of each leg's top `pool`; in hybrid mode both legs
        score every candidate of either (BM25 0 where no query word matches).

        BM25 runs first: it needs no query vector, which may still be on its way.
        """
        store, vectors = snapshot.store, snapshot.vectors
        allowed = None if filters.is_empty() else store.filtered_chunk_ids(filters)
        lexical: dict[int, float] = {}
        bm25_query = LexicalQuery(store, query, snapshot.bm25) if mode != Mode.DENSE \
            else None
        if bm25_query is not None:
            lexical = dict(bm25_query.top(pool, filters, allowed))
        clock.lap("lexical")
        if mode == Mode.LEXICAL:
            clock.lap("dense")
            return {}, lexical
        return self._dense_leg(vectors, vector, allowed, pool, lexical, bm25_query, clock)

    def _dense_leg(self, vectors: VectorIndex, vector: Callable[[], NDArray[np.float32]],
                   allowed: NDArray[np.int64] | None, pool: int, lexical: dict[int, float],
                   bm25_query: LexicalQuery | None,
                   clock: "_Clock") -> tuple[dict[int, float], dict[int, float]]:
        query_vector = vector()
        clock.lap("embed_wait")
        dense: dict[int, float] = {}
        if allowed is None or len(allowed):
            scores, ids = vectors.search(query_vector[None, :], pool, allowed)
            dense = {i: s for i, s in zip(ids[0].tolist(), scores[0].tolist(), strict=True)
                     if i >= 0}
        clock.lap("dense")
        if bm25_query is not None:  # hybrid: the dense candidates' BM25 too
            lexical.update(bm25_query.scores([c for c in dense if c not in lexical]))
            dense = complete_dense(vectors, query_vector, list(lexical), dense)
            clock.lap("lexical")
        return dense, lexical

    def chunk_pages(self, chunk_ids: list[int]) -> dict[int, PageSpan]:
        """The PDF pages of the chunks of `chunk_ids`, by id (ids gone since left out).

        A chunk's row never changes once written (a changed file gets new chunk ids), so
        this may be read after the search that found them.
        """
        if not chunk_ids:
            return {}
        return {chunk_id: row.pages
                for chunk_id, row in self.reader.store().chunks(chunk_ids).items()}

    # --- documents ------------------------------------------------------------------
    def document(self, doc_id: int) -> DocumentView | None:
        """A document's metadata and chunks, or None when there is no such document."""
        with self.reader.snapshot() as snapshot:
            row = snapshot.store.document(doc_id)
            if row is None or row.status != "indexed":
                return None
            chunks = [ChunkView(c.id, c.ordinal, c.text, c.start, c.end, c.page,
                                list(c.headings))
                      for c in snapshot.store.document_chunks(doc_id)]
        return DocumentView(row.id, row.path, row.title, row.format, row.size, row.mtime, chunks)


class _Clock:
    """Adds the time since the last lap to a stage; `embed_wait` laps are not reported."""

    def __init__(self, timings: dict[str, float]) -> None:
        self.timings = timings
        self.last = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        if not name.endswith("_wait"):
            self.timings[name] = round(self.timings.get(name, 0.0) + (now - self.last) * 1000,
                                       2)
        self.last = now


def _check(queries: list[str]) -> None:
    if not queries:
        raise InvalidQueryError("no query given")
    if any(not q or not q.strip() for q in queries):
        raise InvalidQueryError("the query is empty")



