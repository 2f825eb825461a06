"""What a Milvus store holds, for `semsearch stats --milvus` and `GET /stats`: the same
record as an index directory's (`indexer.stats`)."""

from pathlib import Path

from semsearch.indexer.manifest import IndexManifest
from semsearch.indexer.milvus_store import MilvusStore, MilvusTarget, visible
from semsearch.indexer.plan import SkippedFile
from semsearch.indexer.stats import IndexStats, index_stats, read_manifest


def store_stats(index_dir: Path, target: MilvusTarget | None) -> IndexStats:
    """The stats of the Milvus store `target`, or of `index_dir` when it is None.

    Raises:
        IndexNotFoundError: no index there.
        MilvusStoreError: Milvus cannot be reached.
    """
    return index_stats(index_dir) if target is None else milvus_stats(target)


def store_manifest(index_dir: Path, target: MilvusTarget | None) -> IndexManifest:
    """The committed manifest (its generation, model, ...) of the Milvus store `target`,
    or of `index_dir` when it is None.

    Raises:
        IndexNotFoundError: no index there.
        MilvusStoreError: Milvus cannot be reached.
    """
    if target is None:
        return read_manifest(index_dir)
    store = MilvusStore(target)
    try:
        return store.require_committed().manifest
    finally:
        store.close()


def milvus_stats(target: MilvusTarget) -> IndexStats:
    """Counts and settings of the committed generation of a Milvus store."""
    client = MilvusStore(target)
    try:
        state = client.require_committed()
        store = client.at(state.build)
        store.load()
        now = visible(state.generation)
        documents = store.count(store.documents, f'status == "indexed" and {now}')
        skipped = store.query(store.documents, f'status == "skipped" and {now}',
                              ["path", "error"])
    finally:
        client.close()
    manifest = state.manifest
    return IndexStats(
        documents=documents, chunks=state.chunks, skipped=len(skipped),
        model=manifest.model, backend=manifest.backend, dimension=manifest.dimension,
        index_type=f"Milvus {state.dense_index} (IP), cosine on L2-normalised vectors",
        vector_index={**manifest.vector_index, "vectors": state.chunks},
        chunk_tokens=manifest.chunk_tokens, chunk_overlap=manifest.chunk_overlap,
        root=manifest.root, generation=manifest.generation, last_sync=manifest.last_sync,
        index_dir=f"{target.uri}#{target.collection}",
        skipped_files=sorted((SkippedFile(row["path"], row["error"]) for row in skipped),
                             key=lambda skipped_file: skipped_file.path))
