"""Turn a file's bytes into its visible text, title and structure, by format."""

import io
import re
import zipfile
from collections.abc import Callable
from pathlib import PurePosixPath

from charset_normalizer import from_bytes

from semsearch.indexer.documents import ParsedDocument, Section
from semsearch.indexer.errors import ParseError

TEXT_SUFFIXES = {".txt": "text", ".md": "markdown", ".markdown": "markdown", ".rst": "rst"}
CODE_SUFFIXES = {
    ".py", ".js", ".ts", ".go", ".rs", ".java", ".c", ".h", ".cpp", ".sh",
    ".json", ".yaml", ".yml", ".toml",
}
HTML_SUFFIXES = {".html", ".htm"}
# A .docx is a zip; refuse one that would expand past this, or that expands this many
# times its size past the small limit (zip bombs). Real documents compress 2-20 times.
MAX_DOCX_EXPANDED_BYTES = 200_000_000
MAX_DOCX_RATIO = 100
DOCX_RATIO_FREE_BYTES = 10_000_000
_BOMS = [
    (b"\xef\xbb\xbf", "utf-8-sig"),
    (b"\xff\xfe\x00\x00", "utf-32"),
    (b"\x00\x00\xfe\xff", "utf-32"),
    (b"\xff\xfe", "utf-16"),
    (b"\xfe\xff", "utf-16"),
]


def is_supported(path: str) -> bool:
    """True when `path` has a suffix this module can parse."""
    suffix = PurePosixPath(path).suffix.lower()
    return (
        suffix in TEXT_SUFFIXES or suffix in CODE_SUFFIXES or suffix in HTML_SUFFIXES
        or suffix in {".pdf", ".docx"}
    )


def parse_document(path: str, data: bytes) -> ParsedDocument:
    """Parse the bytes of the file at `path` (used for its suffix and default title).

    Raises:
        ParseError: unsupported type, binary or undecodable text, corrupt or
            password-protected file, or a file with no text at all.
    """
    suffix = PurePosixPath(path).suffix.lower()
    parser = _parser_for(suffix)
    document = parser(data, PurePosixPath(path).name)
    if not document.text.strip():
        raise ParseError("no text")
    return document


def _parser_for(suffix: str) -> Callable[[bytes, str], ParsedDocument]:
    if suffix in {".md", ".markdown"}:
        return _parse_markdown
    if suffix == ".rst":
        return _parse_rst
    if suffix == ".txt":
        return _parse_plain
    if suffix in CODE_SUFFIXES:
        return _parse_code
    if suffix in HTML_SUFFIXES:
        return _parse_html
    if suffix == ".pdf":
        return _parse_pdf
    if suffix == ".docx":
        return _parse_docx
    raise ParseError("unsupported type")


def decode_text(data: bytes) -> str:
    """Decode text of an unknown encoding: BOMs first, then UTF-8, then detection.

    Raises:
        ParseError: the bytes look binary or match no known encoding.
    """
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(encoding)
            except UnicodeDecodeError as error:
                raise ParseError(f"undecodable text: invalid {encoding}") from error
    if b"\x00" in data[:8192]:
        raise ParseError("binary file")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    best = from_bytes(data).best()
    if best is None or best.chaos > 0.3:
        raise ParseError("undecodable text: unknown encoding")
    return str(best)


def _first_line_title(text: str, fallback: str) -> str:
    for line in text.splitlines():
        line = line.strip().lstrip("#").strip()
        if line:
            return line[:200]
    return fallback


def _parse_plain(data: bytes, name: str) -> ParsedDocument:
    text = decode_text(data)
    return ParsedDocument(text=text, title=_first_line_title(text, name), format="text")


def _parse_code(data: bytes, name: str) -> ParsedDocument:
    return ParsedDocument(text=decode_text(data), title=name, format="code")


_MD_HEADING = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t#]*$", re.MULTILINE)
_MD_FENCE = re.compile(r"^(```|~~~).*?^\1", re.MULTILINE | re.DOTALL)


def _parse_markdown(data: bytes, name: str) -> ParsedDocument:
    text = decode_text(data)
    fenced = [(m.start(), m.end()) for m in _MD_FENCE.finditer(text)]
    headings = [
        (m.start(), len(m.group(1)), m.group(2).strip())
        for m in _MD_HEADING.finditer(text)
        if not any(start <= m.start() < end for start, end in fenced)
    ]
    sections = _nest(headings)
    title = headings[0][2] if headings else _first_line_title(text, name)
    return ParsedDocument(text=text, title=title, format="markdown", sections=sections)


_RST_UNDERLINE = re.compile(r"^([^\n]+)\n([=\-~^\"'`#*+<>:._])\2{2,}[ \t]*$", re.MULTILINE)


def _parse_rst(data: bytes, name: str) -> ParsedDocument:
    text = decode_text(data)
    levels: list[str] = []
    headings = []
    for match in _RST_UNDERLINE.finditer(text):
        title, mark = match.group(1).strip(), match.group(2)
        if not title or len(match.group(0).splitlines()[1].strip()) < len(title):
            continue
        if mark not in levels:
            levels.append(mark)
        headings.append((match.start(), levels.index(mark) + 1, title))
    title = headings[0][2] if headings else _first_line_title(text, name)
    return ParsedDocument(text=text, title=title, format="rst", sections=_nest(headings))


def _nest(headings: list[tuple[int, int, str]]) -> list[Section]:
    """Turn (offset, level, title) headings into sections carrying their full path."""
    stack: list[tuple[int, str]] = []
    sections = []
    for start, level, title in headings:
        while stack and stack[-1][0] >= level:
            stack.pop()
        stack.append((level, title))
        sections.append(Section(start=start, path=tuple(t for _, t in stack)))
    return sections


def _parse_html(data: bytes, name: str) -> ParsedDocument:
    from semsearch.indexer.html_text import extract_html

    text, title, headings = extract_html(decode_text(data))
    if not title:
        title = headings[0][2] if headings else name
    return ParsedDocument(text=text, title=title, format="html", sections=_nest(headings))


def _parse_pdf(data: bytes, name: str) -> ParsedDocument:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    from semsearch.indexer.pdf_text import join_pages

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise ParseError("password-protected PDF")
        pages = [page.extract_text() or "" for page in reader.pages]
        metadata_title = (reader.metadata.title if reader.metadata else None) or ""
    except ParseError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, OSError) as error:
        raise ParseError(f"corrupt PDF: {error}") from error
    except Exception as error:  # pypdf raises many undocumented types on broken files
        raise ParseError(f"corrupt PDF: {type(error).__name__}: {error}") from error
    if not any(page.strip() for page in pages):
        raise ParseError("PDF has no text layer (scanned images need OCR)")
    text, page_starts = join_pages(pages)
    title = metadata_title.strip() or _first_line_title(text, name)
    return ParsedDocument(text=text, title=title, format="pdf", page_starts=page_starts)


def _parse_docx(data: bytes, name: str) -> ParsedDocument:
    from semsearch.indexer.docx_text import extract_docx

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            expanded = sum(info.file_size for info in archive.infolist())
    except zipfile.BadZipFile as error:
        raise ParseError(f"corrupt DOCX: {error}") from error
    if expanded > MAX_DOCX_EXPANDED_BYTES:
        raise ParseError(f"DOCX expands to {expanded} bytes, over the limit (zip bomb?)")
    if expanded > DOCX_RATIO_FREE_BYTES and expanded > MAX_DOCX_RATIO * len(data):
        raise ParseError(
            f"DOCX expands {expanded // max(len(data), 1)} times to {expanded} bytes (zip bomb?)")
    text, title, headings = extract_docx(data)
    if not title:
        title = headings[0][2] if headings else _first_line_title(text, name)
    return ParsedDocument(text=text, title=title, format="docx", sections=_nest(headings))
