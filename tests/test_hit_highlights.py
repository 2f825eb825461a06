"""A hit's highlight, and the chunk a document's hit shows (search/hit_highlights.py)."""

import numpy as np

from semsearch.indexer.documents import PageSpan
from semsearch.search.hit_highlights import (
    DOCUMENT_CHUNKS,
    document_candidates,
    highlight_hits,
)
from semsearch.search.hits import Hit


def test_document_candidates_are_the_other_chunks_of_each_shown_document() -> None:
    # Chunks 1-3 of document 10, 4-5 of document 20, 6 alone in 30; 1 and 5 are shown.
    documents = {1: 10, 2: 10, 3: 10, 4: 20, 5: 20, 6: 30}
    candidates = [(5, 0.9), (3, 0.8), (1, 0.7), (6, 0.6), (4, 0.5), (2, 0.4)]
    shown = [(5, 0.9), (1, 0.7)]
    assert document_candidates(candidates, shown, documents) == {
        5: [(4, 0.5)], 1: [(3, 0.8), (2, 0.4)]}
    # At most DOCUMENT_CHUNKS chunks of a document, the shown one included, best first.
    many = [(chunk_id, 1.0 - chunk_id / 100) for chunk_id in range(1, 40)]
    owners = {chunk_id: 10 for chunk_id, _ in many}
    (others,) = document_candidates(many, many[:1], owners).values()
    assert others == many[1:DOCUMENT_CHUNKS]
    assert document_candidates([], [], {}) == {}


def _hit(chunk_id: int, ordinal: int, text: str, start: int, page: int | None,
         cosine: float) -> Hit:
    return Hit(chunk_id=chunk_id, doc_id=7, path="bees.pdf", title="Bees", ordinal=ordinal,
               text=text, page=page, start=start, end=start + len(text),
               headings=[f"Part {ordinal}"], score=cosine, score_kind="cosine",
               scores={"cosine": cosine})


def test_a_documents_hit_shows_the_chunk_that_holds_its_best_passage() -> None:
    # The document's best ranked chunk (shown) barely matches; another of its candidate
    # chunks holds the answer, on the PDF page after the one that chunk starts on.
    shown = _hit(1, 0, "Bees live in hives. The hive is warm.", 0, 2, 0.9)
    answer = "Feeding the colony. A worker bee born in summer lives five weeks."
    other = _hit(2, 3, answer, 500, 4, 0.7)
    unrelated = _hit(3, 0, "Tomatoes need sun.", 0, None, 0.5)
    pages = {2: PageSpan(4, (515,)), 1: PageSpan(2)}
    asked: list[list[int]] = []

    def chunk_pages(chunk_ids: list[int]) -> dict[int, PageSpan]:
        asked.append(chunk_ids)
        return {chunk_id: pages[chunk_id] for chunk_id in chunk_ids}

    first, second = highlight_hits("how long does a worker bee live in summer",
                                   [shown, unrelated], {1: [other]}, _no_model, None,
                                   chunk_pages)
    # What the hit shows is the answer's chunk: its id, text, place, page and cosine.
    assert (first.chunk_id, first.ordinal, first.text, first.start, first.end) == (
        2, 3, answer, 500, 500 + len(answer))
    assert first.headings == ["Part 3"] and first.scores == {"cosine": 0.7}
    (highlight,) = first.highlights
    assert highlight.text == "A worker bee born in summer lives five weeks."
    assert highlight.start == 500 + answer.index("A worker")
    assert (highlight.page, first.page) == (5, 5)
    # The document keeps its rank and score; a hit without others is its own chunk.
    assert first.score == 0.9 and first.doc_id == 7
    assert second.chunk_id == 3 and second.highlights[0].text == "Tomatoes need sun."
    assert asked == [[2]]


def _no_model(texts: list[str]) -> np.ndarray:
    raise AssertionError("the model must not be called")


