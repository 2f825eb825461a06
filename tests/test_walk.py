"""indexer.walk: which files of a folder reach the index."""

import os
from pathlib import Path

import pytest

from semsearch.indexer.walk import iter_files


def _write(root: Path, relative: str, text: str = "content") -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_relative_posix_paths_in_a_stable_order(tmp_path: Path) -> None:
    for relative in ("b.txt", "a.md", "sub/deeper/c.py", "sub/a.txt", "z.txt"):
        _write(tmp_path, relative)
    # Each folder's files by name, then its subfolders by name.
    expected = ["a.md", "b.txt", "z.txt", "sub/a.txt", "sub/deeper/c.py"]
    assert list(iter_files(tmp_path)) == expected
    assert list(iter_files(tmp_path)) == expected


def test_hidden_files_and_folders_skipped(tmp_path: Path) -> None:
    _write(tmp_path, "keep.txt")
    _write(tmp_path, ".hidden.txt")
    _write(tmp_path, ".git/config")
    _write(tmp_path, ".git/objects/ab/cdef")
    _write(tmp_path, ".venv/lib/site.py")
    _write(tmp_path, "docs/.cache/x.txt")
    _write(tmp_path, "docs/page.md")
    assert sorted(iter_files(tmp_path)) == ["docs/page.md", "keep.txt"]


def test_index_dir_inside_root_skipped(tmp_path: Path) -> None:
    _write(tmp_path, "doc.txt")
    index_dir = tmp_path / "my-index"
    _write(index_dir, "index.sqlite", "not text to index")
    _write(index_dir, "notes.txt", "still inside the index dir")
    _write(tmp_path, "other-index/notes.txt")
    assert sorted(iter_files(tmp_path, index_dir)) == ["doc.txt", "other-index/notes.txt"]
    # Given relative or through another spelling, it is still recognised.
    assert sorted(iter_files(tmp_path, tmp_path / "sub" / ".." / "my-index")) == [
        "doc.txt", "other-index/notes.txt"]
    assert "my-index/notes.txt" in sorted(iter_files(tmp_path))


def test_semsearchignore_patterns(tmp_path: Path) -> None:
    (tmp_path / ".semsearchignore").write_text(
        "# comment\n*.log\nbuild/\ndrafts/secret.md\n!keep.log\n", encoding="utf-8")
    for relative in ("app.log", "keep.log", "logs/deep/run.log", "build/out.txt",
                     "src/build/gen.py", "drafts/secret.md", "drafts/public.md", "main.py"):
        _write(tmp_path, relative)
    assert sorted(iter_files(tmp_path)) == ["drafts/public.md", "keep.log", "main.py"]


def test_ignore_pattern_for_a_file_named_like_a_folder_rule(tmp_path: Path) -> None:
    (tmp_path / ".semsearchignore").write_text("build/\n", encoding="utf-8")
    _write(tmp_path, "build")  # a file named "build" is not the folder rule's target
    assert sorted(iter_files(tmp_path)) == ["build"]


def test_symlinks(tmp_path: Path) -> None:
    root = tmp_path / "root"
    outside = tmp_path / "outside"
    _write(root, "real.txt")
    _write(root, "dir/inner.txt")
    _write(outside, "secret.txt")
    os.symlink(outside / "secret.txt", root / "to-outside.txt")
    os.symlink(root / "real.txt", root / "alias.txt")
    os.symlink(root / "dir" / "inner.txt", root / "dir" / "inner-alias.txt")
    os.symlink(root / "missing.txt", root / "dangling.txt")
    os.symlink(outside, root / "outside-dir")
    os.symlink(root, root / "dir" / "loop")  # a loop back to the top
    files = sorted(iter_files(root))
    assert files == ["alias.txt", "dir/inner-alias.txt", "dir/inner.txt", "real.txt"]


def test_relative_symlinks(tmp_path: Path) -> None:
    root = tmp_path / "root"
    _write(root, "a/target.md")
    _write(tmp_path, "elsewhere.md")
    os.symlink("a/target.md", root / "b.md")
    os.symlink("../elsewhere.md", root / "escape.md")  # exists, but outside the root
    (root / "b").mkdir()
    os.symlink("../a/target.md", root / "b" / "link.md")
    assert sorted(iter_files(root)) == ["a/target.md", "b.md", "b/link.md"]


def test_root_given_through_a_symlink(tmp_path: Path) -> None:
    _write(tmp_path, "real/doc.txt")
    os.symlink(tmp_path / "real", tmp_path / "link")
    assert sorted(iter_files(tmp_path / "link")) == ["doc.txt"]


def test_empty_folder(tmp_path: Path) -> None:
    assert sorted(iter_files(tmp_path)) == []


def test_a_folder_that_cannot_be_listed_is_told_to_on_skip(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write(tmp_path, "open/a.txt")
    _write(tmp_path, "locked/b.txt")
    real_scandir = os.scandir

    def scandir(path):  # type: ignore[no-untyped-def]
        # As chmod 000 would do for another user than root (the tests may run as root).
        if Path(path).name == "locked":
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    skipped: list[tuple[str, str]] = []
    files = list(iter_files(tmp_path, on_skip=lambda path, reason: skipped.append((path, reason))))
    assert files == ["open/a.txt"]
    assert skipped == [("locked/", "unreadable folder: Permission denied")]
