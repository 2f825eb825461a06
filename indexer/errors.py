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


class ParseError(IndexerError):
    """A file could not be turned into text; `reason` is the short, user-facing cause."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
