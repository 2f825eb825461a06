"""`IndexReader`: the state of an index as searches read it, kept in step with syncs.

Each thread gets its own read-only SQLite connection. A snapshot is one SQLite read
transaction with the FAISS vectors of the same generation (reloaded when a sync has
committed a new one) and, once built in the background, the BM25 postings of that
generation in memory; so a search never sees a half-written index.
"""

import logging
import threading
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor, TimeoutError
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from semsearch.indexer.errors import IndexCorruptError, IndexNotFoundError
from semsearch.indexer.index_dir import load_vectors
from semsearch.indexer.manifest import IndexManifest
from semsearch.indexer.store import Store
from semsearch.indexer.vector_index import VectorIndex, limit_threads
from semsearch.search.document_memory import DocumentMemory, build_document_memory
from semsearch.search.lexical import build_memory_bm25, prepare_query_words
from semsearch.search.lexical_memory import MemoryBM25

logger = logging.getLogger(__name__)
Held = TypeVar("Held")

# OpenMP threads in each thread that searches or embeds a query. One query's FAISS search
# gains nothing from more, and a threaded server runs one search per request thread. torch
# shares the OpenMP runtime, so a query's encode runs on one thread too: on an idle 2-core
# machine a lone query embeds in 18 ms instead of 14 but with 18 ms of CPU instead of 29,
# and on a busy one in 131 ms instead of 1130 (threads spinning on each other).
SEARCH_THREADS = 1


@dataclass(frozen=True)
class Snapshot:
    """One consistent state: a read transaction, its vectors and (if ready) its BM25
    and its whole-document evidence (`search.whole_documents`) in memory."""

    store: Store
    vectors: VectorIndex
    bm25: MemoryBM25 | None
    documents: DocumentMemory | None = None


class IndexReader:
    """Reads one index directory, read-only and thread-safe.

    Raises:
        IndexNotFoundError: no finished index in `index_dir`.
    """

    def __init__(self, index_dir: Path) -> None:
        self.index_dir = index_dir.resolve()
        self._local = threading.local()
        self._lock = threading.Lock()
        manifest = self.store().manifest()
        if manifest is None:
            raise IndexNotFoundError(index_dir)
        self.manifest: IndexManifest = manifest
        self._generation = -1
        # One tuple, replaced whole: the vectors and their generation always agree.
        self._loaded = (VectorIndex.empty(manifest.dimension), -1)
        # BM25 postings in memory, built in the background for each new generation; until
        # they are ready (or for indexes too large to hold them) FTS5 scores the queries.
        self._bm25: tuple[int, MemoryBM25] | None = None
        self._documents: tuple[int, DocumentMemory] | None = None
        self._bm25_builder = ThreadPoolExecutor(max_workers=1,
                                                thread_name_prefix="semsearch-bm25")
        self._bm25_build: Future[None] | None = None
        self.refresh()

    def store(self) -> Store:
        """This thread's read-only connection (and its OpenMP thread limit)."""
        store = getattr(self._local, "store", None)
        if store is None:
            store = Store.open_readonly(self.index_dir)
            self._local.store = store
            limit_threads(SEARCH_THREADS)  # per thread, like the connection
        return store

    def refresh(self) -> None:
        """Load the vectors of the store's current generation if a sync committed one."""
        with self._lock:
            store = self.store()
            with store.transaction(write=False):
                generation = store.generation()
                if generation != self._generation:
                    vectors = load_vectors(store, self.index_dir, self.manifest.dimension,
                                           repair=False, mapped=True)
                    self._generation = generation
                    self._loaded = (vectors, generation)
                    self._bm25_build = self._bm25_builder.submit(self._build_bm25, generation)

    def _build_bm25(self, generation: int) -> None:
        if self._generation != generation:
            return  # a newer generation came while this waited; its own build follows
        try:
            store = Store.open_readonly(self.index_dir)
            try:
                built = build_memory_bm25(store, generation)
                documents = build_document_memory(store, generation)
            finally:
                store.close()
        except Exception:  # the FTS5 path goes on serving; nothing is lost
            logger.exception("Could not hold the BM25 postings in memory; FTS5 scores queries")
            return
        if documents is not None:  # before the chunks', which `wait_for_bm25` reports
            self._documents = (generation, documents)
        if built is not None:
            prepare_query_words(built)
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
    def snapshot(self) -> Iterator[Snapshot]:
        """A read transaction whose SQLite state matches the FAISS vectors in memory, and
        the in-memory BM25 of that state if it is ready."""
        store = self.store()
        for _ in range(5):
            with store.transaction(write=False):
                vectors, generation = self._loaded
                if store.generation() == generation:
                    bm25, documents = self._bm25, self._documents
                    yield Snapshot(store, vectors, _of(bm25, generation),
                                   _of(documents, generation))
                    return
            self.refresh()  # a sync committed: load its vectors, then look again
        raise IndexCorruptError("the index kept changing while opening a snapshot")

    def close(self) -> None:
        self._bm25_builder.shutdown(wait=False, cancel_futures=True)
        store = getattr(self._local, "store", None)
        if store is not None:
            store.close()


def _of(held: tuple[int, Held] | None, generation: int) -> Held | None:
    """What `held` holds if it was built for `generation`."""
    return held[1] if held is not None and held[0] == generation else None
