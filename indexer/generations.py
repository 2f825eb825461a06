"""Committing a sync's work in generations, each searchable as soon as it commits.

A long sync commits what it has examined every so many files or seconds (`Schedule`), so
that searches see the finished part early and a kill loses at most the part examined
since the last commit. `GenerationWriter.commit` makes one generation:

1. in one write transaction, it applies each examined file's outcome (document rows,
   chunks copied from the staging, BM25 rows) and bumps the generation; the sync's last
   generation also deletes the documents whose files are gone;
2. still inside it, it updates the vector index in memory (removes, adds; rebuilt from
   SQLite only when the policy asks) and writes `vectors-<generation>.faiss` atomically;
3. it commits, then deletes the FAISS files of older generations.

A reader only sees a generation once step 3 has committed it, so its FAISS file is always
in place first. A kill before that leaves the previous generation whole, and at most a
FAISS file that no committed generation names (the next sync overwrites or deletes it).
"""

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from semsearch.indexer.index_dir import build_vectors, remove_stale_vectors, write_vectors
from semsearch.indexer.manifest import IndexManifest
from semsearch.indexer.plan import Action
from semsearch.indexer.store import DocumentRow, Store
from semsearch.indexer.vector_index import VectorIndex
from semsearch.indexer.vector_policy import FLAT, VectorIndexPolicy

# An approximate index that a sync grows past this many times the size it was built (and
# its search effort tuned) at is rebuilt by the sync's last generation.
RETUNE_GROWTH = 2.0


@dataclass
class Schedule:
    """When the next generation is due: once `files` files wait, or the generation has
    been open `seconds`, whichever comes first; but never sooner after the last commit
    than (1 - commit_share) / commit_share times that commit's duration, so that
    rewriting a large FAISS file takes at most about `commit_share` of the sync's time.

    Times are `time.monotonic()` values, passed in.
    """

    files: int
    seconds: float
    commit_share: float
    opened_at: float = 0.0
    floor: float = 0.0

    def open(self, now: float) -> None:
        """Start gathering a generation at `now`."""
        self.opened_at = now

    def committed(self, started: float, now: float) -> None:
        """A commit ran from `started` to `now`; the next generation opens now."""
        self.floor = (now - started) * (1 - self.commit_share) / self.commit_share
        self.opened_at = now

    def wanted(self, files_waiting: int, now: float) -> bool:
        """Whether `files_waiting` examined files make a generation at `now`, once the
        wait after the last commit is over (see `due`)."""
        return bool(files_waiting) and (
            files_waiting >= self.files or now - self.opened_at >= self.seconds)

    def due(self, files_waiting: int, now: float) -> bool:
        """Whether `files_waiting` examined files should be committed at `now`."""
        return self.wanted(files_waiting, now) and now - self.opened_at >= self.floor


@dataclass(frozen=True)
class Committed:
    """What one generation wrote."""

    generation: int
    chunks_added: int
    documents_removed: int


class GenerationWriter:
    """Commits generations to one index: SQLite rows, then the FAISS file, then COMMIT.

    Holds the vector index between generations, so that each one adds and removes what
    changed instead of reading every vector again.

    Args:
        manifest: the manifest to record (its generation and time are set here); called
            at the first commit, since a new index learns its dimension from the model.
        vectors: the index's vectors as the sync found them; None for a new index.
        rebuild: the sync starts the index afresh (its last generation drops the old
            manifest along with the old documents).
    """

    def __init__(self, store: Store, index_dir: Path, policy: VectorIndexPolicy,
                 manifest: Callable[[], IndexManifest], vectors: VectorIndex | None,
                 rebuild: bool) -> None:
        self.store, self.index_dir, self.policy = store, index_dir, policy
        self.manifest, self.vectors, self.rebuild = manifest, vectors, rebuild
        self.tuned_size = len(vectors) if vectors is not None else 0

    def commit(self, actions: list[Action], removed: dict[str, DocumentRow],
               last: bool) -> Committed:
        """Apply `actions` and delete `removed` as one new generation, its FAISS file
        written before it commits; `last` also drops the staging (and, for a rebuild,
        the old manifest) and gives an outgrown approximate index its rebuild.

        Raises:
            IndexWriteError: SQLite or the FAISS file could not be written; the
                transaction was rolled back and the previous generation stands.
        """
        now = time.time()
        manifest = self.manifest()
        generation = self.store.generation() + 1
        added_ids: list[int] = []
        with self.store.transaction():
            if last and self.rebuild:
                self.store.forget_manifest()
            removed_ids: list[int] = []
            for row in removed.values():
                removed_ids += self.store.delete_document(row.id)
            for action in actions:
                removed_ids += apply_action(self.store, action, added_ids, now)
            vectors = self._updated_vectors(removed_ids, added_ids, manifest.dimension, last)
            write_vectors(vectors, self.index_dir, generation)
            self.store.write_manifest(replace(
                manifest, generation=generation, last_sync=now,
                vector_index=vectors.info().to_dict()))
            if last:
                self.store.clear_staging()
        remove_stale_vectors(self.index_dir, generation)
        return Committed(generation, len(added_ids), len(removed))

    def _updated_vectors(self, removed_ids: list[int], added_ids: list[int],
                         dimension: int, last: bool) -> VectorIndex:
        """The vectors of the transaction's state: changed in place, or rebuilt from
        SQLite for a new index, when the policy asks (another kind for this size, too
        many HNSW tombstones, IVF lists 4x off), or at the end of a sync that outgrew
        the tuning of an approximate index."""
        vectors = self.vectors
        if vectors is not None:
            vectors.remove(np.array(removed_ids, dtype=np.int64))
            for ids, batch in self.store.embeddings(added_ids, dimension):
                vectors.add(ids, batch)
        self.vectors = vectors
        if vectors is None or vectors.needs_rebuild(self.policy) or (last and self.outgrown()):
            vectors = build_vectors(self.store, dimension, self.policy)
            self.vectors, self.tuned_size = vectors, len(vectors)
        return vectors

    def outgrown(self) -> bool:
        """Whether the vectors are an approximate index grown past `RETUNE_GROWTH` times
        the size it was built at (or held when the sync began): its search effort was
        tuned for fewer vectors."""
        vectors = self.vectors
        return vectors is not None and vectors.kind != FLAT and (
            len(vectors) > RETUNE_GROWTH * max(self.tuned_size, 1))

    def drop_staging(self) -> None:
        """Drop the staged chunks, once the generations that copy them have committed."""
        with self.store.transaction():
            self.store.clear_staging()


def apply_action(store: Store, action: Action, added_ids: list[int], now: float) -> list[int]:
    """Write one examined file's outcome (inside the caller's transaction), adding the
    ids of the chunks it inserts to `added_ids`; return the chunk ids it removed."""
    row = action.row
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
