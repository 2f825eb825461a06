"""indexer.generations: a sync committed in generations, each searchable when it commits;
a kill loses at most the generation in progress, and the re-run ends equal to a clean run.
Real SQLite, FAISS and model, on folders of a few tiny notes."""

import json
import os
import signal
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

import semsearch.indexer.generations as generations
from semsearch.cli import app
from semsearch.indexer.encoders import Encoder, EncoderSpec
from semsearch.indexer.errors import IndexNotFoundError
from semsearch.indexer.generations import Schedule
from semsearch.indexer.index_dir import vectors_path
from semsearch.indexer.sync import SyncOptions, SyncProgress, SyncReport, sync_folder
from semsearch.indexer.vector_index import VectorIndex
from semsearch.search.options import SearchOptions
from semsearch.search.searcher import Searcher
from tests.forked import run_forked
from tests.helpers import count_parses, readonly_store

MARKER = "quince"  # in every note: a lexical search for it lists the whole index
NOTES = 7
CHUNKING = {"chunk_tokens": 32, "chunk_overlap": 0}
# Two files a generation, and no wait after a commit: the generations are exact.
SMALL = SyncOptions(**CHUNKING, generation_files=2, commit_share=1.0)  # type: ignore[arg-type]
ONE_GENERATION = SyncOptions(**CHUNKING)  # type: ignore[arg-type]


def _note(i: int) -> str:
    return (f"# Note {i}\n\n{MARKER} note number {i} is about subject {i * 7}.\n\n"
            f"## Details {i}\n\n{MARKER} the details of note {i}, with words of its own.\n")


def _write_notes(root: Path, numbers: range) -> list[str]:
    """Write the notes; return their paths in walking (sorted) order."""
    root.mkdir(parents=True, exist_ok=True)
    for i in numbers:
        (root / f"n{i:02d}.md").write_text(_note(i), encoding="utf-8")
    return [f"n{i:02d}.md" for i in numbers]


def _visible_paths(searcher: Searcher) -> set[str]:
    """The paths a searcher finds, by lexical and by dense search (which must agree)."""
    lexical = searcher.search(MARKER, SearchOptions(k=100, mode="lexical", highlight=False))
    dense = searcher.search("a note", SearchOptions(k=100, mode="dense", highlight=False))
    paths = {hit.path for hit in lexical.results}
    assert paths == {hit.path for hit in dense.results}
    return paths


def _contents(index_dir: Path) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]],
                                        np.ndarray, list[int]]:
    """(documents, chunks with ids, their embeddings, the FAISS file's ids) of an index
    whose last sync finished: no staging left, one FAISS file."""
    with readonly_store(index_dir) as store:
        connection = store.connection
        documents = connection.execute(
            "SELECT path, content_hash, size, status, title FROM documents ORDER BY path"
        ).fetchall()
        rows = connection.execute(
            "SELECT c.id, d.path, c.ordinal, c.text, c.start, c.\"end\", c.embedding "
            "FROM chunks c JOIN documents d ON d.id = c.doc_id ORDER BY c.id").fetchall()
        assert connection.execute("SELECT count(*) FROM staged_chunks").fetchone()[0] == 0
        path = vectors_path(index_dir, store.generation())
        assert sorted(index_dir.glob("vectors-*")) == [path]
        faiss_ids = np.sort(VectorIndex.load(path).ids()).tolist()
    embeddings = np.stack([np.frombuffer(row[-1], dtype=np.float32) for row in rows])
    return documents, [row[:-1] for row in rows], embeddings, faiss_ids


def _assert_equal_indexes(index_dir: Path, clean_dir: Path) -> None:
    documents, chunks, embeddings, faiss_ids = _contents(index_dir)
    clean_documents, clean_chunks, clean_embeddings, clean_faiss_ids = _contents(clean_dir)
    assert documents == clean_documents
    assert chunks == clean_chunks  # the chunk ids too: both follow the walking order
    assert faiss_ids == clean_faiss_ids == [chunk[0] for chunk in chunks]
    # The encoder's batches differ (two files at a time, or all at once): padding moves
    # the last bits only.
    assert np.allclose(embeddings, clean_embeddings, atol=1e-5)


# --- when a generation is due ----------------------------------------------------------
def test_a_generation_is_due_after_its_files_or_its_seconds() -> None:
    schedule = Schedule(files=3, seconds=60.0, commit_share=1.0)
    schedule.open(100.0)
    assert not schedule.due(2, 101.0)
    assert schedule.due(3, 101.0)
    assert schedule.due(1, 160.0)
    assert not schedule.due(0, 1000.0)  # nothing to commit


def test_a_slow_commit_holds_the_next_generation_back() -> None:
    schedule = Schedule(files=3, seconds=60.0, commit_share=0.1)
    schedule.open(0.0)
    schedule.committed(10.0, 12.0)  # two seconds: the next waits 2 * 0.9 / 0.1 = 18 s
    assert schedule.wanted(50, 29.9) and not schedule.due(50, 29.9)
    assert schedule.due(50, 30.1)
    schedule.committed(30.0, 30.01)
    assert schedule.due(3, 30.2)


def test_generation_options_are_checked() -> None:
    with pytest.raises(ValueError, match="generation_files"):
        SyncOptions(generation_files=0)
    with pytest.raises(ValueError, match="generation_seconds"):
        SyncOptions(generation_seconds=0)
    with pytest.raises(ValueError, match="commit_share"):
        SyncOptions(commit_share=0)


# --- a first sync, searchable as it goes -----------------------------------------------
def test_a_first_sync_is_searchable_generation_by_generation(
    tmp_path: Path, encoder: Encoder
) -> None:
    paths = _write_notes(tmp_path / "docs", range(NOTES))
    index_dir = tmp_path / "index"
    spec = EncoderSpec.of(encoder)
    searchers: list[Searcher] = []
    seen: dict[int, set[str]] = {}

    def search_now(event: SyncProgress) -> None:
        """From the sync's thread, after each commit: what another reader sees."""
        if event.generation in seen or event.generation == 0:
            return
        if not searchers:  # opened on the first generation, then kept: it must follow
            searchers.append(Searcher(index_dir, spec))
        fresh = Searcher(index_dir, spec)
        try:
            seen[event.generation] = _visible_paths(fresh)
        finally:
            fresh.close()
        assert _visible_paths(searchers[0]) == seen[event.generation]

    with pytest.raises(IndexNotFoundError):
        Searcher(index_dir, spec)
    report = sync_folder(tmp_path / "docs", index_dir, spec, SMALL, search_now)
    searchers[0].close()
    assert report.generations == 4 and report.added == NOTES
    assert seen == {1: set(paths[:2]), 2: set(paths[:4]), 3: set(paths[:6]), 4: set(paths)}
    with readonly_store(index_dir) as store:
        assert store.generation() == 4
    clean = tmp_path / "clean"
    assert sync_folder(tmp_path / "docs", clean, spec, ONE_GENERATION).generations == 1
    _assert_equal_indexes(index_dir, clean)


def test_deletions_wait_for_the_last_generation_and_a_rename_is_never_lost(
    tmp_path: Path, encoder: Encoder
) -> None:
    root, index_dir = tmp_path / "docs", tmp_path / "index"
    spec = EncoderSpec.of(encoder)
    _write_notes(root, range(4))
    sync_folder(root, index_dir, spec, ONE_GENERATION)
    (root / "n01.md").unlink()
    (root / "n02.md").rename(root / "z_moved.md")  # walked last
    added = _write_notes(root, range(10, 15))
    seen: list[set[str]] = []

    def search_now(event: SyncProgress) -> None:
        if event.generation > 1 + len(seen):
            searcher = Searcher(index_dir, spec)
            try:
                seen.append(_visible_paths(searcher))
            finally:
                searcher.close()

    report = sync_folder(root, index_dir, spec, SMALL, search_now)
    assert (report.added, report.removed, report.renamed, report.chunks_encoded > 0) == (
        5, 1, 1, True)
    old = {"n00.md", "n01.md", "n02.md", "n03.md"}
    # Two files a generation, in walking order: the renamed file is found under its old
    # name until the generation of its new name commits, never under both or neither;
    # the deleted one stays until the last generation.
    moved = old - {"n02.md"} | {"z_moved.md"}
    assert seen == [old | set(added[:2]), old | set(added[:4]), moved | set(added),
                    moved - {"n01.md"} | set(added)]
    clean = tmp_path / "clean"
    sync_folder(root, clean, spec, ONE_GENERATION)
    documents, chunks, _, _ = _contents(index_dir)
    clean_documents, clean_chunks, _, _ = _contents(clean)
    assert documents == clean_documents
    assert sorted(chunk[1:] for chunk in chunks) == sorted(chunk[1:] for chunk in clean_chunks)


def test_a_reader_never_sees_a_generation_before_its_faiss_file(
    tmp_path: Path, encoder: Encoder, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write_notes(tmp_path / "docs", range(5))
    index_dir = tmp_path / "index"
    seen: list[tuple[int, int, bool]] = []
    real_write = generations.write_vectors

    def write_and_look(vectors: VectorIndex, directory: Path, generation: int) -> None:
        """Before the file of `generation` is in place, and right after: what another
        connection reads, and whether the file of the generation it reads is there."""
        for _ in range(2):
            if (index_dir / "index.sqlite").exists():
                with readonly_store(index_dir) as store:
                    committed = store.generation()
                seen.append((generation, committed,
                             committed == 0 or vectors_path(index_dir, committed).exists()))
            if not vectors_path(index_dir, generation).exists():
                real_write(vectors, directory, generation)

    monkeypatch.setattr(generations, "write_vectors", write_and_look)
    report = sync_folder(tmp_path / "docs", index_dir, EncoderSpec.of(encoder), SMALL)
    assert report.generations == 3
    # Each generation's file is written while the others still read the one before it.
    assert seen == [(g, g - 1, True) for g in (1, 1, 2, 2, 3, 3)]


# --- killed between generations --------------------------------------------------------
def test_a_kill_keeps_the_committed_generations_and_the_rerun_finishes_the_rest(
    tmp_path: Path, encoder: Encoder, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = _write_notes(tmp_path / "docs", range(NOTES))
    index_dir = tmp_path / "index"
    spec = EncoderSpec.of(encoder)

    def killed_in_the_second_commit() -> int:
        """Sync in a child that dies in generation 2's transaction, once its FAISS file
        is written and before it commits."""
        real_write = generations.write_vectors

        def write_then_die(vectors: VectorIndex, directory: Path, generation: int) -> None:
            real_write(vectors, directory, generation)
            if generation == 2:
                os.kill(os.getpid(), signal.SIGKILL)

        generations.write_vectors = write_then_die  # type: ignore[assignment]
        sync_folder(tmp_path / "docs", index_dir, spec, SMALL)
        return 0

    assert run_forked(killed_in_the_second_commit) == -signal.SIGKILL
    # Generation 1 stands, whole and searchable; generation 2's file names no generation.
    with readonly_store(index_dir) as store:
        assert store.generation() == 1
        assert np.sort(VectorIndex.load(vectors_path(index_dir, 1)).ids()).tolist() == \
            store.chunk_ids().tolist()
        staged = store.staged_hashes()
    assert vectors_path(index_dir, 2).exists()
    searcher = Searcher(index_dir, spec)
    try:
        assert _visible_paths(searcher) == set(paths[:2])
    finally:
        searcher.close()
    assert len(staged) == 4  # the two committed notes' content, and the next two's

    parsed = count_parses(monkeypatch)
    report: SyncReport = sync_folder(tmp_path / "docs", index_dir, spec, SMALL)
    # Nothing committed or staged is encoded (or parsed) again.
    assert parsed == paths[4:]
    assert (report.unchanged, report.added) == (2, NOTES - 2)
    _, chunks, _, _ = _contents(index_dir)
    assert report.chunks_encoded == sum(1 for chunk in chunks if chunk[1] in paths[4:])
    clean = tmp_path / "clean"
    sync_folder(tmp_path / "docs", clean, spec, ONE_GENERATION)
    _assert_equal_indexes(index_dir, clean)


# --- the options at the edge -----------------------------------------------------------
def test_cli_and_environment_set_the_generation_size(
    tmp_path: Path, loads: list[tuple[Any, ...]], monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "docs"
    _write_notes(root, range(5))

    def index(name: str, *options: str) -> dict[str, Any]:
        result = CliRunner().invoke(app, ["index", str(root), "--index-dir",
                                          str(tmp_path / name), "--backend", "torch",
                                          "--json", *options])
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    # The first generation commits once two files wait, the rest at the end (or sooner).
    assert index("by-option", "--generation-files", "2")["generations"] >= 2
    assert index("by-default")["generations"] == 1
    monkeypatch.setenv("SEMSEARCH_GENERATION_FILES", "2")
    assert index("by-environment")["generations"] >= 2
    refused = CliRunner().invoke(app, ["index", str(root), "--index-dir",
                                       str(tmp_path / "refused"), "--generation-files", "0"])
    assert refused.exit_code == 2 and "generation-files" in refused.output
