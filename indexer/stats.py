"""What an index directory holds, for `semsearch stats` and `GET /stats`."""

import json
from pathlib import Path

from semsearch.indexer.index_dir import recorded_backend
from semsearch.indexer.store import Store


def index_stats(index_dir: Path) -> dict[str, object]:
    """Counts and settings of the index in `index_dir`.

    Raises:
        IndexNotFoundError: there is no index there.
    """
    store = Store.open_readonly(index_dir)
    try:
        meta = store.meta()
        counts = store.counts()
        vector_index = _vector_index(meta, counts["chunks"])
        return {
            "documents": counts["documents"],
            "chunks": counts["chunks"],
            "skipped": counts["skipped"],
            "model": meta.get("model", ""),
            "backend": recorded_backend(meta),
            "dimension": int(meta.get("dimension", 0)),
            "index_type": _INDEX_TYPES[str(vector_index["type"])],
            "vector_index": vector_index,
            "chunk_tokens": int(meta.get("chunk_tokens", 0)),
            "chunk_overlap": int(meta.get("chunk_overlap", 0)),
            "root": meta.get("root", ""),
            "generation": int(meta.get("generation", 0)),
            "last_sync": float(meta.get("last_sync", 0)) or None,
            "index_dir": str(index_dir.resolve()),
            "skipped_files": store.skipped(),
        }
    finally:
        store.close()


_INDEX_TYPES = {
    "flat": "faiss IndexIDMap2(IndexFlatIP), cosine on L2-normalised vectors",
    "hnsw": "faiss IndexIDMap2(IndexHNSWFlat), approximate cosine on L2-normalised vectors",
    "ivf": "faiss IndexIVFScalarQuantizer (SQ8), approximate cosine on L2-normalised vectors",
}


def _vector_index(meta: dict[str, str], chunks: int) -> dict[str, object]:
    """The vector index's kind, parameters and size, as the last sync recorded them."""
    recorded = json.loads(meta["vector_index"]) if "vector_index" in meta else {
        "type": "flat", "params": {"metric": "cosine"}, "vectors": chunks, "tombstones": 0}
    return {**recorded, "requested": meta.get("vector_index_setting", "auto")}
