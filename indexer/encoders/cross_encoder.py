"""The cross-encoder that reranks: the second home of sentence-transformers, beside the
torch backend. It scores (query, passage) pairs; higher is more relevant."""

import numpy as np
from numpy.typing import NDArray

from semsearch.indexer.encoders.base import ModelLoadError, PerThreadTokenizer
from semsearch.indexer.encoders.spec import choose_device


class RerankerLoadError(ModelLoadError):
    """The cross-encoder could not be loaded."""


class Reranker:
    """A sentence-transformers `CrossEncoder` on the best device (or `device`).

    Raises:
        RerankerLoadError: the model cannot be loaded; the message says why.
    """

    def __init__(self, model: str, device: str | None = None) -> None:
        from sentence_transformers import CrossEncoder

        try:
            self._model = CrossEncoder(model, device=choose_device(device))
        except (OSError, ValueError) as error:
            raise RerankerLoadError(
                f"Cannot load cross-encoder {model!r} (set SEMSEARCH_RERANK_MODEL to a local "
                f"path when offline): {error}") from error
        self.model_name = model
        self._tokenizers = PerThreadTokenizer(self._model.tokenizer)

    @property
    def max_tokens(self) -> int:
        """Most tokens of one (query, passage) pair the model reads, special tokens included."""
        limit = getattr(self._model, "max_seq_length", None)
        return int(limit or self._model.tokenizer.model_max_length)

    def count_tokens(self, query: str, passages: list[str]) -> list[int]:
        """Tokens of each (query, passage) pair before any cut, special tokens included."""
        if not passages:
            return []
        # This thread's own tokenizer: a call sets truncation on the tokenizer, which
        # would race with `score` in another thread (see PerThreadTokenizer).
        encoded = self._tokenizers.get()([query] * len(passages), passages,
                                         add_special_tokens=True, truncation=False)
        return [len(ids) for ids in encoded["input_ids"]]

    def score(self, query: str, passages: list[str]) -> NDArray[np.float32]:
        """One score per passage, in order."""
        if not passages:
            return np.zeros(0, dtype=np.float32)
        scores = self._model.predict([(query, p) for p in passages], show_progress_bar=False,
                                     convert_to_numpy=True)
        return np.asarray(scores, dtype=np.float32).reshape(len(passages), -1)[:, -1]

    def logits(self, query: str, passages: list[str]) -> NDArray[np.float32]:
        """One raw score (the model's logit, before any activation) per passage, in order.

        `score` applies the activation the model was saved with (a sigmoid for most
        one-logit models, none for others); this never does.
        """
        import torch

        if not passages:
            return np.zeros(0, dtype=np.float32)
        scores = self._model.predict([(query, p) for p in passages], show_progress_bar=False,
                                     convert_to_numpy=True, activation_fn=torch.nn.Identity())
        return np.asarray(scores, dtype=np.float32).reshape(len(passages), -1)[:, -1]
