"""Kill safety: a sync killed with SIGKILL at any moment leaves a consistent, readable
index, and the next normal run finishes the job.

The first full index is built in process (with the session model); the interrupted and
the final syncs run `semsearch index` in subprocesses, four of them in all.
"""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from semsearch.indexer.encoders import Encoder, EncoderSpec
from semsearch.indexer.index_dir import load_vectors, vectors_path
from semsearch.indexer.store import Store
from semsearch.indexer.sync import SyncOptions, sync_folder
from semsearch.indexer.vector_index import VectorIndex

REPO = Path(__file__).parents[1]
FILES = 40
CHUNK_TOKENS = 32
SUBPROCESS_TIMEOUT = 300  # seconds; only a safety net against a hung child


def _original(i: int) -> str:
    return f"# Doc {i}\n\n" + " ".join(
        f"File {i} original sentence {j} is about topic {i}." for j in range(12))


# The second sync's content comes in short sections (a heading always ends a chunk): cheap
# chunks, but more of them (28 files x 24) than one encoder group (512), so that a run can
# be killed with part of its work staged.
SECTIONS = 24


def _revised(i: int) -> str:
    return "".join(f"## R{j}\n\nREVISED{i} part {j}.\n\n" for j in range(SECTIONS))


def _added(i: int) -> str:
    return "".join(f"## A{j}\n\nADDED{i} part {j}.\n\n" for j in range(SECTIONS))


MODIFIED = list(range(0, FILES, 2))
ADDED = list(range(FILES, FILES + 8))


def _child_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEMSEARCH_")}
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", TOKENIZERS_PARALLELISM="false",
               PYTHONPATH=str(REPO))
    return env


def _start(root: Path, index_dir: Path, log: Path) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "semsearch", "index", str(root),
               "--index-dir", str(index_dir), "--chunk-tokens", str(CHUNK_TOKENS),
               "--device", "cpu", "--json"]
    with open(log, "ab") as stderr:
        return subprocess.Popen(command, cwd=REPO, env=_child_env(), stdout=subprocess.PIPE,
                                stderr=stderr)


def _query(index_dir: Path, sql: str) -> int | None:
    """One integer from the index, read by a separate connection; None while unreadable."""
    try:
        connection = sqlite3.connect(f"file:{index_dir / 'index.sqlite'}?mode=ro", uri=True,
                                     timeout=5)
        try:
            row = connection.execute(sql).fetchone()
        finally:
            connection.close()
    except sqlite3.Error:
        return None
    return int(row[0]) if row and row[0] is not None else 0


def _wait_for(process: subprocess.Popen[bytes], condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + SUBPROCESS_TIMEOUT
    while process.poll() is None and not condition():
        assert time.monotonic() < deadline, "the sync neither progressed nor ended"
        time.sleep(0.01)


def _kill(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGKILL)
    process.wait(timeout=SUBPROCESS_TIMEOUT)
    assert process.stdout is not None
    process.stdout.close()


def _check_consistent(index_dir: Path, dimension: int) -> dict[str, str]:
    """Assert the index is whole; return each indexed path's chunk text, joined."""
    store = Store.open_readonly(index_dir)
    try:
        sqlite_ids = store.chunk_ids()
        generation = store.generation()
        path = vectors_path(index_dir, generation)
        if path.exists():
            # A generation's FAISS file is written atomically, before its commit: it is
            # exactly right, never half of it.
            assert np.sort(VectorIndex.load(path).ids()).tolist() == sqlite_ids.tolist()
        vectors = load_vectors(store, index_dir, dimension, repair=False)
        assert np.sort(vectors.ids()).tolist() == sqlite_ids.tolist()
        connection = store.connection
        assert connection.execute(
            "SELECT count(*) FROM (SELECT 1 FROM chunks GROUP BY doc_id, ordinal "
            "HAVING count(*) > 1)").fetchone()[0] == 0
        assert connection.execute(
            "SELECT count(*) FROM documents d WHERE d.status = 'indexed' AND NOT EXISTS "
            "(SELECT 1 FROM chunks c WHERE c.doc_id = d.id)").fetchone()[0] == 0
        assert connection.execute(
            "SELECT count(*) FROM chunks c WHERE NOT EXISTS "
            "(SELECT 1 FROM documents d WHERE d.id = c.doc_id AND d.status = 'indexed')"
        ).fetchone()[0] == 0
        for doc_id, count, top in connection.execute(
                "SELECT doc_id, count(*), max(ordinal) FROM chunks GROUP BY doc_id"):
            assert top == count - 1, doc_id
        fts = [r[0] for r in connection.execute("SELECT rowid FROM chunks_fts ORDER BY rowid")]
        assert fts == sqlite_ids.tolist()
        texts = {}
        for doc_path, doc_id in connection.execute(
                "SELECT path, id FROM documents WHERE status = 'indexed'"):
            texts[doc_path] = "\n".join(r.text for r in store.document_chunks(doc_id))
        return texts
    finally:
        store.close()


def _check_all_or_nothing(texts: dict[str, str]) -> bool:
    """Either the whole second sync is visible or none of it; return which."""
    revised = [f"doc{i:02d}.md" for i in MODIFIED if f"REVISED{i} " in texts[f"doc{i:02d}.md"]]
    added = [f"new{i:02d}.md" for i in ADDED if f"new{i:02d}.md" in texts]
    if revised or added:
        assert len(revised) == len(MODIFIED) and len(added) == len(ADDED)
        assert len(texts) == FILES + len(ADDED)
        return True
    assert len(texts) == FILES
    for i in range(FILES):
        assert f"File {i} original sentence 0 " in texts[f"doc{i:02d}.md"]
    return False


@pytest.mark.slow
def test_killed_syncs_leave_a_consistent_index(tmp_path: Path, encoder: Encoder) -> None:
    root = tmp_path / "docs"
    root.mkdir()
    index_dir = tmp_path / "index"
    log = tmp_path / "child-stderr.log"
    for i in range(FILES):
        (root / f"doc{i:02d}.md").write_text(_original(i), encoding="utf-8")
    first = sync_folder(root, index_dir, EncoderSpec.of(encoder),
                        SyncOptions(chunk_tokens=CHUNK_TOKENS))
    assert first.added == FILES
    _check_all_or_nothing(_check_consistent(index_dir, encoder.dimension))
    generation = _query(index_dir, "SELECT value FROM meta WHERE key = 'generation'")

    for i in MODIFIED:
        (root / f"doc{i:02d}.md").write_text(_revised(i), encoding="utf-8")
    for i in ADDED:
        (root / f"new{i:02d}.md").write_text(_added(i), encoding="utf-8")

    def committed() -> bool:
        return _query(index_dir, "SELECT value FROM meta WHERE key = 'generation'") != generation

    kill_points: list[tuple[str, Callable[[], bool]]] = [
        # While the child is still starting up or loading the model.
        ("start-up", lambda: time.monotonic() - started > 1.5),
        # Mid-encoding: part of the new content is staged, the rest is not.
        ("staging", lambda: (_query(index_dir, "SELECT count(*) FROM staged_chunks") or 0) > 0),
        # Right after the commit (the new FAISS file is written before it).
        ("commit", committed),
    ]
    for name, condition in kill_points:
        started = time.monotonic()
        process = _start(root, index_dir, log)
        _wait_for(process, condition)
        _kill(process)
        texts = _check_consistent(index_dir, encoder.dimension)
        _check_all_or_nothing(texts)
        if process.returncode == 0:
            # The child finished before the kill point came: nothing left to interrupt.
            break
        assert process.returncode == -signal.SIGKILL, (name, log.read_text())

    process = _start(root, index_dir, log)
    output, _ = process.communicate(timeout=SUBPROCESS_TIMEOUT)
    assert process.returncode == 0, log.read_text()
    report = json.loads(output)
    assert report["skipped"] == []
    texts = _check_consistent(index_dir, encoder.dimension)
    assert _check_all_or_nothing(texts)
    for i in MODIFIED:
        assert f"REVISED{i} part {SECTIONS - 1}." in texts[f"doc{i:02d}.md"]
        assert "original sentence" not in texts[f"doc{i:02d}.md"]
    for i in ADDED:
        assert f"ADDED{i} part {SECTIONS - 1}." in texts[f"new{i:02d}.md"]
    for i in range(1, FILES, 2):
        assert f"File {i} original sentence 11 " in texts[f"doc{i:02d}.md"]
    # The final run left a FAISS file that needs no repair, and no staged leftovers.
    with sqlite3.connect(index_dir / "index.sqlite") as connection:
        generation = int(connection.execute(
            "SELECT value FROM meta WHERE key = 'generation'").fetchone()[0])
        assert connection.execute("SELECT count(*) FROM staged_chunks").fetchone()[0] == 0
        sqlite_ids = [r[0] for r in connection.execute("SELECT id FROM chunks ORDER BY id")]
    connection.close()
    assert np.sort(VectorIndex.load(vectors_path(index_dir, generation)).ids()).tolist() == \
        sqlite_ids
