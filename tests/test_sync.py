"""indexer.sync: incremental syncs against a real SQLite file, FAISS index and model."""

import os
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path

import faiss
import numpy as np
import pytest

from semsearch.indexer.encoders import Encoder, EncoderSpec
from semsearch.indexer.errors import IndexLockedError, IndexMismatchError
from semsearch.indexer.index_dir import load_vectors, sync_lock, vectors_path
from semsearch.indexer.sync import SyncOptions, SyncProgress, SyncReport, sync_folder
from semsearch.indexer.vector_index import VectorIndex
from semsearch.settings import DEFAULT_MODEL
from tests.helpers import (
    PDF_PAGES,
    PDF_QUESTION,
    count_parses,
    make_pdf,
    readonly_store,
    spec_loading,
)

GOOD = {
    "notes.txt": "Meeting notes. We agreed to ship the search engine on Friday.\n",
    "guide.md": "# Guide\n\nInstall the package with pip.\n\n## Usage\n\nRun semsearch index.\n",
    "page.html": "<html><head><title>Recipes</title></head><body><h1>Soup</h1>"
                 "<p>Boil water and add vegetables.</p></body></html>",
}
BAD = {
    "broken.pdf": b"%PDF-1.4\nthis is not really a pdf",
    "blob.txt": bytes(range(256)) * 4,
    "photo.png": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
}
OPTIONS = SyncOptions(chunk_tokens=64, chunk_overlap=8)


def _never() -> Encoder:
    raise AssertionError("the model must not be loaded by this sync")


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "docs"
    root.mkdir()
    for name, text in GOOD.items():
        (root / name).write_text(text, encoding="utf-8")
    for name, data in BAD.items():
        (root / name).write_bytes(data)
    return root


def _sync(root: Path, index_dir: Path, load: Callable[[], Encoder],
          options: SyncOptions = OPTIONS, model: str = DEFAULT_MODEL) -> SyncReport:
    return sync_folder(root, index_dir, spec_loading(load, model), options)


def _chunk_ids_by_path(index_dir: Path) -> dict[str, list[int]]:
    with readonly_store(index_dir) as store:
        rows = store.connection.execute(
            "SELECT d.path, c.id FROM chunks c JOIN documents d ON d.id = c.doc_id "
            "ORDER BY d.path, c.ordinal").fetchall()
    result: dict[str, list[int]] = {}
    for path, chunk_id in rows:
        result.setdefault(path, []).append(chunk_id)
    return result


def _assert_consistent(index_dir: Path, encoder: Encoder) -> np.ndarray:
    """The FAISS file of the current generation holds exactly SQLite's chunk ids and
    their vectors; return those ids."""
    with readonly_store(index_dir) as store:
        generation = store.generation()
        sqlite_ids = store.chunk_ids()
        path = vectors_path(index_dir, generation)
        assert path.exists()
        assert sorted(p.name for p in index_dir.glob("vectors-*.faiss")) == [path.name]
        vectors = VectorIndex.load(path)
        assert vectors.dimension == encoder.dimension
        faiss_ids = np.sort(vectors.ids())
        assert faiss_ids.tolist() == sqlite_ids.tolist()
        assert len(set(faiss_ids.tolist())) == len(faiss_ids)
        # FAISS holds, under each id, the vector SQLite stores for that chunk.
        raw = faiss.read_index(str(path))
        for ids, batch in store.embeddings(dimension=encoder.dimension):
            held = np.stack([raw.reconstruct(int(i)) for i in ids])
            assert np.array_equal(held, batch)
            scores, _ = vectors.search(batch, 1)
            assert np.allclose(scores[:, 0], 1.0, atol=1e-4)  # unit vectors
        loaded = load_vectors(store, index_dir, encoder.dimension, repair=False)
        assert np.sort(loaded.ids()).tolist() == sqlite_ids.tolist()
        duplicates = store.connection.execute(
            "SELECT doc_id, ordinal FROM chunks GROUP BY doc_id, ordinal HAVING count(*) > 1"
        ).fetchall()
        assert duplicates == []
        fts = [r[0] for r in store.connection.execute(
            "SELECT rowid FROM chunks_fts ORDER BY rowid")]
        assert fts == sqlite_ids.tolist()
    return sqlite_ids


def test_first_sync_indexes_good_files_and_skips_bad(
    folder: Path, index_dir: Path, encoder: Encoder
) -> None:
    calls = []

    def load() -> Encoder:
        calls.append(1)
        return encoder

    report = _sync(folder, index_dir, load)
    assert calls == [1]
    assert report.added == len(GOOD)
    assert (report.updated, report.unchanged, report.removed, report.renamed) == (0, 0, 0, 0)
    reasons = {s.path: s.reason for s in report.skipped}
    assert set(reasons) == set(BAD)
    assert reasons["broken.pdf"].startswith("corrupt PDF")
    assert reasons["blob.txt"] == "binary file"
    assert reasons["photo.png"] == "unsupported type"
    assert report.chunks_written == report.chunks_encoded > 0

    ids = _assert_consistent(index_dir, encoder)
    assert len(ids) == report.chunks_written
    with readonly_store(index_dir) as store:
        documents = store.documents()
        assert {p for p, d in documents.items() if d.status == "indexed"} == set(GOOD)
        assert {p for p, d in documents.items() if d.status == "skipped"} == set(BAD)
        assert store.skipped() == sorted(reasons.items())
        assert documents["page.html"].title == "Recipes"
        assert documents["guide.md"].format == "markdown"
        meta = store.meta()
        assert meta["model"] == DEFAULT_MODEL
        assert meta["dimension"] == str(encoder.dimension)
        assert meta["root"] == str(folder.resolve())
        assert store.generation() == 1
        headings = {row.headings for row in store.document_chunks(documents["guide.md"].id)}
        assert ("Guide", "Usage") in headings
        # Nothing is left staged after a committed sync.
        assert store.connection.execute("SELECT count(*) FROM staged_chunks").fetchone()[0] == 0
    assert set(_chunk_ids_by_path(index_dir)) == set(GOOD)


def test_unchanged_sync_does_no_work_and_loads_no_model(
    folder: Path, index_dir: Path, encoder: Encoder
) -> None:
    _sync(folder, index_dir, lambda: encoder)
    before = _chunk_ids_by_path(index_dir)
    report = _sync(folder, index_dir, _never)
    assert report.unchanged == len(GOOD)
    assert {s.path for s in report.skipped} == set(BAD)
    assert (report.added, report.updated, report.removed, report.renamed) == (0, 0, 0, 0)
    assert report.chunks_encoded == 0 and report.chunks_written == 0
    assert _chunk_ids_by_path(index_dir) == before
    with readonly_store(index_dir) as store:
        assert store.generation() == 1
    _assert_consistent(index_dir, encoder)


def test_skipped_files_are_reported_on_every_sync_without_being_read_again(
    folder: Path, index_dir: Path, encoder: Encoder, monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path
) -> None:

    (tmp_path / "outside.txt").write_text("Outside the folder.", encoding="utf-8")
    (folder / "link.txt").symlink_to(tmp_path / "outside.txt")  # skipped by the walk
    parsed = count_parses(monkeypatch)
    first = _sync(folder, index_dir, lambda: encoder)
    reasons = {s.path: s.reason for s in first.skipped}
    assert set(reasons) == {*BAD, "link.txt"}
    assert reasons["link.txt"] == "symlink leads outside the folder"
    assert first.added == len(GOOD) and first.skipped_unchanged == 0
    assert sorted(parsed) == sorted(GOOD.keys() | {"broken.pdf", "blob.txt"})

    parsed.clear()
    again = _sync(folder, index_dir, _never)
    assert {s.path: s.reason for s in again.skipped} == reasons
    assert again.unchanged == len(GOOD) and again.skipped_unchanged == len(BAD)
    assert (again.added, again.updated, again.removed, again.renamed) == (0, 0, 0, 0)
    assert parsed == []  # neither the unchanged files nor the skipped ones
    assert again.to_dict()["skipped"] == [{"path": s.path, "reason": s.reason}
                                          for s in again.skipped]

    # A skipped file that changes is read again, and its new reason reported.
    (folder / "blob.txt").write_bytes(b"\x00" * 10 + b"still binary, and longer")
    third = _sync(folder, index_dir, _never)
    assert {s.path: s.reason for s in third.skipped} == reasons
    assert third.skipped_unchanged == len(BAD) - 1 and parsed == ["blob.txt"]


def test_a_file_too_large_is_read_once_the_limit_admits_it(
    folder: Path, index_dir: Path, encoder: Encoder
) -> None:
    small = SyncOptions(chunk_tokens=64, chunk_overlap=8, max_file_bytes=1100)
    (folder / "long.txt").write_text("A long note about the harbour. " * 40, encoding="utf-8")
    first = _sync(folder, index_dir, lambda: encoder, small)
    assert {s.path: s.reason for s in first.skipped}["long.txt"].startswith("file too large")
    again = _sync(folder, index_dir, _never, small)
    assert "long.txt" in {s.path for s in again.skipped}
    assert again.skipped_unchanged == len(BAD) + 1
    raised = _sync(folder, index_dir, lambda: encoder)
    assert raised.updated == 1 and "long.txt" not in {s.path for s in raised.skipped}
    assert raised.skipped_unchanged == len(BAD)
    assert "long.txt" in _chunk_ids_by_path(index_dir)


def test_an_index_older_than_page_breaks_stays_readable_and_gains_them(
    tmp_path: Path, index_dir: Path, encoder: Encoder
) -> None:
    from semsearch.search.searcher import Searcher

    root = tmp_path / "pdfs"
    root.mkdir()
    (root / "logbook.pdf").write_bytes(make_pdf(PDF_PAGES))
    _sync(root, index_dir, lambda: encoder)
    connection = sqlite3.connect(index_dir / "index.sqlite")  # as the schema was before
    for table in ("chunks", "staged_chunks"):
        connection.execute(f"ALTER TABLE {table} DROP COLUMN page_breaks")
    connection.commit()
    connection.close()

    def chunk_pages() -> list[tuple[int | None, tuple[int, ...]]]:
        with readonly_store(index_dir) as store:  # read-only, as a server opens it
            doc_id = store.documents()["logbook.pdf"].id
            return [(c.page, c.page_breaks) for c in store.document_chunks(doc_id)]

    assert chunk_pages() == [(1, ())]
    searcher = Searcher(index_dir, EncoderSpec.of(encoder))
    try:
        (hit,) = searcher.search(PDF_QUESTION).results
    finally:
        searcher.close()
    assert (hit.page, hit.highlights[0].page) == (1, 1)  # the chunk's page: all it knows
    # The next sync adds the column; a chunk gets its breaks when its file is read again.
    assert _sync(root, index_dir, _never).unchanged == 1
    assert chunk_pages() == [(1, ())]
    _sync(root, index_dir, lambda: encoder,
          SyncOptions(chunk_tokens=64, chunk_overlap=8, rebuild=True))
    assert [(page, len(breaks)) for page, breaks in chunk_pages()] == [(1, 1)]


def test_touched_file_with_same_content_is_not_reencoded(
    folder: Path, index_dir: Path, encoder: Encoder
) -> None:
    _sync(folder, index_dir, lambda: encoder)
    before = _chunk_ids_by_path(index_dir)
    stat = (folder / "notes.txt").stat()
    os.utime(folder / "notes.txt", (stat.st_atime + 100, stat.st_mtime + 100))
    report = _sync(folder, index_dir, _never)
    assert report.unchanged == len(GOOD)
    assert report.chunks_encoded == 0 and report.updated == 0
    assert _chunk_ids_by_path(index_dir) == before
    with readonly_store(index_dir) as store:
        assert store.documents()["notes.txt"].mtime == (folder / "notes.txt").stat().st_mtime
    _assert_consistent(index_dir, encoder)


def test_modified_file_is_updated_alone(folder: Path, index_dir: Path, encoder: Encoder) -> None:
    _sync(folder, index_dir, lambda: encoder)
    before = _chunk_ids_by_path(index_dir)
    (folder / "notes.txt").write_text(
        "Revised notes. The launch moved to Monday because of the migration.\n" * 3,
        encoding="utf-8")
    report = _sync(folder, index_dir, lambda: encoder)
    assert report.updated == 1
    assert (report.added, report.removed, report.renamed) == (0, 0, 0)
    assert report.unchanged == len(GOOD) - 1
    after = _chunk_ids_by_path(index_dir)
    assert report.chunks_encoded == report.chunks_written == len(after["notes.txt"])
    for path in GOOD.keys() - {"notes.txt"}:
        assert after[path] == before[path]
    assert not set(after["notes.txt"]) & set(before["notes.txt"])
    ids = _assert_consistent(index_dir, encoder)
    assert not set(before["notes.txt"]) & set(ids.tolist())
    with readonly_store(index_dir) as store:
        texts = [r.text for r in store.document_chunks(store.documents()["notes.txt"].id)]
        assert any("Monday" in text for text in texts)
        assert not any("Friday" in text for text in texts)
        assert store.generation() == 2


def test_deleted_file_is_removed(folder: Path, index_dir: Path, encoder: Encoder) -> None:
    _sync(folder, index_dir, lambda: encoder)
    before = _chunk_ids_by_path(index_dir)
    (folder / "guide.md").unlink()
    (folder / "broken.pdf").unlink()
    report = _sync(folder, index_dir, _never)
    assert report.removed == 2
    assert report.chunks_encoded == 0
    ids = set(_assert_consistent(index_dir, encoder).tolist())
    assert not ids & set(before["guide.md"])
    assert ids == {i for path, chunk_ids in before.items() if path != "guide.md" for i in chunk_ids}
    with readonly_store(index_dir) as store:
        assert "guide.md" not in store.documents()
        assert "broken.pdf" not in store.documents()
        assert store.connection.execute(
            "SELECT count(*) FROM chunks_fts WHERE chunks_fts MATCH 'pip'").fetchone()[0] == 0


def test_renamed_file_keeps_its_chunks(folder: Path, index_dir: Path, encoder: Encoder) -> None:
    _sync(folder, index_dir, lambda: encoder)
    before = _chunk_ids_by_path(index_dir)
    (folder / "archive").mkdir()
    (folder / "page.html").rename(folder / "archive" / "soup.html")
    report = _sync(folder, index_dir, _never)
    assert report.renamed == 1
    assert (report.added, report.updated, report.removed) == (0, 0, 0)
    assert report.chunks_encoded == 0
    after = _chunk_ids_by_path(index_dir)
    assert "page.html" not in after
    assert after["archive/soup.html"] == before["page.html"]
    _assert_consistent(index_dir, encoder)


def test_copied_and_new_files_with_same_content(
    folder: Path, index_dir: Path, encoder: Encoder
) -> None:
    _sync(folder, index_dir, lambda: encoder)
    shutil.copy(folder / "notes.txt", folder / "notes-copy.txt")
    (folder / "new-a.txt").write_text("A brand new file about gardening.\n", encoding="utf-8")
    (folder / "new-b.txt").write_text("A brand new file about gardening.\n", encoding="utf-8")
    report = _sync(folder, index_dir, lambda: encoder)
    assert report.added == 3 and report.renamed == 0
    after = _chunk_ids_by_path(index_dir)
    assert len(after["new-a.txt"]) == len(after["new-b.txt"])
    assert report.chunks_written == len(after["notes-copy.txt"]) + 2 * len(after["new-a.txt"])
    _assert_consistent(index_dir, encoder)


def test_file_that_turns_bad_loses_its_chunks(
    folder: Path, index_dir: Path, encoder: Encoder
) -> None:
    _sync(folder, index_dir, lambda: encoder)
    before = _chunk_ids_by_path(index_dir)
    (folder / "notes.txt").write_bytes(b"\x00\x01\x02 now binary")
    report = _sync(folder, index_dir, _never)
    reasons = {s.path: s.reason for s in report.skipped}
    assert reasons["notes.txt"] == "binary file" and set(reasons) == {*BAD, "notes.txt"}
    assert report.skipped_unchanged == len(BAD)
    ids = set(_assert_consistent(index_dir, encoder).tolist())
    assert not ids & set(before["notes.txt"])
    with readonly_store(index_dir) as store:
        row = store.documents()["notes.txt"]
        assert (row.status, row.error) == ("skipped", "binary file")


def test_other_model_is_refused(folder: Path, index_dir: Path, encoder: Encoder) -> None:
    _sync(folder, index_dir, lambda: encoder)
    with pytest.raises(IndexMismatchError, match="rebuild"):
        _sync(folder, index_dir, _never, model="sentence-transformers/some-other-model")
    _assert_consistent(index_dir, encoder)


def test_other_chunking_or_folder_is_refused(
    folder: Path, index_dir: Path, encoder: Encoder, tmp_path: Path
) -> None:
    _sync(folder, index_dir, lambda: encoder)
    with pytest.raises(IndexMismatchError, match="rebuild"):
        _sync(folder, index_dir, _never, SyncOptions(chunk_tokens=100, chunk_overlap=8))
    other = tmp_path / "other"
    other.mkdir()
    (other / "x.txt").write_text("other folder", encoding="utf-8")
    with pytest.raises(IndexMismatchError, match="rebuild"):
        _sync(other, index_dir, _never)


def test_rebuild_reencodes_everything(folder: Path, index_dir: Path, encoder: Encoder) -> None:
    first = _sync(folder, index_dir, lambda: encoder)
    old_ids = set(_assert_consistent(index_dir, encoder).tolist())
    report = _sync(folder, index_dir, lambda: encoder,
                   SyncOptions(chunk_tokens=64, chunk_overlap=8, rebuild=True))
    assert report.added == len(GOOD)
    assert report.chunks_encoded == report.chunks_written == first.chunks_written
    assert {s.path for s in report.skipped} == set(BAD)
    new_ids = set(_assert_consistent(index_dir, encoder).tolist())
    assert len(new_ids) == len(old_ids)
    assert not new_ids & old_ids  # ids are never reused
    # A rebuild may change the chunking; later syncs then use the new settings.
    report = _sync(folder, index_dir, lambda: encoder,
                   SyncOptions(chunk_tokens=32, chunk_overlap=0, rebuild=True))
    assert report.chunks_written >= first.chunks_written
    with readonly_store(index_dir) as store:
        assert store.meta()["chunk_tokens"] == "32"
    assert _sync(folder, index_dir, _never,
                 SyncOptions(chunk_tokens=32, chunk_overlap=0)).chunks_encoded == 0
    _assert_consistent(index_dir, encoder)


def test_locked_index_is_refused(folder: Path, index_dir: Path, encoder: Encoder) -> None:
    with sync_lock(index_dir), pytest.raises(IndexLockedError):
        _sync(folder, index_dir, _never)
    # Released again: a sync now runs.
    assert _sync(folder, index_dir, lambda: encoder).added == len(GOOD)


@pytest.mark.parametrize("damage", ["delete", "garbage", "truncate"])
def test_damaged_faiss_file_is_rebuilt_from_sqlite(
    folder: Path, index_dir: Path, encoder: Encoder, damage: str
) -> None:
    _sync(folder, index_dir, lambda: encoder)
    with readonly_store(index_dir) as store:
        path = vectors_path(index_dir, store.generation())
        expected = store.chunk_ids().tolist()
        if damage == "delete":
            path.unlink()
        elif damage == "garbage":
            path.write_bytes(b"this is not a FAISS index" * 10)
        else:
            path.write_bytes(path.read_bytes()[:100])
        vectors = load_vectors(store, index_dir, encoder.dimension, repair=True)
        assert np.sort(vectors.ids()).tolist() == expected
    _assert_consistent(index_dir, encoder)


def test_faiss_file_with_other_ids_is_rebuilt(
    folder: Path, index_dir: Path, encoder: Encoder
) -> None:
    _sync(folder, index_dir, lambda: encoder)
    with readonly_store(index_dir) as store:
        path = vectors_path(index_dir, store.generation())
        stale = VectorIndex.empty(encoder.dimension)
        stale.add(np.array([999_999], dtype=np.int64),
                  np.ones((1, encoder.dimension), dtype=np.float32))
        stale.save(path)
        vectors = load_vectors(store, index_dir, encoder.dimension, repair=False)
        assert np.sort(vectors.ids()).tolist() == store.chunk_ids().tolist()
        assert VectorIndex.load(path).ids().tolist() == [999_999]  # repair=False writes nothing
    # An unchanged sync repairs the file without loading the model.
    assert _sync(folder, index_dir, _never).chunks_encoded == 0
    _assert_consistent(index_dir, encoder)


def test_empty_folder_then_files(tmp_path: Path, index_dir: Path, encoder: Encoder) -> None:
    root = tmp_path / "empty"
    root.mkdir()
    report = _sync(root, index_dir, lambda: encoder)
    assert report.added == 0 and report.chunks_written == 0
    assert _assert_consistent(index_dir, encoder).tolist() == []
    (root / "first.txt").write_text("The first document arrives.", encoding="utf-8")
    assert _sync(root, index_dir, lambda: encoder).added == 1
    assert len(_assert_consistent(index_dir, encoder)) >= 1


def test_index_dir_inside_the_folder_is_not_indexed(
    folder: Path, encoder: Encoder
) -> None:
    inner = folder / "search-index"
    report = _sync(folder, inner, lambda: encoder)
    assert report.added == len(GOOD)
    assert _sync(folder, inner, _never).unchanged == len(GOOD)
    assert set(_chunk_ids_by_path(inner)) == set(GOOD)


def test_progress_is_reported(folder: Path, index_dir: Path, encoder: Encoder) -> None:
    events: list[SyncProgress] = []
    sync_folder(folder, index_dir, EncoderSpec.of(encoder), OPTIONS, events.append)
    assert events
    assert events[-1].files_done == events[-1].files_total == len(GOOD) + len(BAD)
    assert events[-1].chunks_encoded > 0


# --- the parse/encode pipeline ------------------------------------------------------------

def _many_files(root: Path, count: int) -> dict[str, str]:
    """`count` small text files with distinct content, named in walking order."""
    texts = {f"doc{i:02d}.txt": f"Document {i} talks about topic {i}. " * (1 + i % 4)
             for i in range(count)}
    for name, text in texts.items():
        (root / name).write_text(text, encoding="utf-8")
    return texts


@pytest.fixture
def small_handovers(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tiny encoder groups and handovers, so that a small folder makes many of each."""
    import semsearch.indexer.plan as plan
    import semsearch.indexer.sync as sync

    monkeypatch.setattr(sync, "ENCODE_GROUP", 3)
    monkeypatch.setattr(plan, "ENCODE_GROUP", 3)
    monkeypatch.setattr(plan, "HANDOVER_FILES", 2)
    monkeypatch.setattr(sync, "PREFETCH_DEPTH", 1)


def test_pipeline_keeps_each_vector_with_its_chunk(
    tmp_path: Path, index_dir: Path, encoder: Encoder, small_handovers: None
) -> None:
    root = tmp_path / "docs"
    root.mkdir()
    texts = _many_files(root, 13)
    (root / "copy.txt").write_text(texts["doc05.txt"], encoding="utf-8")  # encoded once
    events: list[SyncProgress] = []
    report = sync_folder(root, index_dir, EncoderSpec.of(encoder),
                         SyncOptions(chunk_tokens=16, chunk_overlap=4), events.append)
    assert report.added == len(texts) + 1 and not report.skipped
    ids = _assert_consistent(index_dir, encoder)
    with readonly_store(index_dir) as store:
        rows = store.connection.execute(
            "SELECT c.id, c.text, c.embedding, d.path, c.ordinal FROM chunks c "
            "JOIN documents d ON d.id = c.doc_id ORDER BY c.id").fetchall()
    assert [r[0] for r in rows] == ids.tolist()
    assert report.chunks_encoded == len(rows) - sum(1 for r in rows if r[3] == "copy.txt")
    fresh = encoder.encode([r[1] for r in rows])
    for (_, text, blob, path, _), vector in zip(rows, fresh, strict=True):
        assert text in texts.get(path, texts["doc05.txt"])
        assert float(np.frombuffer(blob, dtype=np.float32) @ vector) > 0.999, text
    # Chunk ids follow the walking order (sorted names), and ordinals run 0, 1, 2, ...
    by_path = _chunk_ids_by_path(index_dir)
    first_ids = sorted(by_path, key=lambda path: by_path[path][0])
    assert first_ids == sorted([*texts, "copy.txt"])
    for path in by_path:
        ordinals = [r[4] for r in rows if r[3] == path]
        assert ordinals == list(range(len(ordinals)))
    done = [event.files_done for event in events]
    assert done == sorted(done) and done[-1] == events[-1].files_total == len(texts) + 1
    assert events[-1].chunks_encoded == report.chunks_encoded


def test_pipeline_skips_and_reports_a_bad_file_in_the_middle(
    tmp_path: Path, index_dir: Path, encoder: Encoder, small_handovers: None
) -> None:
    root = tmp_path / "docs"
    root.mkdir()
    texts = _many_files(root, 8)
    (root / "doc03b.pdf").write_bytes(BAD["broken.pdf"])
    (root / "doc05b.txt").write_bytes(BAD["blob.txt"])
    report = _sync(root, index_dir, lambda: encoder)
    reasons = {s.path: s.reason for s in report.skipped}
    assert set(reasons) == {"doc03b.pdf", "doc05b.txt"}
    assert reasons["doc03b.pdf"].startswith("corrupt PDF")
    assert reasons["doc05b.txt"] == "binary file"
    assert report.added == len(texts)
    assert set(_chunk_ids_by_path(index_dir)) == set(texts)
    _assert_consistent(index_dir, encoder)


def test_pipeline_producer_error_propagates_and_commits_nothing(
    folder: Path, index_dir: Path, encoder: Encoder, monkeypatch: pytest.MonkeyPatch,
    small_handovers: None
) -> None:
    import semsearch.indexer.plan as sync

    _sync(folder, index_dir, lambda: encoder)
    before = _chunk_ids_by_path(index_dir)
    _many_files(folder, 6)
    real_parse = sync.parse_document

    def parse(path: str, data: bytes):  # type: ignore[no-untyped-def]
        if path == "doc04.txt":
            raise RuntimeError("a parser bug on doc04.txt")
        return real_parse(path, data)

    monkeypatch.setattr(sync, "parse_document", parse)
    with pytest.raises(RuntimeError, match="a parser bug on doc04.txt"):
        _sync(folder, index_dir, lambda: encoder)
    # The failed run committed nothing: the previous index is whole and unchanged.
    assert _chunk_ids_by_path(index_dir) == before
    with readonly_store(index_dir) as store:
        assert store.generation() == 1
    # Fixed, the next run finishes the job.
    monkeypatch.setattr(sync, "parse_document", real_parse)
    report = _sync(folder, index_dir, lambda: encoder)
    assert report.added == 6
    _assert_consistent(index_dir, encoder)


def test_pipeline_model_load_error_propagates(folder: Path, index_dir: Path) -> None:
    def broken() -> Encoder:
        raise OSError("model files missing")

    with pytest.raises(OSError, match="model files missing"):
        _sync(folder, index_dir, broken)
