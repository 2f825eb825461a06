"""The index directory: its lock, its settings check and its FAISS file per generation.

Each committed sync bumps the store's `generation`; the FAISS file of generation N is
`vectors-N.faiss`. A reader whose FAISS file is missing or disagrees with SQLite rebuilds
the vectors from SQLite instead of serving wrong results.
"""

import errno
import fcntl
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from indexer.errors import IndexLockedError, IndexMismatchError
from indexer.store import Store
from indexer.vector_index import VectorIndex

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


def check_settings(index_dir: Path, recorded: dict[str, str], wanted: dict[str, str]) -> None:
    """Refuse to mix an index built one way with work done another way.

    Raises:
        IndexMismatchError: a recorded setting differs from the wanted one.
    """
    for key, value in wanted.items():
        if key not in recorded or recorded[key] == value:
            continue
        if key in ("model", "dimension"):
            wanted_dimension = wanted.get("dimension")
            detail = (
                f"was built with model {recorded.get('model')!r} (dimension "
                f"{recorded.get('dimension')}), not {wanted.get('model')!r}"
                + (f" (dimension {wanted_dimension})" if wanted_dimension else "")
                + "; vectors of two models cannot be mixed"
            )
        elif key == "root":
            detail = f"holds the folder {recorded[key]}, not {value}"
        else:
            detail = f"was built with {key}={recorded[key]}, not {value}"
        raise IndexMismatchError(
            f"The index at {index_dir} {detail}. Rebuild it with `semsearch index PATH "
            "--rebuild` and the new settings, or use another --index-dir."
        )


def load_vectors(store: Store, index_dir: Path, dimension: int, *, repair: bool) -> VectorIndex:
    """Load the FAISS file of the store's generation, checked against SQLite.

    When the file is missing, of another dimension, or holds other ids than SQLite, the
    vectors are rebuilt from SQLite (and, with `repair`, written back atomically).
    """
    generation = store.generation()
    path = vectors_path(index_dir, generation)
    expected_ids = store.chunk_ids()
    if path.exists():
        try:
            vectors = VectorIndex.load(path)
        except RuntimeError as error:
            log.warning("cannot read %s (%s); rebuilding from SQLite", path, error)
        else:
            held = vectors.ids()
            held.sort()
            if vectors.dimension == dimension and held.shape == expected_ids.shape and (
                held == expected_ids).all():
                return vectors
            log.warning("%s disagrees with SQLite; rebuilding it from SQLite", path)
    elif len(expected_ids):
        log.warning("%s is missing; rebuilding it from SQLite", path)
    vectors = VectorIndex.empty(dimension)
    for ids, batch in store.embeddings(dimension=dimension):
        vectors.add(ids, batch)
    if repair:
        write_vectors(vectors, index_dir, generation)
    return vectors


def write_vectors(vectors: VectorIndex, index_dir: Path, generation: int) -> None:
    """Save `vectors` as the file of `generation` and delete every older one."""
    path = vectors_path(index_dir, generation)
    vectors.save(path)
    # Older generations, and temporary files left by a run killed while saving.
    for stale in [*index_dir.glob("vectors-*.faiss"), *index_dir.glob("vectors-*.faiss*.tmp")]:
        if stale != path:
            stale.unlink(missing_ok=True)
