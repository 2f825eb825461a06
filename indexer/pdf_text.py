"""A PDF's page texts as one document text: whole words, whole sentences, pages known.

pypdf gives each page's text with a line break at every layout line. Words broken with a
hyphen at a line end are joined; running headers and footers (the same line, page
numbers aside, at the top or bottom of most pages) are dropped, since they cut a
sentence that runs on to the next page; and a page that ends inside a sentence joins the
next with one line break (a soft wrap) instead of a blank line (a paragraph's end).
"""

import re

# A word broken at a PDF line end: a hyphen after letters, the next line going on in
# lower case ("hyphen-\nated"), the punctuation after its second part, and blanks.
_LINE_END_HYPHEN = re.compile(r"([^\W\d_]+)-\n([^\W\d_A-Z]+)(?![\w-])(\S*)[ \t]*")
_INLINE_HYPHEN = re.compile(r"[^\W\d_]+-[^\W\d_]+")


def _join_hyphenated(pages: list[str]) -> list[str]:
    r"""`pages` with the words a PDF broke at line ends whole again: "hyphen-\nated more"
    becomes "hyphenated\nmore" (the rest of the word moves up a line, so the lines stay
    lines). The hyphen stays where the document spells the word with one elsewhere
    ("well-\nknown" when "well-known" appears on a line)."""
    spelled = {word.casefold() for page in pages for word in _INLINE_HYPHEN.findall(page)}

    def join(match: re.Match[str]) -> str:
        first, second = match.group(1), match.group(2)
        word = f"{first}-{second}" if f"{first}-{second}".casefold() in spelled \
            else first + second
        ends_line = match.end() == len(match.string) or match.string[match.end()] == "\n"
        return word + match.group(3) + ("" if ends_line else "\n")

    return [_LINE_END_HYPHEN.sub(join, page) for page in pages]


_DIGITS = re.compile(r"\d+")
_SENTENCE_END = re.compile(r"[.!?:;。！？：；][\"'’”)\]」』）]*$")


def join_pages(pages: list[str]) -> tuple[str, list[int]]:
    """The document text of `pages` (pypdf's page texts) and where each page starts in it.

    Returns:
        (text, page_starts): page `i + 1` begins at `page_starts[i]`.
    """
    pages = _join_hyphenated(_drop_running_lines(pages))
    parts: list[str] = []
    page_starts: list[int] = []
    offset = 0
    for index, page in enumerate(pages):
        if index:
            before = parts[-1].rstrip()
            soft = before and not _SENTENCE_END.search(before) and page.lstrip()[:1].islower()
            parts.append("\n" if soft else "\n\n")
            offset += len(parts[-1])
        page_starts.append(offset)
        parts.append(page)
        offset += len(page)
    return "".join(parts), page_starts


def _drop_running_lines(pages: list[str]) -> list[str]:
    """`pages` without their running header and footer lines: a first or last line that,
    with its numbers aside, begins or ends more than half of the pages (two at least)."""
    if len(pages) < 2:
        return pages
    edges: dict[str, int] = {}
    for page in pages:
        lines = [line for line in page.splitlines() if line.strip()]
        for key in {_running_key(line) for line in lines[:1] + lines[-1:]}:
            edges[key] = edges.get(key, 0) + 1
    running = {key for key, count in edges.items() if count >= 2 and 2 * count > len(pages)}
    if not running:
        return pages
    return [_without_edges(page, running) for page in pages]


def _without_edges(page: str, running: set[str]) -> str:
    """`page` without a first or last line whose key is in `running`."""
    lines = page.splitlines()
    filled = [index for index, line in enumerate(lines) if line.strip()]
    drop = {index for index in (filled[:1] + filled[-1:])
            if _running_key(lines[index]) in running}
    return "\n".join(line for index, line in enumerate(lines) if index not in drop)


def _running_key(line: str) -> str:
    return _DIGITS.sub("#", line.strip().casefold())
