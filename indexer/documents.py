"""Plain data passed between the indexer's stages."""

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Section:
    """A heading that starts at `start` in the extracted text, with its full path."""

    start: int
    path: tuple[str, ...]


@dataclass
class ParsedDocument:
    """The visible text of one file and what is known of its structure.

    `page_starts[i]` is the character offset where page `i + 1` begins (PDF only).
    """

    text: str
    title: str
    format: str
    sections: list[Section] = field(default_factory=list)
    page_starts: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class Chunk:
    """A span `text[start:end]` of a document's extracted text, small enough to encode."""

    ordinal: int
    start: int
    end: int
    text: str
    token_count: int
    page: int | None
    headings: tuple[str, ...]
