"""The torch backend: a sentence-transformers model (fp16 on CUDA, a process pool over
several GPUs). The only module, with the cross-encoder's, that imports sentence-transformers.
"""

import atexit
import logging
import threading
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from semsearch.indexer.encoders.base import ModelLoadError, PerThreadTokenizer

log = logging.getLogger(__name__)

# With several GPUs, a call with this many texts is shared out among them.
MULTI_GPU_MIN_TEXTS = 512


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


def load_torch_encoder(model: str, location: str, device: str) -> "TorchEncoder":
    """The model `model`, read from `location`, on `device` (in fp16 on CUDA).

    Raises:
        ModelLoadError: it cannot be loaded; the message says why.
    """
    loaded = load_sentence_transformer(model, location, device)
    if device.startswith("cuda"):
        loaded.half()
    log.info("loaded model %s on %s", model, device)
    return TorchEncoder(model_name=model, device=device, model=loaded)
