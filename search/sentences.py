"""The sentences of a chunk as a reader sees them, for highlighting.

The chunker cuts at every line break (a chunk boundary there is harmless), but a
highlight must be a whole sentence: in Markdown, reStructuredText and plain text a single
line break inside a paragraph is a soft wrap, and PDF text breaks at every layout line.
Here a line break ends a sentence only after sentence-ending punctuation, before a blank
line, a heading line or a list item. Lines that are headings (a Markdown `#` line, an
underlined reStructuredText title, a short line ending in ':', a line standing alone
without a full stop, one of the chunk's section headings or the document title) are
marked, so that a body sentence is preferred to them. Offsets are exact: nothing is
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
_LIST_ITEM = re.compile(r"\s*(?:[-*+•·▪–]|\(?\d{1,3}[.)]|\(?[a-zA-Z][.)])\s+\S")
_MARKDOWN_HEADING = re.compile(r"\s{0,3}#{1,6}(?:\s|$)")
_UNDERLINE = re.compile(r"\s*([=\-~^\"'`#*+_:.])\1{2,}\s*")
# A line ending in ':' of at most this many words is a label ("Kubernetes Basics:").
_LABEL_WORDS = 6


@dataclass(frozen=True)
class Sentence:
    """`text[start:end]` of a chunk, trimmed; `heading` when it is a heading line."""

    start: int
    end: int
    heading: bool = False


def highlight_sentences(text: str, headings: tuple[str, ...] = ()) -> list[Sentence]:
    """The sentences of `text` in order, soft-wrapped lines joined, headings marked.

    Args:
        text: a chunk's text.
        headings: lines that are headings wherever they stand (the chunk's section path
            and its document's title).

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
        if _LINE_END.search(line):
            _close(text, block, end, sentences)
            block = None
        else:
            fresh = False
    _close(text, block, len(text), sentences)
    return sentences


def _is_heading(line: str, after: str, names: set[str], first: bool) -> bool:
    """Whether `line` (followed by the line `after`; `first` in its paragraph) is a
    heading rather than prose."""
    stripped = line.strip()
    if _MARKDOWN_HEADING.match(line) or _UNDERLINE.fullmatch(line):
        return True
    if _name(line) in names and not _FULL_STOP.search(line):
        return True  # a title taken from a text's first line may be a sentence
    if _UNDERLINE.fullmatch(after) and not _LIST_ITEM.match(line):
        return True  # a reStructuredText title
    if _LIST_ITEM.match(line):
        return False
    if stripped.endswith((":", "：")) and len(stripped.split()) <= _LABEL_WORDS and first:
        return True
    if not first or _LINE_END.search(line) or stripped.endswith((",", ";")):
        return False
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
        {start, end, *(m.end() for m in _SENTENCE_END.finditer(text, start, end))})
    spans = []
    for first, last in zip(cuts, cuts[1:], strict=False):
        while first < last and text[first].isspace():
            first += 1
        while last > first and text[last - 1].isspace():
            last -= 1
        if first < last:
            spans.append((first, last))
    return spans


def _name(line: str) -> str:
    """A heading's words for comparison: no '#' marks, edge whitespace or final colon."""
    return line.strip().lstrip("#").strip().rstrip(":：").strip().casefold()
