"""Request and response models, with the documented limits enforced before any work."""

import math
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

MAX_QUERY_CHARS = 2000
MAX_K = 100
MAX_BATCH = 64

Mode = Literal["dense", "lexical", "hybrid"]


class FiltersIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

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


class SearchOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    k: int = Field(10, ge=1, le=MAX_K, description=f"results wanted, 1 to {MAX_K}")
    mode: Mode = "hybrid"
    rerank: bool = False
    filters: FiltersIn | None = None
    group_by: Literal["document"] | None = None
    min_score: float | None = Field(
        None, description="cosine (dense, hybrid), BM25 (lexical), cross-encoder (rerank)")

    @field_validator("min_score")
    @classmethod
    def _finite(cls, value: float | None) -> float | None:
        if value is not None and not math.isfinite(value):
            raise ValueError("min_score must be a finite number")
        return value


def _check_query(value: str) -> str:
    if not value.strip():
        raise ValueError("the query is empty")
    return value


class SearchRequest(SearchOptions):
    query: str = Field(..., min_length=1, max_length=MAX_QUERY_CHARS)

    @field_validator("query")
    @classmethod
    def _query(cls, value: str) -> str:
        return _check_query(value)


class BatchSearchRequest(SearchOptions):
    queries: list[str] = Field(..., min_length=1, max_length=MAX_BATCH)

    @field_validator("queries")
    @classmethod
    def _queries(cls, values: list[str]) -> list[str]:
        for value in values:
            if len(value) > MAX_QUERY_CHARS:
                raise ValueError(f"a query is longer than {MAX_QUERY_CHARS} characters")
            _check_query(value)
        return values


class HighlightOut(BaseModel):
    text: str
    start: int
    end: int


class HitOut(BaseModel):
    chunk_id: int
    doc_id: int
    path: str
    title: str
    text: str
    page: int | None
    start: int
    end: int
    headings: list[str]
    score: float
    score_kind: str
    scores: dict[str, float]
    highlights: list[HighlightOut]


class SearchResponseOut(BaseModel):
    query: str
    results: list[HitOut]
    timings_ms: dict[str, float]


class BatchSearchResponseOut(BaseModel):
    responses: list[SearchResponseOut]


class IndexRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: str | None = Field(None, max_length=4096,
                             description="folder to sync; default the index's own folder")


class SkippedOut(BaseModel):
    path: str
    reason: str


class SyncReportOut(BaseModel):
    added: int
    updated: int
    unchanged: int
    removed: int
    renamed: int
    skipped: list[SkippedOut]
    chunks_written: int
    chunks_encoded: int
    seconds: float


class IndexStatusOut(BaseModel):
    running: bool
    path: str | None
    started_at: float | None
    finished_at: float | None
    files_done: int
    files_total: int
    chunks_encoded: int
    last_report: SyncReportOut | None
    last_error: str | None


class VectorIndexOut(BaseModel):
    type: str = Field(description="flat (exact), hnsw or ivf (approximate)")
    params: dict[str, int | str] = Field(description="e.g. nlist, nprobe; M, ef_search")
    vectors: int
    tombstones: int = Field(description="hnsw: removed vectors still in the graph")
    requested: str = Field(description="the setting: auto, flat, hnsw or ivf")


class StatsOut(BaseModel):
    documents: int
    chunks: int
    skipped: int
    model: str
    backend: str = Field(description="encoder backend that built the index: torch, onnx, "
                         "onnx-int8")
    dimension: int
    index_type: str
    vector_index: VectorIndexOut
    chunk_tokens: int
    chunk_overlap: int
    root: str
    generation: int
    last_sync: float | None


class ChunkOut(BaseModel):
    chunk_id: int
    ordinal: int
    text: str
    start: int
    end: int
    page: int | None
    headings: list[str]


class DocumentOut(BaseModel):
    doc_id: int
    path: str
    title: str
    format: str
    size: int
    mtime: float
    chunks: list[ChunkOut]


class ErrorOut(BaseModel):
    detail: str
