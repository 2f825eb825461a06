"""Bring an index directory in step with a folder, doing only the work that changed.

The run has three phases. Plan: stat every file and compare with the store. Encode:
read, parse, chunk and encode new or changed content, staging the vectors in SQLite in
small committed transactions so that a killed run's work is reused. Reading, parsing and
chunking run in a producer thread (`indexer.pipeline.prefetch`) ahead of the encoder, so
they overlap with it. Commit: one transaction swaps the new state in, then the FAISS file
of the new generation is written atomically. A run killed anywhere leaves the previous
state readable.
"""

import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from semsearch.indexer.chunk import chunk_document
from semsearch.indexer.documents import ParsedDocument
from semsearch.indexer.encoder import Encoder
from semsearch.indexer.errors import IndexMismatchError, ParseError, UnreadableFileError
from semsearch.indexer.index_dir import (
    build_vectors,
    check_settings,
    load_vectors,
    record_vectors,
    recorded_policy,
    sync_lock,
    write_vectors,
)
from semsearch.indexer.lexical_text import segment
from semsearch.indexer.parse import is_supported, parse_document
from semsearch.indexer.pipeline import prefetch
from semsearch.indexer.store import SCHEMA_VERSION, DocumentRow, Store
from semsearch.indexer.vector_policy import VectorIndexPolicy
from semsearch.indexer.walk import iter_files, read_file

log = logging.getLogger(__name__)

# Chunks gathered across files before one call to the encoder; staged in one transaction.
ENCODE_GROUP = 512
# The producer hands over what it examined at least every this many files (progress).
HANDOVER_FILES = 32
# Handovers waiting for the encoder: bounds the parsed text held ahead of it.
PREFETCH_DEPTH = 4


@dataclass(frozen=True)
class SkippedFile:
    path: str
    reason: str


@dataclass
class SyncReport:
    """What one sync did; `to_dict` is the documented `--json` summary."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    renamed: int = 0
    skipped: list[SkippedFile] = field(default_factory=list)
    chunks_written: int = 0
    chunks_encoded: int = 0
    seconds: float = 0.0

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class SyncProgress:
    """Sent to the progress callback, from the calling thread, as examined files come in
    from the producer (at least every `HANDOVER_FILES`) and after each encoded group."""

    files_done: int
    files_total: int
    chunks_encoded: int


@dataclass(frozen=True)
class SyncOptions:
    chunk_tokens: int = 200
    chunk_overlap: int = 32
    batch_size: int = 64
    max_file_bytes: int = 50_000_000
    rebuild: bool = False
    # The encoder backend (torch, onnx, onnx-int8): recorded, and never mixed in one index.
    backend: str = "torch"
    # Which vector index (auto, flat, hnsw, ivf) and its thresholds; None keeps the one
    # the index records (auto for a new index).
    vector_index: VectorIndexPolicy | None = None


@dataclass
class _Action:
    kind: str  # "touch", "rename", "skip", "write"
    path: str
    size: int
    mtime: float
    content_hash: str = ""
    row: DocumentRow | None = None
    reason: str = ""


@dataclass
class _Pending:
    """New content to encode: its staged_chunks rows, all but the embedding."""

    content_hash: str
    rows: list[dict[str, object]]


@dataclass
class _Examined:
    """What the producer hands over: examined files in order and the new content."""

    actions: list[_Action]
    pending: list[_Pending]
    files_done: int


def sync_folder(
    root: Path,
    index_dir: Path,
    model: str,
    load_model: Callable[[], Encoder],
    options: SyncOptions = SyncOptions(),
    on_progress: Callable[[SyncProgress], None] | None = None,
) -> SyncReport:
    """Index `root` into `index_dir`, incrementally, and return what was done.

    `load_model` is called only when something must be encoded, so a run that finds
    nothing changed costs a stat per file and no model load.

    Raises:
        IndexLockedError: another sync runs on `index_dir`.
        IndexMismatchError: the index was built with another model, backend, chunking or
            folder (pass `rebuild` to start it afresh).
    """
    started = time.perf_counter()
    root = root.resolve()
    index_dir = index_dir.resolve()
    with sync_lock(index_dir):
        store = Store.open(index_dir, create=True)
        try:
            report = _Sync(root, index_dir, store, model, load_model, options, on_progress).run()
        finally:
            store.close()
    report.seconds = round(time.perf_counter() - started, 3)
    return report


class _Sync:
    def __init__(self, root: Path, index_dir: Path, store: Store, model: str,
                 load_model: Callable[[], Encoder], options: SyncOptions,
                 on_progress: Callable[[SyncProgress], None] | None) -> None:
        self.root, self.index_dir, self.store = root, index_dir, store
        self.load_model = load_model
        self._encoder: Encoder | None = None
        self.options = options
        self.on_progress = on_progress
        self.report = SyncReport()
        self.settings = {
            "model": model,
            "chunk_tokens": str(options.chunk_tokens),
            "chunk_overlap": str(options.chunk_overlap),
            "root": str(root),
            "backend": options.backend,
        }
        self.pending: list[_Pending] = []
        self.staged: set[str] = set()
        self.recorded: dict[str, str] = {}
        self._encoder_lock = threading.Lock()

    @property
    def encoder(self) -> Encoder:
        """The model, loaded on first use and checked against the index's dimension.

        The producer thread loads it when the first file needs chunking; the check
        reads the metadata read at the start, so that thread never touches SQLite.
        """
        with self._encoder_lock:
            return self._load_encoder()

    def _load_encoder(self) -> Encoder:
        if self._encoder is None:
            encoder = self.load_model()
            if encoder.backend != self.options.backend:
                raise IndexMismatchError(
                    f"The sync was asked for backend {self.options.backend!r} but given a "
                    f"{encoder.backend!r} encoder; load the encoder with that backend.")
            if not self.options.rebuild:
                check_settings(self.index_dir, self.recorded,
                               {**self.settings, "dimension": str(encoder.dimension)})
            self._encoder = encoder
        return self._encoder

    def run(self) -> SyncReport:
        recorded = self.store.meta()
        if not self.options.rebuild:
            check_settings(self.index_dir, recorded, self.settings)
        fingerprint = json.dumps(self.settings, sort_keys=True)
        if recorded.get("staging_settings") != fingerprint:
            with self.store.transaction():
                self.store.clear_staging()
                self.store.set_meta({"staging_settings": fingerprint})
        self.staged = self.store.staged_hashes()
        self.recorded = self.store.meta()
        existing = self.store.documents()
        actions, removed = self._plan(existing)
        policy = self.options.vector_index or recorded_policy(self.store)
        if not (actions or removed) and not self.options.rebuild and "dimension" in recorded:
            current = load_vectors(self.store, self.index_dir, int(recorded["dimension"]),
                                   repair=True, policy=policy)
            record_vectors(self.store, current, policy)
            return self.report
        dimension = int(recorded["dimension"]) if "dimension" in recorded and not \
            self.options.rebuild else self.encoder.dimension
        vectors = None
        if not self.options.rebuild:
            vectors = load_vectors(self.store, self.index_dir, dimension, repair=True,
                                   policy=policy)
        removed_ids, added_ids = self._commit(actions, removed, dimension)
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

    def _plan(
        self, existing: dict[str, DocumentRow]
    ) -> tuple[list[_Action], dict[str, DocumentRow]]:
        rebuild = self.options.rebuild
        paths = list(iter_files(self.root, self.index_dir, on_skip=self._skip))
        present = set(paths)
        removed = dict(existing) if rebuild else {
            path: row for path, row in existing.items() if path not in present}
        by_hash = {} if rebuild else {
            row.content_hash: row for row in removed.values() if row.status == "indexed"}
        candidates = []
        for path in paths:
            try:
                stat = (self.root / path).stat()
            except OSError as error:
                self._skip(path, f"unreadable: {error.strerror or error}")
                continue
            row = existing.get(path)
            if row and not rebuild and row.size == stat.st_size and row.mtime == stat.st_mtime:
                self.report.unchanged += 1
                continue
            candidates.append(_Action("write", path, stat.st_size, stat.st_mtime, row=row))
        actions = []
        examined = self._examine_all(candidates, by_hash, removed)
        for handover in prefetch(examined, PREFETCH_DEPTH, "semsearch-parse"):
            actions += handover.actions
            self.pending += handover.pending
            if sum(len(p.rows) for p in self.pending) >= ENCODE_GROUP:
                self._encode_pending()
            self._progress(handover.files_done, len(candidates))
        self._encode_pending()
        self._progress(len(candidates), len(candidates))
        return actions, removed

    def _examine_all(self, candidates: list[_Action], by_hash: dict[str, DocumentRow],
                     removed: dict[str, DocumentRow]) -> Iterator[_Examined]:
        """The producer: read, hash, parse and chunk each candidate, in order.

        It runs in its own thread and touches no SQLite; it owns `by_hash`, `removed` and
        the report's file counts until it is done.
        """
        seen = set(self.staged)  # content staged, or handed over: encoded once
        handover = _Examined([], [], 0)
        chunks = 0
        for done, action in enumerate(candidates, 1):
            pending = self._examine(action, by_hash, removed, seen)
            handover.actions.append(action)
            handover.files_done = done
            if pending is not None:
                seen.add(pending.content_hash)
                handover.pending.append(pending)
                chunks += len(pending.rows)
            if chunks >= ENCODE_GROUP or len(handover.actions) >= HANDOVER_FILES:
                yield handover
                handover, chunks = _Examined([], [], done), 0
        if handover.actions:
            yield handover

    def _examine(self, action: _Action, by_hash: dict[str, DocumentRow],
                 removed: dict[str, DocumentRow], seen: set[str]) -> _Pending | None:
        """Decide what `action` does (its kind, hash, stat); return new content, if any."""
        row = None if self.options.rebuild else action.row
        action.row = row
        if not is_supported(action.path):
            self._skipped(action, "unsupported type")
            return None
        if action.size > self.options.max_file_bytes:
            limit = self.options.max_file_bytes
            self._skipped(action, f"file too large ({action.size} bytes; limit {limit})")
            return None
        try:
            content = read_file(self.root / action.path, self.options.max_file_bytes)
        except UnreadableFileError as error:
            if error.retry:  # a stat no file has, so that the next sync reads it again
                action.size, action.mtime = -1, -1.0
            self._skipped(action, error.reason)
            return None
        # The stat the bytes were read at, so the stored stat always matches the content.
        data, action.size, action.mtime = content.data, content.size, content.mtime
        action.content_hash = hashlib.blake2b(data, digest_size=20).hexdigest()
        if row and row.content_hash == action.content_hash:
            action.kind = "touch"
            self.report.unchanged += 1
            return None
        moved_from = by_hash.pop(action.content_hash, None) if row is None else None
        if moved_from is not None:
            del removed[moved_from.path]
            action.kind, action.row = "rename", moved_from
            self.report.renamed += 1
            return None
        pending = None
        if action.content_hash not in seen:
            try:
                document = parse_document(action.path, data)
            except ParseError as error:
                self._skipped(action, error.reason)
                return None
            pending = self._chunk(action.content_hash, document)
        if row is None:
            self.report.added += 1
        else:
            self.report.updated += 1
        return pending

    def _chunk(self, content_hash: str, document: ParsedDocument) -> _Pending:
        encoder = self.encoder
        max_tokens = min(self.options.chunk_tokens, encoder.max_tokens)
        overlap = min(self.options.chunk_overlap, max_tokens // 2)
        chunks = chunk_document(document, encoder.tokenizer, max_tokens, overlap)
        lexical_title = segment(document.title)
        return _Pending(content_hash, [{
            "ordinal": chunk.ordinal, "title": document.title, "format": document.format,
            "text": chunk.text, "start": chunk.start, "end": chunk.end, "page": chunk.page,
            "headings": json.dumps(list(chunk.headings), ensure_ascii=False),
            "token_count": chunk.token_count,
            "lexical_title": lexical_title + " " + segment(" ".join(chunk.headings)),
            "lexical_body": segment(chunk.text),
        } for chunk in chunks])

    def _skipped(self, action: _Action, reason: str) -> None:
        """Make `action` a skip, and report it."""
        action.kind, action.reason = "skip", reason
        self._skip(action.path, reason)

    def _skip(self, path: str, reason: str) -> None:
        log.info("skipped %s: %s", path, reason)
        self.report.skipped.append(SkippedFile(path, reason))

    def _encode_pending(self) -> None:
        """Encode the pending content in one call and stage it in one transaction."""
        if not self.pending:
            return
        texts = [str(row["text"]) for pending in self.pending for row in pending.rows]
        vectors = self.encoder.encode(texts, self.options.batch_size)
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

    def _commit(self, actions: list[_Action], removed: dict[str, DocumentRow],
                dimension: int) -> tuple[list[int], list[int]]:
        """Swap the new state in, in one transaction; return (removed ids, added ids)."""
        removed_ids: list[int] = []
        added_ids: list[int] = []
        now = time.time()
        with self.store.transaction():
            if self.options.rebuild:
                self.store.connection.execute("DELETE FROM meta WHERE key != 'staging_settings'")
            for row in removed.values():
                removed_ids += self.store.delete_document(row.id)
            for action in actions:
                removed_ids += self._apply(action, added_ids, now)
            self.report.removed = len(removed)
            self.store.set_meta({
                **self.settings,
                "dimension": str(dimension),
                "generation": str(self.store.generation() + 1),
                "schema_version": str(SCHEMA_VERSION),
                "normalized": "true",
                "metric": "cosine (inner product of L2-normalised vectors)",
                "last_sync": str(now),
            })
            self.store.clear_staging()
        return removed_ids, added_ids

    def _apply(self, action: _Action, added_ids: list[int], now: float) -> list[int]:
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
