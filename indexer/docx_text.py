"""Paragraphs and tables of a .docx file, in document order, with its headings."""

import io
import re
import zipfile

from semsearch.indexer.errors import ParseError

_HEADING_STYLE = re.compile(r"^heading (\d)$", re.IGNORECASE)


def extract_docx(data: bytes) -> tuple[str, str, list[tuple[int, int, str]]]:
    """Return (text, title, [(offset, level, heading)]) of a .docx file's body.

    Raises:
        ParseError: the file is not a readable Word document.
    """
    import docx
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    try:
        document = docx.Document(io.BytesIO(data))
        title = (document.core_properties.title or "").strip()
        blocks = list(document.iter_inner_content())
    except (zipfile.BadZipFile, KeyError, ValueError) as error:
        raise ParseError(f"corrupt DOCX: {error}") from error
    except Exception as error:  # python-docx/lxml raise many types on broken files
        raise ParseError(f"corrupt DOCX: {type(error).__name__}: {error}") from error
    parts: list[str] = []
    headings: list[tuple[int, int, str]] = []
    length = 0
    for block in blocks:
        if isinstance(block, Paragraph):
            text = block.text.strip()
            level = _heading_level(block.style.name if block.style is not None else "")
            if text and level:
                headings.append((length, level, text))
        elif isinstance(block, Table):
            text = "\n".join(
                " | ".join(cell.text.strip() for cell in row.cells) for row in block.rows
            )
        else:
            continue
        if text:
            parts.append(text)
            length += len(text) + 2
    return "\n\n".join(parts), title, headings


def _heading_level(style_name: str) -> int:
    if style_name.lower() == "title":
        return 1
    match = _HEADING_STYLE.match(style_name)
    return int(match.group(1)) if match else 0
