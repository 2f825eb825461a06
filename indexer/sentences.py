"""The sentences of a text as a reader sees them, for chunking and highlighting.

In Markdown, reStructuredText and plain text a single line break inside a paragraph is a
soft wrap, and PDF text breaks at every layout line: a line break ends a sentence only
after sentence-ending punctuation, before a blank line, a heading line or a list item. A
line that ends in a colon ends a sentence unless the next line goes on in lower case (a
wrap inside the sentence). A full stop after an initial ("John C. Bogle") or a common
abbreviation ("e.g.") ends none. Lines that are headings (a Markdown `#` line, an
underlined reStructuredText title, a short line ending in ':', a line standing alone
without a full stop, one of the given section headings or the document title) are
marked, so that a body sentence can be preferred to them. Offsets are exact: nothing is
rewritten, a sentence is `text[start:end]`, newlines included.
"""

import re
from dataclasses import dataclass

_CLOSERS = "\"'’”)\\]」』）"
# Inside a line: a full stop, question or exclamation mark (a colon or semicolon joins
# the parts of one sentence). Chinese marks need no space after them.
_SENTENCE_END = re.compile(rf"[.!?][{_CLOSERS}]*\s+|[。！？]+[{_CLOSERS}]*\s*")
# At the end of a line, a colon also ends one (it introduces a list or a block).
_LINE_END = re.compile(rf"[.!?:。！？：][{_CLOSERS}]*\s*$")
_FULL_STOP = re.compile(rf"[.!?。！？][{_CLOSERS}]*\s*$")
_COLON_END = re.compile(r":\s*$")
_LIST_ITEM = re.compile(r"\s*(?:[-*+•·▪–]|\(?\d{1,3}[.)]|\(?[a-zA-Z][.)])\s+\S")
_MARKDOWN_HEADING = re.compile(r"\s{0,3}#{1,6}(?:\s|$)")
_UNDERLINE = re.compile(r"\s*([=\-~^\"'`#*+_:.])\1{2,}\s*")
# The word before a full stop that does not end a sentence: an initial, or one of these.
_ABBREVIATED = re.compile(r"(?:\b[A-Z]|\b(?:e\.g|i\.e|cf|vs|approx|Dr|Mr|Mrs|Ms|Prof|St|Fig"
                          r"|No|Jr|Sr))\.$")
_ABBREVIATION_REACH = 8
# A line ending in ':' of at most this many words is a label ("Kubernetes Basics:").
_LABEL_WORDS = 6


@dataclass(frozen=True)
class Sentence:
    """`text[start:end]` of a text, trimmed; `heading` when it is a heading line."""

    start: int
    end: int
    heading: bool = False


def split_sentences(text: str, headings: tuple[str, ...] = ()) -> list[Sentence]:
    """The sentences of `text` in order, soft-wrapped lines joined, headings marked.

    Args:
        text: a document's or a chunk's text.
        headings: lines that are headings wherever they stand (section titles and the
            document's title).

    Returns:
        Trimmed, ordered, non-overlapping spans that hold every visible character.
    """
    names = {_name(heading) for heading in headings if _name(heading)}
    starts = [0, *(m.end() for m in re.finditer("\n", text))]
    lines = [(start, text.find("\n", start) % (len(text) + 1)) for start in starts]
    sentences: list[Sentence] = []
    block: int | None = None  # where the paragraph being read began
    fresh = True  # the line starts a paragraph: after a blank, a heading or a full stop
    for index, (start, end) in enumerate(lines):
        line = text[start:end]
        after = text[lines[index + 1][0]:lines[index + 1][1]] if index + 1 < len(lines) else ""
        first, fresh = fresh, True
        if not line.strip():
            _close(text, block, start, sentences)
            block = None
            continue
        if _is_heading(line, after, names, first):
            _close(text, block, start, sentences)
            block = None
            sentences.extend(Sentence(s, e, heading=True)
                             for s, e in _spans(text, start, end, whole=True))
            continue
        if block is not None and _LIST_ITEM.match(line):
            _close(text, block, start, sentences)
            block = None
        if block is None:
            block = start
        if _LINE_END.search(line) and not _wraps_after_colon(line, after):
            _close(text, block, end, sentences)
            block = None
        else:
            fresh = False
    _close(text, block, len(text), sentences)
    return sentences


def _wraps_after_colon(line: str, after: str) -> bool:
    """Whether `line` ends in a colon inside a sentence that goes on, in lower case, on
    the line `after` ("This is the bloom:\\nfreshly roasted coffee releases...")."""
    return bool(_COLON_END.search(line)) and after[:1].islower()


def _is_heading(line: str, after: str, names: set[str], first: bool) -> bool:
    """Whether `line` (followed by the line `after`; `first` in its paragraph) is a
    heading rather than prose."""
    stripped = line.strip()
    if _MARKDOWN_HEADING.match(line) or _UNDERLINE.fullmatch(line):
        return True
    if _name(line) in names and not _FULL_STOP.search(line) \
            and not after.lstrip()[:1].islower():
        return True  # a title taken from a text's first line may be a wrapped sentence
    if _UNDERLINE.fullmatch(after) and not _LIST_ITEM.match(line):
        return True  # a reStructuredText title
    if _LIST_ITEM.match(line):
        return False
    if stripped.endswith((":", "：")) and len(stripped.split()) <= _LABEL_WORDS and first:
        return True
    if not first or _LINE_END.search(line) or stripped.endswith((",", ";")) \
            or _SENTENCE_END.search(stripped):
        return False  # prose: it goes on, or holds a sentence's end
    # A line without a sentence's end that starts a paragraph is a title when it stands
    # alone, or when it is short and the next line begins with a capital (PDF headings).
    return not after.strip() or (len(stripped.split()) <= _LABEL_WORDS
                                 and after.lstrip()[:1].isupper())


def _close(text: str, block: int | None, end: int, sentences: list[Sentence]) -> None:
    """Split the paragraph `text[block:end]` (if one is open) into `sentences`."""
    if block is not None:
        sentences.extend(Sentence(s, e) for s, e in _spans(text, block, end, whole=False))


def _spans(text: str, start: int, end: int, whole: bool) -> list[tuple[int, int]]:
    """Trimmed sentence spans of `text[start:end]` (the whole of it when `whole`)."""
    cuts = [start, end] if whole else sorted(
        {start, end, *(m.end() for m in _SENTENCE_END.finditer(text, start, end)
                       if not _abbreviated(text, m.start()))})
    spans = []
    for first, last in zip(cuts, cuts[1:], strict=False):
        while first < last and text[first].isspace():
            first += 1
        while last > first and text[last - 1].isspace():
            last -= 1
        if first < last:
            spans.append((first, last))
    return spans


def _abbreviated(text: str, stop: int) -> bool:
    """Whether the full stop at `stop` ends an initial or an abbreviation, not a sentence."""
    return text[stop] == "." and bool(
        _ABBREVIATED.search(text, max(0, stop - _ABBREVIATION_REACH), stop + 1))


def _name(line: str) -> str:
    """A heading's words for comparison: no '#' marks, edge whitespace or final colon."""
    return line.strip().lstrip("#").strip().rstrip(":：").strip().casefold()
