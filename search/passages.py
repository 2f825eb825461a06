"""Passages: hits of one document joined into spans of its text, duplicates folded.

A chunk's text is `document_text[start:end]` exactly. Neighbouring chunks of a document
either overlap (the chunker repeats a few sentences) or are separated by whitespace only,
which is not stored; `join_spans` rebuilds that gap as whitespace of the same length, so
that a joined text keeps the document's offsets: `text[i]` is document offset `start + i`.

A PDF passage knows the pages its text spans (`page` to `last_page`), from the page breaks
of its chunks: a citation names them all.
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from semsearch.indexer.documents import PageSpan
from semsearch.search.hits import DocumentView, Hit


@dataclass(frozen=True)
class Source:
    """A span of one document: where a passage's text comes from."""

    doc_id: int
    path: str
    title: str
    page: int | None
    start: int
    end: int
    score: float
    chunk_ids: tuple[int, ...]


@dataclass
class Passage:
    """Text for a reader, with where it comes from: the span of one document that scored
    best (`source`), its headings, and `also_in`, the other documents that hold the same
    text (an exact duplicate, or a passage whose text this one contains).

    Attributes:
        start / end: offsets of `text` in the document's text.
        page: the PDF page `text` starts on (None for other formats); one more page
            begins at each document offset of `page_breaks`, up to `last_page`.
        score: its best chunk's score.
        chunk_ids: the chunks merged into it.
        truncated: cut at a sentence end to fit a token budget.
        number: its marker `[number]` in a packed context (0 until packed).
    """

    text: str
    doc_id: int
    path: str
    title: str
    page: int | None
    start: int
    end: int
    score: float
    chunk_ids: tuple[int, ...]
    headings: tuple[str, ...] = ()
    truncated: bool = False
    also_in: list[Source] = field(default_factory=list)
    number: int = 0
    page_breaks: tuple[int, ...] = ()

    @property
    def last_page(self) -> int | None:
        """The PDF page the text ends on."""
        return PageSpan(self.page, self.page_breaks).page_at(max(self.end - 1, self.start))

    @property
    def source(self) -> Source:
        """The span this passage's text comes from."""
        return Source(self.doc_id, self.path, self.title, self.page, self.start, self.end,
                      self.score, self.chunk_ids)


def gap_filler(length: int) -> str:
    """Whitespace standing in for the unstored `length` characters between two chunks."""
    if length <= 0:
        return ""
    return " " if length == 1 else "\n" * length


def join_spans(spans: Iterable[tuple[int, int, str]], origin: int) -> str:
    """Join (start, end, text) spans sorted by start into the text from offset `origin`.

    Overlaps are taken once; gaps become whitespace of their length (`gap_filler`).
    """
    parts: list[str] = []
    reached = origin
    for start, end, text in spans:
        if end <= reached:
            continue
        if start > reached:
            parts.append(gap_filler(start - reached))
            reached = start
        parts.append(text[reached - start:])
        reached = end
    return "".join(parts)


def merge_hits(hits: Sequence[Hit],
               pages: Mapping[int, PageSpan] | None = None) -> list[Passage]:
    """Merge the hits of each document that overlap or are neighbours into one passage.

    Two hits with touching offsets merge; two with consecutive ordinals (neighbouring
    chunks) merge over the whitespace between them.

    Args:
        hits: search results, best first.
        pages: the PDF pages of the hits' chunks, by chunk id (`Searcher.chunk_pages`);
            a chunk left out is taken to lie on its hit's `page` alone.

    Returns:
        Passages ranked by their best hit (ties keep the hits' order).
    """
    rank = {hit.chunk_id: position for position, hit in enumerate(hits)}
    by_document: dict[int, list[Hit]] = {}
    for hit in hits:
        by_document.setdefault(hit.doc_id, []).append(hit)
    passages = []
    for document_hits in by_document.values():
        for group in _runs(sorted(document_hits, key=lambda h: (h.start, h.end))):
            spans = [(h.start, (pages or {}).get(h.chunk_id, PageSpan(h.page))) for h in group]
            passages.append(_passage(group, spans))
    return sorted(passages, key=lambda p: (-p.source.score,
                                           min(rank[c] for c in p.source.chunk_ids)))


def _runs(hits: list[Hit]) -> list[list[Hit]]:
    """Split one document's hits (sorted by start) into runs of overlapping neighbours."""
    runs: list[list[Hit]] = []
    for hit in hits:
        if runs and _adjoins(runs[-1], hit):
            runs[-1].append(hit)
        else:
            runs.append([hit])
    return runs


def _adjoins(run: list[Hit], hit: Hit) -> bool:
    reached = max(h.end for h in run)
    if hit.start <= reached:
        return True
    last = max(run, key=lambda h: h.end)
    return hit.ordinal == last.ordinal + 1


def _passage(run: list[Hit], spans: list[tuple[int, PageSpan]]) -> Passage:
    first, best = run[0], max(run, key=lambda h: h.score)
    start, end = first.start, max(h.end for h in run)
    text = join_spans(((h.start, h.end, h.text) for h in run), start)
    return Passage(text=text, doc_id=first.doc_id, path=first.path, title=first.title,
                   page=spans[0][1].page, start=start, end=end, score=best.score,
                   chunk_ids=tuple(h.chunk_id for h in run), headings=tuple(first.headings),
                   page_breaks=joined_page_breaks(spans))


def joined_page_breaks(spans: Sequence[tuple[int, PageSpan]]) -> tuple[int, ...]:
    """The page breaks of the text joined from (start, pages) spans of one document,
    sorted by start, which may overlap or leave gaps.

    Each page begins at the least offset where a span shows it beginning; a page no span
    shows (an empty one, or one that begins in a gap) begins where the next page does.
    """
    begins: dict[int, int] = {}
    for start, pages in spans:
        if pages.page is None:
            continue
        seen = [(pages.page, start),
                *((pages.page + n, offset) for n, offset in enumerate(pages.breaks, 1))]
        for page, offset in seen:
            begins[page] = min(offset, begins.get(page, offset))
    if not begins:
        return ()
    breaks: list[int] = []
    following = begins[max(begins)]
    for page in range(max(begins), min(begins), -1):
        following = min(begins.get(page, following), following)
        breaks.append(following)
    return tuple(reversed(breaks))


def fold_duplicates(passages: Sequence[Passage]) -> list[Passage]:
    """Keep each text once: a passage whose text (whitespace aside) equals or lies
    inside a better-ranked one's becomes a citation in that one's `also_in`."""
    kept: list[tuple[str, Passage]] = []
    for passage in passages:
        key = " ".join(passage.text.split())
        holder = next((p for k, p in kept if key in k), None)
        if holder is None:
            kept.append((key, passage))
        else:
            holder.also_in.append(passage.source)
    return [passage for _, passage in kept]


def document_text(view: DocumentView) -> str:
    """The text of an indexed document rebuilt from its chunks, from offset 0.

    `text[start:end]` of every chunk is its text; whitespace the chunks do not hold
    is rebuilt as in `join_spans`.
    """
    spans = sorted((c.start, c.end, c.text) for c in view.chunks)
    return join_spans(spans, 0)
