"""`MilvusSearcher`: the `Searcher` over a Milvus store instead of an index directory.

Only where the candidates and rows come from differs: the legs run in Milvus
(`MilvusView.legs`), rows are read from it, and everything after the legs (fusion,
`min_score`, `group_by`, the cut to k, rerank, highlights) is the Searcher's own code.
The reader holds nothing but a client: each search reads the committed generation from
the manifest row first, so any number of servers on one store answer alike and see a
sync as soon as it commits.
"""

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from semsearch.indexer.encoders import DEFAULT_RERANK_MODEL, EncoderSpec
from semsearch.indexer.errors import IndexCorruptError
from semsearch.indexer.manifest import IndexManifest
from semsearch.indexer.milvus_store import MilvusStore, MilvusTarget
from semsearch.search.embedding_cache import EMBEDDING_CACHE_SIZE
from semsearch.search.hits import Hit
from semsearch.search.milvus_documents import MilvusDocuments
from semsearch.search.milvus_view import LEXICAL_KINDS, MilvusView
from semsearch.search.options import Filters, Mode, SearchOptions
from semsearch.search.searcher import Searcher

__all__ = ["MilvusReader", "MilvusSearcher"]


@dataclass
class MilvusSnapshot:
    """What `Searcher._search_one` reads through: `store` is the generation's view."""

    store: MilvusView

    def document_evidence(self, query: str) -> MilvusDocuments | None:
        """The generation's whole-document evidence for `query` (what a grouped search
        ranks documents by), or None: a build made before it (until a `--rebuild`), or
        Milvus' own BM25 (`native`), which scores chunks only."""
        view = self.store
        return MilvusDocuments(view, query) if view.holds_documents else None


class MilvusReader:
    """The committed state of a Milvus store, read afresh for every snapshot."""

    def __init__(self, target: MilvusTarget, lexical: str = "sparse") -> None:
        if lexical not in LEXICAL_KINDS:
            raise ValueError(f"lexical must be one of {LEXICAL_KINDS}, not {lexical!r}")
        self.target, self.lexical = target, lexical
        self.milvus = MilvusStore(target)
        self.index_dir = Path(f"{target.uri} (Milvus collection {target.collection})")
        state = self.milvus.require_committed()
        self.milvus.at(state.build).load()
        self._manifest = state.manifest
        self._latest = MilvusView(self.milvus, state, lexical)
        self._thread = threading.local()  # each thread's last view

    @property
    def manifest(self) -> IndexManifest:
        """The manifest as of the last snapshot."""
        return self._manifest

    def view(self) -> MilvusView:
        """The committed generation now."""
        state = self.milvus.require_committed()
        self._manifest = state.manifest
        self._latest = MilvusView(self.milvus, state, self.lexical)
        return self._latest

    def store(self) -> MilvusView:
        """The generation of the last snapshot (`Searcher.chunk_pages` reads rows from
        it: a chunk's row never changes while it lives)."""
        return self._latest

    @contextmanager
    def snapshot(self) -> Iterator[MilvusSnapshot]:
        self._thread.view = self.view()
        yield MilvusSnapshot(self._thread.view)

    def rebuilt(self) -> bool:
        """Whether a rebuild committed since this thread's last snapshot (the build it
        read is then dropped)."""
        seen = getattr(self._thread, "view", None)
        state = self.milvus.committed()
        return seen is not None and state is not None and state.build != seen.state.build

    def wait_for_bm25(self, timeout: float | None = None) -> bool:
        """BM25 lives in Milvus: always ready."""
        return True

    def close(self) -> None:
        self.milvus.close()


class MilvusSearcher(Searcher):
    """Searches a Milvus store with the model that built it; the Searcher's API."""

    def __init__(self, target: MilvusTarget, encoder: EncoderSpec | None = None, *,
                 rerank_model: str = DEFAULT_RERANK_MODEL,
                 embedding_cache_size: int = EMBEDDING_CACHE_SIZE,
                 lexical: str = "sparse") -> None:
        """Open the store and load its model (see `Searcher.__init__`); `lexical` is
        "sparse" (semsearch's BM25, the embedded scores) or "native" (Milvus' BM25).

        Raises:
            MilvusStoreError: Milvus cannot be reached.
            IndexNotFoundError: nothing committed in the collection.
            IndexMismatchError: `encoder` names another model or backend than the store.
        """
        self._open(MilvusReader(target, lexical), encoder,  # type: ignore[arg-type]
                   rerank_model, embedding_cache_size)

    def _search_one(self, query: str, vector: Callable[[], NDArray[np.float32]],
                    options: SearchOptions, timings: dict[str, float]) -> list[Hit]:
        try:
            return super()._search_one(query, vector, options, timings)
        except IndexCorruptError:
            # A commit deleted rows of the generation read between its legs and its
            # rows: once more, on the new generation.
            return super()._search_one(query, vector, options, timings)
        except Exception:
            if not self.reader.rebuilt():  # type: ignore[attr-defined]
                raise
            # A rebuild dropped the collections this search read: once more, on it.
            return super()._search_one(query, vector, options, timings)

    def _legs(self, snapshot: Any, query: str, vector: Callable[[], NDArray[np.float32]],
              mode: Mode, filters: Filters, pool: int,
              clock: Any) -> tuple[dict[int, float], dict[int, float]]:
        dense, lexical = snapshot.store.legs(query, vector, mode, filters, pool)
        clock.lap("dense" if mode != Mode.LEXICAL else "lexical")
        return dense, lexical
