"""What an index directory holds, for `semsearch stats` and `GET /stats`."""

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from semsearch.indexer.errors import IndexNotFoundError
from semsearch.indexer.manifest import IndexManifest
from semsearch.indexer.plan import SkippedFile
from semsearch.indexer.store import Store

_INDEX_TYPES = {
    "flat": "faiss IndexIDMap2(IndexFlatIP), cosine on L2-normalised vectors",
    "hnsw": "faiss IndexIDMap2(IndexHNSWFlat), approximate cosine on L2-normalised vectors",
    "ivf": "faiss IndexIVFScalarQuantizer (SQ8), approximate cosine on L2-normalised vectors",
}


@dataclass(frozen=True)
class IndexStats:
    """Counts and settings of an index: its manifest and what its tables hold."""

    documents: int
    chunks: int
    skipped: int
    model: str
    backend: str
    dimension: int
    index_type: str
    vector_index: dict[str, Any]
    chunk_tokens: int
    chunk_overlap: int
    root: str
    generation: int
    last_sync: float | None
    index_dir: str
    skipped_files: list[SkippedFile]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def read_manifest(index_dir: Path) -> IndexManifest:
    """The manifest of the finished index in `index_dir`.

    Raises:
        IndexNotFoundError: there is no finished index there.
    """
    store = Store.open_readonly(index_dir)
    try:
        manifest = store.manifest()
    finally:
        store.close()
    if manifest is None:
        raise IndexNotFoundError(index_dir)
    return manifest


def index_stats(index_dir: Path) -> IndexStats:
    """Counts and settings of the index in `index_dir`.

    Raises:
        IndexNotFoundError: there is no index there.
    """
    store = Store.open_readonly(index_dir)
    try:
        manifest = store.manifest()
        counts = store.counts()
        skipped_files = store.skipped()
    finally:
        store.close()
    if manifest is None:
        raise IndexNotFoundError(index_dir)
    vector_index = manifest.vector_index_info(counts["chunks"])
    return IndexStats(
        documents=counts["documents"], chunks=counts["chunks"], skipped=counts["skipped"],
        model=manifest.model, backend=manifest.backend, dimension=manifest.dimension,
        index_type=_INDEX_TYPES[str(vector_index["type"])], vector_index=vector_index,
        chunk_tokens=manifest.chunk_tokens, chunk_overlap=manifest.chunk_overlap,
        root=manifest.root, generation=manifest.generation, last_sync=manifest.last_sync,
        index_dir=str(index_dir.resolve()),
        skipped_files=[SkippedFile(path, reason) for path, reason in skipped_files])
