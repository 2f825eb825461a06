"""The sentences of a chunk that best answer the query."""

from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

from indexer.chunk import split_sentences
from indexer.lexical_text import STOP_WORDS, words
from search.hits import Highlight


def stem(word: str) -> str:
    """A light English stem so `brewing` meets `brewed`; other scripts pass through."""
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def query_terms(query: str) -> set[str]:
    return {stem(w) for w in words(query) if w not in STOP_WORDS}


def best_sentences(
    text: str,
    offset: int,
    terms: set[str],
    sentence_scores: Callable[[list[str]], NDArray[np.float32]] | None = None,
) -> list[Highlight]:
    """The best-matching sentence of `text` (the chunk), with document offsets.

    Sentences are ranked by how many distinct query terms they hold. When none holds
    any, `sentence_scores` (semantic similarity to the query) decides, if given; else
    the first sentence stands in.
    """
    spans = split_sentences(text)
    if not spans:
        return []
    overlaps = [len(terms & {stem(w) for w in words(text[s:e])}) for s, e in spans]
    best = int(np.argmax(overlaps))
    if overlaps[best] == 0 and sentence_scores is not None and len(spans) > 1:
        best = int(np.argmax(sentence_scores([text[s:e] for s, e in spans])))
    start, end = spans[best]
    return [Highlight(text=text[start:end], start=offset + start, end=offset + end)]


# Hits past this many that share no word with the query get their first sentence: the
# semantic fallback costs an encoder batch of their sentences on every search.
SEMANTIC_HIGHLIGHTS = 3


def highlight_chunks(
    query: str,
    chunks: list[tuple[str, int]],
    encode: Callable[[list[str]], NDArray[np.float32]],
) -> list[list[Highlight]]:
    """Highlights for many (chunk text, document offset) pairs of one query.

    Like `best_sentences`, but the semantic fallback runs as one encoder batch for the
    first `SEMANTIC_HIGHLIGHTS` chunks that share no word with the query.
    """
    terms = query_terms(query)
    chosen: list[tuple[int, int] | None] = []
    fallback: list[tuple[int, list[tuple[int, int]]]] = []
    for position, (text, _) in enumerate(chunks):
        spans = split_sentences(text)
        overlaps = [len(terms & {stem(w) for w in words(text[s:e])}) for s, e in spans]
        if not spans:
            chosen.append(None)
            continue
        best = int(np.argmax(overlaps))
        chosen.append(spans[best])
        if overlaps[best] == 0 and len(spans) > 1 and len(fallback) < SEMANTIC_HIGHLIGHTS:
            fallback.append((position, spans))
    if fallback:
        sentences = [chunks[p][0][s:e] for p, spans in fallback for s, e in spans]
        vectors = encode([query, *sentences])
        scores = vectors[1:] @ vectors[0]
        offset = 0
        for position, spans in fallback:
            chosen[position] = spans[int(np.argmax(scores[offset:offset + len(spans)]))]
            offset += len(spans)
    highlights: list[list[Highlight]] = []
    for (text, document_offset), span in zip(chunks, chosen, strict=True):
        if span is None:
            highlights.append([])
            continue
        start, end = span
        highlights.append([Highlight(text=text[start:end], start=document_offset + start,
                                     end=document_offset + end)])
    return highlights
