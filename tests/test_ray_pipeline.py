"""indexer.ray_pipeline: a `--ray` sync parses and chunks in Ray Data tasks and encodes in
a Ray Data actor pool, on a real local Ray (two CPUs, 127.0.0.1), and writes the same
index as a local sync: the same documents, skips and chunks, vectors at cosine >= 0.9999;
a re-run encodes nothing; edits, renames and deletions come out as locally."""

import os
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from semsearch.indexer.encoders import EncoderSpec
from semsearch.indexer.errors import IndexerError
from semsearch.indexer.plan import Chunking, chunk_rows, content_hash
from semsearch.indexer.sync import SyncOptions, SyncProgress, SyncReport, sync_folder
from semsearch.indexer.walk import CHANGED_WHILE_READING
from tests.helpers import SEARCH_DOCS, make_pdf, search_write_docs

pytestmark = pytest.mark.scale
ray = pytest.importorskip("ray")

from semsearch.indexer.ray_pipeline import parse_and_chunk  # noqa: E402
from tests.test_ray import local_ray  # noqa: E402, F401 - the module's Ray

OPTIONS = SyncOptions(chunk_tokens=64, chunk_overlap=8, generation_files=4)
CHUNKING = Chunking(64, 8)
EXTRA = {  # beside SEARCH_DOCS: a corrupt file, a copy, content with no text, a PDF
    "broken.pdf": b"%PDF-1.4\nthis is not really a pdf",
    "copy/zorblax.txt": SEARCH_DOCS["biology/zorblax.txt"].encode(),
    "empty.md": b"   \n",
    "lamp.pdf": make_pdf(["The lamp burned whale oil.", "Then it burned kerosene."]),
}


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "docs"
    search_write_docs(root, SEARCH_DOCS)
    for name, data in EXTRA.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return root


def _sync(folder: Path, index_dir: Path, ray_address: str | None) -> SyncReport:
    spec = EncoderSpec(backend="onnx", device="cpu", ray=ray_address)
    return sync_folder(folder, index_dir, spec, OPTIONS)


def _pipeline_actors() -> int:
    """Encoder actors of Ray Data pools this Ray has started, living or dead."""
    return sum("ChunkEncoder" in actor["ActorClassName"]
               for actor in ray._private.state.actors().values())


def _documents(index_dir: Path) -> list[tuple[object, ...]]:
    with sqlite3.connect(index_dir / "index.sqlite") as connection:
        return connection.execute(
            "SELECT path, content_hash, status, error, title, format FROM documents "
            "ORDER BY path").fetchall()


def _chunks(index_dir: Path) -> tuple[list[tuple[object, ...]], np.ndarray]:
    """(every chunk's row but its vector, in order; the vectors)."""
    with sqlite3.connect(index_dir / "index.sqlite") as connection:
        rows = connection.execute(
            'SELECT d.path, c.ordinal, c.text, c.start, c."end", c.page, c.page_breaks, '
            "c.headings, c.token_count, c.embedding FROM chunks c "
            "JOIN documents d ON d.id = c.doc_id ORDER BY d.path, c.ordinal").fetchall()
    return [row[:-1] for row in rows], np.stack([np.frombuffer(row[-1], np.float32)
                                                 for row in rows])


def _same_index(on_ray: Path, local: Path) -> None:
    assert _documents(on_ray) == _documents(local)
    ray_rows, ray_vectors = _chunks(on_ray)
    local_rows, local_vectors = _chunks(local)
    assert ray_rows == local_rows
    assert (ray_vectors * local_vectors).sum(axis=1).min() >= 0.9999


def _counts(report: SyncReport) -> dict[str, object]:
    return {key: value for key, value in report.to_dict().items()
            if key not in ("seconds", "generations")}


@pytest.mark.usefixtures("local_ray")
def test_a_ray_sync_writes_the_index_a_local_sync_writes(folder: Path, tmp_path: Path) -> None:
    actors_before = _pipeline_actors()
    on_ray = _sync(folder, tmp_path / "ray", "local")
    assert _pipeline_actors() > actors_before  # encoded by the Ray Data pool
    local = _sync(folder, tmp_path / "local", None)
    assert _counts(on_ray) == _counts(local)
    assert on_ray.chunks_encoded > 0 and on_ray.generations > 1
    reasons = {skip.path: skip.reason for skip in on_ray.skipped}
    assert reasons["broken.pdf"].startswith("corrupt PDF")  # reported; the rest indexed
    assert on_ray.added == len(SEARCH_DOCS) + 2  # and the copy and the PDF
    _same_index(tmp_path / "ray", tmp_path / "local")


@pytest.mark.usefixtures("local_ray")
def test_a_rerun_encodes_nothing_and_changes_come_out_as_locally(folder: Path,
                                                                 tmp_path: Path) -> None:
    for name, address in (("ray", "local"), ("local", None)):
        _sync(folder, tmp_path / name, address)
    actors_before = _pipeline_actors()
    again = _sync(folder, tmp_path / "ray", "local")
    assert (again.chunks_encoded, again.generations, again.unchanged) == (
        0, 0, len(SEARCH_DOCS) + 2)
    assert _pipeline_actors() == actors_before  # no pipeline ran
    (folder / "biology/zorblax.txt").write_text("Zorblax now digests plastic as well.\n")
    (folder / "copy/zorblax.txt").rename(folder / "moved.txt")
    (folder / "lamp.pdf").unlink()
    os.utime(folder / "empty.md", (1.0, 1.0))  # a new stat, the same content
    reports = {name: _sync(folder, tmp_path / name, address)
               for name, address in (("ray", "local"), ("local", None))}
    assert _counts(reports["ray"]) == _counts(reports["local"])
    assert (reports["ray"].updated, reports["ray"].removed) == (1, 1)
    _same_index(tmp_path / "ray", tmp_path / "local")


@pytest.mark.usefixtures("local_ray")
def test_a_model_the_cluster_cannot_load_stops_the_sync_before_any_write(
        folder: Path, tmp_path: Path) -> None:
    spec = EncoderSpec(model=str(tmp_path / "no-model"), backend="onnx", device="cpu",
                       ray="local")
    with pytest.raises(IndexerError, match="The encoder could not start on the Ray cluster"):
        sync_folder(folder, tmp_path / "index", spec, OPTIONS)
    with sqlite3.connect(tmp_path / "index" / "index.sqlite") as connection:
        assert connection.execute("SELECT COUNT(*) FROM documents").fetchone() == (0,)


class _Stopped(Exception):
    """Stops a sync from its progress callback, as a kill between generations would."""


@pytest.mark.usefixtures("local_ray")
def test_a_ray_sync_stopped_after_a_generation_goes_on_without_encoding_again(
        folder: Path, tmp_path: Path) -> None:
    def stop_after_a_commit(progress: SyncProgress) -> None:
        if progress.generation >= 1:
            raise _Stopped

    spec = EncoderSpec(backend="onnx", device="cpu", ray="local")
    with pytest.raises(_Stopped):
        sync_folder(folder, tmp_path / "ray", spec, OPTIONS, stop_after_a_commit)
    with sqlite3.connect(tmp_path / "ray" / "index.sqlite") as connection:
        staged = connection.execute("SELECT COUNT(*) FROM staged_chunks").fetchone()[0]
    assert staged > 0
    again = _sync(folder, tmp_path / "ray", "local")
    local = _sync(folder, tmp_path / "local", None)
    assert again.chunks_encoded == local.chunks_encoded - staged  # the rest, only
    _same_index(tmp_path / "ray", tmp_path / "local")


def _batch(root: Path, paths: list[str]) -> dict[str, np.ndarray]:
    return {"path": np.array(paths),
            "content_hash": np.array([content_hash((root / path).read_bytes())
                                      for path in paths])}


def test_parse_tasks_cut_the_chunks_the_local_chunker_cuts(folder: Path) -> None:
    from semsearch.indexer.parse import parse_document

    encoder = EncoderSpec(backend="onnx", device="cpu").load()
    paths = ["biology/zorblax.txt", "lamp.pdf", "broken.pdf", "empty.md"]
    batch = _batch(folder, paths)
    rows = parse_and_chunk(batch, str(folder), 10**6, encoder.tokenizer,
                           encoder.max_tokens, CHUNKING)
    by_hash = {str(h): path for h, path in zip(batch["content_hash"], paths, strict=True)}
    for path in ("biology/zorblax.txt", "lamp.pdf"):
        expected = chunk_rows(parse_document(path, (folder / path).read_bytes()),
                              encoder.tokenizer, encoder.max_tokens, CHUNKING)
        mine = [index for index, h in enumerate(rows["content_hash"]) if by_hash[h] == path]
        assert [str(rows["text"][i]) for i in mine] == [row["text"] for row in expected]
        assert {int(rows["chunks"][i]) for i in mine} == {len(expected)}
        assert [int(rows["page"][i]) for i in mine] == [
            -1 if row["page"] is None else row["page"] for row in expected]
    markers = {by_hash[str(h)]: (int(chunks), str(error)) for h, chunks, error
               in zip(rows["content_hash"], rows["chunks"], rows["error"], strict=True)
               if int(chunks) == 0}
    assert markers["empty.md"] == (0, "no text")
    assert markers["broken.pdf"][1].startswith("corrupt PDF")


def test_a_file_changed_or_gone_after_the_driver_read_it_is_skipped(folder: Path) -> None:
    encoder = EncoderSpec(backend="onnx", device="cpu").load()
    batch = _batch(folder, ["biology/zorblax.txt", "lamp.pdf"])
    (folder / "biology/zorblax.txt").write_text("Changed after the driver hashed it.\n")
    (folder / "lamp.pdf").unlink()
    rows = parse_and_chunk(batch, str(folder), 10**6, encoder.tokenizer,
                           encoder.max_tokens, CHUNKING)
    assert [int(chunks) for chunks in rows["chunks"]] == [0, 0]
    # changed: read again by the next sync; gone: as locally, unreadable (then removed)
    assert (str(rows["error"][0]), bool(rows["retry"][0])) == (CHANGED_WHILE_READING, True)
    assert str(rows["error"][1]).startswith("unreadable") and not rows["retry"][1]
