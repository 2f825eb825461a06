"""Plain data passed between the indexer's stages."""

import bisect
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
    """A span `text[start:end]` of a document's extracted text, small enough to encode.

    `page` is the PDF page it starts on; a new page begins at each document offset of
    `page_breaks`, inside the span (see `PageSpan`).
    """

    ordinal: int
    start: int
    end: int
    text: str
    token_count: int
    page: int | None
    headings: tuple[str, ...]
    page_breaks: tuple[int, ...] = ()


@dataclass(frozen=True)
class PageSpan:
    """The PDF pages of a span of a document's text: it starts on `page`, and one more
    page begins at each document offset of `breaks` (ascending; an offset twice when an
    empty page lies between). `page` is None for formats without pages.
    """

    page: int | None
    breaks: tuple[int, ...] = ()

    def page_at(self, offset: int) -> int | None:
        """The page that document offset `offset`, inside the span, lies on."""
        if self.page is None:
            return None
        return self.page + bisect.bisect_right(self.breaks, offset)
