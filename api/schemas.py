"""Request models, with the documented limits enforced before any work; each turns into
the library's own options. Responses are the library's dataclasses, served as they are."""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field, field_validator

from semsearch.api.request_model import RequestModel
from semsearch.search.options import Filters, SearchOptions
from semsearch.search.options import Mode as SearchMode

MAX_QUERY_CHARS = 2000
MAX_K = 100
MAX_BATCH = 64

Mode = Literal["dense", "lexical", "hybrid"]


class FiltersIn(RequestModel):
    path_prefix: str | None = Field(None, max_length=1024, description="path starts with")
    path_glob: str | None = Field(None, max_length=1024, description="SQLite GLOB on path")
    file_types: list[str] = Field(default_factory=list, max_length=32,
                                  description="extensions, e.g. ['pdf', 'md']")
    modified_after: datetime | None = Field(None, description="ISO date-time or Unix time")
    modified_before: datetime | None = None

    @field_validator("file_types")
    @classmethod
    def _extensions(cls, values: list[str]) -> list[str]:
        for value in values:
            stripped = value.lstrip(".")
            if not stripped or len(stripped) > 16 or not stripped.isalnum():
                raise ValueError(f"not a file extension: {value!r}")
        return values


class SearchOptionsIn(RequestModel):
    k: int = Field(10, ge=1, le=MAX_K, description=f"results wanted, 1 to {MAX_K}")
    mode: Mode = "hybrid"
    rerank: bool = False
    filters: FiltersIn | None = None
    group_by: Literal["document"] | None = None
    min_score: float | None = Field(
        None, description="cosine (dense, hybrid), BM25 (lexical), cross-encoder (rerank)")

    def to_options(self) -> SearchOptions:
        """The library's `SearchOptions` for this request."""
        return SearchOptions(k=self.k, mode=SearchMode(self.mode), rerank=self.rerank,
                             filters=to_filters(self.filters), group_by=self.group_by,
                             min_score=self.min_score)


def to_filters(filters: FiltersIn | None) -> Filters:
    """The library's `Filters` for a request's filters (none: every document)."""
    if filters is None:
        return Filters()
    return Filters(
        path_prefix=filters.path_prefix,
        path_glob=filters.path_glob,
        file_types=tuple(filters.file_types),
        modified_after=filters.modified_after.timestamp() if filters.modified_after else None,
        modified_before=filters.modified_before.timestamp() if filters.modified_before else None,
    )


def _check_query(value: str) -> str:
    if not value.strip():
        raise ValueError("the query is empty")
    return value


class SearchRequest(SearchOptionsIn):
    query: str = Field(..., min_length=1, max_length=MAX_QUERY_CHARS)

    @field_validator("query")
    @classmethod
    def _query(cls, value: str) -> str:
        return _check_query(value)


class BatchSearchRequest(SearchOptionsIn):
    queries: list[str] = Field(..., min_length=1, max_length=MAX_BATCH)

    @field_validator("queries")
    @classmethod
    def _queries(cls, values: list[str]) -> list[str]:
        for value in values:
            if len(value) > MAX_QUERY_CHARS:
                raise ValueError(f"a query is longer than {MAX_QUERY_CHARS} characters")
            _check_query(value)
        return values


class IndexRequest(RequestModel):
    path: str | None = Field(None, max_length=4096,
                             description="folder to sync; default the index's own folder")


class ErrorOut(BaseModel):
    detail: str
