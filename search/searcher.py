"""`Searcher`: answers queries from an index directory, read-only and thread-safe."""

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from indexer.encoder import Encoder, load_encoder
from indexer.errors import IndexCorruptError, IndexMismatchError, IndexNotFoundError
from indexer.index_dir import load_vectors
from indexer.settings import DEFAULT_RERANK_MODEL
from indexer.store import ChunkRow, Store
from indexer.vector_index import VectorIndex
from search.errors import InvalidQueryError
from search.fuse import convex_fusion
from search.highlight import highlight_chunks
from search.hits import ChunkView, DocumentView, Filters, Hit, Mode, SearchResponse
from search.lexical import lexical_search
from search.rerank import Reranker

# Candidates each leg contributes before fusion, reranking and the cut to k.
CANDIDATES_PER_LEG = 100
RERANK_CANDIDATES = 30
# In hybrid mode, BM25 scores are read this deep so that dense-only candidates get theirs.
LEXICAL_SCORE_DEPTH = 2000


class Searcher:
    """Searches one index directory with the model that built it.

    Each thread gets its own read-only SQLite connection. Every search reads one SQLite
    snapshot, and the FAISS vectors are reloaded when a sync has committed a new
    generation, so a search never sees a half-written index.
    """

    def __init__(self, index_dir: Path, *, encoder: Encoder | None = None,
                 device: str | None = None, rerank_model: str = DEFAULT_RERANK_MODEL) -> None:
        """Open `index_dir`; load its model unless an `encoder` of that model is given.

        Raises:
            IndexNotFoundError: no finished index there.
            IndexMismatchError: `encoder` is of another model than the index.
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
        if encoder is None:
            encoder = load_encoder(self.model_name, device)
            encoder.encode(["warm up"])  # the first call pays for lazy set-up; not a user
        self.encoder = encoder
        self.rerank_model = rerank_model
        self._reranker: Reranker | None = None
        self._generation = -1
        self._vectors = VectorIndex.empty(self.dimension)
        self._refresh()

    # --- state ----------------------------------------------------------------------
    def _store(self) -> Store:
        store = getattr(self._local, "store", None)
        if store is None:
            store = Store.open_readonly(self.index_dir)
            self._local.store = store
        return store

    def _refresh(self) -> tuple[VectorIndex, int]:
        """The vectors of the store's current generation, reloaded if a sync committed."""
        with self._lock:
            store = self._store()
            with store.transaction(write=False):
                generation = store.generation()
                if generation != self._generation:
                    self._vectors = load_vectors(store, self.index_dir, self.dimension,
                                                 repair=False)
                    self._generation = generation
            return self._vectors, self._generation

    @contextmanager
    def _snapshot(self) -> Iterator[tuple[Store, VectorIndex]]:
        """A read transaction whose SQLite state matches the FAISS vectors in memory."""
        store = self._store()
        for _ in range(5):
            vectors, generation = self._refresh()
            store.connection.execute("BEGIN")
            if store.generation() == generation:
                break
            store.connection.execute("ROLLBACK")
        else:
            raise IndexCorruptError("the index kept changing while opening a snapshot")
        try:
            yield store, vectors
        finally:
            store.connection.execute("ROLLBACK")

    @property
    def reranker(self) -> Reranker:
        with self._lock:
            if self._reranker is None:
                self._reranker = Reranker(self.rerank_model, self.encoder.device)
            return self._reranker

    def close(self) -> None:
        store = getattr(self._local, "store", None)
        if store is not None:
            store.close()

    # --- queries --------------------------------------------------------------------
    def embed(self, texts: list[str]) -> NDArray[np.float32]:
        """Unit vectors of `texts` from the index's model."""
        return self.encoder.encode(texts)

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
        """`search` for many queries, embedding them in one batch."""
        mode = _check(queries, k, mode, group_by)
        filters = filters or Filters()
        started = time.perf_counter()
        vectors = (self.encoder.encode(queries) if mode != Mode.LEXICAL
                   else np.zeros((len(queries), self.dimension), dtype=np.float32))
        embed_ms = (time.perf_counter() - started) * 1000 / len(queries)
        responses = []
        for query, vector in zip(queries, vectors, strict=True):
            timings = {"embed": round(embed_ms, 2)}
            hits = self._search_one(query, vector, k, mode, rerank, filters, group_by,
                                    min_score, rerank_candidates, timings)
            if highlight:
                started = time.perf_counter()
                self._highlight(query, hits)
                timings["highlight"] = round((time.perf_counter() - started) * 1000, 2)
            timings["total"] = round(sum(timings.values()), 2)
            responses.append(SearchResponse(query=query, results=hits, timings_ms=timings))
        return responses

    def _search_one(self, query: str, vector: NDArray[np.float32], k: int, mode: Mode,
                    rerank: bool, filters: Filters, group_by: str | None,
                    min_score: float | None, rerank_candidates: int,
                    timings: dict[str, float]) -> list[Hit]:
        clock = _Clock(timings)
        pool = max(CANDIDATES_PER_LEG, k * 5 if group_by else k,
                   rerank_candidates if rerank else 0)
        with self._snapshot() as (store, vectors):
            allowed = None if filters.is_empty() else store.filtered_chunk_ids(filters)
            dense: dict[int, float] = {}
            lexical: dict[int, float] = {}
            if mode != Mode.LEXICAL and (allowed is None or len(allowed)):
                scores, ids = vectors.search(vector[None, :], pool, allowed)
                dense = {int(i): float(s) for s, i in zip(scores[0], ids[0], strict=True)
                         if i >= 0}
            clock.lap("dense")
            lexical_ranked: list[tuple[int, float]] = []
            if mode != Mode.DENSE:
                depth = LEXICAL_SCORE_DEPTH if mode == Mode.HYBRID else pool
                lexical_ranked = lexical_search(store, query, max(depth, pool), filters)
                lexical = dict(lexical_ranked[:pool])
            clock.lap("lexical")
            candidates = list(dict.fromkeys([*dense, *lexical]))
            rows = store.chunks(candidates)
            if len(rows) != len(candidates):
                raise IndexCorruptError(
                    f"chunk ids {sorted(set(candidates) - set(rows))[:5]} are in the vector "
                    f"index but not in SQLite; rebuild with `semsearch index PATH --rebuild`")
            if mode == Mode.HYBRID:
                dense = _complete_dense(vectors, vector, candidates, dense)
                lexical = _complete_lexical(lexical_ranked, candidates)
            hits = _rank(candidates, rows, mode, dense, lexical)
            clock.lap("fuse")
        if min_score is not None and not rerank:
            hits = [h for h in hits if _gate_score(h) >= min_score]
        if group_by == "document":
            hits = _best_per_document(hits)
        if rerank:
            # At least k, so that reranking never returns fewer hits than asked for.
            hits = self._rerank(query, hits[:max(rerank_candidates, k)])
            if min_score is not None:
                hits = [h for h in hits if h.score >= min_score]
            clock.lap("rerank")
        return hits[:k]

    def _rerank(self, query: str, hits: list[Hit]) -> list[Hit]:
        scores = self.reranker.score(query, [hit.text for hit in hits])
        for hit, score in zip(hits, scores.tolist(), strict=True):
            hit.scores["cross_encoder"] = score
            hit.score, hit.score_kind = score, "cross-encoder"
        return sorted(hits, key=lambda hit: -hit.score)

    def _highlight(self, query: str, hits: list[Hit]) -> None:
        chunks = [(hit.text, hit.start) for hit in hits]
        for hit, highlights in zip(hits, highlight_chunks(query, chunks, self.encoder.encode),
                                   strict=True):
            hit.highlights = highlights

    # --- documents ------------------------------------------------------------------
    def document(self, doc_id: int) -> DocumentView | None:
        """A document's metadata and chunks, or None when there is no such document."""
        with self._snapshot() as (store, _):
            row = store.document(doc_id)
            if row is None or row.status != "indexed":
                return None
            chunks = [ChunkView(c.id, c.ordinal, c.text, c.start, c.end, c.page,
                                list(c.headings)) for c in store.document_chunks(doc_id)]
        return DocumentView(row.id, row.path, row.title, row.format, row.size, row.mtime, chunks)


class _Clock:
    def __init__(self, timings: dict[str, float]) -> None:
        self.timings = timings
        self.last = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.timings[name] = round(self.timings.get(name, 0.0) + (now - self.last) * 1000, 2)
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


def _rank(candidates: list[int], rows: dict[int, ChunkRow], mode: Mode,
          dense: dict[int, float], lexical: dict[int, float]) -> list[Hit]:
    if mode == Mode.HYBRID and candidates:
        fused = convex_fusion(np.array([dense[c] for c in candidates], dtype=np.float64),
                              np.array([lexical.get(c, 0.0) for c in candidates],
                                       dtype=np.float64))
        final = dict(zip(candidates, fused.tolist(), strict=True))
        kind = "fused"
    elif mode == Mode.DENSE:
        final, kind = dense, "cosine"
    else:
        final, kind = lexical, "bm25"
    hits = []
    for chunk_id in sorted(candidates, key=lambda c: (-final[c], c)):
        row = rows[chunk_id]
        scores = {}
        if chunk_id in dense:
            scores["cosine"] = dense[chunk_id]
        if mode != Mode.DENSE:
            scores["bm25"] = lexical.get(chunk_id, 0.0)
        if kind == "fused":
            scores["fused"] = final[chunk_id]
        hits.append(Hit(chunk_id=chunk_id, doc_id=row.doc_id, path=row.path, title=row.title,
                        text=row.text, page=row.page, start=row.start, end=row.end,
                        headings=list(row.headings), score=final[chunk_id], score_kind=kind,
                        scores=scores))
    return hits


def _complete_dense(vectors: VectorIndex, query: NDArray[np.float32], candidates: list[int],
                    dense: dict[int, float]) -> dict[int, float]:
    """Cosine for every candidate, also those only the lexical leg found."""
    missing = [c for c in candidates if c not in dense]
    completed = dict(dense)
    if missing:
        scores = vectors.vectors(np.array(missing, dtype=np.int64)) @ query
        completed.update(zip(missing, scores.tolist(), strict=True))
    return completed


def _complete_lexical(ranked: list[tuple[int, float]], candidates: list[int]) -> dict[int, float]:
    """BM25 for every candidate from the deep lexical ranking.

    A candidate absent from it matches no query word (BM25 0) when the ranking holds
    every match; otherwise it ranks below the ranking's end and gets its lowest score.
    """
    scores = dict(ranked)
    floor = 0.0 if len(ranked) < LEXICAL_SCORE_DEPTH else min(scores.values())
    return {c: scores.get(c, floor) for c in candidates}


def _gate_score(hit: Hit) -> float:
    return hit.scores.get("cosine", hit.score)


def _best_per_document(hits: list[Hit]) -> list[Hit]:
    seen: set[int] = set()
    kept = []
    for hit in hits:
        if hit.doc_id not in seen:
            seen.add(hit.doc_id)
            kept.append(hit)
    return kept
