"""Visible text of an HTML page, with its title and the offsets of its headings."""

import re

from bs4 import BeautifulSoup, NavigableString, Tag
from bs4.element import PreformattedString

_INVISIBLE = {"script", "style", "noscript", "template", "head", "svg", "iframe", "object"}
_BLOCK = {
    "address", "article", "aside", "blockquote", "dd", "div", "dl", "dt", "fieldset",
    "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header",
    "hr", "li", "main", "nav", "ol", "p", "pre", "section", "table", "tr", "ul", "br",
    "td", "th", "caption", "body", "html",
}
_HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}
_SPACES = re.compile(r"\s+")
_BREAK = object()  # marks a block boundary on the walk's stack


class _TextBuilder:
    """Joins text pieces, collapsing whitespace and keeping a running length."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.length = 0

    def add_break(self) -> None:
        if not self.parts or self.parts[-1].endswith("\n\n"):
            return
        last = self.parts[-1].rstrip(" ")
        self.length -= len(self.parts[-1]) - len(last)
        self.parts[-1] = last
        self._append("\n\n")

    def add_text(self, raw: str) -> None:
        piece = _SPACES.sub(" ", raw)
        if not self.parts or self.parts[-1].endswith((" ", "\n")):
            piece = piece.lstrip(" ")
        if piece:
            self._append(piece)

    def _append(self, piece: str) -> None:
        self.parts.append(piece)
        self.length += len(piece)


def extract_html(markup: str) -> tuple[str, str, list[tuple[int, int, str]]]:
    """Return (visible text, <title> text, [(offset, level, heading text)])."""
    soup = BeautifulSoup(markup, "html.parser")
    title_tag = soup.find("title")
    title = _SPACES.sub(" ", title_tag.get_text()).strip() if title_tag else ""
    builder = _TextBuilder()
    headings: list[tuple[int, int, str]] = []
    # An explicit stack instead of recursion: deeply nested pages must not blow the stack.
    stack: list[object] = [soup]
    while stack:
        node = stack.pop()
        if node is _BREAK:
            builder.add_break()
        elif isinstance(node, PreformattedString):  # comments, doctype, CDATA, <?...?>
            continue
        elif isinstance(node, NavigableString):
            builder.add_text(str(node))
        elif isinstance(node, Tag) and node.name not in _INVISIBLE:
            block = node.name in _BLOCK
            if block:
                builder.add_break()
            if node.name in _HEADINGS:
                heading = _SPACES.sub(" ", node.get_text()).strip()
                if heading:
                    headings.append((builder.length, _HEADINGS[node.name], heading))
            if block:
                stack.append(_BREAK)
            stack.extend(reversed(list(node.children)))
    return "".join(builder.parts).rstrip(), title, headings
