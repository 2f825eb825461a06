"""Shared fixtures: the real bundled model, loaded once per session."""

from pathlib import Path

import pytest

from indexer.encoder import Encoder, load_encoder
from indexer.settings import DEFAULT_MODEL


@pytest.fixture(scope="session")
def encoder() -> Encoder:
    """The bundled all-MiniLM-L6-v2 on the CPU, shared by every test."""
    return load_encoder(DEFAULT_MODEL, "cpu")


@pytest.fixture
def index_dir(tmp_path: Path) -> Path:
    return tmp_path / "index"
