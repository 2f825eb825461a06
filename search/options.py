"""What a search is asked for: one value that crosses the layers (API, CLI, MCP, client)."""

import math
from dataclasses import dataclass, field
from enum import StrEnum

from semsearch.indexer.filters import DocumentFilter as Filters
from semsearch.search.errors import InvalidQueryError

__all__ = ["Filters", "Mode", "SearchOptions", "RERANK_CANDIDATES"]

# Candidates the cross-encoder rescores (at least k) when `rerank` is set.
RERANK_CANDIDATES = 30


class Mode(StrEnum):
    DENSE = "dense"
    LEXICAL = "lexical"
    HYBRID = "hybrid"


@dataclass(frozen=True)
class SearchOptions:
    """How to search; checked when it is made.

    Attributes:
        k: hits wanted, at least 1.
        mode: dense (cosine), lexical (BM25) or hybrid (both fused); a string is taken.
        rerank: rescore the top `rerank_candidates` (at least `k`) with the cross-encoder.
        filters: restrict by path, type or mtime, inside every leg, before `k` is cut.
        group_by: "document" keeps each document's best chunk only.
        min_score: drop hits below it: a cosine in dense and hybrid mode, BM25 in
            lexical mode, the cross-encoder's score when reranking.
        highlight: find each hit's best sentence (evaluation runs skip it).

    Raises:
        InvalidQueryError: k < 1, an unknown mode or group_by, a min_score that is not
            a finite number.
    """

    k: int = 10
    mode: Mode = Mode.HYBRID
    rerank: bool = False
    filters: Filters = field(default_factory=Filters)
    group_by: str | None = None
    min_score: float | None = None
    rerank_candidates: int = RERANK_CANDIDATES
    highlight: bool = True

    def __post_init__(self) -> None:
        if self.k < 1:
            raise InvalidQueryError(f"k must be at least 1, not {self.k}")
        if self.group_by not in (None, "document"):
            raise InvalidQueryError(
                f"group_by must be 'document' or absent, not {self.group_by!r}")
        if self.min_score is not None and not math.isfinite(self.min_score):
            raise InvalidQueryError("min_score must be a finite number")
        try:
            object.__setattr__(self, "mode", Mode(self.mode))
        except ValueError as error:
            raise InvalidQueryError(
                f"unknown mode {self.mode!r}; use one of {', '.join(m.value for m in Mode)}"
            ) from error
        if self.filters is None:
            object.__setattr__(self, "filters", Filters())
