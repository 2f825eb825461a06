"""The sentences of a chunk that best answer the query."""

import re
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import replace
from functools import lru_cache

import numpy as np
from numpy.typing import NDArray

from semsearch.indexer.documents import PageSpan
from semsearch.indexer.lexical_text import STOP_WORDS, has_chinese, words
from semsearch.search.hits import Highlight
from semsearch.search.sentences import Sentence, highlight_sentences

# Of the chunks that share no word with the query, this many get the semantic fallback;
# the others get their first sentence.
SEMANTIC_HIGHLIGHTS = 3
# The fallback embeds at most this many sentences per search, in one encoder batch, so
# its cost is bounded whatever the chunks hold (it was the dense p99: 3 chunks of ~10).
SEMANTIC_SENTENCES = 8
# Stems are cut to this many characters, so that `induction` meets `inductive` and
# `property` meets `properties` as BM25's Porter stemmer lets them: fewer hits that BM25
# found by a word end up with no shared word here (and in the costly fallback).
STEM_LENGTH = 6
# A question that asks for a quantity or a date ("how many", "when", "what temperature",
# "多少") is answered by a sentence that holds a number: among the sentences that share
# query terms, one with a number counts as holding NUMBER_BONUS terms more.
NUMBER_BONUS = 0.5
_ASKS_QUANTITY = re.compile(
    r"\b(?:how (?:much|many|long|far|old|big|tall|high|hot|cold|warm|fast|often|deep|large"
    r"|heavy|wide)|when|what year|temperature|ratio|percent(?:age)?|share|proportion|rate"
    r"|altitude|height|cost|price|speed|distance|age)s?\b"
    r"|多少|多久|多高|多长|多大|什么时候|哪一?年|温度|比例", re.IGNORECASE)
_HOLDS_NUMBER = re.compile(
    r"\d|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty"
    r"|forty|fifty|hundred|thousand|million|billion|half|quarters?|dozen)\b", re.IGNORECASE)
_WORD_CHAR = re.compile(r"\w")
_WORD_REST = re.compile(r"\w*")


@lru_cache(maxsize=65_536)
def stem(word: str) -> str:
    """A light English stem so `brewing` meets `brewed`, cut to `STEM_LENGTH` characters
    (other scripts only cut)."""
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)][:STEM_LENGTH]
    return word[:STEM_LENGTH]


def query_terms(query: str) -> set[str]:
    """The stems of the query's words, stop words left out."""
    return {stem(w) for w in words(query) if w not in STOP_WORDS}


def highlight_chunks(
    query: str,
    chunks: list[tuple[str, int]],
    embed: Callable[[list[str]], NDArray[np.float32]] | None = None,
    query_vector: NDArray[np.float32] | None = None,
    headings: list[tuple[str, ...]] | None = None,
) -> list[list[Highlight]]:
    """The best sentence of each (chunk text, document offset) pair, with document offsets.

    Sentences are whole (`highlight_sentences`: soft-wrapped lines joined) and ranked by
    how many distinct query terms (stemmed) they hold, ties going to the first; a heading
    line is chosen only when no body sentence holds a term. When none does, `embed`
    (unit vectors of texts), if given, picks the body sentence closest to the query in
    meaning, for the first `SEMANTIC_HIGHLIGHTS` such chunks and `SEMANTIC_SENTENCES`
    sentences (one batch); otherwise, and past those bounds, the first body sentence
    stands in.

    Args:
        query: the query text.
        chunks: (chunk text, offset of the chunk in its document) pairs.
        embed: the index's model, used only by the fallback.
        query_vector: the query's unit vector, if known, so that it is not embedded again.
        headings: per chunk, lines that are headings wherever they stand (its section
            path and its document's title).

    Returns:
        One list per chunk: its sentence as a Highlight, or nothing for a blank chunk.
    """
    terms = query_terms(query)
    bonus = NUMBER_BONUS if _ASKS_QUANTITY.search(query) else 0.0
    chosen: list[tuple[int, int] | None] = []
    fallback: list[tuple[int, list[tuple[int, int]]]] = []
    budget = SEMANTIC_SENTENCES if embed is not None else 0
    for position, (text, _) in enumerate(chunks):
        sentences = highlight_sentences(text, headings[position] if headings else ())
        sentence = _best_sentence(text, sentences, terms, bonus)
        if sentence is not None:
            chosen.append(sentence)
            continue
        # No body sentence holds a query term: the body stands in, headings only without it.
        spans = [(s.start, s.end) for s in sentences if not s.heading] or [
            (s.start, s.end) for s in sentences]
        chosen.append(spans[0] if spans else None)
        if len(spans) > 1 and budget > 0 and len(fallback) < SEMANTIC_HIGHLIGHTS:
            fallback.append((position, spans[:budget]))
            budget -= len(fallback[-1][1])
    if fallback and embed is not None:
        for position, span in _closest_sentences(query, chunks, fallback, embed, query_vector):
            chosen[position] = span
    highlights: list[list[Highlight]] = []
    for (text, document_offset), picked in zip(chunks, chosen, strict=True):
        if picked is None:
            highlights.append([])
            continue
        start, end = picked
        highlights.append([Highlight(text=text[start:end], start=document_offset + start,
                                     end=document_offset + end)])
    return highlights


def on_pages(highlights: list[Highlight], pages: PageSpan) -> list[Highlight]:
    """`highlights` of a chunk whose text lies on `pages`, each with the page it starts on."""
    return [replace(highlight, page=pages.page_at(highlight.start))
            for highlight in highlights]


def _best_sentence(text: str, sentences: list[Sentence], terms: set[str],
                   number_bonus: float) -> tuple[int, int] | None:
    """The span of the body sentence with the most distinct query terms, plus
    `number_bonus` if it holds a number (the first of equals), or None when no body
    sentence holds a term."""
    found = _terms_by_sentence(text, sentences, terms)
    body = [index for index in found if not sentences[index].heading]
    if not body:
        return None

    def score(index: int) -> float:
        sentence = sentences[index]
        holds_number = number_bonus and _HOLDS_NUMBER.search(text, sentence.start, sentence.end)
        return len(found[index]) + (number_bonus if holds_number else 0.0)

    best = min(body, key=lambda index: (-score(index), index))
    return sentences[best].start, sentences[best].end


def _terms_by_sentence(text: str, sentences: list[Sentence],
                       terms: set[str]) -> dict[int, set[str]]:
    """The query terms each sentence holds, by sentence index (sentences without any
    left out)."""
    if not terms or not sentences:
        return {}
    lowered = text.lower()
    if has_chinese(text) or len(lowered) != len(text):
        # Words cut by jieba sentence by sentence, or lower-casing that moves offsets.
        held = {index: terms.intersection(map(stem, words(text[s.start:s.end])))
                for index, s in enumerate(sentences)}
        return {index: found for index, found in held.items() if found}
    # A stem is a prefix of its word, so only the words that begin with a query stem
    # (found by str.find, which is fast) are stemmed; a word lies inside one sentence.
    starts = [sentence.start for sentence in sentences]
    found: dict[int, set[str]] = {}
    for term in terms:
        at = lowered.find(term)
        while at >= 0:
            if at == 0 or not _WORD_CHAR.match(lowered, at - 1):
                end = _WORD_REST.match(lowered, at).end()  # type: ignore[union-attr]
                index = bisect_right(starts, at) - 1
                if index >= 0 and end <= sentences[index].end \
                        and stem(lowered[at:end]) == term:
                    found.setdefault(index, set()).add(term)
            at = lowered.find(term, at + 1)
    return found


def _closest_sentences(
    query: str,
    chunks: list[tuple[str, int]],
    fallback: list[tuple[int, list[tuple[int, int]]]],
    embed: Callable[[list[str]], NDArray[np.float32]],
    query_vector: NDArray[np.float32] | None,
) -> list[tuple[int, tuple[int, int]]]:
    """(chunk position, span) of the sentence nearest the query, for each fallback chunk."""
    sentences = [chunks[p][0][s:e] for p, spans in fallback for s, e in spans]
    if query_vector is None:
        vectors = embed([query, *sentences])
        query_vector, vectors = vectors[0], vectors[1:]
    else:
        vectors = embed(sentences)
    scores = vectors @ query_vector
    picked = []
    offset = 0
    for position, spans in fallback:
        picked.append((position, spans[int(np.argmax(scores[offset:offset + len(spans)]))]))
        offset += len(spans)
    return picked
