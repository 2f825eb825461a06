"""The query vectors of one search call: embedded at once, or in the background."""

import time
from collections.abc import Callable
from concurrent.futures import Future

import numpy as np
from numpy.typing import NDArray


def call_now(function: Callable[[list[str]], NDArray[np.float32]],
             texts: list[str]) -> "Future[NDArray[np.float32]]":
    """`function(texts)` now, as a finished Future: the inline twin of an executor's
    `submit` (an error is raised here, at once)."""
    done: Future[NDArray[np.float32]] = Future()
    done.set_result(function(texts))
    return done


class QueryEmbedding:
    """The vectors of a batch of queries, computed now or in the background.

    `run` is `call_now` or an executor's `submit`; `embed` turns texts into unit rows.
    """

    def __init__(self, run: Callable[..., "Future[NDArray[np.float32]]"],
                 embed: Callable[[list[str]], NDArray[np.float32]], queries: list[str]) -> None:
        self.background = run is not call_now
        self.ms_per_query = 0.0

        def timed(texts: list[str]) -> NDArray[np.float32]:
            started = time.perf_counter()
            vectors = embed(texts)
            self.ms_per_query = (time.perf_counter() - started) * 1000 / len(texts)
            return vectors

        self.future = run(timed, queries)

    @classmethod
    def ready(cls, vectors: NDArray[np.float32]) -> "QueryEmbedding":
        return cls(call_now, lambda texts: vectors, [""] * len(vectors))

    def row(self, position: int) -> NDArray[np.float32]:
        """The query's vector, waiting for it if need be (an embedding error is raised)."""
        return self.future.result()[position]

    def ms_before(self) -> float:
        """Per query, the embedding time spent before the queries' own work began."""
        return 0.0 if self.background else self.ms_per_query
