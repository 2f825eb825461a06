"""Planning a sync: which files are new, changed, renamed, unchanged, removed or
skipped, and the chunks of the new content. Reads files; never writes the store.

`plan_files` compares a `stat` of every file with the store's rows; `examine` then reads,
hashes, parses and chunks the candidates, in order. It runs in a producer thread of the
sync (see `indexer.pipeline.prefetch`), so it touches no SQLite.

A file the store holds as skipped, whose stat has not changed, is reported skipped again
with its stored reason, on every sync, without being read: a file that is not indexed is
never counted as unchanged.
"""

import hashlib
import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from semsearch.indexer.chunk import chunk_document
from semsearch.indexer.documents import ParsedDocument
from semsearch.indexer.encoders import Encoder
from semsearch.indexer.errors import ParseError, UnreadableFileError
from semsearch.indexer.lexical_text import segment
from semsearch.indexer.parse import is_supported, parse_document
from semsearch.indexer.store import DocumentRow
from semsearch.indexer.walk import iter_files, read_file

log = logging.getLogger(__name__)

# Chunks gathered across files before one call to the encoder; staged in one transaction.
ENCODE_GROUP = 512
# The producer hands over what it examined at least every this many files (progress).
HANDOVER_FILES = 32
UNSUPPORTED_TYPE = "unsupported type"
TOO_LARGE = "file too large"


@dataclass(frozen=True)
class SkippedFile:
    path: str
    reason: str


@dataclass
class SyncReport:
    """What one sync did; `to_dict` is the documented `--json` summary.

    Attributes:
        unchanged: indexed files whose content did not change.
        skipped: every file that is not indexed, with its reason: those skipped by this
            sync's walk or examination, and those skipped before and unchanged since.
        skipped_unchanged: how many of `skipped` are the latter, reported with their
            stored reason and not read again.
        generations: how many generations the sync committed (0 when nothing changed).
    """

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    renamed: int = 0
    skipped: list[SkippedFile] = field(default_factory=list)
    skipped_unchanged: int = 0
    chunks_written: int = 0
    chunks_encoded: int = 0
    generations: int = 0
    seconds: float = 0.0

    def to_dict(self) -> dict[str, object]:
        return asdict(self)

    def skip(self, path: str, reason: str) -> None:
        log.info("skipped %s: %s", path, reason)
        self.skipped.append(SkippedFile(path, reason))


@dataclass
class Action:
    """What the sync does to one file: touch (stat only), rename, skip or write."""

    kind: str
    path: str
    size: int
    mtime: float
    content_hash: str = ""
    row: DocumentRow | None = None
    reason: str = ""

    def skipped(self, report: SyncReport, reason: str) -> None:
        """Make this a skip, and report it."""
        self.kind, self.reason = "skip", reason
        report.skip(self.path, reason)


@dataclass
class Pending:
    """New content to encode: its staged_chunks rows, all but the embedding; `vectors`
    are their embeddings when they come encoded already (the Ray pipeline)."""

    content_hash: str
    rows: list[dict[str, object]]
    vectors: NDArray[np.float32] | None = None


@dataclass
class Examined:
    """What the producer hands over: examined files in order and the new content."""

    actions: list[Action]
    pending: list[Pending]
    files_done: int


@dataclass(frozen=True)
class Chunking:
    tokens: int
    overlap: int


@dataclass
class SyncPlan:
    """The files to examine, the rows whose files are gone, and the report so far.

    `by_hash` (the removed rows by content) lets an unchanged file that moved keep its
    stored chunks instead of being encoded again.
    """

    candidates: list[Action]
    removed: dict[str, DocumentRow]
    by_hash: dict[str, DocumentRow]


def plan_files(root: Path, index_dir: Path, existing: dict[str, DocumentRow],
               rebuild: bool, report: SyncReport, max_file_bytes: int) -> SyncPlan:
    """Walk `root` and compare each file's stat with its row; a file whose size and mtime
    are unchanged costs nothing more (one skipped before is reported skipped again)."""
    paths = list(iter_files(root, index_dir, on_skip=report.skip))
    present = set(paths)
    removed = dict(existing) if rebuild else {
        path: row for path, row in existing.items() if path not in present}
    by_hash = {} if rebuild else {
        row.content_hash: row for row in removed.values() if row.status == "indexed"}
    candidates = []
    for path in paths:
        try:
            stat = (root / path).stat()
        except OSError as error:
            report.skip(path, f"unreadable: {error.strerror or error}")
            continue
        row = None if rebuild else existing.get(path)
        if row and row.size == stat.st_size and row.mtime == stat.st_mtime:
            if row.status == "indexed":
                report.unchanged += 1
                continue
            if still_skipped(row, max_file_bytes):
                report.skip(path, row.error or "not indexed")
                report.skipped_unchanged += 1
                continue
        candidates.append(Action("write", path, stat.st_size, stat.st_mtime, row=row))
    return SyncPlan(candidates, removed, by_hash)


def still_skipped(row: DocumentRow, max_file_bytes: int) -> bool:
    """Whether an unchanged file skipped before stays skipped without a look at it: not
    when its reason was its type or size and this run would accept those now."""
    reason = row.error or ""
    if reason == UNSUPPORTED_TYPE:
        return not is_supported(row.path)
    if reason.startswith(TOO_LARGE):
        return row.size > max_file_bytes
    return True


class Examiner:
    """The producer: reads, hashes, parses and chunks each candidate of a plan, in order.

    It owns the plan's `by_hash` and `removed`, and the report's file counts, until it
    is done; `encoder` is called (from this thread) for the tokenizer when the first
    file needs chunking. `files_per_handover` (None: `HANDOVER_FILES`) caps the files
    of a handover, so that the sync can commit generations of fewer files.
    """

    def __init__(self, root: Path, plan: SyncPlan, report: SyncReport, staged: set[str],
                 encoder: Callable[[], Encoder], chunking: Chunking,
                 max_file_bytes: int, files_per_handover: int | None = None) -> None:
        self.root, self.plan, self.report = root, plan, report
        self.seen = set(staged)  # content staged, or handed over: encoded once
        self.encoder, self.chunking = encoder, chunking
        self.max_file_bytes = max_file_bytes
        self.files_per_handover = files_per_handover

    def handovers(self) -> Iterator[Examined]:
        """The candidates in batches of about `ENCODE_GROUP` chunks or `HANDOVER_FILES`."""
        handover = Examined([], [], 0)
        chunks = 0
        most_files = min(HANDOVER_FILES, self.files_per_handover or HANDOVER_FILES)
        for done, action in enumerate(self.plan.candidates, 1):
            pending = self.examine(action)
            handover.actions.append(action)
            handover.files_done = done
            if pending is not None:
                self.seen.add(pending.content_hash)
                handover.pending.append(pending)
                chunks += len(pending.rows)
            if chunks >= ENCODE_GROUP or len(handover.actions) >= most_files:
                yield handover
                handover, chunks = Examined([], [], done), 0
        if handover.actions:
            yield handover

    def examine(self, action: Action) -> Pending | None:
        """Decide what `action` does (its kind, hash, stat); return new content, if any."""
        data = self.read(action)
        if data is None:
            return None
        pending = None
        if action.content_hash not in self.seen:
            try:
                document = parse_document(action.path, data)
            except ParseError as error:
                action.skipped(self.report, error.reason)
                return None
            pending = self.chunk(action.content_hash, document)
        self.count(action)
        return pending

    def read(self, action: Action) -> bytes | None:
        """Read and hash `action`'s file, deciding a skip, touch or rename; return its
        bytes when its content may need parsing (a write), else None."""
        if not is_supported(action.path):
            action.skipped(self.report, UNSUPPORTED_TYPE)
            return None
        if action.size > self.max_file_bytes:
            action.skipped(self.report, f"{TOO_LARGE} ({action.size} bytes; "
                                        f"limit {self.max_file_bytes})")
            return None
        try:
            content = read_file(self.root / action.path, self.max_file_bytes)
        except UnreadableFileError as error:
            if error.retry:  # a stat no file has, so that the next sync reads it again
                action.size, action.mtime = -1, -1.0
            action.skipped(self.report, error.reason)
            return None
        # The stat the bytes were read at, so the stored stat always matches the content.
        data, action.size, action.mtime = content.data, content.size, content.mtime
        action.content_hash = content_hash(data)
        if self._reuses_stored_chunks(action):
            return None
        return data

    def count(self, action: Action) -> None:
        """Count a write whose content was chunked (or is known) as added or updated."""
        if action.row is None:
            self.report.added += 1
        else:
            self.report.updated += 1

    def _reuses_stored_chunks(self, action: Action) -> bool:
        """A file whose content is stored already: touched in place, or renamed."""
        if action.row and action.row.content_hash == action.content_hash:
            action.kind = "touch"
            self.report.unchanged += 1
            return True
        moved_from = self.plan.by_hash.pop(action.content_hash, None) \
            if action.row is None else None
        if moved_from is None:
            return False
        del self.plan.removed[moved_from.path]
        action.kind, action.row = "rename", moved_from
        self.report.renamed += 1
        return True

    def chunk(self, content_hash: str, document: ParsedDocument) -> Pending:
        """The staged rows of a parsed document: its chunks and their BM25 text."""
        encoder = self.encoder()
        return Pending(content_hash, chunk_rows(document, encoder.tokenizer,
                                                encoder.max_tokens, self.chunking))


def content_hash(data: bytes) -> str:
    """The hash a file's content is known by (the store's `content_hash`)."""
    return hashlib.blake2b(data, digest_size=20).hexdigest()


def chunk_rows(document: ParsedDocument, tokenizer: Any, model_max_tokens: int,
               chunking: Chunking) -> list[dict[str, object]]:
    """The staged rows (all but the embedding) of a parsed document: its chunks, cut as
    `tokenizer` counts tokens, and their BM25 text."""
    max_tokens = min(chunking.tokens, model_max_tokens)
    overlap = min(chunking.overlap, max_tokens // 2)
    chunks = chunk_document(document, tokenizer, max_tokens, overlap)
    lexical_title = segment(document.title)
    return [{
        "ordinal": chunk.ordinal, "title": document.title, "format": document.format,
        "text": chunk.text, "start": chunk.start, "end": chunk.end, "page": chunk.page,
        "page_breaks": json.dumps(list(chunk.page_breaks)),
        "headings": json.dumps(list(chunk.headings), ensure_ascii=False),
        "token_count": chunk.token_count,
        "lexical_title": lexical_title + " " + segment(" ".join(chunk.headings)),
        "lexical_body": segment(chunk.text),
    } for chunk in chunks]
