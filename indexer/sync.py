"""Bring an index directory in step with a folder, doing only the work that changed.

The run has three phases. Plan (`indexer.plan`): stat every file and compare with the
store. Encode: read, parse and chunk new or changed content in a producer thread
(`indexer.pipeline.prefetch`) ahead of the encoder, staging the vectors in SQLite in
small committed transactions so that a killed run's work is reused. Commit, in
generations (`indexer.generations`): every `generation_files` files or
`generation_seconds` seconds, one transaction swaps the examined files' new state in,
with the FAISS file of its generation written before it commits; the last generation
also deletes the documents whose files are gone. A run killed anywhere leaves the last
committed generation readable, and the next run goes on from there.
"""

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from semsearch.indexer.encoders import Encoder, EncoderSpec
from semsearch.indexer.errors import IndexMismatchError
from semsearch.indexer.generations import GenerationWriter, Schedule
from semsearch.indexer.index_dir import (
    load_vectors,
    record_vectors,
    recorded_policy,
    remove_stale_vectors,
    sync_lock,
)
from semsearch.indexer.manifest import IndexManifest
from semsearch.indexer.pipeline import prefetch
from semsearch.indexer.plan import (
    ENCODE_GROUP,
    Action,
    Chunking,
    Examined,
    Examiner,
    Pending,
    SkippedFile,
    SyncPlan,
    SyncReport,
    plan_files,
)
from semsearch.indexer.store import DocumentRow, Store
from semsearch.indexer.vector_index import VectorIndex
from semsearch.indexer.vector_policy import VectorIndexPolicy

if TYPE_CHECKING:  # Ray is optional: imported only for a --ray sync
    from semsearch.indexer.ray_pipeline import RayPipeline

log = logging.getLogger(__name__)

__all__ = ["SkippedFile", "SyncJob", "SyncOptions", "SyncProgress", "SyncReport",
           "sync_folder"]

# Handovers waiting for the encoder: bounds the parsed text held ahead of it.
PREFETCH_DEPTH = 4


@dataclass(frozen=True)
class SyncProgress:
    """Sent to the progress callback, from the calling thread, as examined files come in
    from the producer (at least every `HANDOVER_FILES`), after each generation's commit,
    and once at the end; `generation` is the index's last committed one (0 before the
    first), which searches opened from now on read."""

    files_done: int
    files_total: int
    chunks_encoded: int
    generation: int = 0


@dataclass(frozen=True)
class SyncOptions:
    """How to chunk and encode; an existing index keeps its own chunking.

    Attributes:
        chunk_tokens / chunk_overlap: None keeps the index's (200 / 32 for a new one).
        vector_index: which vector index (auto, flat, hnsw, ivf) and its thresholds;
            None keeps the one the index records (auto for a new index).
        rebuild: start the index afresh with these settings (committed once, at the
            end: the old index answers searches until the new one is whole).
        generation_files / generation_seconds: commit a generation, searchable at once,
            when this many examined files wait or the generation has been open this
            long, whichever comes first; a kill loses at most that much work.
        commit_share: the most of the sync's time that these commits may take: after a
            commit of t seconds the next waits at least t * (1 - share) / share seconds
            (1: no wait), so that a large FAISS file is not rewritten every few files.
    """

    chunk_tokens: int | None = None
    chunk_overlap: int | None = None
    batch_size: int = 64
    max_file_bytes: int = 50_000_000
    rebuild: bool = False
    vector_index: VectorIndexPolicy | None = None
    generation_files: int = 500
    generation_seconds: float = 60.0
    commit_share: float = 0.1

    def __post_init__(self) -> None:
        if self.generation_files < 1:
            raise ValueError(f"generation_files must be at least 1, not {self.generation_files}")
        if not self.generation_seconds > 0:
            raise ValueError(
                f"generation_seconds must be above 0, not {self.generation_seconds}")
        if not 0 < self.commit_share <= 1:
            raise ValueError(f"commit_share must be in (0, 1], not {self.commit_share}")


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
        IndexWriteError: SQLite or a FAISS file could not be written; the generations
            committed before stay, and the next run goes on from them.
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


def load_sync_encoder(spec: EncoderSpec, recorded: IndexManifest | None,
                      where: Path) -> Encoder:
    """Load the encoder of a sync: `spec` (resolved), checked to be of its backend and,
    for an existing index (`recorded`, at `where`), of the index's dimension.

    Raises:
        IndexMismatchError: another backend or dimension than asked for or recorded.
        ModelLoadError: the model cannot be loaded.
    """
    encoder = spec.load()
    if encoder.backend != spec.backend:
        raise IndexMismatchError(
            f"The sync was asked for backend {spec.backend!r} but given a "
            f"{encoder.backend!r} encoder; load the encoder with that backend.")
    if recorded:
        recorded.check(where, dimension=encoder.dimension)
    return encoder


def open_ray_pipeline(spec: EncoderSpec, chunking: Chunking, options: SyncOptions,
                      recorded: IndexManifest | None, where: Path) -> "RayPipeline | None":
    """The Ray Data pipeline of a `--ray` sync (`spec.ray` set; None without), checked
    against the dimension of an existing index (`recorded`, at `where`).

    Raises:
        RayClusterError: Ray is missing, or the cluster cannot be reached or cannot
            load the model.
        IndexMismatchError: the model's dimension is not the index's.
    """
    if spec.ray is None:
        return None
    from semsearch.indexer.ray_pipeline import RayPipeline

    pipeline = RayPipeline(spec, chunking, options.batch_size, options.max_file_bytes)
    if recorded:
        recorded.check(where, dimension=pipeline.dimension)
    return pipeline


def examined_handovers(examiner: Examiner, pipeline: "RayPipeline | None"
                       ) -> Iterator[Examined]:
    """The examined files and their new content: parsed and chunked by a producer thread
    for the encoder in this process, or parsed, chunked and encoded by `pipeline` (a Ray
    Data pipeline, `indexer.ray_pipeline`), whose `Pending` rows come with their
    vectors."""
    if pipeline is None:
        return prefetch(examiner.handovers(), PREFETCH_DEPTH, "semsearch-parse")
    return pipeline.handovers(examiner, examiner.files_per_handover)


def pending_vectors(pending: list[Pending], encoder: Callable[[], Encoder],
                    batch_size: int) -> NDArray[np.float32]:
    """The vectors of the pending rows, in order: as the Ray pipeline sent them, or
    encoded here by `encoder()` (loaded only then)."""
    sent = [content.vectors for content in pending if content.vectors is not None]
    if len(sent) == len(pending):
        return np.concatenate(sent)
    texts = [str(row["text"]) for content in pending for row in content.rows]
    return encoder().encode(texts, batch_size)


class _Sync:
    """Applies a plan: encodes and stages the new content, committing it in generations."""

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
        self.policy = options.vector_index or recorded_policy(store)
        self.schedule = Schedule(options.generation_files, options.generation_seconds,
                                 options.commit_share)
        self.generation = store.generation()
        self.pending: list[Pending] = []
        self.staged: set[str] = set()
        self._encoder: Encoder | None = None
        self._encoder_lock = threading.Lock()
        self.pipeline: RayPipeline | None = None

    def encoder(self) -> Encoder:
        """The model, loaded on first use (from either thread) and checked against the
        index's dimension."""
        with self._encoder_lock:
            if self._encoder is None:
                self._encoder = load_sync_encoder(self.spec, self.recorded, self.index_dir)
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
        vectors = None
        if self.recorded:
            vectors = load_vectors(self.store, self.index_dir, self.recorded.dimension,
                                   repair=True, policy=self.policy)
        self.writer = GenerationWriter(self.store, self.index_dir, self.policy,
                                       self._manifest, vectors, self.options.rebuild)
        waiting = self._encode(plan)
        self._finish(waiting, plan.removed, vectors)
        self._progress(len(plan.candidates), len(plan.candidates))
        return self.report

    def _finish(self, waiting: list[Action], removed: dict[str, DocumentRow],
                vectors: VectorIndex | None) -> None:
        """Commit the last generation: what is left, the deletions, a new index's first
        commit, or a rebuild the vectors still need; or, when nothing changed, note the
        vector index and drop FAISS files no generation names."""
        new_index = not self.recorded and not self.report.generations
        if waiting or removed or new_index or (
                self.report.generations and self.writer.outgrown()):
            self._commit(waiting, removed, last=True)
        elif self.report.generations:
            self.writer.drop_staging()
        else:
            assert vectors is not None
            record_vectors(self.store, vectors, self.policy)
            remove_stale_vectors(self.index_dir, self.generation)

    def _manifest(self) -> IndexManifest:
        """The manifest the commits record (their generation and vectors set there)."""
        assert self.spec.model and self.spec.backend
        dimension = (self.recorded.dimension if self.recorded else
                     self.pipeline.dimension if self.pipeline else self.encoder().dimension)
        return IndexManifest(
            model=self.spec.model, backend=self.spec.backend, dimension=dimension,
            chunk_tokens=self.chunking.tokens, chunk_overlap=self.chunking.overlap,
            root=str(self.root), vector_index_setting=self.policy.kind)

    def _encode(self, plan: SyncPlan) -> list[Action]:
        """Examine the plan's candidates in a producer thread, encoding and staging the
        new content as it comes and committing a generation whenever one is due; return
        the examined files' actions left to commit, in order."""
        examiner = Examiner(self.root, plan, self.report, self.staged, self.encoder,
                            self.chunking, self.options.max_file_bytes,
                            files_per_handover=self.options.generation_files)
        waiting: list[Action] = []
        total = len(plan.candidates)
        self.schedule.open(time.monotonic())
        for handover in self._handovers(examiner):
            waiting += handover.actions
            self.pending += handover.pending
            if sum(len(p.rows) for p in self.pending) >= ENCODE_GROUP:
                self._encode_pending()
            if self._generation_due(len(waiting)):
                self._commit(waiting, {}, last=False)
                waiting = []
            self._progress(handover.files_done, total)
        self._encode_pending()
        return waiting

    def _handovers(self, examiner: Examiner) -> Iterator[Examined]:
        """The examined files and their new content (`examined_handovers`)."""
        self.pipeline = open_ray_pipeline(self.spec, self.chunking, self.options,
                                          self.recorded, self.index_dir)
        return examined_handovers(examiner, self.pipeline)

    def _generation_due(self, files_waiting: int) -> bool:
        """Whether the files waiting make a generation now; when they would, their content
        is encoded first (the time that takes counts toward the wait after a commit)."""
        if self.options.rebuild:  # one commit: the old index answers until the new is whole
            return False
        if not self.schedule.wanted(files_waiting, time.monotonic()):
            return False
        self._encode_pending()
        return self.schedule.due(files_waiting, time.monotonic())

    def _commit(self, actions: list[Action], removed: dict[str, DocumentRow],
                last: bool) -> None:
        """Commit one generation and count it in the report."""
        started = time.monotonic()
        committed = self.writer.commit(actions, removed, last)
        self.schedule.committed(started, time.monotonic())
        self.generation = committed.generation
        self.report.generations += 1
        self.report.chunks_written += committed.chunks_added
        self.report.removed += committed.documents_removed

    def _encode_pending(self) -> None:
        """Encode the pending content in one call and stage it in one transaction."""
        if not self.pending:
            return
        vectors = pending_vectors(self.pending, self.encoder, self.options.batch_size)
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
            self.on_progress(SyncProgress(done, total, self.report.chunks_encoded,
                                          self.generation))
