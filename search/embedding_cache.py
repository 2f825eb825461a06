"""A bounded, thread-safe cache of recent text embeddings (queries, highlight sentences)."""

import threading
from collections import OrderedDict
from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

# Texts kept: 384-dimensional float32 rows take 1.5 KiB each, so 2048 hold about 3 MiB.
EMBEDDING_CACHE_SIZE = 2048


class EmbeddingCache:
    """Remembers the vectors of the last `size` texts embedded, least recently used out.

    A repeated query (a user paging, a client retrying, an evaluation run twice) skips the
    model. The vectors are those `embed` gives, so a hit returns the same row a miss would.
    """

    def __init__(self, embed: Callable[[list[str]], NDArray[np.float32]],
                 size: int = EMBEDDING_CACHE_SIZE) -> None:
        """`embed` turns texts into unit rows; `size` (0 turns caching off) bounds the texts."""
        if size < 0:
            raise ValueError(f"size must be 0 or more, not {size}")
        self._embed = embed
        self.size = size
        self._vectors: OrderedDict[str, NDArray[np.float32]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._vectors)

    def embed(self, texts: list[str]) -> NDArray[np.float32]:
        """The rows of `texts`, in order: cached ones from memory, the rest in one call."""
        if not texts:
            return self._embed([])
        found: dict[str, NDArray[np.float32]] = {}
        with self._lock:
            for text in dict.fromkeys(texts):
                vector = self._vectors.get(text)
                if vector is not None:
                    self._vectors.move_to_end(text)
                    found[text] = vector
            missing = [text for text in dict.fromkeys(texts) if text not in found]
            self.hits += len(found)
            self.misses += len(missing)
        if missing:
            # The model runs outside the lock: other threads' hits need not wait for it.
            computed = self._embed(missing)
            with self._lock:
                for text, vector in zip(missing, computed, strict=True):
                    vector = np.array(vector, dtype=np.float32)  # a copy no caller holds
                    vector.setflags(write=False)
                    found[text] = vector
                    if self.size:
                        self._vectors[text] = vector
                        self._vectors.move_to_end(text)
                while len(self._vectors) > self.size:
                    self._vectors.popitem(last=False)
        return np.stack([found[text] for text in texts]).astype(np.float32, copy=False)
