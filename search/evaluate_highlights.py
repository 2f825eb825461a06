"""Highlight accuracy: does the top highlight of the relevant document hold the answer?

A query file's line may carry an `answer`, an exact passage of its document. A query is
*found* when a hit from that document is among the top `HIGHLIGHT_DEPTH` hits of a plain
search (chunks, not grouped, as `semsearch search` shows them), and *correct* when the
first such hit's top highlight covers at least half of the answer: the overlap of the
highlight's [start, end) with the answer's span (its first occurrence in the document
text) is at least half the answer's length. The same judged on a search grouped by
document (one hit per document, as `semsearch eval` ranks documents for nDCG, and as
`--by-document` shows them) is the accuracy *by document*.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass

from semsearch.search.errors import SearchError
from semsearch.search.hits import Highlight, Hit
from semsearch.search.options import Mode, SearchOptions
from semsearch.search.searcher import Searcher

# The answer's document must be among this many hits to count as found.
HIGHLIGHT_DEPTH = 10


@dataclass(frozen=True)
class Answer:
    """The passage of the document at `path` that answers a query."""

    path: str
    text: str


@dataclass(frozen=True)
class HighlightOutcome:
    """How one query's highlight fared.

    Attributes:
        found: a hit from the answer's document was among the top `HIGHLIGHT_DEPTH`.
        correct: that hit's top highlight covers at least half of the answer.
        highlighted: the top highlight's text ("" when not found or no highlight).
    """

    found: bool
    correct: bool
    highlighted: str


def answer_span(document_text: str, answer: str) -> tuple[int, int] | None:
    """The [start, end) of the first occurrence of `answer` in `document_text`.

    Any run of whitespace in the answer also matches any run in the text, because a
    document rebuilt from its chunks has spaces where the chunker dropped whitespace
    between them. None when the answer is not there.
    """
    start = document_text.find(answer)
    if start >= 0:
        return start, start + len(answer)
    pattern = r"\s+".join(re.escape(word) for word in answer.split())
    match = re.search(pattern, document_text) if pattern else None
    return (match.start(), match.end()) if match else None


def covers_answer(highlight: Highlight, span: tuple[int, int]) -> bool:
    """True when `highlight` overlaps the answer's `span` by at least half its length."""
    overlap = min(highlight.end, span[1]) - max(highlight.start, span[0])
    return overlap > 0 and 2 * overlap >= span[1] - span[0]


def judge_hits(hits: list[Hit], answer: Answer, document_text: Callable[[int], str],
               depth: int = HIGHLIGHT_DEPTH) -> HighlightOutcome:
    """Judge the first of the top `depth` hits from the answer's document.

    `document_text(doc_id)` gives the document's text, in which highlight offsets count.

    Raises:
        SearchError: the answer is not in the document's text.
    """
    hit = next((h for h in hits[:depth] if h.path == answer.path), None)
    if hit is None:
        return HighlightOutcome(found=False, correct=False, highlighted="")
    span = answer_span(document_text(hit.doc_id), answer.text)
    if span is None:
        raise SearchError(f"the answer {answer.text[:60]!r} is not in the text of "
                          f"{answer.path} as indexed; fix the query file or re-index")
    if not hit.highlights:
        return HighlightOutcome(found=True, correct=False, highlighted="")
    top = hit.highlights[0]
    return HighlightOutcome(found=True, correct=covers_answer(top, span), highlighted=top.text)


def indexed_text(searcher: Searcher, doc_id: int) -> str:
    """A document's text rebuilt from its chunks (whitespace between chunks as spaces).

    Raises:
        SearchError: the document is no longer in the index.
    """
    document = searcher.document(doc_id)
    if document is None:
        raise SearchError(f"document {doc_id} left the index during the evaluation")
    characters = [" "] * max((chunk.end for chunk in document.chunks), default=0)
    for chunk in document.chunks:
        characters[chunk.start:chunk.end] = chunk.text
    return "".join(characters)


def evaluate_highlights(searcher: Searcher, queries: dict[str, str],
                        answers: dict[str, Answer], mode: Mode | str, rerank: bool = False,
                        group_by: str | None = None) -> dict[str, HighlightOutcome]:
    """Search each query that has an answer (top `HIGHLIGHT_DEPTH`, with highlights; plain,
    or grouped by `group_by`) and judge its highlight; outcomes by query id."""
    options = SearchOptions(k=HIGHLIGHT_DEPTH, mode=Mode(mode), rerank=rerank, highlight=True,
                            group_by=group_by)
    texts: dict[int, str] = {}

    def document_text(doc_id: int) -> str:
        if doc_id not in texts:
            texts[doc_id] = indexed_text(searcher, doc_id)
        return texts[doc_id]

    return {qid: judge_hits(searcher.search(queries[qid], options).results, answer,
                            document_text)
            for qid, answer in answers.items()}


def highlight_metrics(outcomes: dict[str, HighlightOutcome],
                      by_document: dict[str, HighlightOutcome] | None = None,
                      ) -> dict[str, float]:
    """`highlight_accuracy` (share of queries judged correct, a query whose document was
    not found counting as a miss) and `highlight_found` (share found) of a plain search's
    `outcomes`; with the outcomes of a search grouped by document, its accuracy as
    `highlight_accuracy_by_document`."""
    if not outcomes:
        return {}
    count = len(outcomes)
    metrics = {"highlight_accuracy": sum(o.correct for o in outcomes.values()) / count,
               "highlight_found": sum(o.found for o in outcomes.values()) / count}
    if by_document:
        metrics["highlight_accuracy_by_document"] = \
            sum(o.correct for o in by_document.values()) / len(by_document)
    return metrics
