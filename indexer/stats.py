"""What an index directory holds, for `semsearch stats` and `GET /stats`."""

from pathlib import Path

from indexer.store import Store


def index_stats(index_dir: Path) -> dict[str, object]:
    """Counts and settings of the index in `index_dir`.

    Raises:
        IndexNotFoundError: there is no index there.
    """
    store = Store.open_readonly(index_dir)
    try:
        meta = store.meta()
        counts = store.counts()
        return {
            "documents": counts["documents"],
            "chunks": counts["chunks"],
            "skipped": counts["skipped"],
            "model": meta.get("model", ""),
            "dimension": int(meta.get("dimension", 0)),
            "index_type": "faiss IndexIDMap2(IndexFlatIP), cosine on L2-normalised vectors",
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
