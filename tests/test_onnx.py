"""The ONNX Runtime backends against the torch one: same vectors, one cache, never mixed.

The bundled model is exported once per session into the session's temporary cache
(conftest's `onnx_cache_dir`; seconds) and quantised once for the int8 tests.
"""

import json
import os
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from semsearch.indexer.chunk import chunk_document
from semsearch.indexer.documents import ParsedDocument
from semsearch.indexer.encoders import (
    Encoder,
    EncoderSpec,
    ModelLoadError,
    resolve_model_path,
)
from semsearch.indexer.encoders.onnx_export import (
    EXPORT_VERSION,
    MANIFEST_NAME,
    MODEL_FILE,
    _publish,
    export_key,
)
from semsearch.indexer.encoders.onnx_runtime import (
    SMALL_BATCH_TOKENS,
    TOKENS_PER_BATCH,
    OnnxEncoder,
    _batches,
)
from semsearch.indexer.errors import IndexMismatchError
from semsearch.indexer.stats import read_manifest
from semsearch.indexer.store import Store
from semsearch.indexer.sync import SyncOptions, sync_folder
from semsearch.search.options import SearchOptions
from semsearch.search.searcher import Searcher
from semsearch.settings import DEFAULT_MODEL
from tests.helpers import SEARCH_DOCS, search_write_docs, spec_loading

LONG_TEXT = " ".join(f"Sentence {i} talks about enzymes, sponges and cold sea water."
                     for i in range(80))
TEXTS = [
    "How do I repair a flat bicycle tyre?",
    "绿茶的冲泡方法。水温应该在八十度左右，先用热水温杯，再放入茶叶。",
    LONG_TEXT,  # far past the model's 256 tokens: truncated
    "ok",
    "The zorblax enzyme breaks down cellulose at very low temperatures.",
    "长城是中国古代的军事防御工程。",
]
DOCS = {path: SEARCH_DOCS[path] for path in
        ("biology/zorblax.txt", "cycling/flat_tyre.md", "zh/green_tea.txt")}


@pytest.fixture(scope="module")
def cache_dir(onnx_cache_dir: Path) -> Path:
    """The session's cache (conftest): an export made by another test module is reused."""
    return onnx_cache_dir


@pytest.fixture(scope="module")
def onnx_encoder(cache_dir: Path) -> OnnxEncoder:
    encoder = EncoderSpec(DEFAULT_MODEL, "onnx", "cpu", cache_dir).load()
    assert isinstance(encoder, OnnxEncoder)
    return encoder


@pytest.fixture(scope="module")
def int8_encoder(cache_dir: Path, onnx_encoder: Encoder) -> OnnxEncoder:
    encoder = EncoderSpec(DEFAULT_MODEL, "onnx-int8", "cpu", cache_dir).load()
    assert isinstance(encoder, OnnxEncoder)
    return encoder


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


# --- vectors ----------------------------------------------------------------------------

def test_fp32_vectors_equal_torch(onnx_encoder: Encoder, encoder: Encoder) -> None:
    ours, theirs = onnx_encoder.encode(TEXTS), encoder.encode(TEXTS)
    assert ours.dtype == np.float32 and ours.shape == theirs.shape == (len(TEXTS), 384)
    assert _cosines(ours, theirs).min() >= 0.9999
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)


def test_long_text_is_truncated_like_torch(onnx_encoder: Encoder, encoder: Encoder) -> None:
    """Words past max_seq_length change nothing, in either backend."""
    longer = LONG_TEXT + " Then a last sentence about something else entirely: trains."
    ours = onnx_encoder.encode([LONG_TEXT, longer])
    assert float(ours[0] @ ours[1]) > 0.99999
    assert float(ours[1] @ encoder.encode([longer])[0]) >= 0.9999


def test_int8_vectors_close_to_torch(int8_encoder: Encoder, encoder: Encoder) -> None:
    assert int8_encoder.backend == "onnx-int8"
    assert _cosines(int8_encoder.encode(TEXTS), encoder.encode(TEXTS)).min() >= 0.95


def test_exports_are_fused_and_int8_quantises_attention(onnx_encoder: OnnxEncoder,
                                                        int8_encoder: OnnxEncoder) -> None:
    """The optimizer's fused operators are in the fp32 graph (same vectors: above), and
    int8 quantises the fused attention as well as the other matrix products."""
    import onnx

    def operators(encoder: OnnxEncoder) -> set[str]:
        graph = onnx.load(encoder.export_dir / MODEL_FILE).graph
        return {node.op_type for node in graph.node}

    assert {"Attention", "SkipLayerNormalization", "BiasGelu"} <= operators(onnx_encoder)
    assert {"QAttention", "MatMulInteger"} <= operators(int8_encoder)
    assert "Attention" not in operators(int8_encoder)


def test_rows_keep_the_given_order_across_batches(onnx_encoder: Encoder) -> None:
    """Texts are sorted by length into batches; rows must come back in input order."""
    one_by_one = np.vstack([onnx_encoder.encode([text]) for text in TEXTS])
    np.testing.assert_allclose(onnx_encoder.encode(TEXTS, batch_size=2), one_by_one, atol=1e-5)
    reversed_rows = onnx_encoder.encode(TEXTS[::-1], batch_size=4)
    np.testing.assert_allclose(reversed_rows[::-1], one_by_one, atol=1e-5)


def test_small_batches_run_on_one_thread_with_the_same_vectors(
        onnx_encoder: OnnxEncoder) -> None:
    """A query-sized batch runs on a one-thread session, made at the first one; a larger
    batch on the session of every thread; both give the same vectors."""
    encoder = OnnxEncoder(onnx_encoder.model_name, "cpu", "onnx", onnx_encoder.export_dir,
                          threads=2)
    assert encoder._small_session is None  # not made before a small batch needs it
    query = encoder.encode([TEXTS[0]])
    small = encoder._small_session
    assert small is not None and small is not encoder.session
    assert small.get_session_options().intra_op_num_threads == 1
    assert encoder.session.get_session_options().intra_op_num_threads == 2
    assert encoder._session_for(1, SMALL_BATCH_TOKENS) is small
    assert encoder._session_for(2, SMALL_BATCH_TOKENS // 2 + 1) is encoder.session
    many = encoder.encode([TEXTS[0], LONG_TEXT])  # one batch, past the small budget
    np.testing.assert_allclose(many[0], query[0], atol=1e-6)
    np.testing.assert_allclose(query, onnx_encoder.encode([TEXTS[0]]), atol=1e-6)


def test_batches_hold_a_token_budget() -> None:
    """Rows by ascending length, each once, in order; no batch past batch_size rows or
    TOKENS_PER_BATCH padded tokens but a lone text longer than that."""
    lengths = np.array([256] * 40 + [10] * 100 + [100] * 50 + [TOKENS_PER_BATCH + 1])
    order = np.argsort(lengths, kind="stable")
    batches = _batches(order, lengths, 64)
    assert np.concatenate(batches).tolist() == order.tolist()
    assert [len(rows) for rows in batches] == [64, 40, 40, 16, 16, 14, 1]
    for rows in batches[:-1]:
        assert len(rows) * lengths[rows].max() <= TOKENS_PER_BATCH
    assert [len(rows) for rows in _batches(order, lengths, 8)][:3] == [8, 8, 8]


def test_empty_list(onnx_encoder: Encoder) -> None:
    vectors = onnx_encoder.encode([])
    assert vectors.shape == (0, 384) and vectors.dtype == np.float32


def test_same_interface_as_torch(onnx_encoder: Encoder, encoder: Encoder) -> None:
    assert (onnx_encoder.model_name, onnx_encoder.device, onnx_encoder.backend) == (
        DEFAULT_MODEL, "cpu", "onnx")
    assert encoder.backend == "torch"
    assert onnx_encoder.dimension == encoder.dimension
    assert onnx_encoder.max_tokens == encoder.max_tokens == 254
    # The chunker reads offsets and word ids from the tokenizer: same chunks either way.
    document = ParsedDocument(text=LONG_TEXT + "\n\n" + TEXTS[1] * 20, title="t", format="txt")
    assert chunk_document(document, onnx_encoder.tokenizer, 64, 8) == chunk_document(
        document, encoder.tokenizer, 64, 8)


# --- the cache --------------------------------------------------------------------------

def test_second_load_reuses_the_export(cache_dir: Path, onnx_encoder: OnnxEncoder) -> None:
    exported = onnx_encoder.export_dir / MODEL_FILE
    before = exported.stat()
    again = EncoderSpec(DEFAULT_MODEL, "onnx", "cpu", cache_dir).load()
    assert isinstance(again, OnnxEncoder) and again.export_dir / MODEL_FILE == exported
    after = exported.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    # Only finished exports in the cache: no temporary folder left behind.
    assert all(not entry.name.startswith(".") for entry in (cache_dir / "onnx").iterdir())


def test_key_follows_model_files_and_backend(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "model.safetensors").write_bytes(b"weights")
    key = export_key("my-model", str(tmp_path), "onnx")
    assert key.startswith("my-model-onnx-")
    assert export_key("my-model", str(tmp_path), "onnx") == key
    assert export_key("my-model", str(tmp_path), "onnx-int8") != key
    os.utime(tmp_path / "model.safetensors", ns=(1, 1))
    assert export_key("my-model", str(tmp_path), "onnx") != key


def test_racing_export_keeps_the_first_complete_copy(tmp_path: Path) -> None:
    target = tmp_path / "entry"
    target.mkdir()
    manifest = {"source": "m", "backend": "onnx", "pooling": "mean", "max_seq_length": 8,
                "dimension": 4, "lowercase": False, "inputs": ["input_ids"],
                "version": EXPORT_VERSION}
    (target / MANIFEST_NAME).write_text(json.dumps(manifest))
    staging = tmp_path / ".entry.tmp"
    staging.mkdir()
    (staging / MODEL_FILE).write_bytes(b"the loser's copy")
    _publish(staging, target)  # the other process won: no error, its copy stays
    assert not (target / MODEL_FILE).exists()
    (target / MANIFEST_NAME).unlink()  # a folder that is not a finished export
    (target / "junk").write_text("x")
    with pytest.raises(OSError):
        _publish(staging, target)


# --- refusals ---------------------------------------------------------------------------

def test_unknown_backend_and_device_are_refused(cache_dir: Path, onnx_encoder: Encoder) -> None:
    with pytest.raises(ModelLoadError, match="Unknown backend 'tensorrt'"):
        EncoderSpec(DEFAULT_MODEL, "tensorrt", "cpu", cache_dir).load()
    with pytest.raises(ModelLoadError, match="cpu or cuda, not 'mps'"):
        EncoderSpec(DEFAULT_MODEL, "onnx", "mps", cache_dir).load()


def test_cuda_without_a_gpu_onnxruntime_is_refused(cache_dir: Path,
                                                   onnx_encoder: Encoder) -> None:
    import onnxruntime

    if "CUDAExecutionProvider" in onnxruntime.get_available_providers():
        pytest.skip("this onnxruntime has a CUDA provider")
    with pytest.raises(ModelLoadError, match="onnxruntime-gpu"):
        EncoderSpec(DEFAULT_MODEL, "onnx", "cuda", cache_dir).load()


def test_pooling_it_cannot_run_is_refused(tmp_path: Path) -> None:
    """A copy of the bundled model that pools with max: refused, nothing cached."""
    original = Path(resolve_model_path(DEFAULT_MODEL))
    model_dir = tmp_path / "max-pooled"
    model_dir.mkdir()
    for item in original.iterdir():
        if item.name != "1_Pooling":
            (model_dir / item.name).symlink_to(item)
    (model_dir / "1_Pooling").mkdir()
    config = json.loads((original / "1_Pooling" / "config.json").read_text())
    config.update(pooling_mode_mean_tokens=False, pooling_mode_max_tokens=True)
    (model_dir / "1_Pooling" / "config.json").write_text(json.dumps(config))
    cache = tmp_path / "cache"
    with pytest.raises(ModelLoadError, match="pools with 'max'.*--backend torch"):
        EncoderSpec(str(model_dir), "onnx", "cpu", cache).load()
    assert list((cache / "onnx").iterdir()) == []


# --- indexes remember their backend ------------------------------------------------------

@pytest.fixture
def torch_index(tmp_path: Path, encoder: Encoder) -> tuple[Path, Path]:
    root, index_dir = tmp_path / "docs", tmp_path / "index"
    search_write_docs(root, DOCS)
    sync_folder(root, index_dir, EncoderSpec.of(encoder), SyncOptions())
    return root, index_dir


def _meta(index_dir: Path) -> dict[str, str]:
    store = Store.open_readonly(index_dir)
    try:
        return store.meta()
    finally:
        store.close()


def test_torch_index_refuses_onnx_sync(torch_index: tuple[Path, Path],
                                       onnx_encoder: Encoder) -> None:
    root, index_dir = torch_index
    (root / "new.txt").write_text("A new file to encode.")
    before = _meta(index_dir)
    assert before["backend"] == "torch"
    with pytest.raises(IndexMismatchError, match="torch backend, not onnx"):
        sync_folder(root, index_dir, EncoderSpec.of(onnx_encoder),
                    SyncOptions())
    assert _meta(index_dir)["generation"] == before["generation"]


def test_index_older_than_the_backend_key_is_torch(torch_index: tuple[Path, Path],
                                                   onnx_encoder: Encoder) -> None:
    root, index_dir = torch_index
    store = Store.open(index_dir)
    with store.transaction():
        store.connection.execute("DELETE FROM meta WHERE key = 'backend'")
    store.close()
    (root / "new.txt").write_text("A new file to encode.")
    with pytest.raises(IndexMismatchError, match="torch backend"):
        sync_folder(root, index_dir, EncoderSpec.of(onnx_encoder),
                    SyncOptions())
    assert read_manifest(index_dir).backend == "torch"
    with pytest.raises(IndexMismatchError, match="torch backend, not onnx"):
        Searcher(index_dir, EncoderSpec.of(onnx_encoder))


def test_sync_refuses_an_encoder_of_another_backend(tmp_path: Path,
                                                    onnx_encoder: Encoder) -> None:
    search_write_docs(tmp_path / "docs", DOCS)
    with pytest.raises(IndexMismatchError, match="asked for backend 'torch'"):
        sync_folder(tmp_path / "docs", tmp_path / "index",
                    spec_loading(lambda: onnx_encoder, backend="torch"))


def test_searcher_refuses_another_backend(torch_index: tuple[Path, Path],
                                          onnx_encoder: Encoder) -> None:
    with pytest.raises(IndexMismatchError, match="torch backend, not onnx"):
        Searcher(torch_index[1], EncoderSpec.of(onnx_encoder))
    with pytest.raises(IndexMismatchError, match="torch backend, not onnx-int8"):
        Searcher(torch_index[1], EncoderSpec(backend="onnx-int8"))


def test_fp32_index_is_never_mixed_with_int8(tmp_path: Path, cache_dir: Path,
                                            onnx_encoder: Encoder,
                                            int8_encoder: Encoder) -> None:
    """An fp32 index keeps fp32 with no --backend, and refuses int8 vectors with a
    message that says how to go on."""
    root, index_dir = tmp_path / "docs", tmp_path / "index"
    search_write_docs(root, DOCS)
    sync_folder(root, index_dir, EncoderSpec.of(onnx_encoder), SyncOptions())
    (root / "new.txt").write_text("A new file about sourdough bread.")
    generation = _meta(index_dir)["generation"]
    with pytest.raises(IndexMismatchError,
                       match=r"onnx backend, not onnx-int8.*use --backend onnx, or rebuild"):
        sync_folder(root, index_dir, EncoderSpec.of(int8_encoder), SyncOptions())
    with pytest.raises(IndexMismatchError, match="onnx backend, not onnx-int8"):
        Searcher(index_dir, EncoderSpec(backend="onnx-int8", cache_dir=cache_dir))
    assert _meta(index_dir)["generation"] == generation
    assert EncoderSpec(cache_dir=cache_dir).with_record(DEFAULT_MODEL, "onnx").resolved() \
        .backend == "onnx"


def test_cached_onnx_path_imports_no_torch(tmp_path: Path, cache_dir: Path,
                                           int8_encoder: Encoder) -> None:
    """With the export cached, indexing a folder with the defaults (int8 on the CPU) and
    searching it import neither torch nor transformers (nor sentence-transformers)."""
    import subprocess
    import sys

    from semsearch.indexer.encoders.spec import _gpu_possible

    search_write_docs(tmp_path / "docs", DOCS)
    device = ["--device", "cpu"] if _gpu_possible() else []  # else the default device
    code = f"""
import json, sys, traceback
from pathlib import Path
importers = {{}}
class Witness:
    \"\"\"Records the stack that first imports a heavy module (the failure message).\"\"\"
    def find_spec(self, name, path=None, target=None):
        if name in ("torch", "transformers", "sentence_transformers") and name not in importers:
            importers[name] = "".join(traceback.format_stack(limit=25))
        return None
sys.meta_path.insert(0, Witness())
from semsearch import cli
from semsearch.indexer.encoders import EncoderSpec
from semsearch.search.options import SearchOptions
from semsearch.search.searcher import Searcher
index_dir = {str(tmp_path / "index")!r}
cli.app(["index", {str(tmp_path / "docs")!r}, "--index-dir", index_dir, *{device!r}],
        standalone_mode=False)
searcher = Searcher(Path(index_dir), EncoderSpec())
hits = searcher.search("fix a puncture in my bike wheel", SearchOptions(k=1)).results
print(json.dumps([searcher.backend, hits[0].path, sorted(
    {{"torch", "transformers", "sentence_transformers"}} & set(sys.modules))]))
print(json.dumps(importers), file=sys.stderr)
"""
    environment = {name: value for name, value in os.environ.items()
                   if name not in ("SEMSEARCH_DEVICE", "SEMSEARCH_BACKEND", "SEMSEARCH_MODEL")}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=300, check=False, env={
                                **environment, "SEMSEARCH_CACHE_DIR": str(cache_dir),
                                # no other cache to fall back on (a user's ~/.cache hid a bug)
                                "XDG_CACHE_HOME": str(tmp_path / "empty-cache")})
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.splitlines()[-1]) == [
        "onnx-int8", "cycling/flat_tyre.md", []], result.stderr[-6000:]


def test_onnx_index_is_searchable(tmp_path: Path, cache_dir: Path,
                                  onnx_encoder: Encoder) -> None:
    root, index_dir = tmp_path / "docs", tmp_path / "index"
    search_write_docs(root, DOCS)
    sync_folder(root, index_dir, EncoderSpec.of(onnx_encoder),
                SyncOptions())
    assert _meta(index_dir)["backend"] == "onnx"
    assert read_manifest(index_dir).backend == "onnx"  # a later sync keeps it
    searcher = Searcher(index_dir, EncoderSpec(cache_dir=cache_dir))  # the recorded backend
    try:
        assert searcher.backend == searcher.encoder.backend == "onnx"
        hits = searcher.search("fix a puncture in my bike wheel",
                SearchOptions(k=1, mode="dense")).results
        assert hits[0].path == "cycling/flat_tyre.md"
        hits = searcher.search("怎么泡绿茶", SearchOptions(k=1, mode="dense")).results
        assert hits[0].path == "zh/green_tea.txt"
    finally:
        searcher.close()


def test_new_index_backend_defaults() -> None:
    assert EncoderSpec(device="cpu").resolved().backend == "onnx-int8"
    assert EncoderSpec(backend="onnx", device="cpu").resolved().backend == "onnx"
    assert EncoderSpec(device="cuda").resolved().backend == "torch"
    assert EncoderSpec(backend="onnx-int8", device="cpu").resolved().backend == "onnx-int8"
    assert EncoderSpec(backend="onnx").resolved().device == "cpu"
    with pytest.raises(ModelLoadError, match="Unknown backend"):
        EncoderSpec(backend="fast")  # type: ignore[arg-type]


def test_cli_index_rejects_an_unknown_backend(tmp_path: Path) -> None:
    from semsearch import cli

    search_write_docs(tmp_path / "docs", DOCS)
    result = CliRunner().invoke(cli.app, ["index", str(tmp_path / "docs"), "--index-dir",
                                          str(tmp_path / "index"), "--backend", "fast"])
    assert result.exit_code == 2
    assert "Unknown backend 'fast'" in result.output


def test_cli_index_keeps_the_recorded_backend(torch_index: tuple[Path, Path],
                                              tmp_path: Path, onnx_encoder: Encoder) -> None:
    """No --backend: an existing index keeps its own; a new one gets ONNX int8 on the CPU,
    and fp32 with --backend onnx."""
    from semsearch import cli

    root, index_dir = torch_index
    (root / "new.txt").write_text("A new file about sourdough bread.")
    arguments = ["index", str(root), "--index-dir", str(index_dir), "--device", "cpu"]
    result = CliRunner().invoke(cli.app, arguments)
    assert result.exit_code == 0, result.output
    assert _meta(index_dir)["backend"] == "torch"
    result = CliRunner().invoke(cli.app, [*arguments[:3], str(tmp_path / "new-index"),
                                          "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert _meta(tmp_path / "new-index")["backend"] == "onnx-int8"
    result = CliRunner().invoke(cli.app, [*arguments[:3], str(tmp_path / "fp32-index"),
                                          "--device", "cpu", "--backend", "onnx"])
    assert result.exit_code == 0, result.output
    assert _meta(tmp_path / "fp32-index")["backend"] == "onnx"


def test_cache_dir_follows_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from semsearch.settings import Settings

    monkeypatch.delenv("SEMSEARCH_CACHE_DIR")  # conftest sets it for the session
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert Settings().cache_dir == tmp_path / "semsearch"
    assert EncoderSpec().resolved().cache_dir == tmp_path / "semsearch"
    monkeypatch.setenv("SEMSEARCH_CACHE_DIR", str(tmp_path / "elsewhere"))
    assert Settings().cache_dir == tmp_path / "elsewhere"
    # The library's default too: a Searcher opened with EncoderSpec() finds the CLI's export.
    assert EncoderSpec().resolved().cache_dir == tmp_path / "elsewhere"

