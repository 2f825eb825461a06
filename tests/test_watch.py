"""`semsearch watch`: the index follows a folder as its files change (indexer/watch.py)."""

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest

from semsearch.indexer.encoders import Encoder, EncoderSpec
from semsearch.indexer.errors import IndexMismatchError
from semsearch.indexer.index_dir import sync_lock
from semsearch.indexer.store import Store
from semsearch.indexer.sync import SyncJob, SyncOptions, sync_folder
from semsearch.indexer.watch import WatchOptions, WatchSync, watch_folder
from tests.helpers import count_parses

REPO = Path(__file__).resolve().parents[1]
FAST = WatchOptions(debounce_s=0.3, max_wait_s=5.0, retry_s=0.3)
WAIT_S = 90.0  # bound on every wait; a slow machine only makes the test slower


def _wait_until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {WAIT_S:.0f} s waiting for {what}")


def _indexed(index_dir: Path) -> dict[str, str]:
    """Path -> content hash of the documents the index holds now."""
    store = Store.open_readonly(index_dir)
    try:
        return {path: row.content_hash for path, row in store.documents().items()
                if row.status == "indexed"}
    finally:
        store.close()


@contextmanager
def _watching(root: Path, index_dir: Path, encoder: Encoder,
              wait_first: bool = True) -> Iterator[list[WatchSync]]:
    """Run the watcher in a thread; yields the list its syncs are appended to."""
    syncs: list[WatchSync] = []
    errors: list[BaseException] = []
    stop = threading.Event()

    def run() -> None:
        try:
            watch_folder(SyncJob(root, index_dir, EncoderSpec.of(encoder), SyncOptions()),
                         stop, FAST, on_sync=syncs.append)
        except BaseException as error:  # handed to the test thread below
            errors.append(error)

    thread = threading.Thread(target=run, daemon=True, name="test-watch")
    thread.start()
    try:
        if wait_first:
            _wait_until(lambda: bool(syncs or errors), "the first sync")
        yield syncs
    finally:
        stop.set()
        thread.join(timeout=WAIT_S)
        assert not thread.is_alive(), "the watcher did not stop"
    if errors:
        raise errors[0]


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def test_the_index_follows_adds_changes_moves_and_deletes(tmp_path: Path,
                                                         encoder: Encoder) -> None:
    root, index_dir = tmp_path / "docs", tmp_path / "index"
    _write(root / "bread.txt", "Sourdough bread rises slowly overnight.")
    with _watching(root, index_dir, encoder) as syncs:
        assert syncs[0].changed == () and syncs[0].report.added == 1
        assert set(_indexed(index_dir)) == {"bread.txt"}

        _write(root / "notes" / "tea.md", "# Tea\n\nBrew green tea at eighty degrees.")
        _wait_until(lambda: "notes/tea.md" in _indexed(index_dir), "the new file")

        before = _indexed(index_dir)["bread.txt"]
        _write(root / "bread.txt", "Rye bread is dense and keeps for a week in a cloth bag.")
        _wait_until(lambda: _indexed(index_dir).get("bread.txt", before) != before,
                    "the changed file")

        (root / "notes" / "tea.md").rename(root / "tea.md")
        _wait_until(lambda: set(_indexed(index_dir)) == {"bread.txt", "tea.md"}, "the move")

        _write(root / "old" / "a.txt", "An old note about bicycles.")
        _write(root / "old" / "b.txt", "Another old note about tyres.")
        _wait_until(lambda: "old/b.txt" in _indexed(index_dir), "the new folder")
        shutil.rmtree(root / "old")
        _wait_until(lambda: set(_indexed(index_dir)) == {"bread.txt", "tea.md"},
                    "the deleted folder")

        (root / "bread.txt").unlink()
        _wait_until(lambda: set(_indexed(index_dir)) == {"tea.md"}, "the deleted file")
    assert all(sync.changed for sync in syncs[1:])


def test_every_sync_reports_the_skipped_files_without_reading_them_again(
    tmp_path: Path, encoder: Encoder, monkeypatch: pytest.MonkeyPatch
) -> None:

    root, index_dir = tmp_path / "docs", tmp_path / "index"
    _write(root / "a.txt", "Owls hunt at night.")
    (root / "broken.pdf").write_bytes(b"%PDF-1.4\nnot really a pdf")
    parsed = count_parses(monkeypatch)
    with _watching(root, index_dir, encoder) as syncs:
        first = syncs[0].report
        assert [s.path for s in first.skipped] == ["broken.pdf"]
        assert first.skipped[0].reason.startswith("corrupt PDF")
        _write(root / "b.txt", "Swifts sleep while flying.")
        _wait_until(lambda: len(syncs) >= 2, "the sync of b.txt")
    second = syncs[1].report
    assert syncs[1].changed == ("b.txt",)
    assert (second.added, second.unchanged) == (1, 1)
    assert second.skipped == first.skipped and second.skipped_unchanged == 1
    assert sorted(parsed) == ["a.txt", "b.txt", "broken.pdf"]  # broken.pdf parsed once


def test_own_index_and_ignored_files_start_no_sync(tmp_path: Path, encoder: Encoder) -> None:
    root = tmp_path / "docs"
    index_dir = root / "search-index"  # inside the watched folder, not hidden
    _write(root / "a.txt", "Tomatoes need full sun and deep watering.")
    _write(root / ".semsearchignore", "*.log\n")
    with _watching(root, index_dir, encoder) as syncs:
        _write(root / "build.log", "a log line that must not be indexed")
        _write(root / ".hidden.txt", "hidden files are never indexed")
        _write(root / "b.txt", "Basil grows well next to tomatoes.")
        _wait_until(lambda: len(syncs) >= 2, "the sync of b.txt")
        time.sleep(FAST.debounce_s * 5)  # room for a wrong sync of the index's own files
    assert [sync.changed for sync in syncs] == [(), ("b.txt",)]
    assert set(_indexed(index_dir)) == {"a.txt", "b.txt"}


def test_a_change_of_the_ignore_file_syncs(tmp_path: Path, encoder: Encoder) -> None:
    root, index_dir = tmp_path / "docs", tmp_path / "index"
    _write(root / "keep.txt", "Kept.")
    _write(root / "drafts" / "draft.txt", "A draft about sailing.")
    with _watching(root, index_dir, encoder):
        assert set(_indexed(index_dir)) == {"keep.txt", "drafts/draft.txt"}
        _write(root / ".semsearchignore", "drafts/\n")
        _wait_until(lambda: set(_indexed(index_dir)) == {"keep.txt"}, "the ignored folder")


def test_a_locked_index_is_retried(tmp_path: Path, encoder: Encoder) -> None:
    root, index_dir = tmp_path / "docs", tmp_path / "index"
    _write(root / "a.txt", "Bees make honey from nectar.")
    with ExitStack() as lock:
        lock.enter_context(sync_lock(index_dir))  # as another process's sync would
        with _watching(root, index_dir, encoder, wait_first=False) as syncs:
            time.sleep(FAST.retry_s * 3)
            assert syncs == []
            lock.close()
            _wait_until(lambda: bool(syncs), "the sync once the lock is free")
    assert syncs[0].report.added == 1 and set(_indexed(index_dir)) == {"a.txt"}


def test_another_folders_index_is_refused(tmp_path: Path, encoder: Encoder) -> None:
    index_dir = tmp_path / "index"
    _write(tmp_path / "first" / "a.txt", "First folder.")
    _write(tmp_path / "second" / "b.txt", "Second folder.")
    sync_folder(tmp_path / "first", index_dir, EncoderSpec.of(encoder))
    with (pytest.raises(IndexMismatchError, match="holds the folder"),
          _watching(tmp_path / "second", index_dir, encoder, wait_first=False)):
        time.sleep(1)
    assert set(_indexed(index_dir)) == {"a.txt"}


@pytest.mark.slow
def test_cli_watch_stops_cleanly_on_sigterm(tmp_path: Path, encoder: Encoder) -> None:
    root, index_dir = tmp_path / "docs", tmp_path / "index"
    _write(root / "a.txt", "Compost needs greens and browns.")
    sync_folder(root, index_dir, EncoderSpec.of(encoder))  # no model load needed below
    env = {**os.environ, "COLUMNS": "200"}
    process = subprocess.Popen(
        [sys.executable, "-m", "semsearch", "watch", str(root),
         "--index-dir", str(index_dir), "--debounce", "0.2"],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(process.stdout or []), daemon=True)
    reader.start()
    try:
        _wait_until(lambda: any("synced (start)" in line for line in lines), "the first sync")
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=WAIT_S) == 0
    finally:
        if process.poll() is None:
            process.kill()
    reader.join(timeout=10)
    output = "".join(lines)
    assert f"watching {root.resolve()}" in output
    assert "synced (start): added 0, updated 0, removed 0" in output
    assert "stopping after the running sync" in output and output.rstrip().endswith("stopped")
