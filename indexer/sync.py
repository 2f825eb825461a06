"""Bring an index directory in step with a folder, doing only the work that changed.

The run has three phases. Plan: stat every file and compare with the store. Encode:
read, parse, chunk and encode new or changed content, staging the vectors in SQLite in
small committed transactions so that a killed run's work is reused. Commit: one
transaction swaps the new state in, then the FAISS file of the new generation is written
atomically. A run killed anywhere leaves the previous state readable.
"""

import hashlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from indexer.chunk import chunk_document
from indexer.documents import Chunk, ParsedDocument
from indexer.encoder import Encoder
from indexer.errors import ParseError
from indexer.index_dir import check_settings, load_vectors, sync_lock, write_vectors
from indexer.lexical_text import segment
from indexer.parse import is_supported, parse_document
from indexer.store import SCHEMA_VERSION, DocumentRow, Store
from indexer.vector_index import VectorIndex
from indexer.walk import iter_files

log = logging.getLogger(__name__)

# Chunks gathered across files before one call to the encoder.
ENCODE_GROUP = 512


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
    """Sent to the progress callback after each examined file and each encoded group."""

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
    content_hash: str
    document: ParsedDocument
    chunks: list[Chunk]


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
        IndexMismatchError: the index was built with another model, chunking or folder
            (pass `rebuild` to start it afresh).
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
        }
        self.pending: list[_Pending] = []
        self.staged: set[str] = set()

    @property
    def encoder(self) -> Encoder:
        """The model, loaded on first use and checked against the index's dimension."""
        if self._encoder is None:
            encoder = self.load_model()
            if not self.options.rebuild:
                check_settings(self.index_dir, self.store.meta(),
                               {**self.settings, "dimension": str(encoder.dimension)})
            self._encoder = encoder
        return self._encoder

    @property
    def max_tokens(self) -> int:
        return min(self.options.chunk_tokens, self.encoder.max_tokens)

    @property
    def overlap(self) -> int:
        return min(self.options.chunk_overlap, self.max_tokens // 2)

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
        existing = self.store.documents()
        actions, removed = self._plan(existing)
        if not (actions or removed) and not self.options.rebuild and "dimension" in recorded:
            load_vectors(self.store, self.index_dir, int(recorded["dimension"]), repair=True)
            return self.report
        dimension = int(recorded["dimension"]) if "dimension" in recorded and not \
            self.options.rebuild else self.encoder.dimension
        if self.options.rebuild:
            vectors = VectorIndex.empty(dimension)
        else:
            vectors = load_vectors(self.store, self.index_dir, dimension, repair=True)
        removed_ids, added_ids = self._commit(actions, removed, dimension)
        vectors.remove(np.array(removed_ids, dtype=np.int64))
        for ids, batch in self.store.embeddings(added_ids, dimension):
            vectors.add(ids, batch)
        write_vectors(vectors, self.index_dir, self.store.generation())
        self.report.chunks_written = len(added_ids)
        return self.report

    def _plan(
        self, existing: dict[str, DocumentRow]
    ) -> tuple[list[_Action], dict[str, DocumentRow]]:
        rebuild = self.options.rebuild
        paths = list(iter_files(self.root, self.index_dir))
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
        for done, action in enumerate(candidates, 1):
            actions.append(self._examine(action, by_hash, removed))
            if sum(len(p.chunks) for p in self.pending) >= ENCODE_GROUP:
                self._encode_pending()
            self._progress(done, len(candidates))
        self._encode_pending()
        self._progress(len(candidates), len(candidates))
        return actions, removed

    def _examine(self, action: _Action, by_hash: dict[str, DocumentRow],
                 removed: dict[str, DocumentRow]) -> _Action:
        row = None if self.options.rebuild else action.row
        action.row = row
        if not is_supported(action.path):
            return self._skip_action(action, "unsupported type")
        if action.size > self.options.max_file_bytes:
            limit = self.options.max_file_bytes
            return self._skip_action(
                action, f"file too large ({action.size} bytes; limit {limit})")
        try:
            data = (self.root / action.path).read_bytes()
        except OSError as error:
            return self._skip_action(action, f"unreadable: {error.strerror or error}")
        action.content_hash = hashlib.blake2b(data, digest_size=20).hexdigest()
        if row and row.content_hash == action.content_hash:
            action.kind = "touch"
            self.report.unchanged += 1
            return action
        moved_from = by_hash.pop(action.content_hash, None) if row is None else None
        if moved_from is not None:
            del removed[moved_from.path]
            action.kind, action.row = "rename", moved_from
            self.report.renamed += 1
            return action
        if action.content_hash not in self.staged and not self._is_pending(action.content_hash):
            try:
                document = parse_document(action.path, data)
            except ParseError as error:
                return self._skip_action(action, error.reason)
            chunks = chunk_document(document, self.encoder.tokenizer, self.max_tokens,
                                    self.overlap)
            self.pending.append(_Pending(action.content_hash, document, chunks))
        if row is None:
            self.report.added += 1
        else:
            self.report.updated += 1
        return action

    def _skip_action(self, action: _Action, reason: str) -> _Action:
        action.kind, action.reason = "skip", reason
        self._skip(action.path, reason)
        return action

    def _skip(self, path: str, reason: str) -> None:
        log.info("skipped %s: %s", path, reason)
        self.report.skipped.append(SkippedFile(path, reason))

    def _is_pending(self, content_hash: str) -> bool:
        return any(p.content_hash == content_hash for p in self.pending)

    def _pending_chunks(self) -> list[Chunk]:
        return [chunk for pending in self.pending for chunk in pending.chunks]

    def _encode_pending(self) -> None:
        if not self.pending:
            return
        vectors = self.encoder.encode([c.text for c in self._pending_chunks()],
                                      self.options.batch_size)
        offset = 0
        for pending in self.pending:
            count = len(pending.chunks)
            self.store.stage(pending.content_hash,
                             _staged_rows(pending, vectors[offset:offset + count]))
            self.staged.add(pending.content_hash)
            offset += count
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


def _staged_rows(pending: _Pending, vectors: NDArray[np.float32]) -> list[dict[str, object]]:
    document = pending.document
    lexical_title = segment(document.title)
    rows = []
    for chunk, vector in zip(pending.chunks, vectors, strict=True):
        rows.append({
            "ordinal": chunk.ordinal, "title": document.title, "format": document.format,
            "text": chunk.text, "start": chunk.start, "end": chunk.end, "page": chunk.page,
            "headings": json.dumps(list(chunk.headings), ensure_ascii=False),
            "token_count": chunk.token_count,
            "lexical_title": lexical_title + " " + segment(" ".join(chunk.headings)),
            "lexical_body": segment(chunk.text),
            "embedding": vector.tobytes(),
        })
    return rows
