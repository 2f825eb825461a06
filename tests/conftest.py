"""Shared fixtures: the real bundled model, loaded once per session."""

import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from semsearch.indexer.encoders import Encoder, EncoderSpec
from semsearch.indexer.store import Store
from semsearch.settings import DEFAULT_MODEL
from tests.chromium import require_browser
from tests.helpers import (
    PDF_PAGES,
    SEARCH_DOCS,
    SEARCH_SYNC_OPTIONS_KW,
    make_pdf,
    search_write_docs,
)

# Every Ray a test starts (tests/test_ray*.py) stays on 127.0.0.1: Ray reads this variable
# once, when it is first imported. Token authentication stays on, with a token of this
# session's own, set for every node and driver through the environment (nothing is
# written to ~/.ray/auth_token).
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
os.environ.setdefault("RAY_AUTH_MODE", "token")
os.environ.setdefault("RAY_AUTH_TOKEN", secrets.token_hex(32))


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Before its fixtures: a browser test skips without Chromium, or fails where
    SEMSEARCH_REQUIRE_BROWSER is set, as in CI (tests/chromium.py)."""
    if item.get_closest_marker("browser") is not None:
        require_browser()


@pytest.fixture(scope="session")
def encoder() -> Encoder:
    """The bundled all-MiniLM-L6-v2 on the CPU (torch backend), shared by every test."""
    return EncoderSpec(DEFAULT_MODEL, "torch", "cpu").load()


@pytest.fixture(scope="session", autouse=True)
def onnx_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Where this session's ONNX exports go (new CLI indexes use ONNX on the CPU): out of
    the user's ~/.cache, and inherited by the servers tests start."""
    path = tmp_path_factory.mktemp("semsearch-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SEMSEARCH_CACHE_DIR", str(path))
        yield path


@pytest.fixture
def loads(monkeypatch: pytest.MonkeyPatch, encoder: Encoder) -> list[tuple[Any, ...]]:
    """Every `EncoderSpec.load` records (model, device, backend) and returns the session's
    model, with the SEMSEARCH_* variables that choose one cleared (the CLI tests)."""
    for name in ("SEMSEARCH_MODEL", "SEMSEARCH_DEVICE", "SEMSEARCH_BACKEND",
                 "SEMSEARCH_INDEX_DIR"):
        monkeypatch.delenv(name, raising=False)
    calls: list[tuple[Any, ...]] = []

    def load(spec: EncoderSpec) -> Encoder:
        calls.append((spec.model, spec.device, spec.backend))
        return encoder

    monkeypatch.setattr(EncoderSpec, "load", load)
    return calls


@pytest.fixture
def index_dir(tmp_path: Path) -> Path:
    return tmp_path / "index"


@pytest.fixture(scope="session")
def milvus_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URI of a real `milvus-lite server` on 127.0.0.1, one per session (the scale
    tests); each test uses collections of its own."""
    from tests.milvus_server import milvus_lite_server

    with milvus_lite_server(tmp_path_factory.mktemp("milvus")) as uri:
        yield uri


# --- fixtures of the search tests (tests/test_searcher.py and friends) ------------------

@pytest.fixture(scope="session")
def search_index(tmp_path_factory: pytest.TempPathFactory, encoder: Encoder) -> tuple[Path, Path]:
    """(folder, index directory) of SEARCH_DOCS, synced once per session. Read-only."""
    from semsearch.indexer.sync import SyncOptions, sync_folder

    root = tmp_path_factory.mktemp("search-docs")
    search_write_docs(root, SEARCH_DOCS)
    index_dir = tmp_path_factory.mktemp("search-index")
    report = sync_folder(root, index_dir, EncoderSpec.of(encoder),
                         SyncOptions(**SEARCH_SYNC_OPTIONS_KW))
    assert report.added == len(SEARCH_DOCS) and not report.skipped
    return root, index_dir


@pytest.fixture
def store(search_index: tuple[Path, Path]) -> Iterator[Store]:
    """`search_index`'s store, opened read-only."""
    opened = Store.open_readonly(search_index[1])
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture(scope="session")
def search_searcher(search_index: tuple[Path, Path], encoder: Encoder):  # type: ignore[no-untyped-def]
    """A `Searcher` over `search_index`, shared by the session; do not close it."""
    from semsearch.search.searcher import Searcher

    return Searcher(search_index[1], EncoderSpec.of(encoder))


@pytest.fixture(scope="session")
def pdf_index(tmp_path_factory: pytest.TempPathFactory, encoder: Encoder) -> Path:
    """The index directory of a folder holding the two-page PDF of PDF_PAGES. Read-only."""
    from semsearch.indexer.sync import SyncOptions, sync_folder

    root = tmp_path_factory.mktemp("pdf-docs")
    (root / "logbook.pdf").write_bytes(make_pdf(PDF_PAGES))
    index_dir = tmp_path_factory.mktemp("pdf-index")
    report = sync_folder(root, index_dir, EncoderSpec.of(encoder), SyncOptions())
    assert report.added == 1 and not report.skipped
    return index_dir
