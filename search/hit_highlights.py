"""Highlights on hits, and the chunk a document's hit shows.

A plain hit is a chunk, highlighted in that chunk. A hit of a search grouped by document
stands for its document: its passage is the best of the document's candidate chunks (the
ones the legs found, best ranked first), and the hit shows the chunk that holds it, so
that its text, offsets and page agree with its highlight.
"""

from collections.abc import Callable
from dataclasses import replace

import numpy as np
from numpy.typing import NDArray

from semsearch.indexer.documents import PageSpan
from semsearch.search.highlight import highlight_documents, on_pages
from semsearch.search.hits import Hit

# A grouped hit's passage is looked for in at most this many chunks of its document: the
# one ranked best and the next candidates. On corpus/eval/highlights.jsonl (grouped), 2, 4,
# 8 and 12 chunks scored dense 0.700, 0.767, 0.850, 0.883 and hybrid 0.883 to 0.900; more
# changed nothing. The bound keeps a long document's cost in check (cold, 12 chunks cost
# a corpus query 8.3 ms of CPU against 5.1 for 4; met before, 1.35 against 0.9).
DOCUMENT_CHUNKS = 12
_LEGS = ("cosine", "bm25")


def document_candidates(candidates: list[tuple[int, float]], shown: list[tuple[int, float]],
                        documents: dict[int, int]) -> dict[int, list[tuple[int, float]]]:
    """The other candidates of each shown chunk's document, best first.

    Args:
        candidates: (chunk id, score) of every candidate, best first.
        shown: (chunk id, score) of the chunk shown for each document.
        documents: document id by chunk id, for every candidate.

    Returns:
        By shown chunk id, up to `DOCUMENT_CHUNKS - 1` other (chunk id, score) of its
        document, in the order of `candidates` (documents without any left out).
    """
    shown_of = {documents[chunk_id]: chunk_id for chunk_id, _ in shown}
    others: dict[int, list[tuple[int, float]]] = {}
    for chunk_id, score in candidates:
        first = shown_of.get(documents[chunk_id])
        if first is not None and first != chunk_id:
            found = others.setdefault(first, [])
            if len(found) < DOCUMENT_CHUNKS - 1:
                found.append((chunk_id, score))
    return others


def highlight_hits(query: str, hits: list[Hit], others: dict[int, list[Hit]],
                   embed: Callable[[list[str]], NDArray[np.float32]],
                   query_vector: NDArray[np.float32] | None,
                   pages: Callable[[list[int]], dict[int, PageSpan]]) -> list[Hit]:
    """`hits` with their highlights (`highlight_documents`), each on its PDF page.

    Args:
        query: the query text.
        hits: the hits, best first.
        others: by a hit's chunk id, other chunks of its document that may show instead
            (a grouped search's `document_candidates`, as hits).
        embed: the index's model, for the semantic fallback.
        query_vector: the query's unit vector; None (lexical search) asks no model.
        pages: the PDF pages of chunks by id (`Searcher.chunk_pages`).

    Returns:
        The hits in the same order; a hit whose passage lies in another of its document's
        chunks shows that chunk (`_showing`).
    """
    groups = [[hit, *others.get(hit.chunk_id, [])] for hit in hits]
    found = highlight_documents(
        query, [[(chunk.text, chunk.start) for chunk in group] for group in groups], embed,
        query_vector, [[(*chunk.headings, chunk.title) for chunk in group] for group in groups])
    shown = [hit if index == 0 else _showing(hit, group[index])
             for hit, group, (index, _) in zip(hits, groups, found, strict=True)]
    spans = pages([hit.chunk_id for hit in shown if hit.page is not None])
    for hit, (_, highlights) in zip(shown, found, strict=True):
        hit.highlights = on_pages(highlights, spans.get(hit.chunk_id, PageSpan(hit.page)))
        if hit.highlights:  # the page of what the hit shows, not where its chunk starts
            hit.page = hit.highlights[0].page
    return shown


def _showing(hit: Hit, chunk: Hit) -> Hit:
    """A document's `hit` showing another of its chunks: that chunk's id, text, offsets,
    page, headings and leg scores; the document's score, rank and fused score stay."""
    legs = {leg: score for leg, score in chunk.scores.items() if leg in _LEGS}
    return replace(hit, chunk_id=chunk.chunk_id, ordinal=chunk.ordinal, text=chunk.text,
                   page=chunk.page, start=chunk.start, end=chunk.end,
                   headings=list(chunk.headings), scores={**hit.scores, **legs})
