"""Errors raised while building or opening an index."""

from pathlib import Path


class IndexerError(Exception):
    """Base class of every error the indexer raises on purpose."""


class IndexNotFoundError(IndexerError):
    """No index exists at the given directory."""

    def __init__(self, index_dir: Path) -> None:
        super().__init__(f"No index at {index_dir}; run `semsearch index PATH` first.")
        self.index_dir = index_dir


class IndexMismatchError(IndexerError):
    """The index was built with other settings (model, dimension, chunking or folder)."""


class IndexLockedError(IndexerError):
    """Another sync holds the index's lock."""

    def __init__(self, index_dir: Path) -> None:
        super().__init__(
            f"Another sync is already running on {index_dir}; wait for it to finish "
            "(the lock is released when that process ends)."
        )
        self.index_dir = index_dir


class IndexCorruptError(IndexerError):
    """The index directory holds data that contradicts itself and cannot be repaired."""


class IndexWriteError(IndexerError):
    """Writing the index failed: disk full, an I/O error, a read-only or too large file."""

    def __init__(self, index_dir: Path, cause: object) -> None:
        super().__init__(
            f"Could not write the index at {index_dir}: {cause}. What was committed before "
            "stays readable; free disk space (or fix the folder's permissions) and run the "
            "sync again to finish."
        )
        self.index_dir = index_dir


class PathNotAllowedError(IndexerError):
    """A path lies outside the folders this process may read or index."""


class UnreadableFileError(IndexerError):
    """A file could not be read whole and unchanged; `reason` is the short cause.

    `retry` is set when the file changed while it was read: the next sync tries again.
    """

    def __init__(self, reason: str, *, retry: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry = retry


class ParseError(IndexerError):
    """A file could not be turned into text; `reason` is the short, user-facing cause."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
