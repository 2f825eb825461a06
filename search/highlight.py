"""The passage of a chunk, or of a document's candidate chunks, that best answers the
query."""

import re
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from functools import lru_cache

import numpy as np
from numpy.typing import NDArray

from semsearch.indexer.documents import PageSpan
from semsearch.indexer.lexical_text import STOP_WORDS, has_chinese, words
from semsearch.indexer.sentences import Sentence, split_sentences
from semsearch.search.answer_kinds import answer_kind
from semsearch.search.hits import Highlight
from semsearch.search.passage_scores import (
    PassageScorer,
    clearly_better,
    first_term_offset,
    term_weights,
)

# Only the first this many hits (the ones read first) ask the model, when they share no
# word with the query or their best passages tie; the others get their first sentence or
# passage. Any of the top 10 sharing no word made the model run on most dense and hybrid
# queries (it was the p99); the top hit alone asks on 6 of 60 dense queries and 2 hybrid
# ones (corpus/eval/highlights.jsonl). A lexical search, which embeds no query, never asks.
SEMANTIC_HIGHLIGHTS = 1
# The fallback embeds at most this many passages per search, in one encoder batch, each
# cut to `SEMANTIC_CHARACTERS` around its first query term, so that it costs about two
# query embeddings whatever the chunks hold. 8 whole sentences cost eight and made the
# dense p99 5 times the p50 (CPU, SciFact); these 2.8 times. On
# corpus/eval/highlights.jsonl they choose as the 8 whole sentences did.
SEMANTIC_SENTENCES = 3
SEMANTIC_CHARACTERS = 80
# Stems are cut to this many characters, so that `induction` meets `inductive` and
# `property` meets `properties` as BM25's Porter stemmer lets them: fewer hits that BM25
# found by a word end up with no shared word here (and in the costly fallback).
STEM_LENGTH = 6
# The sentences (and, for Chinese, the words) of this many chunks are remembered.
CACHED_CHUNKS = 4096
_WORD_CHAR = re.compile(r"\w")
_WORD_REST = re.compile(r"\w*")
_SUFFIXES = ("ing", "ed", "es", "s")


@lru_cache(maxsize=65_536)
def stem(word: str) -> str:
    """A light English stem so `brewing` meets `brewed` and `doubles` meets `double`: a
    suffix off, then a final `e`, cut to `STEM_LENGTH` characters (other scripts only
    cut). A stem is always a prefix of its word."""
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3 and not word.endswith("ss"):
            word = word[:-1] if suffix == "es" else word[: -len(suffix)]
            break
    if word.endswith("e") and len(word) > 3:
        word = word[:-1]
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
    """The passage of each (chunk text, document offset) pair that best answers the
    query: one whole sentence, or two that run on, with document offsets.

    `highlight_documents` with one chunk per document: see there.

    Returns:
        One list per chunk: its passage as a Highlight, or nothing for a blank chunk.
    """
    documents = highlight_documents(query, [[chunk] for chunk in chunks], embed,
                                    query_vector,
                                    [[chunk] for chunk in headings] if headings else None)
    return [highlights for _, highlights in documents]


def highlight_documents(
    query: str,
    documents: list[list[tuple[str, int]]],
    embed: Callable[[list[str]], NDArray[np.float32]] | None = None,
    query_vector: NDArray[np.float32] | None = None,
    headings: list[list[tuple[str, ...]]] | None = None,
) -> list[tuple[int, list[Highlight]]]:
    """For each document, the passage of its candidate chunks that best answers the
    query (one whole sentence, or two that run on, with document offsets), and which of
    the chunks holds it.

    Sentences (`split_sentences`: soft-wrapped lines joined) are scored by the query
    terms (stemmed) they hold, each weighted by its rarity among all the chunks'
    sentences (a term in every sentence tells none apart), and by the kind of answer the
    query asks for (a date, a length, a reason: `answer_kind`), which comes first when it
    is decisive and counts as a typical term otherwise. A sentence and the next of its
    paragraph are chosen together when the first names the subject and the next adds
    other terms or the answer, or the first ends in a colon. A heading line is chosen
    only when no body sentence holds a term. A lower ranked chunk of a document wins
    only with a clearly better passage (`clearly_better`); of passages that score the
    same, the one in the better ranked chunk, then the one naming a query term nearest
    its start. When no chunk's body holds a term, the first chunk's body sentences stand
    in. When those, or the best passages, tie, `embed` (unit vectors of texts), if given
    with `query_vector`, picks the passage closest to the query in meaning, for the first
    `SEMANTIC_HIGHLIGHTS` documents and up to `SEMANTIC_SENTENCES` passages (one batch,
    each cut to `SEMANTIC_CHARACTERS` around its first term); otherwise the first stands
    in.

    Args:
        query: the query text.
        documents: per document, (chunk text, offset of the chunk in its document) pairs,
            the chunk ranked best (the one a hit shows) first.
        embed: the index's model, used only by the fallback.
        query_vector: the query's unit vector; without it the model is never asked (a
            lexical search embeds nothing).
        headings: per document and chunk, lines that are headings wherever they stand
            (its section path and its document's title).

    Returns:
        Per document, (index of the chosen chunk, its passage as a Highlight), or (0, [])
        when every chunk is blank.
    """
    chunks = [(position, index, text, headings[position][index] if headings else ())
              for position, candidates in enumerate(documents)
              for index, (text, _) in enumerate(candidates)]
    terms = query_terms(query)
    split = {(p, i): sentences_of(text, heads) for p, i, text, heads in chunks}
    found = {(p, i): _terms_by_sentence(text, split[p, i], terms) for p, i, text, _ in chunks}
    weights = term_weights(list(found.values()), sum(map(len, split.values())))
    scorer = PassageScorer(weights, answer_kind(query))
    chosen: list[tuple[int, tuple[int, int]] | None] = []
    fallback: list[tuple[int, list[tuple[int, tuple[int, int]]]]] = []
    budget = SEMANTIC_SENTENCES if embed is not None and query_vector is not None else 0
    for position, candidates in enumerate(documents):
        tied = _best_of_document(scorer, candidates, split, found, position)
        chosen.append(tied[0] if tied else None)
        if len(tied) > 1 and budget > 0 and position < SEMANTIC_HIGHLIGHTS:
            fallback.append((position, tied[:budget]))  # meaning decides
            budget -= len(fallback[-1][1])
    if fallback and embed is not None and query_vector is not None:
        for position, pick in _closest_passages(documents, fallback, embed, query_vector,
                                                terms):
            chosen[position] = pick
    return [_highlight(candidates, picked)
            for candidates, picked in zip(documents, chosen, strict=True)]


def _best_of_document(scorer: PassageScorer, candidates: list[tuple[str, int]],
                      split: dict[tuple[int, int], tuple[Sentence, ...]],
                      found: dict[tuple[int, int], dict[int, Counter[str]]],
                      position: int) -> list[tuple[int, tuple[int, int]]]:
    """(chunk index, span) of the document's best passages, tied, best ranked chunk
    first; without any, the first chunk's body sentences (headings only without one)."""
    best: tuple[bool, float] | None = None
    tied: list[tuple[int, tuple[int, int]]] = []
    for index, (text, _) in enumerate(candidates):
        key, spans = scorer.best_passages(text, split[position, index],
                                          found[position, index])
        if spans and (best is None or clearly_better(key, best)):
            best, tied = key, []
        if spans and key == best:
            tied.extend((index, span) for span in spans)
    if tied:
        return tied
    sentences = split[position, 0] if candidates else ()
    body = [(s.start, s.end) for s in sentences if not s.heading] or [
        (s.start, s.end) for s in sentences]
    return [(0, span) for span in body]


def _highlight(candidates: list[tuple[str, int]],
               picked: tuple[int, tuple[int, int]] | None) -> tuple[int, list[Highlight]]:
    if picked is None:
        return 0, []
    index, (start, end) = picked
    text, document_offset = candidates[index]
    return index, [Highlight(text=text[start:end], start=document_offset + start,
                             end=document_offset + end)]


def on_pages(highlights: list[Highlight], pages: PageSpan) -> list[Highlight]:
    """`highlights` of a chunk whose text lies on `pages`, each with the page it starts on."""
    return [replace(highlight, page=pages.page_at(highlight.start))
            for highlight in highlights]


def _window(text: str, span: tuple[int, int], terms: set[str]) -> str:
    """At most `SEMANTIC_CHARACTERS` of `text[span[0]:span[1]]` (a third as many of
    Chinese): from a little before its first query term (the start when it holds none),
    so that the model reads what matched."""
    start, end = span
    # A Chinese character is about one token of the model, an English word about 1.3.
    limit = SEMANTIC_CHARACTERS // 3 if has_chinese(text[start:end]) else SEMANTIC_CHARACTERS
    if end - start <= limit:
        return text[start:end]
    lead = first_term_offset(text.lower(), span, terms)
    lead = 0 if lead >= end - start else lead
    begin = start + max(0, min(lead - limit // 4, end - start - limit))
    return text[begin:begin + limit]


@lru_cache(maxsize=CACHED_CHUNKS)
def sentences_of(text: str, headings: tuple[str, ...] = ()) -> tuple[Sentence, ...]:
    """`split_sentences` of a chunk, remembered: the same chunks come back query after
    query, and a chunk's text never changes."""
    return tuple(split_sentences(text, headings))


@lru_cache(maxsize=CACHED_CHUNKS)
def _stems_by_sentence(text: str, sentences: tuple[Sentence, ...]) -> tuple[Counter[str], ...]:
    """Each sentence's stemmed words, counted, for a chunk that jieba must cut (its cost
    is paid once per chunk, not once per query)."""
    return tuple(Counter(map(stem, words(text[s.start:s.end]))) for s in sentences)


def _terms_by_sentence(text: str, sentences: tuple[Sentence, ...],
                       terms: set[str]) -> dict[int, Counter[str]]:
    """How often each sentence holds each query term, by sentence index (sentences
    without any left out)."""
    if not terms or not sentences:
        return {}
    lowered = text.lower()
    if has_chinese(text) or len(lowered) != len(text):
        # Words cut by jieba sentence by sentence, or lower-casing that moves offsets.
        held = {index: Counter({term: stems[term] for term in terms if term in stems})
                for index, stems in enumerate(_stems_by_sentence(text, sentences))}
        return {index: counts for index, counts in held.items() if counts}
    # A stem is a prefix of its word, so only the words that begin with a query stem
    # (found by str.find, which is fast) are stemmed; a word lies inside one sentence.
    starts = [sentence.start for sentence in sentences]
    found: dict[int, Counter[str]] = {}
    for term in terms:
        at = lowered.find(term)
        while at >= 0:
            if at == 0 or not _WORD_CHAR.match(lowered, at - 1):
                end = _WORD_REST.match(lowered, at).end()  # type: ignore[union-attr]
                index = bisect_right(starts, at) - 1
                if index >= 0 and end <= sentences[index].end \
                        and stem(lowered[at:end]) == term:
                    found.setdefault(index, Counter())[term] += 1
            at = lowered.find(term, at + 1)
    return found


def _closest_passages(
    documents: list[list[tuple[str, int]]],
    fallback: list[tuple[int, list[tuple[int, tuple[int, int]]]]],
    embed: Callable[[list[str]], NDArray[np.float32]],
    query_vector: NDArray[np.float32],
    terms: set[str],
) -> list[tuple[int, tuple[int, tuple[int, int]]]]:
    """(document position, (chunk index, span)) of the passage nearest the query, for
    each fallback document: its passages, each cut to `SEMANTIC_CHARACTERS` around its
    first query term (`_window`), embedded in one batch against the query's vector; of
    passages as close, the first."""
    texts = [_window(documents[position][index][0], span, terms)
             for position, tied in fallback for index, span in tied]
    # Scored once per distinct text: a sentence two overlapping chunks share ties
    # exactly (a row's product varies in its last bits with its place in the matrix),
    # so the better ranked chunk holds it.
    distinct = list(dict.fromkeys(texts))
    by_text = dict(zip(distinct, (embed(distinct) @ query_vector).tolist(), strict=True))
    scores = np.array([by_text[text] for text in texts])
    picked = []
    offset = 0
    for position, tied in fallback:
        picked.append((position, tied[int(np.argmax(scores[offset:offset + len(tied)]))]))
        offset += len(tied)
    return picked
