"""Bring an index directory in step with a folder, doing only the work that changed.

The run has three phases. Plan (`indexer.plan`): stat every file and compare with the
store. Encode: read, parse and chunk new or changed content in a producer thread
(`indexer.pipeline.prefetch`) ahead of the encoder, staging the vectors in SQLite in
small committed transactions so that a killed run's work is reused. Commit: one
transaction swaps the new state in, then the FAISS file of the new generation is written
atomically. A run killed anywhere leaves the previous state readable.
"""

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from semsearch.indexer.encoders import Encoder, EncoderSpec
from semsearch.indexer.errors import IndexMismatchError
from semsearch.indexer.index_dir import (
    build_vectors,
    load_vectors,
    record_vectors,
    recorded_policy,
    sync_lock,
    write_vectors,
)
from semsearch.indexer.manifest import IndexManifest
from semsearch.indexer.pipeline import prefetch
from semsearch.indexer.plan import (
    ENCODE_GROUP,
    Action,
    Chunking,
    Examiner,
    Pending,
    SkippedFile,
    SyncPlan,
    SyncReport,
    plan_files,
)
from semsearch.indexer.store import DocumentRow, Store
from semsearch.indexer.vector_policy import VectorIndexPolicy

log = logging.getLogger(__name__)

__all__ = ["SkippedFile", "SyncJob", "SyncOptions", "SyncProgress", "SyncReport",
           "sync_folder"]

# Handovers waiting for the encoder: bounds the parsed text held ahead of it.
PREFETCH_DEPTH = 4


@dataclass(frozen=True)
class SyncProgress:
    """Sent to the progress callback, from the calling thread, as examined files come in
    from the producer (at least every `HANDOVER_FILES`) and after each encoded group."""

    files_done: int
    files_total: int
    chunks_encoded: int


@dataclass(frozen=True)
class SyncOptions:
    """How to chunk and encode; an existing index keeps its own chunking.

    Attributes:
        chunk_tokens / chunk_overlap: None keeps the index's (200 / 32 for a new one).
        vector_index: which vector index (auto, flat, hnsw, ivf) and its thresholds;
            None keeps the one the index records (auto for a new index).
        rebuild: start the index afresh with these settings.
    """

    chunk_tokens: int | None = None
    chunk_overlap: int | None = None
    batch_size: int = 64
    max_file_bytes: int = 50_000_000
    rebuild: bool = False
    vector_index: VectorIndexPolicy | None = None


DEFAULT_CHUNKING = Chunking(tokens=200, overlap=32)


@dataclass(frozen=True)
class SyncJob:
    """One sync of `root` into `index_dir`: what `semsearch index`, `watch` and
    `POST /index` run."""

    root: Path
    index_dir: Path
    encoder: EncoderSpec = EncoderSpec()
    options: SyncOptions = SyncOptions()

    def run(self, on_progress: Callable[[SyncProgress], None] | None = None) -> SyncReport:
        return sync_folder(self.root, self.index_dir, self.encoder, self.options,
                           on_progress)


def sync_folder(
    root: Path,
    index_dir: Path,
    encoder: EncoderSpec | None = None,
    options: SyncOptions = SyncOptions(),
    on_progress: Callable[[SyncProgress], None] | None = None,
) -> SyncReport:
    """Index `root` into `index_dir`, incrementally, and return what was done.

    The encoder is loaded only when something must be encoded, so a run that finds
    nothing changed costs a stat per file and no model load. Unset fields of `encoder`
    and `options` take the index's record.

    Raises:
        IndexLockedError: another sync runs on `index_dir`.
        IndexMismatchError: the index was built with another model, backend, chunking or
            folder (pass `rebuild` to start it afresh).
        ModelLoadError: the encoder cannot be loaded.
    """
    started = time.perf_counter()
    root = root.resolve()
    index_dir = index_dir.resolve()
    with sync_lock(index_dir):
        store = Store.open(index_dir, create=True)
        try:
            report = _Sync(root, index_dir, store, encoder or EncoderSpec(), options,
                           on_progress).run()
        finally:
            store.close()
    report.seconds = round(time.perf_counter() - started, 3)
    return report


class _Sync:
    """Applies a plan: encodes and stages the new content, then commits it."""

    def __init__(self, root: Path, index_dir: Path, store: Store, encoder: EncoderSpec,
                 options: SyncOptions,
                 on_progress: Callable[[SyncProgress], None] | None) -> None:
        self.root, self.index_dir, self.store = root, index_dir, store
        self.options = options
        self.on_progress = on_progress
        self.report = SyncReport()
        recorded = None if options.rebuild else store.manifest()
        self.recorded = recorded
        self.spec = (encoder.with_record(recorded.model, recorded.backend)
                     if recorded else encoder).resolved()
        self.chunking = Chunking(
            options.chunk_tokens or (recorded.chunk_tokens if recorded else
                                     DEFAULT_CHUNKING.tokens),
            options.chunk_overlap if options.chunk_overlap is not None else
            recorded.chunk_overlap if recorded else DEFAULT_CHUNKING.overlap)
        if recorded:
            recorded.check(index_dir, model=self.spec.model, backend=self.spec.backend,
                           chunk_tokens=self.chunking.tokens,
                           chunk_overlap=self.chunking.overlap, root=str(root))
        self.pending: list[Pending] = []
        self.staged: set[str] = set()
        self._encoder: Encoder | None = None
        self._encoder_lock = threading.Lock()

    def encoder(self) -> Encoder:
        """The model, loaded on first use (from either thread) and checked against the
        index's dimension."""
        with self._encoder_lock:
            if self._encoder is None:
                encoder = self.spec.load()
                if encoder.backend != self.spec.backend:
                    raise IndexMismatchError(
                        f"The sync was asked for backend {self.spec.backend!r} but given a "
                        f"{encoder.backend!r} encoder; load the encoder with that backend.")
                if self.recorded:
                    self.recorded.check(self.index_dir, dimension=encoder.dimension)
                self._encoder = encoder
            return self._encoder

    def run(self) -> SyncReport:
        fingerprint = json.dumps({
            "model": self.spec.model, "chunk_tokens": str(self.chunking.tokens),
            "chunk_overlap": str(self.chunking.overlap), "root": str(self.root),
            "backend": self.spec.backend}, sort_keys=True)
        if self.store.staging_fingerprint() != fingerprint:
            self.store.restart_staging(fingerprint)
        self.staged = self.store.staged_hashes()
        plan = plan_files(self.root, self.index_dir, self.store.documents(),
                          self.options.rebuild, self.report, self.options.max_file_bytes)
        actions = self._encode(plan)
        policy = self.options.vector_index or recorded_policy(self.store)
        if not (actions or plan.removed) and self.recorded:
            current = load_vectors(self.store, self.index_dir, self.recorded.dimension,
                                   repair=True, policy=policy)
            record_vectors(self.store, current, policy)
            return self.report
        dimension = self.recorded.dimension if self.recorded else self.encoder().dimension
        vectors = None
        if self.recorded:
            vectors = load_vectors(self.store, self.index_dir, dimension, repair=True,
                                   policy=policy)
        removed_ids, added_ids = self._commit(actions, plan.removed, dimension, policy)
        if vectors is not None:
            vectors.remove(np.array(removed_ids, dtype=np.int64))
            for ids, batch in self.store.embeddings(added_ids, dimension):
                vectors.add(ids, batch)
        if vectors is None or vectors.needs_rebuild(policy):
            # A new kind, tombstones to drop or IVF lists to retrain: from SQLite.
            vectors = build_vectors(self.store, dimension, policy)
        write_vectors(vectors, self.index_dir, self.store.generation())
        record_vectors(self.store, vectors, policy)
        self.report.chunks_written = len(added_ids)
        return self.report

    def _encode(self, plan: SyncPlan) -> list[Action]:
        """Examine the plan's candidates in a producer thread, encoding and staging the
        new content as it comes; return every examined file's action, in order."""
        examiner = Examiner(self.root, plan, self.report, self.staged, self.encoder,
                            self.chunking, self.options.max_file_bytes)
        actions: list[Action] = []
        total = len(plan.candidates)
        for handover in prefetch(examiner.handovers(), PREFETCH_DEPTH, "semsearch-parse"):
            actions += handover.actions
            self.pending += handover.pending
            if sum(len(p.rows) for p in self.pending) >= ENCODE_GROUP:
                self._encode_pending()
            self._progress(handover.files_done, total)
        self._encode_pending()
        self._progress(total, total)
        return actions

    def _encode_pending(self) -> None:
        """Encode the pending content in one call and stage it in one transaction."""
        if not self.pending:
            return
        texts = [str(row["text"]) for pending in self.pending for row in pending.rows]
        vectors = self.encoder().encode(texts, self.options.batch_size)
        staged: dict[str, list[dict[str, object]]] = {}
        offset = 0
        for pending in self.pending:
            count = len(pending.rows)
            staged[pending.content_hash] = [
                {**row, "embedding": vector.tobytes()}
                for row, vector in zip(pending.rows, vectors[offset:offset + count],
                                       strict=True)]
            offset += count
        self.store.stage(staged)
        self.staged.update(staged)
        self.report.chunks_encoded += offset
        self.pending = []

    def _progress(self, done: int, total: int) -> None:
        if self.on_progress is not None:
            self.on_progress(SyncProgress(done, total, self.report.chunks_encoded))

    def _commit(self, actions: list[Action], removed: dict[str, DocumentRow], dimension: int,
                policy: VectorIndexPolicy) -> tuple[list[int], list[int]]:
        """Swap the new state in, in one transaction; return (removed ids, added ids)."""
        removed_ids: list[int] = []
        added_ids: list[int] = []
        now = time.time()
        assert self.spec.model and self.spec.backend
        manifest = IndexManifest(
            model=self.spec.model, backend=self.spec.backend, dimension=dimension,
            chunk_tokens=self.chunking.tokens, chunk_overlap=self.chunking.overlap,
            root=str(self.root), vector_index_setting=policy.kind,
            generation=self.store.generation() + 1, last_sync=now)
        if self.recorded:  # the vector index's record stays until it is rewritten
            manifest = replace(manifest, vector_index=self.recorded.vector_index)
        with self.store.transaction():
            if self.options.rebuild:
                self.store.forget_manifest()
            for row in removed.values():
                removed_ids += self.store.delete_document(row.id)
            for action in actions:
                removed_ids += self._apply(action, added_ids, now)
            self.report.removed = len(removed)
            self.store.write_manifest(manifest)
            self.store.clear_staging()
        return removed_ids, added_ids

    def _apply(self, action: Action, added_ids: list[int], now: float) -> list[int]:
        """Write one examined file's outcome; return the chunk ids it removed."""
        store, row = self.store, action.row
        stat_values: dict[str, object] = {"size": action.size, "mtime": action.mtime}
        if action.kind == "touch" and row:
            store.update_document(row.id, stat_values)
            return []
        if action.kind == "rename" and row:
            store.update_document(row.id, {"path": action.path, **stat_values})
            return []
        removed_ids = store.delete_chunks(row.id) if row else []
        values: dict[str, object] = {
            "content_hash": action.content_hash, **stat_values, "indexed_at": now,
            "status": "skipped", "error": action.reason, "title": "", "format": ""}
        if action.kind == "write":
            header = store.staged_header(action.content_hash)
            if header is None:  # content with no chunk at all
                values["error"] = "no text"
            else:
                values.update(status="indexed", error=None, title=header[0], format=header[1])
        if row:
            store.update_document(row.id, values)
            doc_id = row.id
        else:
            doc_id = store.insert_document({"path": action.path, **values})
        if values["status"] == "indexed":
            added_ids += store.insert_staged_chunks(doc_id, action.content_hash)
        return removed_ids
