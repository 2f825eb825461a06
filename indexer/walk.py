"""Find the files of a folder that belong in the index, and read one safely."""

import os
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pathspec

from semsearch.indexer.errors import PathNotAllowedError, UnreadableFileError

IGNORE_FILE = ".semsearchignore"
CHANGED_WHILE_READING = "changed while reading; will retry on the next sync"


def load_ignore_spec(root: Path) -> pathspec.PathSpec:
    """Read `root/.semsearchignore` (gitignore syntax); an absent file ignores nothing."""
    ignore_path = root / IGNORE_FILE
    lines = ignore_path.read_text(encoding="utf-8").splitlines() if ignore_path.is_file() else []
    return pathspec.GitIgnoreSpec.from_lines(lines)


def iter_files(root: Path, index_dir: Path | None = None,
               on_skip: Callable[[str, str], None] | None = None) -> Iterator[str]:
    """Yield the POSIX paths, relative to `root`, of the files to index, in a stable
    order: each folder's files by name, then its subfolders by name.

    Hidden files and folders (`.git` among them), the index directory and whatever
    `.semsearchignore` matches are left out silently. Symlinked folders are not entered
    (that avoids loops); a symlinked file is kept only when it resolves inside `root`.
    Those symlinks, names that are not valid UTF-8 (the index stores UTF-8) and folders
    that cannot be listed are left out and told to `on_skip(path, reason)`, the path made
    printable (a folder's with a trailing `/`).
    """
    root = root.resolve()
    excluded = index_dir.resolve() if index_dir is not None else None
    spec = load_ignore_spec(root)

    def skip(relative: str, reason: str) -> None:
        if on_skip is not None:
            on_skip(printable_path(relative), reason)

    def unreadable(error: OSError) -> None:
        relative = Path(error.filename or root).relative_to(root).as_posix()
        skip(relative + "/", f"unreadable folder: {error.strerror or error}")

    for dirpath, dirnames, filenames in os.walk(root, onerror=unreadable, followlinks=False):
        current = Path(dirpath)
        kept_dirs = []
        for name in sorted(dirnames):
            child = current / name
            relative = child.relative_to(root).as_posix()
            if name.startswith(".") or child == excluded or spec.match_file(relative + "/"):
                continue
            reason = _name_problem(name) or (
                "symlinked folder, not followed" if child.is_symlink() else None)
            if reason:
                skip(relative + "/", reason)
                continue
            kept_dirs.append(name)
        dirnames[:] = kept_dirs
        for name in sorted(filenames):
            path = current / name
            relative = path.relative_to(root).as_posix()
            if name.startswith(".") or spec.match_file(relative):
                continue
            reason = _name_problem(name) or (
                _symlink_problem(path, root) if path.is_symlink() else None)
            if reason:
                skip(relative, reason)
                continue
            yield relative


def resolve_inside(path: Path, roots: list[Path]) -> Path:
    """`path` with symlinks and `..` resolved, when that lies in one of `roots`.

    Raises:
        PathNotAllowedError: it lies outside every root, or is no valid path.
    """
    try:
        resolved = path.resolve()
        allowed = [root.resolve() for root in roots]
    except (OSError, RuntimeError, ValueError) as error:
        raise PathNotAllowedError(f"not a usable path: {printable_path(str(path))}") from error
    if not any(resolved.is_relative_to(root) for root in allowed):
        raise PathNotAllowedError(
            f"{printable_path(str(path))} is outside the folders this server may index "
            f"({', '.join(str(root) for root in allowed) or 'none'}); "
            "allow it with SEMSEARCH_ROOTS.")
    return resolved


def printable_path(path: str) -> str:
    """`path` with bytes that are not UTF-8 written as `\\xNN` escapes."""
    return path.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _name_problem(name: str) -> str | None:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:  # os.walk gives undecodable bytes as lone surrogates
        return "file name is not valid UTF-8"
    return None


def _symlink_problem(path: Path, root: Path) -> str | None:
    try:
        target = path.resolve(strict=True)
    except (OSError, RuntimeError):
        return "broken symlink or symlink loop"
    return None if target.is_relative_to(root) else "symlink leads outside the folder"


@dataclass(frozen=True)
class FileContent:
    """A file's bytes with the size and mtime they were read at."""

    data: bytes
    size: int
    mtime: float


def read_file(path: Path, max_bytes: int) -> FileContent:
    """Read a regular file whole, refusing one that changes while it is read.

    The size is checked on the open file, so a FIFO or a file that grew since it was
    listed never costs more than `max_bytes` of memory or blocks the sync.

    Raises:
        UnreadableFileError: not a regular file, over `max_bytes`, unreadable, or changed
            while it was read (`retry` set: the next sync tries again).
    """
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as error:
        raise UnreadableFileError(f"unreadable: {error.strerror or error}") from error
    try:
        before = os.fstat(descriptor)
        if not stat.S_ISREG(before.st_mode):
            raise UnreadableFileError("not a regular file (a FIFO, socket or device)")
        if before.st_size > max_bytes:
            raise UnreadableFileError(
                f"file too large ({before.st_size} bytes; limit {max_bytes})")
        with os.fdopen(descriptor, "rb", closefd=False) as handle:
            data = handle.read(max_bytes + 1)
        after = os.stat(path)  # by path: a file renamed over this one counts as a change
    except OSError as error:
        if isinstance(error, FileNotFoundError):
            raise UnreadableFileError(CHANGED_WHILE_READING, retry=True) from error
        raise UnreadableFileError(f"unreadable: {error.strerror or error}") from error
    finally:
        os.close(descriptor)
    if _identity(after) != _identity(before) or len(data) != before.st_size:
        raise UnreadableFileError(CHANGED_WHILE_READING, retry=True)
    return FileContent(data=data, size=before.st_size, mtime=before.st_mtime)


def _identity(status: os.stat_result) -> tuple[int, int, int, int, int]:
    return (status.st_dev, status.st_ino, status.st_size, status.st_mtime_ns,
            status.st_ctime_ns)
