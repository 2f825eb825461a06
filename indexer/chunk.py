"""Split extracted text into chunks measured in the model's own tokens.

Chunks are whole sentences (`split_sentences`: soft-wrapped lines joined, Chinese 。！？
included) and end at a heading; a sentence longer than a whole chunk is cut at its line
breaks, and a line longer than that between words. No chunk ever holds more than
`max_tokens` tokens, so the encoder never truncates one silently.
"""

import bisect
import re
from typing import Any

import numpy as np

from semsearch.indexer.documents import Chunk, ParsedDocument
from semsearch.indexer.sentences import split_sentences

# The level of a cut where a unit begins: a section, a heading line the parser did not
# make a section of, a sentence, a line inside a sentence.
_HARD, _HEADING, _SENTENCE, _LINE = 3, 2, 1, 0
_LINE_BREAK = re.compile(r"\n\s*")


def chunk_document(
    document: ParsedDocument, tokenizer: Any, max_tokens: int, overlap_tokens: int
) -> list[Chunk]:
    """Cut `document.text` into chunks of at most `max_tokens` tokens.

    Args:
        document: parsed text with its sections and page starts.
        tokenizer: a Hugging Face fast tokenizer (it must return offset mappings).
        max_tokens: most tokens in one chunk, special tokens not counted.
        overlap_tokens: about how many tokens of whole sentences a chunk repeats from the
            previous one (never across a heading).

    Returns:
        The chunks in reading order, numbered from 0.
    """
    if max_tokens < 1:
        raise ValueError("max_tokens must be at least 1")
    text = document.text
    encoded = tokenizer(
        text, add_special_tokens=False, return_offsets_mapping=True, verbose=False
    )
    token_starts = np.array([start for start, _ in encoded["offset_mapping"]], dtype=np.int64)
    word_ids = encoded.word_ids()
    # Cutting before a word's first token keeps a piece's tokens the same when re-tokenized.
    word_starts = [i == 0 or word_ids[i] != word_ids[i - 1] for i in range(len(word_ids))]
    units = _units(text, document, token_starts, word_starts, max_tokens)
    spans = _pack(units, max_tokens, overlap_tokens)
    section_starts = [section.start for section in document.sections]
    chunks: list[Chunk] = []
    for unit_from, unit_to in spans:
        raw_start, raw_end = units[unit_from][0], units[unit_to - 1][1]
        trimmed = trim(text, raw_start, raw_end)
        if trimmed is None:
            continue
        start, end = trimmed
        chunks.append(
            Chunk(
                ordinal=len(chunks),
                start=start,
                end=end,
                text=text[start:end],
                token_count=sum(unit[3] for unit in units[unit_from:unit_to]),
                page=_page_at(document.page_starts, start),
                headings=_headings_at(document, section_starts, start),
                page_breaks=_page_breaks(document.page_starts, start, end),
            )
        )
    return chunks


def _units(
    text: str, document: ParsedDocument, token_starts: np.ndarray, word_starts: list[bool],
    max_tokens: int,
) -> list[tuple[int, int, int, int]]:
    """Cut text into (start, end, level of the cut at start, tokens) units, each fitting:
    sentences, or the lines of a sentence too long for a chunk, or pieces of a line."""
    levels = _sentence_starts(text, document)
    cuts = [0, *sorted(pos for pos in levels if 0 < pos < len(text)), len(text)]
    units: list[tuple[int, int, int, int]] = []
    for start, end in zip(cuts, cuts[1:], strict=False):
        level = levels.get(start, _HARD)
        line_cuts = [start, end]
        if _tokens_between(token_starts, start, end) > max_tokens:
            line_cuts[1:1] = [m.end() for m in _LINE_BREAK.finditer(text, start, end)
                              if m.end() < end]
        for line_start, line_end in zip(line_cuts, line_cuts[1:], strict=False):
            units.extend(_pieces(line_start, line_end, level if line_start == start else _LINE,
                                 token_starts, word_starts, max_tokens))
    return units


def _sentence_starts(text: str, document: ParsedDocument) -> dict[int, int]:
    """Where units may begin, by level: each sentence's start, each heading line's (in
    prose, not code) and each section's (hard)."""
    names = (document.title, *(section.path[-1] for section in document.sections))
    headings = document.format != "code"
    levels = {sentence.start: _HEADING if sentence.heading and headings else _SENTENCE
              for sentence in split_sentences(text, names)}
    for section in document.sections:
        levels[section.start] = _HARD
    levels.pop(0, None)
    return levels


def _tokens_between(token_starts: np.ndarray, start: int, end: int) -> int:
    """How many tokens begin in text[start:end]."""
    return int(np.searchsorted(token_starts, end, side="left")
               - np.searchsorted(token_starts, start, side="left"))


def _pieces(
    start: int, end: int, level: int, token_starts: np.ndarray, word_starts: list[bool],
    max_tokens: int,
) -> list[tuple[int, int, int, int]]:
    """text[start:end] as units that fit: whole, or cut between words (a piece that
    starts inside a word would re-tokenize into more tokens), or between tokens when one
    word alone is longer than a chunk."""
    first = int(np.searchsorted(token_starts, start, side="left"))
    last = int(np.searchsorted(token_starts, end, side="left"))
    pieces = []
    piece_first = first
    while True:
        piece_last = min(piece_first + max_tokens, last)
        if piece_last < last:
            boundary = piece_last
            while boundary > piece_first + 1 and not word_starts[boundary]:
                boundary -= 1
            if word_starts[boundary]:
                piece_last = boundary
        piece_start = start if piece_first == first else int(token_starts[piece_first])
        piece_end = end if piece_last == last else int(token_starts[piece_last])
        piece_level = level if piece_first == first else _LINE
        pieces.append((piece_start, piece_end, piece_level, piece_last - piece_first))
        piece_first = piece_last
        if piece_first >= last:
            return pieces


def _pack(
    units: list[tuple[int, int, int, int]], max_tokens: int, overlap_tokens: int
) -> list[tuple[int, int]]:
    """Group consecutive units into [from, to) spans of at most `max_tokens` tokens. A span
    ends before a section, and before a heading line once it is half full: a PDF's or a
    text's section then starts a chunk of its own, as a Markdown one does."""
    spans = []
    first = 0
    while first < len(units):
        tokens, after = 0, first
        while after < len(units):
            unit_level, unit_tokens = units[after][2], units[after][3]
            if after > first and (unit_level == _HARD or tokens + unit_tokens > max_tokens
                                  or (unit_level == _HEADING and 2 * tokens >= max_tokens)):
                break
            tokens += units[after][3]
            after += 1
        spans.append((first, after))
        if after >= len(units):
            break
        first = _overlap_start(units, first, after, max_tokens, overlap_tokens)
    return spans


def _overlap_start(
    units: list[tuple[int, int, int, int]], first: int, after: int, max_tokens: int,
    overlap_tokens: int,
) -> int:
    """Where the next chunk starts: back from `after` over whole units worth the overlap,
    never back over a heading."""
    if units[after][2] >= _HEADING:
        return after
    budget = min(overlap_tokens, max_tokens - units[after][3])
    start, used = after, 0
    while start - 1 > first and used + units[start - 1][3] <= budget:
        if units[start][2] >= _HEADING:
            break
        used += units[start - 1][3]
        start -= 1
    return start


def trim(text: str, start: int, end: int) -> tuple[int, int] | None:
    """text[start:end] without its edge whitespace, or None when nothing is left."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return (start, end) if start < end else None


def _page_at(page_starts: list[int], offset: int) -> int | None:
    if not page_starts:
        return None
    return bisect.bisect_right(page_starts, offset)


def _page_breaks(page_starts: list[int], start: int, end: int) -> tuple[int, ...]:
    """The page starts inside (start, end): where the span's later pages begin."""
    return tuple(page_starts[bisect.bisect_right(page_starts, start):
                             bisect.bisect_left(page_starts, end)])


def _headings_at(
    document: ParsedDocument, section_starts: list[int], offset: int
) -> tuple[str, ...]:
    index = bisect.bisect_right(section_starts, offset) - 1
    return document.sections[index].path if index >= 0 else ()
