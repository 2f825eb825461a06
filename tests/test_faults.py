"""Faults: SIGKILL at 20 seeded points of a sync, disk full and write errors, files that
change while they are read, and concurrent use (threads, two syncs, two server workers).

The killed syncs run in forked children of the test process, so the model is loaded once
per session; a child kills itself with SIGKILL at the N-th counted event (an SQL statement
of the writing store, a step of the FAISS file's write, a progress report).
"""

import errno
import hashlib
import os
import random
import resource
import shutil
import signal
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from typer.testing import CliRunner

import semsearch.indexer.vector_index
from semsearch.cli import app as cli_app
from semsearch.indexer.background import BackgroundSync
from semsearch.indexer.encoders import Encoder, EncoderSpec
from semsearch.indexer.errors import IndexLockedError, IndexWriteError
from semsearch.indexer.index_dir import vectors_path
from semsearch.indexer.store import Store
from semsearch.indexer.sync import SyncJob, SyncOptions, SyncReport, sync_folder
from semsearch.indexer.vector_index import VectorIndex
from semsearch.indexer.walk import CHANGED_WHILE_READING
from semsearch.search.options import SearchOptions
from semsearch.search.searcher import Searcher
from tests.forked import run_forked
from tests.live_server import start_server, stop_server

OPTIONS = SyncOptions(chunk_tokens=24, chunk_overlap=0)
SEED = 20240607
KILL_POINTS = 20
MARKER = "kiwi"  # in every chunk, so a lexical search for it lists the whole index


# --- the folder: a few hundred tiny notes, then a change of every kind --------------------
BASE_FILES = 300
MODIFIED = [i for i in range(BASE_FILES) if i % 12 == 0]
DELETED = [i for i in range(BASE_FILES) if i % 20 == 3]
RENAMED = [i for i in range(BASE_FILES) if i % 30 == 5]
ADDED = list(range(BASE_FILES, BASE_FILES + 20))


def _note(i: int) -> str:
    return (f"# Note {i}\n\n{MARKER} base note {i} on topic {i % 7}.\n\n"
            f"## More\n\n{MARKER} second part of note {i}.\n")


def _revision(i: int) -> str:
    return "".join(f"## R{j}\n\n{MARKER} revised {i} part {j}.\n\n" for j in range(3))


def _write_base(root: Path) -> None:
    for i in range(BASE_FILES):
        (root / f"notes/n{i:03d}.md").parent.mkdir(parents=True, exist_ok=True)
        (root / f"notes/n{i:03d}.md").write_text(_note(i), encoding="utf-8")


def _apply_changes(root: Path) -> None:
    for i in MODIFIED:
        (root / f"notes/n{i:03d}.md").write_text(_revision(i), encoding="utf-8")
    for i in DELETED:
        (root / f"notes/n{i:03d}.md").unlink()
    (root / "moved").mkdir()
    for i in RENAMED:
        (root / f"notes/n{i:03d}.md").rename(root / f"moved/n{i:03d}.md")
    for i in ADDED:
        (root / f"added/a{i:03d}.md").parent.mkdir(parents=True, exist_ok=True)
        (root / f"added/a{i:03d}.md").write_text(_revision(i), encoding="utf-8")


# --- what an index holds -----------------------------------------------------------------
def _chunks_by_path(index_dir: Path) -> dict[str, list[str]]:
    store = Store.open_readonly(index_dir)
    try:
        rows = store.connection.execute(
            "SELECT d.path, c.text FROM chunks c JOIN documents d ON d.id = c.doc_id "
            "ORDER BY d.path, c.ordinal").fetchall()
    finally:
        store.close()
    result: dict[str, list[str]] = {}
    for path, text in rows:
        result.setdefault(path, []).append(text)
    return result


def _generation(index_dir: Path) -> int:
    store = Store.open_readonly(index_dir)
    try:
        return store.generation()
    finally:
        store.close()


def _searcher_view(index_dir: Path, encoder: Encoder) -> Counter[tuple[str, str]]:
    """Every (path, chunk text) a fresh Searcher finds, by dense and by lexical search;
    both legs must agree."""
    searcher = Searcher(index_dir, EncoderSpec.of(encoder))
    try:
        dense = searcher.search("a note", SearchOptions(k=100_000, mode="dense", highlight=False))
        lexical = searcher.search(MARKER, SearchOptions(k=100_000, mode="lexical", highlight=False))
    finally:
        searcher.close()
    view = Counter((hit.path, hit.text) for hit in dense.results)
    assert view == Counter((hit.path, hit.text) for hit in lexical.results)
    return view


def _check_consistent(index_dir: Path) -> None:
    """SQLite, FTS and FAISS agree; no chunk is duplicated or missing."""
    store = Store.open_readonly(index_dir)
    try:
        connection = store.connection
        sqlite_ids = store.chunk_ids().tolist()
        path = vectors_path(index_dir, store.generation())
        assert path.exists()  # written, atomically, before its generation commits
        assert np.sort(VectorIndex.load(path).ids()).tolist() == sqlite_ids
        assert [r[0] for r in connection.execute(
            "SELECT rowid FROM chunks_fts ORDER BY rowid")] == sqlite_ids
        for doc_id, count, top in connection.execute(
                "SELECT doc_id, count(*), max(ordinal) FROM chunks GROUP BY doc_id"):
            assert top == count - 1, f"document {doc_id} misses or repeats a chunk"
        assert connection.execute(
            "SELECT count(*) FROM documents d WHERE d.status = 'indexed' AND NOT EXISTS "
            "(SELECT 1 FROM chunks c WHERE c.doc_id = d.id)").fetchone()[0] == 0
        assert connection.execute(
            "SELECT count(*) FROM chunks c WHERE NOT EXISTS (SELECT 1 FROM documents d "
            "WHERE d.id = c.doc_id AND d.status = 'indexed')").fetchone()[0] == 0
    finally:
        store.close()


def _check_complete(index_dir: Path, reference: dict[str, list[str]]) -> None:
    """Consistent, with exactly the reference's chunks, its FAISS file in place and no
    staged leftovers."""
    _check_consistent(index_dir)
    assert _chunks_by_path(index_dir) == reference
    store = Store.open_readonly(index_dir)
    try:
        assert store.connection.execute("SELECT count(*) FROM staged_chunks").fetchone()[0] == 0
        held = VectorIndex.load(vectors_path(index_dir, store.generation())).ids()
        assert np.sort(held).tolist() == store.chunk_ids().tolist()
    finally:
        store.close()


# --- a sync in a forked child that kills itself at a counted event -----------------------
class _Events:
    """Counts events; SIGKILLs this process at event `kill_at`."""

    def __init__(self, kill_at: int | None) -> None:
        self.kill_at = kill_at
        self.count = 0
        self.commits: list[int] = []
        self.faiss_writes: list[int] = []
        self._lock = threading.Lock()

    def tick(self) -> int:
        with self._lock:
            self.count += 1
            if self.count == self.kill_at:
                os.kill(os.getpid(), signal.SIGKILL)
            return self.count


class _CountingConnection:
    """A sqlite3 connection whose statements are events."""

    def __init__(self, connection: sqlite3.Connection, events: _Events) -> None:
        self._connection, self._events = connection, events

    def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:
        number = self._events.tick()
        if sql == "COMMIT":
            self._events.commits.append(number)
        return self._connection.execute(sql, *args)

    def executemany(self, sql: str, *args: Any) -> sqlite3.Cursor:
        self._events.tick()
        return self._connection.executemany(sql, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._connection, name)


def _count_events(events: _Events) -> None:
    """Make store statements, FAISS writes, renames and progress reports events (child only)."""
    open_store = Store.open.__func__  # type: ignore[attr-defined]

    def counted_open(cls: type[Store], index_dir: Path, *, create: bool = False) -> Store:
        store: Store = open_store(cls, index_dir, create=create)
        store.connection = _CountingConnection(store.connection, events)  # type: ignore[assignment]
        return store

    write_index, replace = semsearch.indexer.vector_index.faiss.write_index, os.replace

    def counted_write(*args: Any) -> None:
        events.faiss_writes.append(events.tick())
        write_index(*args)
        events.tick()

    def counted_replace(*args: Any) -> None:
        events.tick()
        replace(*args)
        events.tick()

    Store.open = classmethod(counted_open)  # type: ignore[method-assign, assignment]
    semsearch.indexer.vector_index.faiss.write_index = counted_write
    os.replace = counted_replace


def _sync_in_child(root: Path, index_dir: Path, encoder: Encoder, kill_at: int | None,
                   record: Path) -> int:
    """Sync in a forked child; return its exit code (-9 when it killed itself)."""
    def body() -> int:
        events = _Events(kill_at)
        _count_events(events)
        sync_folder(root, index_dir, EncoderSpec.of(encoder), OPTIONS,
                    on_progress=lambda _: events.tick())
        # The commit that swaps the new state in is the first one after its FAISS write.
        main_commit = min(c for c in events.commits if c > events.faiss_writes[-1])
        record.write_text(f"{events.count} {main_commit} {events.faiss_writes[-1]}")
        return 0

    return run_forked(body)


def _kill_points(total: int, main_commit: int, faiss_write: int) -> list[int]:
    """18 points drawn one from each slice of the run, plus two landmarks: right after the
    commit of the new state, and between the FAISS file's write and its rename (which
    come before that commit)."""
    rng = random.Random(SEED)
    slices = KILL_POINTS - 2
    points = [rng.randint(1 + total * s // slices, max(1 + total * s // slices,
                                                       total * (s + 1) // slices))
              for s in range(slices)]
    return sorted({*points, main_commit + 1, faiss_write + 1})


@pytest.mark.slow
def test_sigkill_at_20_points_then_rerun_completes(tmp_path: Path, encoder: Encoder) -> None:
    root = tmp_path / "docs"
    _write_base(root)
    base = tmp_path / "base-index"
    sync_folder(root, base, EncoderSpec.of(encoder), OPTIONS)
    base_view = _searcher_view(base, encoder)
    base_generation = _generation(base)
    assert len({path for path, _ in base_view}) == BASE_FILES
    _apply_changes(root)

    # One uninterrupted child run counts the events and gives the reference result.
    reference_dir, record = tmp_path / "reference", tmp_path / "events.txt"
    shutil.copytree(base, reference_dir)
    assert _sync_in_child(root, reference_dir, encoder, None, record) == 0
    total, main_commit, faiss_write = map(int, record.read_text().split())
    reference = _chunks_by_path(reference_dir)
    reference_view = _searcher_view(reference_dir, encoder)
    expected_paths = {p.relative_to(root).as_posix() for p in root.rglob("*.md")}
    assert set(reference) == expected_paths
    assert len(reference) == BASE_FILES - len(DELETED) + len(ADDED)

    points = _kill_points(total, main_commit, faiss_write)
    assert len(points) >= KILL_POINTS - 1
    outcomes = Counter()
    for point in points:
        work = tmp_path / f"killed-at-{point}"
        shutil.copytree(base, work)
        assert _sync_in_child(root, work, encoder, point, record) == -signal.SIGKILL, point
        _check_consistent(work)
        # Between the kill and the re-run, searches see one whole generation.
        committed = _generation(work) != base_generation
        assert _searcher_view(work, encoder) == (reference_view if committed else base_view)
        outcomes["after commit" if committed else "before commit"] += 1
        report = sync_folder(root, work, EncoderSpec.of(encoder), OPTIONS)
        assert report.skipped == []
        _check_complete(work, reference)
        shutil.rmtree(work)
    # The commit is the run's last write: after it only the final progress report is left.
    assert outcomes["before commit"] >= 10 and outcomes["after commit"] >= 1, outcomes


# --- disk full and write errors ----------------------------------------------------------
class _FaultyConnection:
    """A sqlite3 connection that fails like a full disk at the first statement matching."""

    def __init__(self, connection: sqlite3.Connection, statement: str) -> None:
        self._connection, self._statement = connection, statement

    def _check(self, sql: str) -> None:
        if sql.startswith(self._statement):
            raise sqlite3.OperationalError("database or disk is full")

    def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:
        self._check(sql)
        return self._connection.execute(sql, *args)

    def executemany(self, sql: str, *args: Any) -> sqlite3.Cursor:
        self._check(sql)
        return self._connection.executemany(sql, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._connection, name)


def _fail_statement(monkeypatch: pytest.MonkeyPatch, statement: str) -> None:
    open_store = Store.open.__func__  # type: ignore[attr-defined]

    def faulty_open(cls: type[Store], index_dir: Path, *, create: bool = False) -> Store:
        store: Store = open_store(cls, index_dir, create=create)
        store.connection = _FaultyConnection(store.connection, statement)  # type: ignore[assignment]
        return store

    monkeypatch.setattr(Store, "open", classmethod(faulty_open))


def _small_folder(root: Path, count: int = 12) -> None:
    for i in range(count):
        (root / f"doc{i:02d}.md").parent.mkdir(parents=True, exist_ok=True)
        (root / f"doc{i:02d}.md").write_text(_note(i), encoding="utf-8")


def _changed_small_folder(root: Path) -> None:
    (root / "doc00.md").write_text(_revision(0), encoding="utf-8")
    (root / "doc01.md").unlink()
    (root / "new.md").write_text(_revision(99), encoding="utf-8")


@pytest.fixture
def synced(tmp_path: Path, encoder: Encoder) -> tuple[Path, Path, Counter[tuple[str, str]]]:
    """(folder, index, what a searcher sees) of a small synced folder, then changed."""
    root, index_dir = tmp_path / "docs", tmp_path / "index"
    _small_folder(root)
    sync_folder(root, index_dir, EncoderSpec.of(encoder), OPTIONS)
    view = _searcher_view(index_dir, encoder)
    _changed_small_folder(root)
    return root, index_dir, view


def _rerun_completes(root: Path, index_dir: Path, encoder: Encoder) -> None:
    report = sync_folder(root, index_dir, EncoderSpec.of(encoder), OPTIONS)
    assert report.skipped == []
    _check_consistent(index_dir)
    assert set(_chunks_by_path(index_dir)) == {
        p.relative_to(root).as_posix() for p in root.rglob("*.md")}
    assert any("revised 0 part 2" in t for t in _chunks_by_path(index_dir)["doc00.md"])
    assert not list(index_dir.glob("*.tmp"))


@pytest.mark.parametrize("statement", [
    "INSERT INTO staged_chunks",  # while staging encoded chunks
    "INSERT INTO chunks ",  # in the commit transaction
    "UPDATE documents",  # in the commit transaction, later
])
def test_disk_full_in_sqlite_keeps_the_previous_index(
    synced: tuple[Path, Path, Counter[tuple[str, str]]], encoder: Encoder,
    monkeypatch: pytest.MonkeyPatch, statement: str,
) -> None:
    root, index_dir, before = synced
    generation = _generation(index_dir)
    _fail_statement(monkeypatch, statement)
    with pytest.raises(IndexWriteError) as caught:
        sync_folder(root, index_dir, EncoderSpec.of(encoder), OPTIONS)
    message = str(caught.value)
    assert "database or disk is full" in message and "run the sync again" in message
    monkeypatch.undo()
    assert _generation(index_dir) == generation
    _check_consistent(index_dir)
    assert _searcher_view(index_dir, encoder) == before
    _rerun_completes(root, index_dir, encoder)


def _enospc(*args: Any) -> None:
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def _faiss_write_error(index: Any, path: str) -> None:
    Path(path).write_bytes(b"half a file")
    # What faiss raises when fwrite fails.
    raise RuntimeError(f"Error: 'ret == (size * 4)' failed: write error in {path}: 11 != 1536 "
                       "(No space left on device)")


@pytest.mark.parametrize("fault", ["faiss write", "fsync"])
def test_failed_faiss_write_is_reported_and_repaired(
    synced: tuple[Path, Path, Counter[tuple[str, str]]], encoder: Encoder,
    monkeypatch: pytest.MonkeyPatch, fault: str,
) -> None:
    root, index_dir, before = synced
    generation = _generation(index_dir)
    if fault == "faiss write":
        monkeypatch.setattr(semsearch.indexer.vector_index.faiss, "write_index", _faiss_write_error)
    else:
        monkeypatch.setattr(semsearch.indexer.vector_index.os, "fsync", _enospc)
    with pytest.raises(IndexWriteError, match="No space left on device"):
        sync_folder(root, index_dir, EncoderSpec.of(encoder), OPTIONS)
    monkeypatch.undo()
    assert not list(index_dir.glob("*.tmp"))  # the half-written file is gone
    # The FAISS file is written before its generation commits: the commit was rolled
    # back, and searches still see the previous generation, whole.
    assert _generation(index_dir) == generation
    _check_consistent(index_dir)
    assert _searcher_view(index_dir, encoder) == before
    _rerun_completes(root, index_dir, encoder)


def test_cli_reports_a_full_disk_with_exit_code_2(
    tmp_path: Path, encoder: Encoder, monkeypatch: pytest.MonkeyPatch
) -> None:
    root, index_dir = tmp_path / "docs", tmp_path / "index"
    _small_folder(root, 4)
    sync_folder(root, index_dir, EncoderSpec.of(encoder), SyncOptions())
    (root / "doc03.md").unlink()  # a deletion needs no model: the CLI loads none
    for name in ("SEMSEARCH_INDEX_DIR", "SEMSEARCH_CHUNK_TOKENS", "SEMSEARCH_CHUNK_OVERLAP",
                 "SEMSEARCH_MODEL"):
        monkeypatch.delenv(name, raising=False)
    _fail_statement(monkeypatch, "DELETE FROM documents")
    result = CliRunner().invoke(cli_app, ["index", str(root), "--index-dir", str(index_dir)])
    assert result.exit_code == 2, result.output
    message = " ".join(result.output.split())  # rich wraps long lines
    assert message.startswith("error: Could not write the index at")
    assert "database or disk is full" in message and "run the sync again" in message
    assert "doc03.md" in _chunks_by_path(index_dir)


@pytest.mark.slow
def test_real_write_error_from_a_file_size_limit(
    synced: tuple[Path, Path, Counter[tuple[str, str]]], encoder: Encoder, tmp_path: Path
) -> None:
    """A real failing write: RLIMIT_FSIZE makes the kernel refuse writes past 64 KiB
    (EFBIG), as a full disk would, in a forked child that syncs."""
    root, index_dir, before = synced
    for i in range(20):  # enough to write well past the limit
        (root / f"more/m{i:02d}.md").parent.mkdir(exist_ok=True)
        (root / f"more/m{i:02d}.md").write_text(_revision(100 + i), encoding="utf-8")
    message = tmp_path / "message.txt"

    def body() -> int:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of a signal
        resource.setrlimit(resource.RLIMIT_FSIZE, (65_536, resource.RLIM_INFINITY))
        try:
            sync_folder(root, index_dir, EncoderSpec.of(encoder), OPTIONS)
        except IndexWriteError as error:
            resource.setrlimit(resource.RLIMIT_FSIZE,
                               (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
            message.write_text(str(error))
            return 3
        return 1

    assert run_forked(body) == 3
    assert "Could not write the index" in message.read_text()
    _check_consistent(index_dir)
    assert _searcher_view(index_dir, encoder) == before
    _rerun_completes(root, index_dir, encoder)


# --- files that change while the sync reads them -----------------------------------------
def _after_fstat(monkeypatch: pytest.MonkeyPatch, target: Path,
                 action: Callable[[], None]) -> None:
    """Run `action` once, right after the sync took the stat of the open `target`."""
    original, inode, done = os.fstat, target.stat().st_ino, []

    def hooked(descriptor: int) -> os.stat_result:
        result = original(descriptor)
        if not done and result.st_ino == inode:
            done.append(True)
            action()
        return result

    monkeypatch.setattr(os, "fstat", hooked)


def _before_open(monkeypatch: pytest.MonkeyPatch, target: Path,
                 action: Callable[[], None]) -> None:
    """Run `action` once, right before the sync opens `target`."""
    original, wanted, done = os.open, os.path.realpath(target), []

    def hooked(path: Any, *args: Any, **kwargs: Any) -> int:
        if not done and os.path.realpath(path) == wanted:
            done.append(True)
            action()
        return original(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", hooked)


def _version(i: int) -> str:
    return f"# Victim\n\n{MARKER} version {i} of the victim. " + "Words. " * i


def _indexed_victim(tmp_path: Path, encoder: Encoder) -> tuple[Path, Path, Path]:
    """(folder, index, victim.md): version 1 of the victim indexed, version 2 on disk."""
    root, index_dir = tmp_path / "docs", tmp_path / "index"
    _small_folder(root, 3)
    victim = root / "victim.md"
    victim.write_text(_version(1), encoding="utf-8")
    sync_folder(root, index_dir, EncoderSpec.of(encoder), OPTIONS)
    victim.write_text(_version(2), encoding="utf-8")
    return root, index_dir, victim


CHANGES: dict[str, Callable[[Path], None]] = {
    "modified": lambda p: p.write_text(_version(7), encoding="utf-8"),
    "truncated": lambda p: p.write_bytes(p.read_bytes()[:20]),
    "deleted": lambda p: p.unlink(),
    "grown": lambda p: p.write_text(_version(2) + "More. " * 500, encoding="utf-8"),
}


@pytest.mark.parametrize("change", list(CHANGES))
def test_file_changed_while_read_is_retried_not_half_indexed(
    tmp_path: Path, encoder: Encoder, monkeypatch: pytest.MonkeyPatch, change: str
) -> None:
    root, index_dir, victim = _indexed_victim(tmp_path, encoder)
    # Between the stat of the open file and its read, the file changes.
    _after_fstat(monkeypatch, victim, lambda: CHANGES[change](victim))
    report = sync_folder(root, index_dir, EncoderSpec.of(encoder), OPTIONS)
    monkeypatch.undo()
    assert [(s.path, s.reason) for s in report.skipped] == [("victim.md", CHANGED_WHILE_READING)]
    assert "victim.md" not in _chunks_by_path(index_dir)  # neither old, new nor torn
    _check_consistent(index_dir)

    retried = sync_folder(root, index_dir, EncoderSpec.of(encoder), OPTIONS)
    chunks = _chunks_by_path(index_dir)
    if change == "deleted":
        assert "victim.md" not in chunks and retried.removed == 1
    else:
        assert retried.updated == 1 and retried.skipped == []
        text = victim.read_text(encoding="utf-8")
        assert chunks["victim.md"] and all(chunk in text for chunk in chunks["victim.md"])
        _assert_hash_matches(index_dir, victim)
    _check_consistent(index_dir)


def _assert_hash_matches(index_dir: Path, path: Path) -> None:
    store = Store.open_readonly(index_dir)
    try:
        row = store.documents()[path.name]
    finally:
        store.close()
    data = path.read_bytes()
    assert row.content_hash == hashlib.blake2b(data, digest_size=20).hexdigest()
    assert (row.size, row.mtime) == (len(data), path.stat().st_mtime)


def test_file_changed_before_read_is_indexed_in_the_version_read(
    tmp_path: Path, encoder: Encoder, monkeypatch: pytest.MonkeyPatch
) -> None:
    root, index_dir, victim = _indexed_victim(tmp_path, encoder)
    # After the sync listed and stat-ed the file, before it opens it.
    _before_open(monkeypatch, victim, lambda: victim.write_text(_version(5)))
    report = sync_folder(root, index_dir, EncoderSpec.of(encoder), OPTIONS)
    monkeypatch.undo()
    assert report.skipped == [] and report.updated == 1
    assert any("version 5" in text for text in _chunks_by_path(index_dir)["victim.md"])
    _assert_hash_matches(index_dir, victim)
    # The stored stat is the one the bytes were read at: the next sync has nothing to do.
    again = sync_folder(root, index_dir, EncoderSpec.of(encoder), OPTIONS)
    assert (again.updated, again.chunks_encoded, again.unchanged) == (0, 0, 4)


# --- concurrent use -----------------------------------------------------------------------
GENERATIONS = ("alpha", "bravo")


def _generation_docs(root: Path, generation: str, count: int = 40) -> None:
    for i in range(count):
        (root / f"g{i:02d}.txt").write_text(
            f"{MARKER} generation {generation} document {i}.", encoding="utf-8")


@pytest.mark.slow
def test_searches_during_a_sync_see_one_whole_generation(
    tmp_path: Path, encoder: Encoder
) -> None:
    root, index_dir = tmp_path / "docs", tmp_path / "index"
    root.mkdir()
    _generation_docs(root, "alpha")
    sync_folder(root, index_dir, EncoderSpec.of(encoder), OPTIONS)
    searcher = Searcher(index_dir, EncoderSpec.of(encoder))
    _generation_docs(root, "bravo")
    errors: list[str] = []
    seen: Counter[str] = Counter()
    stop = threading.Event()

    def search_until_stopped(mode: str) -> None:
        while not stop.is_set():
            try:
                hits = searcher.search(f"{MARKER} generation",
                        SearchOptions(k=1000, mode=mode, highlight=False)).results
            except Exception as error:  # noqa: BLE001 - every failure is the finding
                errors.append(f"{type(error).__name__}: {error}")
                continue
            kinds = {g for g in GENERATIONS for hit in hits if f"generation {g} " in hit.text}
            if len(hits) != 40 or len(kinds) != 1:
                errors.append(f"{mode}: {len(hits)} hits of generations {sorted(kinds)}")
            seen.update(kinds)

    threads = [threading.Thread(target=search_until_stopped, args=(mode,))
               for mode in ("dense", "lexical", "hybrid", "lexical")]
    for thread in threads:
        thread.start()
    try:
        deadline = time.monotonic() + 120
        while not seen["alpha"] and not errors:  # searching before the sync starts
            assert time.monotonic() < deadline
            time.sleep(0.05)
        report = sync_folder(root, index_dir, EncoderSpec.of(encoder), OPTIONS)
        time.sleep(0.5)  # let the threads search the new generation too
    finally:
        stop.set()
        for thread in threads:
            thread.join()
        searcher.close()
    assert report.updated == 40
    assert errors == []
    assert seen["alpha"] > 0 and seen["bravo"] > 0


def test_second_sync_is_refused_while_one_runs(tmp_path: Path, encoder: Encoder) -> None:
    root, index_dir = tmp_path / "docs", tmp_path / "index"
    _small_folder(root, 3)
    started, release = threading.Event(), threading.Event()
    reports: list[SyncReport] = []

    def first_sync() -> None:
        def hold(_: object) -> None:
            started.set()
            release.wait(timeout=120)

        reports.append(sync_folder(root, index_dir, EncoderSpec.of(encoder), OPTIONS,
                                   on_progress=hold))

    thread = threading.Thread(target=first_sync)
    thread.start()
    try:
        assert started.wait(timeout=120)
        with pytest.raises(IndexLockedError, match="Another sync is already running"):
            sync_folder(root, index_dir, EncoderSpec.of(encoder), OPTIONS)
        # A server's background sync is refused at once too, and reports the running one.
        background = BackgroundSync(SyncJob(root, index_dir, EncoderSpec.of(encoder), OPTIONS))
        assert background.status().running
        with pytest.raises(IndexLockedError):
            background.start(root)
    finally:
        release.set()
        thread.join()
    assert reports and reports[0].added == 3
    job = SyncJob(root, index_dir, EncoderSpec.of(encoder), OPTIONS)
    assert not BackgroundSync(job).status().running


@pytest.fixture
def served_folder(tmp_path: Path, encoder: Encoder) -> Iterator[tuple[Path, Path]]:
    root, index_dir = tmp_path / "docs", tmp_path / "index"
    _small_folder(root, 20)
    sync_folder(root, index_dir, EncoderSpec.of(encoder), SyncOptions())
    yield root, index_dir


@pytest.mark.slow
def test_two_workers_serve_a_burst_while_syncing(served_folder: tuple[Path, Path]) -> None:
    root, index_dir = served_folder
    process, base = start_server(index_dir, workers=2)
    failures: list[str] = []
    statuses: list[int] = []

    def burst(client_number: int) -> None:
        with httpx.Client(base_url=base, timeout=120) as client:
            for request_number in range(6):
                mode = ("dense", "lexical", "hybrid")[(client_number + request_number) % 3]
                response = client.post("/search", json={"query": f"note {client_number}",
                                                         "mode": mode, "k": 5})
                statuses.append(response.status_code)
                if response.status_code != 200 or not response.json()["results"]:
                    failures.append(f"{response.status_code} {response.text[:200]}")
            for path in ("/stats", "/index/status"):
                response = client.get(path)
                if response.status_code != 200:
                    failures.append(f"{path}: {response.status_code} {response.text[:200]}")

    try:
        (root / "fresh.md").write_text("# Fresh\n\nA freshly added note about quokkas.",
                                       encoding="utf-8")
        for i in range(10):
            (root / f"doc{i:02d}.md").write_text(_revision(i), encoding="utf-8")
        threads = [threading.Thread(target=burst, args=(n,)) for n in range(32)]
        for thread in threads:
            thread.start()
        with httpx.Client(base_url=base, timeout=120) as client:
            first = client.post("/index", json={})
            assert first.status_code == 202, first.text
            # Another POST, answered by either worker, is refused or starts after the first.
            second = client.post("/index", json={})
            assert second.status_code in (202, 409), second.text
            if second.status_code == 409:
                assert "already running" in second.json()["detail"]
            for thread in threads:
                thread.join()
            # Until both workers answer from the new generation, eight times running.
            deadline, in_a_row = time.monotonic() + 180, 0
            while in_a_row < 8:
                assert time.monotonic() < deadline, "the new file never became searchable"
                hits = client.post("/search", json={"query": "quokkas", "k": 1}).json()
                found = hits["results"][0]["path"] == "fresh.md"
                in_a_row = in_a_row + 1 if found else 0
                time.sleep(0 if found else 0.3)
    finally:
        log = stop_server(process)
    assert failures == [], failures[:5]
    assert statuses == [200] * (32 * 6)
    assert "Exception in ASGI application" not in log, log[-3000:]  # nothing unhandled
