"""Bring a Milvus store in step with a folder: the embedded sync's planning, parsing,
chunking and encoding (`indexer.plan`, `indexer.pipeline`; with `--ray`, the Ray Data
pipeline of `indexer.ray_pipeline`), written to Milvus by this process.

A sync of committed generation C writes generation C + 1 (see `milvus_store` for what
readers see): chunk rows as their content is encoded, then the documents, the retired
marks and the BM25 statistics, then the commit (one upsert of the manifest row), then
the retired rows are deleted. As the embedded sync, it commits in generations
(`SyncOptions.generation_files` / `generation_seconds`): what it has examined becomes
searchable every so many files or seconds, and the last generation also removes the
documents whose files are gone. Killed anywhere, the collection reads as its last
committed generation, and the next sync first removes what was left half done, then goes
on, so that it ends equal to a clean run. One sync at a time per store: each holds the
store's lease (`milvus_lease`). A rebuild writes a new build beside the committed one
and switches readers to it in its last commit, so that until then searches answer from
the old build, and a killed rebuild leaves the old build as it was (the next sync drops
the unfinished one).
"""

import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from semsearch.indexer.encoders import Encoder, EncoderSpec
from semsearch.indexer.errors import IndexMismatchError
from semsearch.indexer.generations import Schedule
from semsearch.indexer.manifest import IndexManifest
from semsearch.indexer.milvus_documents import (
    DOCUMENT_REFERENCE_LENGTH,
    WholeDocument,
    document_terms,
    evidence_fields,
    whole_document,
)
from semsearch.indexer.milvus_lease import MilvusLease
from semsearch.indexer.milvus_lexical import lexical_rows
from semsearch.indexer.milvus_schema import DEFAULT_DENSE_INDEX, PLACEHOLDER
from semsearch.indexer.milvus_store import (
    CHUNK_FIELDS,
    CommittedState,
    MilvusStore,
    MilvusTarget,
    document_id,
    row_key,
    visible,
)
from semsearch.indexer.milvus_terms import update_frequencies
from semsearch.indexer.plan import (
    ENCODE_GROUP,
    Action,
    Chunking,
    Examiner,
    Pending,
    SyncReport,
    plan_files,
)
from semsearch.indexer.store import DocumentRow
from semsearch.indexer.sync import (
    DEFAULT_CHUNKING,
    SyncOptions,
    SyncProgress,
    examined_handovers,
    load_sync_encoder,
    open_ray_pipeline,
    pending_vectors,
)

if TYPE_CHECKING:  # Ray is optional: imported only for a --ray sync
    from semsearch.indexer.ray_pipeline import RayPipeline

__all__ = ["MilvusSyncJob", "sync_to_milvus"]


@dataclass(frozen=True)
class MilvusSyncJob:
    """One sync of `root` into a Milvus store: what `semsearch index --milvus` runs."""

    root: Path
    target: MilvusTarget
    encoder: EncoderSpec = EncoderSpec()
    options: SyncOptions = SyncOptions()

    @property
    def index_dir(self) -> Path:
        """The store's name as a path, for `BackgroundSync` (POST /index): no lock file
        is ever there (a Milvus sync's lease is in Milvus)."""
        return Path(f"{self.target.uri} (Milvus collection {self.target.collection})")

    def run(self, on_progress: Callable[[SyncProgress], None] | None = None) -> SyncReport:
        return sync_to_milvus(self.root, self.target, self.encoder, self.options,
                              on_progress)


def sync_to_milvus(root: Path, target: MilvusTarget, encoder: EncoderSpec | None = None,
                   options: SyncOptions | None = None,
                   on_progress: Callable[[SyncProgress], None] | None = None) -> SyncReport:
    """Index `root` into the Milvus store `target`, incrementally; return what was done.

    A `rebuild` builds the store anew beside the committed build, which searches read
    until the rebuild's last commit switches them over.

    Raises:
        MilvusStoreError: Milvus cannot be reached.
        MilvusLockedError: another sync holds the store.
        IndexMismatchError: the store holds another model, backend, chunking, folder or
            dense index type.
        ModelLoadError: the encoder cannot be loaded.
    """
    started = time.perf_counter()
    options = options or SyncOptions()
    store = MilvusStore(target)
    try:
        with MilvusLease(store) as lease:
            main = store.committed()
            for build in store.builds():  # a killed rebuild's, a first sync's uncommitted
                if main is None or build != main.build:
                    store.drop_build(build)
            report = _MilvusSync(root.resolve(), store, main, lease, encoder or EncoderSpec(),
                                 options, on_progress).run()
    finally:
        store.close()
    report.seconds = round(time.perf_counter() - started, 3)
    return report


def chunk_key(path: str, content_hash: str, mtime: float, ordinal: int) -> int:
    """A chunk row's primary key: a rerun writing the same file writes the same key."""
    return row_key("chunk", path, content_hash, repr(mtime), ordinal)


def document_key(row: dict[str, Any]) -> int:
    """A document row's primary key, from its path and state."""
    return row_key("document", row["path"], row["content_hash"], row["size"],
                   repr(row["mtime"]), row["status"], row["error"])


class _MilvusSync:
    """Applies a plan to a Milvus store as generation C + 1 (a rebuild: to a new build,
    the committed one `main` left as it is until the last commit)."""

    def __init__(self, root: Path, store: MilvusStore, main: CommittedState | None,
                 lease: MilvusLease, encoder: EncoderSpec, options: SyncOptions,
                 on_progress: Callable[[SyncProgress], None] | None) -> None:
        self.root, self.options, self.main, self.lease = root, options, main, lease
        self.rebuilding = options.rebuild and main is not None
        build = main.build if main else 0
        self.store = store.at(build + 1 if self.rebuilding else build)
        self.on_progress = on_progress
        self.report = SyncReport()
        self.state = None if options.rebuild else main
        recorded = self.state.manifest if self.state else None
        self.recorded = recorded
        self.spec = (encoder.with_record(recorded.model, recorded.backend)
                     if recorded else encoder).resolved()
        self.chunking = Chunking(
            options.chunk_tokens or (recorded.chunk_tokens if recorded else
                                     DEFAULT_CHUNKING.tokens),
            options.chunk_overlap if options.chunk_overlap is not None else
            recorded.chunk_overlap if recorded else DEFAULT_CHUNKING.overlap)
        self.where = Path(f"{store.target.uri} (Milvus collection {store.chunks})")
        if recorded:
            recorded.check(self.where, model=self.spec.model, backend=self.spec.backend,
                           chunk_tokens=self.chunking.tokens,
                           chunk_overlap=self.chunking.overlap, root=str(root))
        self.dense_index = self._dense_index(store.target.dense_index)
        self.committed = main.generation if main else 0  # a rebuild goes on counting
        self.generation = self.committed + 1
        self.reference_length = (self.state.reference_length if self.state
                                 else float(self.chunking.tokens))
        # A build made before whole documents were stored goes on without them.
        self.document_reference = (self.state.document_reference_length if self.state
                                   else DOCUMENT_REFERENCE_LENGTH)
        self.wholes: dict[str, WholeDocument] = {}  # path -> its chunks, until its row
        self._encoder: Encoder | None = None
        self._encoder_lock = threading.Lock()
        self.pipeline: RayPipeline | None = None
        self.pending: list[Pending] = []
        self.waiting: dict[str, list[Action]] = {}  # write actions by content, not written
        # content hash -> (the path first written with it, the generation it was written in)
        self.written: dict[str, tuple[str, int]] = {}
        self.headers: dict[str, tuple[str, str]] = {}  # content hash -> (title, format)
        self.added = Counter[int]()  # BM25: document frequency changes by dimension
        self.chunk_delta = [0, 0]  # chunks, lexical length
        self.document_delta = [0, 0]  # whole documents, their length
        self.schedule = Schedule(options.generation_files, options.generation_seconds,
                                 options.commit_share)

    def encoder(self) -> Encoder:
        """The model, loaded on first use and checked against the store's dimension;
        creates the collections of a new store."""
        with self._encoder_lock:
            if self._encoder is None:
                encoder = load_sync_encoder(self.spec, self.recorded, self.where)
                if not self.recorded:
                    self.store.create(encoder.dimension, self.dense_index)
                self._encoder = encoder
            return self._encoder

    def _dimension(self) -> int:
        """The vectors' dimension: the store's, else the Ray pipeline's (no model is
        loaded here for it), else the local model's."""
        if self.recorded:
            return self.recorded.dimension
        return self.pipeline.dimension if self.pipeline else self.encoder().dimension

    def _dense_index(self, asked: str | None) -> str:
        """The dense index type this sync builds with: the store's own, or `asked`."""
        if self.state is None:
            return asked or DEFAULT_DENSE_INDEX
        recorded = self.state.dense_index
        if asked is not None and asked != recorded:
            raise IndexMismatchError(
                f"{self.where} has a {recorded} dense index, not {asked}; run the sync "
                f"with --rebuild to build it with {asked}.")
        return recorded

    def run(self) -> SyncReport:
        if self.state:
            self.store.load()
            self.store.finish(self.committed)
        existing = self._documents()
        plan = plan_files(self.root, self.root / ".semsearch", existing, False, self.report,
                          self.options.max_file_bytes)
        waiting = self._encode(plan)
        self.report.removed = len(plan.removed)
        if waiting or plan.removed or not self.state:
            self._generation(waiting, list(plan.removed.values()), final=True)
        return self.report

    def _documents(self) -> dict[str, DocumentRow]:
        if not self.state:
            return {}
        rows = self.store.query(self.store.documents, visible(self.committed),
                                ["doc_id", "path", "content_hash", "size", "mtime", "title",
                                 "format", "status", "error"])
        return {row["path"]: DocumentRow(
            row["doc_id"], row["path"], row["content_hash"], row["size"], row["mtime"],
            row["title"], row["format"], row["status"], row["error"] or None) for row in rows}

    # --- encoding ------------------------------------------------------------------
    def _encode(self, plan: Any) -> list[Action]:
        """Examine and encode the plan's candidates (with `--ray`, the Ray Data pipeline
        parses, chunks and encodes them: `examined_handovers`), committing a generation
        whenever the schedule says; return the examined actions not committed yet."""
        examiner = Examiner(self.root, plan, self.report, set(), self.encoder, self.chunking,
                            self.options.max_file_bytes, self.options.generation_files)
        self.pipeline = open_ray_pipeline(self.spec, self.chunking, self.options,
                                          self.recorded, self.where)
        if self.pipeline is not None and not self.recorded:
            self.store.create(self.pipeline.dimension, self.dense_index)
        actions: list[Action] = []
        total = len(plan.candidates)
        self.schedule.open(time.monotonic())
        for handover in examined_handovers(examiner, self.pipeline):
            actions += handover.actions
            for action in handover.actions:
                if action.kind == "write":
                    self.waiting.setdefault(action.content_hash, []).append(action)
            self.pending += handover.pending
            if sum(len(p.rows) for p in self.pending) >= ENCODE_GROUP:
                self._encode_pending()
            if self.schedule.due(len(actions), time.monotonic()):
                self._generation(actions, [], final=False)
                actions = []
            self._progress(handover.files_done, total)
        self._encode_pending()
        self._progress(total, total)
        return actions

    def _generation(self, actions: list[Action], removed: list[DocumentRow],
                    final: bool) -> None:
        """Commit `actions` (and the removal of `removed`) as the next generation; a
        rebuild's commits switch readers over only when `final`."""
        started = time.monotonic()
        self._encode_pending()
        self._apply(actions, removed)
        self._commit(self._dimension(), publish=final or not self.rebuilding)
        self.report.generations += 1
        self.schedule.committed(started, time.monotonic())

    def _encode_pending(self) -> None:
        """Encode the pending content in one call (or take the vectors the Ray pipeline
        sent with it); write its chunk rows for each file that holds it."""
        if not self.pending:
            return
        vectors = pending_vectors(self.pending, self.encoder, self.options.batch_size)
        lexical = lexical_rows([(str(row["lexical_title"]), str(row["lexical_body"]))
                                for pending in self.pending for row in pending.rows],
                               self.reference_length)
        offset = 0
        for pending in self.pending:
            count = len(pending.rows)
            content = [
                _content_row(row, vector, weights)
                for row, vector, weights in zip(pending.rows, vectors[offset:offset + count],
                                                lexical[offset:offset + count], strict=True)]
            offset += count
            if content:
                self.headers[pending.content_hash] = (content[0]["title"],
                                                      content[0]["format"])
            for action in self.waiting.pop(pending.content_hash, []):
                self._write_chunks(action, content)
                self.written.setdefault(pending.content_hash, (action.path, self.generation))
        self.report.chunks_encoded += offset
        self.pending = []

    def _write_chunks(self, action: Action, content: list[dict[str, Any]]) -> None:
        """Write `content` (chunk rows of one content hash) as the chunks of `action`."""
        rows = [{**row, "pk": chunk_key(action.path, action.content_hash, action.mtime,
                                        row["ordinal"]),
                 "doc_id": document_id(action.path), "path": action.path,
                 "file_type": _file_type(action.path),
                 "content_hash": action.content_hash, "mtime": action.mtime,
                 "generation": self.generation, "retired": 0} for row in content]
        self.store.insert(self.store.chunks, rows)
        if content and self.document_reference is not None:
            self.wholes[action.path] = whole_document(content[0]["title"], content)
        for row in rows:
            self.added.update(row["lexical"].keys())
            self.chunk_delta[0] += 1
            self.chunk_delta[1] += row["lexical_length"]
        self.report.chunks_written += len(rows)

    def _progress(self, done: int, total: int) -> None:
        if self.on_progress is not None:
            visible = self.main.generation if self.rebuilding and self.main else self.committed
            self.on_progress(SyncProgress(done, total, self.report.chunks_encoded, visible))

    # --- applying ------------------------------------------------------------------
    def _apply(self, actions: list[Action], removed: list[DocumentRow]) -> None:
        """Write each examined file's document row (and the chunks of content stored
        already: touched, renamed or duplicated files); retire what they replace."""
        now = time.time()
        documents: list[dict[str, Any]] = []
        replaced: list[DocumentRow] = list(removed)
        for action in actions:
            if action.kind in ("touch", "rename") and action.row is not None:
                self._copy_chunks(action, action.row.id, visible(self.committed))
            elif action.kind == "write" and action.content_hash in self.waiting:
                source = self.written.get(action.content_hash)
                if source is not None:  # content written under another path this sync
                    self._copy_chunks(action, document_id(source[0]),
                                      f"generation == {source[1]}")
            row = self._document_row(action, now)
            if action.row is not None and document_key(row) == document_key(
                    _as_values(action.row)) and action.row.path == action.path:
                continue  # the very row that is there: nothing changes
            documents.append(row)
            if action.row is not None:
                replaced.append(action.row)
        self.waiting.clear()
        self._add_evidence(documents)
        self.store.insert(self.store.documents, documents)
        self._retire(replaced)

    def _add_evidence(self, documents: list[dict[str, Any]]) -> None:
        """Put the whole-document evidence on the document rows (`milvus_documents`) and
        count the indexed ones into the statistics of whole documents."""
        if self.document_reference is None:
            for row in documents:
                row["placeholder"] = PLACEHOLDER
            return
        dimension = self._dimension()
        wholes = [self.wholes.get(row["path"]) if row["status"] == "indexed" else None
                  for row in documents]
        for row, fields in zip(documents, evidence_fields(wholes, dimension,
                                                          self.document_reference),
                               strict=True):
            row.update(fields, file_type=_file_type(row["path"]))
            self._count_document(row, 1)
        self.wholes.clear()

    def _count_document(self, row: dict[str, Any], sign: int) -> None:
        """Count an indexed document row into (1) or out of (-1) the whole documents'
        BM25 statistics."""
        if row["status"] != "indexed":
            return
        self.added.update({dimension: sign for dimension in document_terms(row)})
        self.document_delta[0] += sign
        self.document_delta[1] += sign * row["whole_length"]

    def _copy_chunks(self, action: Action, source_doc: int, rows: str) -> None:
        """Write the chunks of document `source_doc` (its `rows`: an expression) again as
        the chunks of `action`: a touch, a rename or a second file of one content."""
        expression = f"doc_id == {source_doc} and {rows}"
        fields = [f for f in CHUNK_FIELDS if f not in ("pk", "doc_id", "path", "file_type",
                                                       "mtime", "generation", "retired")]
        content = self.store.query(self.store.chunks, expression, fields)
        content.sort(key=lambda row: row["ordinal"])
        if content:
            self.headers.setdefault(action.content_hash, (content[0]["title"],
                                                          content[0]["format"]))
        self._write_chunks(action, content)

    def _document_row(self, action: Action, now: float) -> dict[str, Any]:
        row: dict[str, Any] = {
            "doc_id": document_id(action.path), "path": action.path,
            "content_hash": action.content_hash, "size": action.size, "mtime": action.mtime,
            "title": "", "format": "", "status": "skipped", "error": action.reason,
            "indexed_at": now, "generation": self.generation, "retired": 0}
        if action.kind in ("touch", "rename") and action.row is not None:
            row.update(content_hash=action.row.content_hash, title=action.row.title,
                       format=action.row.format, status=action.row.status,
                       error=action.row.error or "")
        elif action.kind == "write":
            header = self.headers.get(action.content_hash)
            if header is None:
                row["error"] = "no text"
            else:
                row.update(status="indexed", error="", title=header[0], format=header[1])
        row["pk"] = document_key(row)
        return row

    def _retire(self, replaced: list[DocumentRow]) -> None:
        """Mark the replaced documents and their chunks retired by this generation, and
        count the chunks' terms out of the BM25 statistics."""
        if not replaced:
            return
        store = self.store
        keys = [document_key(_as_values(row)) for row in replaced]
        if self.document_reference is not None:
            for row in store.rows_by_key(store.documents, keys,
                                         ["status", "whole_lexical", "whole_length"]):
                self._count_document(row, -1)
        store.mark(store.documents, keys, self.generation)
        ids = [row.id for row in replaced]
        chunks = []
        for start in range(0, len(ids), 500):
            chunks += store.query(store.chunks, f"doc_id in {ids[start:start + 500]} and "
                                  f"{visible(self.committed)}",
                                  ["pk", "lexical", "lexical_length"])
        store.mark(store.chunks, [row["pk"] for row in chunks], self.generation)
        for row in chunks:
            self.added.subtract(row["lexical"].keys())
            self.chunk_delta[0] -= 1
            self.chunk_delta[1] -= row["lexical_length"]

    def _commit(self, dimension: int, publish: bool) -> None:
        """Write the BM25 statistics, flip the manifest (when `publish`: a rebuild's
        generations before its last stay unseen), delete what was retired."""
        assert self.spec.model and self.spec.backend
        update_frequencies(self.store, self.added, self.committed, self.generation)
        manifest = IndexManifest(
            model=self.spec.model, backend=self.spec.backend, dimension=dimension,
            chunk_tokens=self.chunking.tokens, chunk_overlap=self.chunking.overlap,
            root=str(self.root), vector_index_setting="milvus",
            vector_index={"type": "milvus", "params": {"uri": self.store.target.uri,
                                                       "collection": self.store.chunks,
                                                       "index": self.dense_index}},
            generation=self.generation, last_sync=time.time())
        chunks = (self.state.chunks if self.state else 0) + self.chunk_delta[0]
        length = (self.state.lexical_length if self.state else 0) + self.chunk_delta[1]
        documents = (self.state.documents if self.state else 0) + self.document_delta[0]
        document_length = ((self.state.document_length if self.state else 0)
                           + self.document_delta[1])
        state = CommittedState(manifest, chunks, length, self.reference_length,
                               self.store.build, documents, document_length,
                               self.document_reference)
        self.store.flush()
        if publish:
            self.lease.check()
            self.store.commit(state)
        self.store.finish(self.generation)
        if publish and self.rebuilding and self.main:
            self.store.drop_build(self.main.build)  # readers retry on the new build
            self.rebuilding = False
        self.state, self.recorded = state, manifest
        self.committed, self.generation = self.generation, self.generation + 1
        self.added, self.chunk_delta = Counter[int](), [0, 0]
        self.document_delta = [0, 0]


def _file_type(path: str) -> str:
    """What the type filter matches a file by: its suffix, lower case, without the dot."""
    return PurePosixPath(path).suffix.lower().lstrip(".")


def _content_row(row: dict[str, object], vector: Any, lexical: Any) -> dict[str, Any]:
    """A chunk row's content (all but where it lives) from a staged row of `plan`."""
    return {
        "ordinal": row["ordinal"], "title": row["title"], "format": row["format"],
        "text": row["text"], "start": row["start"], "end": row["end"],
        "page": -1 if row["page"] is None else row["page"],
        "page_breaks": row["page_breaks"], "headings": row["headings"],
        "token_count": row["token_count"], "dense": vector.tolist(),
        "lexical": lexical.weights, "lexical_length": lexical.length,
        "lexical_text": f"{row['lexical_title']}\n{row['lexical_body']}"}


def _as_values(row: DocumentRow) -> dict[str, Any]:
    return {"path": row.path, "content_hash": row.content_hash, "size": row.size,
            "mtime": row.mtime, "status": row.status, "error": row.error or ""}
