"""`--ray`: encoding on a real local Ray (started once for this module on 127.0.0.1 with
two CPUs) gives the local encoder's chunks and vectors, and every socket Ray listens on
is a loopback one. The two-node cluster is tests/test_ray_cluster.py."""

import json
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from semsearch.cli import app
from semsearch.indexer.encoders import EncoderSpec
from tests.helpers import SEARCH_DOCS, search_write_docs

pytestmark = pytest.mark.scale
ray = pytest.importorskip("ray")

from semsearch.indexer.encoders.ray_cluster import ray_session  # noqa: E402

LOOPBACK = {"127.0.0.1", "::1", "::ffff:127.0.0.1"}
TEXTS = [f"Note {i}: the {word} crossed the river at dawn." * (1 + i % 4)
         for i, word in enumerate(["fox", "heron", "ferry", "caravan", "otter"] * 8)]


@pytest.fixture(scope="module")
def local_ray() -> Iterator[list[int]]:
    """A Ray started as `--ray local` starts one (two CPUs, a private RAY_TMPDIR); yields
    the pids of the processes it started."""
    temp = tempfile.mkdtemp(prefix="ssray-", dir="/tmp")  # short: Ray's socket paths
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RAY_TMPDIR", temp)
        with ray_session("local", num_cpus=2):
            node = ray._private.worker._global_node
            yield [process.process.pid for processes in node.all_processes.values()
                   for process in processes]
    shutil.rmtree(temp, ignore_errors=True)


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    for name in ("SEMSEARCH_MODEL", "SEMSEARCH_DEVICE", "SEMSEARCH_BACKEND",
                 "SEMSEARCH_INDEX_DIR", "SEMSEARCH_RAY"):
        monkeypatch.delenv(name, raising=False)
    return CliRunner()


# The class names of encoder actors: `RayEncoder`'s, and the pool's of a sync's Ray Data
# pipeline (`ray_pipeline`, fed by its parse tasks)
RAY_ENCODER, PIPELINE_POOL = "BatchEncoder", "(ChunkEncoder))"


def _encoder_actors(*kinds: str) -> int:
    """How many encoder actors of `kinds` (all when none) this Ray has started, living or
    dead (the GCS's table)."""
    return sum(actor["ActorClassName"].endswith(kinds or (RAY_ENCODER, PIPELINE_POOL))
               for actor in ray._private.state.actors().values())


def _chunks(index_dir: Path) -> list[tuple[str, int, str, int, int, bytes]]:
    with sqlite3.connect(index_dir / "index.sqlite") as connection:
        return connection.execute(
            'SELECT d.path, c.ordinal, c.text, c.start, c."end", c.embedding FROM chunks c '
            "JOIN documents d ON d.id = c.doc_id ORDER BY d.path, c.ordinal").fetchall()


def test_index_with_ray_local_equals_a_local_sync(local_ray: list[int], runner: CliRunner,
                                                  tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    search_write_docs(folder, SEARCH_DOCS)
    reports, actors_before = {}, _encoder_actors()
    for name, extra in (("ray", ["--ray", "local"]), ("local", [])):
        result = runner.invoke(app, ["index", str(folder), "--index-dir",
                                     str(tmp_path / name), "--backend", "onnx",
                                     "--chunk-tokens", "64", "--json", *extra])
        assert result.exit_code == 0, result.output
        reports[name] = json.loads(result.stdout)
    assert reports["ray"]["chunks_encoded"] == reports["local"]["chunks_encoded"] > 0
    assert _encoder_actors() > actors_before  # the --ray run encoded on Ray
    on_ray, local = _chunks(tmp_path / "ray"), _chunks(tmp_path / "local")
    assert [row[:5] for row in on_ray] == [row[:5] for row in local]
    ray_vectors = np.stack([np.frombuffer(row[5], np.float32) for row in on_ray])
    local_vectors = np.stack([np.frombuffer(row[5], np.float32) for row in local])
    assert (ray_vectors * local_vectors).sum(axis=1).min() >= 0.9999


@pytest.mark.parametrize("backend", ["onnx", "torch"])
def test_ray_encoder_rows_equal_the_local_encoders(local_ray: list[int],
                                                   backend: str) -> None:
    local = EncoderSpec(backend=backend, device="cpu").load()
    on_ray = EncoderSpec(backend=backend, device="cpu", ray="local").load()
    assert (on_ray.backend, on_ray.dimension, on_ray.max_tokens) == (
        local.backend, local.dimension, local.max_tokens)
    assert on_ray.tokenizer("a heron")["input_ids"] == local.tokenizer("a heron")["input_ids"]
    vectors = on_ray.encode(TEXTS, batch_size=8)
    assert vectors.shape == (len(TEXTS), local.dimension)
    assert (vectors * local.encode(TEXTS)).sum(axis=1).min() >= 0.9999
    assert on_ray.encode([]).shape == (0, local.dimension)


def test_ray_data_pool_encodes_like_the_local_encoder(local_ray: list[int]) -> None:
    from semsearch.indexer.encoders.ray_encoder import encode_dataset

    spec = EncoderSpec(backend="onnx", device="cpu").resolved()
    rows = encode_dataset(ray.data.from_items([{"text": text} for text in TEXTS]),
                          spec).take_all()
    by_text = {str(row["text"]): row["embedding"] for row in rows}
    assert len(rows) == len(TEXTS) and set(by_text) == set(TEXTS)
    local = spec.load().encode(TEXTS)
    vectors = np.stack([by_text[text] for text in TEXTS])
    assert (vectors * local).sum(axis=1).min() >= 0.9999


def _listening(pids: list[int]) -> set[tuple[int, str, str, int]]:
    """(pid, process name, address, port) of every listening TCP socket of `pids`, of their
    descendants and of this process (Ray's driver runs a server here too)."""
    import psutil

    processes = {psutil.Process()}
    for pid in pids:
        try:
            process = psutil.Process(pid)
            processes |= {process, *process.children(recursive=True)}
        except psutil.NoSuchProcess:
            continue
    processes |= set(psutil.Process().children(recursive=True))
    found = set()
    for process in processes:
        try:
            for connection in process.net_connections(kind="tcp"):
                if connection.status == psutil.CONN_LISTEN:
                    found.add((process.pid, process.name(), connection.laddr.ip,
                               connection.laddr.port))
        except psutil.NoSuchProcess:
            continue
    return found


def test_ray_listens_on_loopback_only(local_ray: list[int]) -> None:
    encoder = EncoderSpec(backend="onnx", device="cpu", ray="local").load()
    encoder.encode(TEXTS[:2])  # the actors have run
    sockets = _listening(local_ray)
    names = {name for _, name, _, _ in sockets}
    assert {"gcs_server", "raylet"} <= names, sockets
    assert any(name.startswith("ray::BatchEncoder") for name in names), sockets
    assert {address for _, _, address, _ in sockets} <= LOOPBACK, sockets
    assert ray.get_runtime_context().gcs_address.startswith("127.0.0.1:")


def test_unreachable_address_is_a_clear_error(runner: CliRunner, tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("text")
    for address, message in (("127.0.0.1:1", "Cannot reach Ray at '127.0.0.1:1'"),
                             ("nowhere", "Not a Ray address: 'nowhere'")):
        result = runner.invoke(app, ["index", str(tmp_path), "--index-dir",
                                     str(tmp_path / "index"), "--ray", address])
        assert result.exit_code == 2
        assert message in " ".join(result.output.split())
    assert not (tmp_path / "index" / "index.sqlite").exists()


def test_eval_refuses_ray_without_a_dataset(runner: CliRunner, tmp_path: Path) -> None:
    queries = tmp_path / "queries.jsonl"
    queries.write_text('{"query": "q", "relevant": ["a.txt"]}\n')
    result = runner.invoke(app, ["eval", "--queries", str(queries), "--ray", "local"])
    assert result.exit_code == 2
    assert "--ray encodes a BEIR DATASET" in " ".join(result.output.split())


def test_without_ray_installed_the_error_says_what_to_install(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("text")
    program = ("import sys; sys.modules['ray'] = None; from semsearch.cli import main; "
               "sys.argv = ['semsearch', *sys.argv[1:]]; main()")
    result = subprocess.run(
        [sys.executable, "-c", program, "index", str(tmp_path), "--index-dir",
         str(tmp_path / "index"), "--ray", "local"],
        capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert "pip install 'semsearch[scale]'" in " ".join(result.stderr.split())


def test_a_model_the_actors_cannot_load_is_a_clear_error(local_ray: list[int],
                                                         tmp_path: Path) -> None:
    from semsearch.indexer.errors import IndexerError

    with pytest.raises(IndexerError, match="The encoder could not start on the Ray cluster"):
        EncoderSpec(model=str(tmp_path / "no-model"), backend="onnx", device="cpu",
                    ray="local").load()


def test_eval_with_ray_local_indexes_a_beir_corpus_like_a_local_run(
        local_ray: list[int], runner: CliRunner, tmp_path: Path) -> None:
    from tests.test_evaluate import _write_beir

    _write_beir(tmp_path / "beir")
    metrics, actors_before = {}, _encoder_actors()
    for name, extra in (("ray", ["--ray", "local"]), ("local", [])):
        result = runner.invoke(app, ["eval", str(tmp_path / "beir"), "--index-dir",
                                     str(tmp_path / name), "--backend", "onnx",
                                     "--mode", "dense", "--json", *extra])
        assert result.exit_code == 0, result.output
        metrics[name] = json.loads(result.stdout)["dense"]
    assert metrics["ray"]["ndcg@10"] == metrics["local"]["ndcg@10"] == pytest.approx(1.0)
    assert _encoder_actors() > actors_before
    on_ray, local = _chunks(tmp_path / "ray" / "index"), _chunks(tmp_path / "local" / "index")
    assert [row[:5] for row in on_ray] == [row[:5] for row in local] != []
    vectors = [np.stack([np.frombuffer(row[5], np.float32) for row in rows])
               for rows in (on_ray, local)]
    assert (vectors[0] * vectors[1]).sum(axis=1).min() >= 0.9999


def test_index_with_ray_into_milvus_equals_a_local_sync(local_ray: list[int], runner: CliRunner,
                                                        milvus_uri: str, tmp_path: Path) -> None:
    """`--ray` with `--milvus`: the Ray Data pipeline parses, chunks and encodes (its pool
    ran, no `RayEncoder`), the driver writes to Milvus, and the store equals a local
    sync's (chunk ids, rows, documents, counts; vectors at cosine >= 0.9999): dense
    searches answer alike."""
    from semsearch.indexer.milvus_store import MilvusTarget
    from tests.test_milvus import _snapshot

    folder = tmp_path / "docs"
    search_write_docs(folder, SEARCH_DOCS)
    (folder / "broken.pdf").write_bytes(b"%PDF-1.4\nnot really")
    (folder / "empty.md").write_text("   \n")
    (folder / "copy").mkdir()  # one content in two files: the pipeline parses it once
    shutil.copy2(folder / "biology/zorblax.txt", folder / "copy/zorblax.txt")
    stores = {name: ["--milvus", milvus_uri, "--collection", f"ray_{name}"]
              for name in ("ray", "local")}
    reports, answers = {}, {}
    for name, extra in (("ray", ["--ray", "local"]), ("local", [])):
        actors_before = {kind: _encoder_actors(kind) for kind in (RAY_ENCODER, PIPELINE_POOL)}
        result = runner.invoke(app, ["index", str(folder), *stores[name], "--backend", "onnx",
                                     "--chunk-tokens", "64", "--json", *extra])
        assert result.exit_code == 0, result.output
        # the --ray run's rows came through the pipeline: parse tasks, then its pool
        assert _encoder_actors(PIPELINE_POOL) - actors_before[PIPELINE_POOL] == (name == "ray")
        assert _encoder_actors(RAY_ENCODER) == actors_before[RAY_ENCODER]
        reports[name] = {key: value for key, value in json.loads(result.stdout).items()
                         if key != "seconds"}
        answers[name] = []
        for query in ("an enzyme from sea sponges", "how to cook pasta", "household budget"):
            found = runner.invoke(app, ["search", query, *stores[name], "--mode", "dense",
                                        "--json"])
            assert found.exit_code == 0, found.output
            answers[name].append([(hit["path"], hit["score"])
                                  for hit in json.loads(found.stdout)["results"]])
    assert reports["ray"] == reports["local"] and reports["ray"]["chunks_encoded"] > 0
    assert sorted(skip["path"] for skip in reports["ray"]["skipped"]) == ["broken.pdf", "empty.md"]
    on_ray, local = (_snapshot(MilvusTarget(milvus_uri, f"ray_{name}"))
                     for name in ("ray", "local"))
    assert on_ray["chunks"].keys() == local["chunks"].keys() != set()
    keys = sorted(local["chunks"])
    # the same rows: path, ordinal, text and BM25 weights
    assert [on_ray["chunks"][key][:3] + on_ray["chunks"][key][4:] for key in keys] == [
        local["chunks"][key][:3] + local["chunks"][key][4:] for key in keys]
    vectors = [np.stack([snapshot["chunks"][key][3] for key in keys])
               for snapshot in (on_ray, local)]
    assert (vectors[0] * vectors[1]).sum(axis=1).min() >= 0.9999
    for part in ("documents", "terms", "counts"):
        assert on_ray[part] == local[part], part
    for ray_hits, local_hits in zip(answers["ray"], answers["local"], strict=True):
        assert [path for path, _ in ray_hits] == [path for path, _ in local_hits] != []
        assert np.allclose([score for _, score in ray_hits],
                           [score for _, score in local_hits], atol=1e-4)
