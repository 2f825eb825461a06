"""`Searcher`: answers queries from an index directory, read-only and thread-safe."""

import logging
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, TimeoutError
from contextlib import contextmanager
from functools import partial
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from semsearch.indexer.encoder import Encoder, load_encoder
from semsearch.indexer.errors import IndexCorruptError, IndexMismatchError, IndexNotFoundError
from semsearch.indexer.index_dir import load_vectors, recorded_backend
from semsearch.settings import DEFAULT_RERANK_MODEL
from semsearch.indexer.store import Store
from semsearch.indexer.vector_index import VectorIndex, limit_threads
from semsearch.search.embedding_cache import EMBEDDING_CACHE_SIZE, EmbeddingCache
from semsearch.search.errors import InvalidQueryError
from semsearch.search.highlight import highlight_chunks
from semsearch.search.hits import ChunkView, DocumentView, Filters, Hit, Mode, SearchResponse
from semsearch.search.lexical import LexicalQuery, build_memory_bm25
from semsearch.search.lexical_memory import MemoryBM25
from semsearch.search.query_embedding import QueryEmbedding, call_now
from semsearch.search.ranking import best_per_document, complete_dense, gate, make_hits, rank
from semsearch.search.rerank import Reranker

logger = logging.getLogger(__name__)

# Candidates each leg contributes before fusion, reranking and the cut to k.
CANDIDATES_PER_LEG = 100
RERANK_CANDIDATES = 30
# OpenMP threads in each thread that searches or embeds a query. One query's FAISS search
# gains nothing from more, and a threaded server runs one search per request thread. torch
# shares the OpenMP runtime, so a query's encode runs on one thread too: on an idle 2-core
# machine a lone query embeds in 18 ms instead of 14 but with 18 ms of CPU instead of 29,
# and on a busy one in 131 ms instead of 1130 (threads spinning on each other).
SEARCH_THREADS = 1
# Backends whose query encode runs on the searching thread's OpenMP threads (one, above):
# a lone hybrid query is embedded on a second core while BM25 runs. ONNX Runtime spreads
# one query over every core itself, and there BM25 would only compete with it. Measured,
# hybrid p50 on an idle 2-core machine: torch 43 -> 34 ms, onnx 22 -> 24 ms.
OVERLAPPED_BACKENDS = frozenset({"torch"})


class Searcher:
    """Searches one index directory with the model that built it.

    Each thread gets its own read-only SQLite connection. Every search reads one SQLite
    snapshot, and the FAISS vectors are reloaded when a sync has committed a new
    generation, so a search never sees a half-written index.
    """

    def __init__(self, index_dir: Path, *, encoder: Encoder | None = None,
                 device: str | None = None, rerank_model: str = DEFAULT_RERANK_MODEL,
                 backend: str | None = None, cache_dir: Path | None = None,
                 embedding_cache_size: int = EMBEDDING_CACHE_SIZE) -> None:
        """Open `index_dir`; load its model unless an `encoder` of that model is given.

        The embeddings of the last `embedding_cache_size` query and highlight texts are
        kept, so a repeated query skips the model.

        The model runs on the backend the index records (torch for indexes older than
        the record); `backend`, when given, must be that one. `cache_dir` holds ONNX
        exports (Settings.cache_dir).

        Raises:
            IndexNotFoundError: no finished index there.
            IndexMismatchError: `encoder` or `backend` is of another model or backend
                than the index.
        """
        self.index_dir = index_dir.resolve()
        self._local = threading.local()
        self._lock = threading.Lock()
        meta = self._store().meta()
        if "model" not in meta or "dimension" not in meta:
            raise IndexNotFoundError(index_dir)
        self.model_name, self.dimension = meta["model"], int(meta["dimension"])
        if encoder is not None and encoder.model_name != self.model_name:
            raise IndexMismatchError(
                f"The index at {index_dir} was built with {self.model_name!r}, "
                f"not {encoder.model_name!r}; search it with its own model.")
        self.backend = recorded_backend(meta)
        for given in (backend, encoder.backend if encoder else None):
            if given is not None and given != self.backend:
                raise IndexMismatchError(
                    f"The index at {index_dir} was built with the {self.backend} backend, "
                    f"not {given}; search it with its own (--backend {self.backend}, or "
                    "leave --backend unset).")
        if encoder is None:
            encoder = load_encoder(self.model_name, device, self.backend, cache_dir)
            encoder.encode(["warm up"])  # the first call pays for lazy set-up; not a user
        self.encoder = encoder
        self._embeddings = EmbeddingCache(encoder.encode, embedding_cache_size)
        # Embeds a lone hybrid query while its BM25 leg runs in the caller's thread.
        self._embedder = ThreadPoolExecutor(thread_name_prefix="semsearch-embed",
                                            initializer=limit_threads,
                                            initargs=(SEARCH_THREADS,))
        self.rerank_model = rerank_model
        self._reranker: Reranker | None = None
        self._generation = -1
        self._vectors = VectorIndex.empty(self.dimension)
        self._loaded = (self._vectors, self._generation)
        # BM25 postings in memory, built in the background for each new generation; until
        # they are ready (or for indexes too large to hold them) FTS5 scores the queries.
        self._bm25: tuple[int, MemoryBM25] | None = None
        self._bm25_builder = ThreadPoolExecutor(max_workers=1,
                                                thread_name_prefix="semsearch-bm25")
        self._bm25_build: Future[None] | None = None
        self._refresh()

    # --- state ----------------------------------------------------------------------
    def _store(self) -> Store:
        store = getattr(self._local, "store", None)
        if store is None:
            store = Store.open_readonly(self.index_dir)
            self._local.store = store
            limit_threads(SEARCH_THREADS)  # per thread, like the connection
        return store

    def _refresh(self) -> tuple[VectorIndex, int]:
        """The vectors of the store's current generation, reloaded if a sync committed."""
        with self._lock:
            store = self._store()
            with store.transaction(write=False):
                generation = store.generation()
                if generation != self._generation:
                    self._vectors = load_vectors(store, self.index_dir, self.dimension,
                                                 repair=False, mapped=True)
                    self._generation = generation
                    self._loaded = (self._vectors, generation)
                    self._bm25_build = self._bm25_builder.submit(self._build_bm25, generation)
            return self._vectors, self._generation

    def _build_bm25(self, generation: int) -> None:
        if self._generation != generation:
            return  # a newer generation came while this waited; its own build follows
        try:
            store = Store.open_readonly(self.index_dir)
            try:
                built = build_memory_bm25(store, generation)
            finally:
                store.close()
        except Exception:  # the FTS5 path goes on serving; nothing is lost
            logger.exception("Could not hold the BM25 postings in memory; FTS5 scores queries")
            return
        if built is not None:
            self._bm25 = (generation, built)

    def wait_for_bm25(self, timeout: float | None = None) -> bool:
        """Wait for the in-memory BM25 of the current generation; True if it is in use
        (False for an index above `MEMORY_BM25_MAX_CHUNKS`, or on a timeout)."""
        build = self._bm25_build
        if build is not None:
            try:
                build.result(timeout)
            except TimeoutError:
                return False
        bm25 = self._bm25
        return bm25 is not None and bm25[0] == self._generation

    @contextmanager
    def _snapshot(self) -> Iterator[tuple[Store, VectorIndex, MemoryBM25 | None]]:
        """A read transaction whose SQLite state matches the FAISS vectors in memory, and
        the in-memory BM25 of that state if it is ready."""
        store = self._store()
        for _ in range(5):
            store.connection.execute("BEGIN")
            # One tuple, replaced whole: the vectors and their generation always agree.
            vectors, generation = self._loaded
            if store.generation() == generation:
                break
            store.connection.execute("ROLLBACK")
            self._refresh()  # a sync committed: load its vectors, then look again
        else:
            raise IndexCorruptError("the index kept changing while opening a snapshot")
        bm25 = self._bm25
        try:
            yield store, vectors, bm25[1] if bm25 is not None and bm25[0] == generation else None
        finally:
            store.connection.execute("ROLLBACK")

    @property
    def reranker(self) -> Reranker:
        with self._lock:
            if self._reranker is None:
                self._reranker = Reranker(self.rerank_model, self.encoder.device)
            return self._reranker

    def close(self) -> None:
        self._embedder.shutdown(wait=False)
        self._bm25_builder.shutdown(wait=False, cancel_futures=True)
        store = getattr(self._local, "store", None)
        if store is not None:
            store.close()

    # --- queries --------------------------------------------------------------------
    def embed(self, texts: list[str]) -> NDArray[np.float32]:
        """Unit vectors of `texts` from the index's model (recent ones from memory)."""
        return self._embeddings.embed(texts)

    def search(self, query: str, k: int = 10, mode: Mode | str = Mode.HYBRID,
               rerank: bool = False, filters: Filters | None = None,
               group_by: str | None = None, min_score: float | None = None,
               rerank_candidates: int = RERANK_CANDIDATES,
               highlight: bool = True) -> SearchResponse:
        """Search for `query` and return up to `k` hits, best first.

        Args:
            mode: dense (cosine), lexical (BM25) or hybrid (both fused).
            rerank: rescore the top `rerank_candidates` (at least `k`) with the
                cross-encoder.
            filters: restrict by path, type or mtime, inside every leg.
            group_by: "document" keeps each document's best chunk only.
            min_score: drop hits below it: a cosine in dense and hybrid mode, BM25 in
                lexical mode, the cross-encoder's score when reranking.
            highlight: find each hit's best sentence (evaluation runs skip it).

        Raises:
            InvalidQueryError: empty query, k < 1, unknown mode or group_by.
        """
        return self.search_batch([query], k, mode, rerank, filters, group_by, min_score,
                                 rerank_candidates, highlight)[0]

    def search_batch(self, queries: list[str], k: int = 10, mode: Mode | str = Mode.HYBRID,
                     rerank: bool = False, filters: Filters | None = None,
                     group_by: str | None = None, min_score: float | None = None,
                     rerank_candidates: int = RERANK_CANDIDATES,
                     highlight: bool = True) -> list[SearchResponse]:
        """`search` for many queries, embedding them in one batch.

        `timings_ms` holds each stage's time and the `total` wall time of the query (its
        share of the batch's embedding included); a lone hybrid query is embedded while
        its BM25 leg runs, so there `embed` overlaps `lexical`.
        """
        mode = _check(queries, k, mode, group_by)
        filters = filters or Filters()
        self._store()  # this thread's connection and thread limit, before any encode
        embedding = self._embed_queries(queries, mode)
        responses = []
        for position, query in enumerate(queries):
            started = time.perf_counter()
            timings = {"embed": 0.0}  # known once the vector is (first, for reading)
            hits = self._search_one(query, partial(embedding.row, position), k, mode, rerank,
                                    filters, group_by, min_score, rerank_candidates, timings)
            if highlight:
                vector = embedding.row(position) if mode != Mode.LEXICAL else None
                lap = time.perf_counter()
                self._highlight(query, vector, hits)
                timings["highlight"] = round((time.perf_counter() - lap) * 1000, 2)
            timings["embed"] = round(embedding.ms_per_query, 2)
            elapsed = (time.perf_counter() - started) * 1000
            timings["total"] = round(elapsed + embedding.ms_before(), 2)
            responses.append(SearchResponse(query=query, results=hits, timings_ms=timings))
        return responses

    def _embed_queries(self, queries: list[str], mode: Mode) -> QueryEmbedding:
        if mode == Mode.LEXICAL:
            return QueryEmbedding.ready(np.zeros((len(queries), self.dimension), np.float32))
        if len(queries) == 1 and mode == Mode.HYBRID and \
                self.encoder.backend in OVERLAPPED_BACKENDS:
            return QueryEmbedding(self._embedder.submit, self._embeddings.embed, queries)
        return QueryEmbedding(call_now, self._embeddings.embed, queries)

    def _search_one(self, query: str, vector: Callable[[], NDArray[np.float32]], k: int,
                    mode: Mode, rerank: bool, filters: Filters, group_by: str | None,
                    min_score: float | None, rerank_candidates: int,
                    timings: dict[str, float]) -> list[Hit]:
        clock = _Clock(timings)
        pool = max(CANDIDATES_PER_LEG, k * 5 if group_by else k,
                   rerank_candidates if rerank else 0)
        # At least k, so that reranking never returns fewer hits than asked for.
        keep = max(rerank_candidates, k) if rerank else k
        with self._snapshot() as (store, vectors, bm25):
            dense, lexical = self._legs(store, vectors, bm25, query, vector, mode, filters,
                                        pool, clock)
            ranked = rank(mode, dense, lexical)
            if min_score is not None and not rerank:
                ranked = gate(ranked, dense, min_score)
            if group_by == "document":
                ranked = best_per_document(
                    ranked, store.chunk_documents([c for c, _ in ranked]))
            ranked = ranked[:keep]
            hits = make_hits(ranked, store.chunks([c for c, _ in ranked]), mode, dense,
                             lexical)
            clock.lap("fuse")
        if rerank:
            hits = self._rerank(query, hits)
            if min_score is not None:
                hits = [h for h in hits if h.score >= min_score]
            clock.lap("rerank")
        return hits[:k]

    def _legs(self, store: Store, vectors: VectorIndex, bm25: MemoryBM25 | None, query: str,
              vector: Callable[[], NDArray[np.float32]], mode: Mode, filters: Filters,
              pool: int, clock: "_Clock") -> tuple[dict[int, float], dict[int, float]]:
        """(cosine, BM25) by chunk id of each leg's top `pool`; in hybrid mode both legs
        score every candidate of either (BM25 0 where no query word matches).

        BM25 runs first: it needs no query vector, which may still be on its way.
        """
        allowed = None if filters.is_empty() else store.filtered_chunk_ids(filters)
        lexical: dict[int, float] = {}
        bm25_query = LexicalQuery(store, query, bm25) if mode != Mode.DENSE else None
        if bm25_query is not None:
            lexical = dict(bm25_query.top(pool, filters, allowed))
        clock.lap("lexical")
        if mode == Mode.LEXICAL:
            clock.lap("dense")
            return {}, lexical
        query_vector = vector()
        clock.lap("embed_wait")
        dense: dict[int, float] = {}
        if allowed is None or len(allowed):
            scores, ids = vectors.search(query_vector[None, :], pool, allowed)
            dense = {int(i): float(s) for s, i in zip(scores[0], ids[0], strict=True)
                     if i >= 0}
        clock.lap("dense")
        if bm25_query is not None:  # hybrid: the dense candidates' BM25 too
            lexical.update(bm25_query.scores([c for c in dense if c not in lexical]))
            dense = complete_dense(vectors, query_vector, list(lexical), dense)
            clock.lap("lexical")
        return dense, lexical

    def _rerank(self, query: str, hits: list[Hit]) -> list[Hit]:
        scores = self.reranker.score(query, [hit.text for hit in hits])
        for hit, score in zip(hits, scores.tolist(), strict=True):
            hit.scores["cross_encoder"] = score
            hit.score, hit.score_kind = score, "cross-encoder"
        return sorted(hits, key=lambda hit: -hit.score)

    def _highlight(self, query: str, vector: NDArray[np.float32] | None,
                   hits: list[Hit]) -> None:
        chunks = [(hit.text, hit.start) for hit in hits]
        found = highlight_chunks(query, chunks, self._embeddings.embed, vector)
        for hit, highlights in zip(hits, found, strict=True):
            hit.highlights = highlights

    # --- documents ------------------------------------------------------------------
    def document(self, doc_id: int) -> DocumentView | None:
        """A document's metadata and chunks, or None when there is no such document."""
        with self._snapshot() as (store, _, _):
            row = store.document(doc_id)
            if row is None or row.status != "indexed":
                return None
            chunks = [ChunkView(c.id, c.ordinal, c.text, c.start, c.end, c.page,
                                list(c.headings)) for c in store.document_chunks(doc_id)]
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


def _check(queries: list[str], k: int, mode: Mode | str, group_by: str | None) -> Mode:
    if not queries:
        raise InvalidQueryError("no query given")
    if any(not q or not q.strip() for q in queries):
        raise InvalidQueryError("the query is empty")
    if k < 1:
        raise InvalidQueryError(f"k must be at least 1, not {k}")
    if group_by not in (None, "document"):
        raise InvalidQueryError(f"group_by must be 'document' or absent, not {group_by!r}")
    try:
        return Mode(mode)
    except ValueError as error:
        raise InvalidQueryError(
            f"unknown mode {mode!r}; use one of {', '.join(m.value for m in Mode)}") from error
