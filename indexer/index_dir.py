"""The index directory: its lock, its settings check and its FAISS file per generation.

Each commit of a sync bumps the store's `generation`; the FAISS file of generation N is
`vectors-N.faiss`, written before N commits (indexer/generations.py). A reader whose FAISS
file is missing or disagrees with SQLite rebuilds the vectors from SQLite instead of
serving wrong results.
"""

import errno
import fcntl
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from semsearch.indexer.errors import IndexLockedError, IndexWriteError
from semsearch.indexer.store import Store
from semsearch.indexer.vector_build import build_vector_index
from semsearch.indexer.vector_index import VectorIndex
from semsearch.indexer.vector_policy import VectorIndexPolicy

log = logging.getLogger(__name__)

LOCK_NAME = "sync.lock"


def vectors_path(index_dir: Path, generation: int) -> Path:
    return index_dir / f"vectors-{generation}.faiss"


@contextmanager
def sync_lock(index_dir: Path) -> Iterator[None]:
    """Hold the index's exclusive sync lock; the OS frees it if the process dies.

    Raises:
        IndexLockedError: another process holds it.
    """
    index_dir.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(index_dir / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            if error.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise IndexLockedError(index_dir) from error
            raise
        yield
    finally:
        os.close(descriptor)


def sync_running(index_dir: Path) -> bool:
    """True when a sync, in this process or another, holds the index's lock now."""
    if not (index_dir / LOCK_NAME).exists():
        return False
    try:
        with sync_lock(index_dir):
            return False
    except IndexLockedError:
        return True
    except OSError:  # a read-only index directory: no sync can run there either
        return False


def load_vectors(store: Store, index_dir: Path, dimension: int, *, repair: bool,
                 policy: VectorIndexPolicy | None = None, mapped: bool = False) -> VectorIndex:
    """Load the FAISS file of the store's generation, checked against SQLite.

    When the file is missing, of another dimension, or holds other ids than SQLite, the
    vectors are rebuilt from SQLite (and, with `repair`, written back atomically). With
    `repair` and a `policy` that wants another index (kind, size, tombstones), too.
    `mapped` maps the file read-only (readers); `policy` defaults to the recorded one.
    """
    generation = store.generation()
    path = vectors_path(index_dir, generation)
    expected_ids = store.chunk_ids()
    if path.exists():
        try:
            vectors = VectorIndex.load(path, mapped=mapped)
        except RuntimeError as error:
            log.warning("cannot read %s (%s); rebuilding from SQLite", path, error)
        else:
            held = vectors.ids()
            held.sort()
            if vectors.dimension == dimension and held.shape == expected_ids.shape and (
                held == expected_ids).all():
                if not (repair and policy and vectors.needs_rebuild(policy)):
                    return vectors
                log.info("rebuilding %s as the %r vector index asks", path, policy.kind)
            else:
                log.warning("%s disagrees with SQLite; rebuilding it from SQLite", path)
    elif len(expected_ids):
        log.warning("%s is missing; rebuilding it from SQLite", path)
    policy = policy or recorded_policy(store)
    vectors = build_vectors(store, dimension, policy, expected_ids)
    if repair:
        write_vectors(vectors, index_dir, generation)
        remove_stale_vectors(index_dir, generation)
    return vectors


def build_vectors(store: Store, dimension: int, policy: VectorIndexPolicy,
                  ids: NDArray[np.int64] | None = None) -> VectorIndex:
    """A vector index of every chunk in SQLite, of the kind `policy` picks for its size."""
    def read(wanted: NDArray[np.int64] | None) -> Iterator[tuple[NDArray[np.int64],
                                                                  NDArray[np.float32]]]:
        chunk_ids = None if wanted is None else wanted.tolist()
        return store.embeddings(chunk_ids, dimension)

    return build_vector_index(dimension, store.chunk_ids() if ids is None else ids, read,
                              policy)


def recorded_policy(store: Store) -> VectorIndexPolicy:
    """The policy of the last sync (`vector_index_setting`), for rebuilds by readers."""
    manifest = store.manifest()
    return VectorIndexPolicy(kind=manifest.vector_index_setting if manifest else "auto")


def record_vectors(store: Store, vectors: VectorIndex, policy: VectorIndexPolicy) -> None:
    """Note the vector index's kind and parameters in the manifest, for `/stats`.

    Writes nothing when the manifest says so already.
    """
    manifest = store.manifest()
    if manifest is None:
        return
    recorded = replace(manifest, vector_index=vectors.info().to_dict(),
                       vector_index_setting=policy.kind)
    if recorded != manifest:
        with store.transaction():
            store.write_manifest(recorded)


def write_vectors(vectors: VectorIndex, index_dir: Path, generation: int) -> None:
    """Save `vectors` atomically as the file of `generation`; other files stay (see
    `remove_stale_vectors`).

    A sync writes the file of a new generation inside the transaction that commits it,
    so that no reader ever finds a committed generation without its file.

    Raises:
        IndexWriteError: the file could not be written (disk full, I/O error); no file
            of that name was left behind.
    """
    try:
        vectors.save(vectors_path(index_dir, generation))
    except (OSError, RuntimeError) as error:  # faiss reports a failed write as RuntimeError
        raise IndexWriteError(index_dir, error) from error


def remove_stale_vectors(index_dir: Path, generation: int) -> None:
    """Delete every FAISS file but that of `generation`, the committed one: older
    generations, one written by a run killed before its commit, and temporary files
    left by a run killed while saving."""
    keep = vectors_path(index_dir, generation)
    for stale in [*index_dir.glob("vectors-*.faiss"), *index_dir.glob("vectors-*.faiss*.tmp")]:
        if stale != keep:
            stale.unlink(missing_ok=True)
