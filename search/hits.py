"""What a search returns: plain dataclasses with a JSON form."""

from dataclasses import asdict, dataclass, field

__all__ = ["BatchSearchResponse", "ChunkView", "DocumentView", "Highlight", "Hit",
           "SearchResponse"]


@dataclass(frozen=True)
class Highlight:
    """A sentence of the chunk that matches the query; offsets are in the document text,
    and `page` is the PDF page the sentence starts on (None for other formats)."""

    text: str
    start: int
    end: int
    page: int | None = None


@dataclass
class Hit:
    """One result. `score` is of kind `score_kind`; `scores` holds each leg's score.

    `page` (PDF) is the page of the best highlight, or without highlights the page the
    chunk starts on.
    """

    chunk_id: int
    doc_id: int
    path: str
    title: str
    ordinal: int
    text: str
    page: int | None
    start: int
    end: int
    headings: list[str]
    score: float
    score_kind: str
    scores: dict[str, float] = field(default_factory=dict)
    highlights: list[Highlight] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass
class SearchResponse:
    query: str
    results: list[Hit]
    timings_ms: dict[str, float]

    def to_dict(self) -> dict[str, object]:
        return {"query": self.query, "results": [hit.to_dict() for hit in self.results],
                "timings_ms": self.timings_ms}


@dataclass
class BatchSearchResponse:
    """The responses of a batch, in the order of its queries."""

    responses: list[SearchResponse]


@dataclass
class ChunkView:
    chunk_id: int
    ordinal: int
    text: str
    start: int
    end: int
    page: int | None
    headings: list[str]


@dataclass
class DocumentView:
    """A document's metadata and its chunks in order."""

    doc_id: int
    path: str
    title: str
    format: str
    size: int
    mtime: float
    chunks: list[ChunkView]

    def to_dict(self) -> dict[str, object]:
        return asdict(self)
