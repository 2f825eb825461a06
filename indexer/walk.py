"""Find the files of a folder that belong in the index."""

import os
from collections.abc import Iterator
from pathlib import Path

import pathspec

IGNORE_FILE = ".semsearchignore"


def load_ignore_spec(root: Path) -> pathspec.PathSpec:
    """Read `root/.semsearchignore` (gitignore syntax); an absent file ignores nothing."""
    ignore_path = root / IGNORE_FILE
    lines = ignore_path.read_text(encoding="utf-8").splitlines() if ignore_path.is_file() else []
    return pathspec.GitIgnoreSpec.from_lines(lines)


def iter_files(root: Path, index_dir: Path | None = None) -> Iterator[str]:
    """Yield the POSIX paths, relative to `root`, of the files to index, in a stable
    order: each folder's files by name, then its subfolders by name.

    Hidden files and folders (`.git` among them), the index directory and whatever
    `.semsearchignore` matches are left out. Symlinked folders are not entered (that
    avoids loops); a symlinked file is kept only when it resolves inside `root`.
    """
    root = root.resolve()
    excluded = index_dir.resolve() if index_dir is not None else None
    spec = load_ignore_spec(root)
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        current = Path(dirpath)
        kept_dirs = []
        for name in sorted(dirnames):
            child = current / name
            relative = child.relative_to(root).as_posix()
            if name.startswith(".") or child == excluded or child.is_symlink():
                continue
            if spec.match_file(relative + "/"):
                continue
            kept_dirs.append(name)
        dirnames[:] = kept_dirs
        for name in sorted(filenames):
            path = current / name
            relative = path.relative_to(root).as_posix()
            if name.startswith(".") or spec.match_file(relative):
                continue
            if path.is_symlink() and not _resolves_inside(path, root):
                continue
            yield relative


def _resolves_inside(path: Path, root: Path) -> bool:
    try:
        return path.resolve(strict=True).is_relative_to(root)
    except (OSError, RuntimeError):
        return False
