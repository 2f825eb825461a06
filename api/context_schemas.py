"""The request model of POST /context; the answer is the library's `ContextResult`."""

from pydantic import Field, field_validator

from semsearch.api.request_model import RequestModel
from semsearch.api.schemas import MAX_K, MAX_QUERY_CHARS, FiltersIn, Mode, to_filters
from semsearch.search.context import DEFAULT_TOKEN_BUDGET, MAX_TOKEN_BUDGET
from semsearch.search.options import Mode as SearchMode
from semsearch.search.options import SearchOptions


class ContextRequest(RequestModel):
    question: str = Field(..., min_length=1, max_length=MAX_QUERY_CHARS)
    k: int = Field(10, ge=1, le=MAX_K,
                   description=f"chunks retrieved before merging, 1 to {MAX_K}")
    token_budget: int = Field(
        DEFAULT_TOKEN_BUDGET, ge=1, le=MAX_TOKEN_BUDGET,
        description=f"most tokens in `context`, 1 to {MAX_TOKEN_BUDGET}, counted with the "
                    "index model's tokenizer over the whole string (markers and citation "
                    "lines included); a chat model's tokenizer counts differently")
    filters: FiltersIn | None = None
    mode: Mode = "hybrid"
    rerank: bool = False
    min_score: float | None = Field(
        None, description="chunks scoring less never enter the context: cosine (dense, "
                          "hybrid), BM25 (lexical), cross-encoder (rerank)")

    @field_validator("question")
    @classmethod
    def _question(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the question is empty")
        return value

    def to_options(self) -> SearchOptions:
        """The library's `SearchOptions` for this request."""
        return SearchOptions(k=self.k, mode=SearchMode(self.mode), rerank=self.rerank,
                             filters=to_filters(self.filters), min_score=self.min_score)
