"""Request and response models of POST /context (and the MCP `context` tool)."""

import math

from pydantic import BaseModel, ConfigDict, Field, field_validator

from semsearch.api.schemas import MAX_K, MAX_QUERY_CHARS, FiltersIn, Mode, to_filters
from semsearch.search.context import DEFAULT_TOKEN_BUDGET, MAX_TOKEN_BUDGET
from semsearch.search.options import Mode as SearchMode
from semsearch.search.options import SearchOptions


class ContextRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

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

    @field_validator("min_score")
    @classmethod
    def _finite(cls, value: float | None) -> float | None:
        if value is not None and not math.isfinite(value):
            raise ValueError("min_score must be a finite number")
        return value

    def to_options(self) -> SearchOptions:
        """The library's `SearchOptions` for this request."""
        return SearchOptions(k=self.k, mode=SearchMode(self.mode), rerank=self.rerank,
                             filters=to_filters(self.filters), min_score=self.min_score)


class SourceOut(BaseModel):
    doc_id: int
    path: str
    title: str
    page: int | None
    start: int = Field(description="offset in the document's text where the span starts")
    end: int
    score: float
    chunk_ids: list[int]


class PassageOut(BaseModel):
    number: int = Field(description="the passage's marker [number] in `context`")
    doc_id: int
    path: str
    title: str
    page: int | None = Field(description="page of its first chunk (PDF), else null")
    start: int = Field(description="offset in the document's text where the passage starts")
    end: int
    score: float = Field(description="its best chunk's score, of kind `score_kind`")
    chunk_ids: list[int] = Field(description="the chunks merged into it")
    text: str
    headings: list[str]
    truncated: bool = Field(description="cut at a sentence end to fit the budget")
    also_in: list[SourceOut] = Field(
        description="other documents holding the same text (kept once)")


class ContextOut(BaseModel):
    question: str
    context: str = Field(description="ready to paste: `[n] citation` lines, then text")
    passages: list[PassageOut]
    token_count: int
    token_budget: int
    score_kind: str
    note: str | None = Field(description="why the context is empty or short, else null")
    timings_ms: dict[str, float]
