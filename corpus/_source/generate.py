"""Write the PDF, DOCX and specially encoded files of the sample corpus from their prose.

Most of corpus/ is plain UTF-8 text written by hand. The files listed in documents.toml
beside this script cannot sensibly be edited as text: four multi-page PDFs (fpdf2, core
Helvetica font, compressed, real text layer), four DOCX files (python-docx, Heading
styles, tables; one in Chinese) and three Chinese text files whose encoding must be
exact (GBK, UTF-16 with BOM, UTF-8 with BOM). Their words live in prose/ as UTF-8 text.

The output is deterministic (fixed dates, fixed zip timestamps), so a run reproduces
corpus/ byte for byte; tests/test_corpus.py checks that it does.

Usage, from the repository root with the dev extras installed:

    python corpus/_source/generate.py [--out corpus]
"""

import argparse
import codecs
import datetime as dt
import io
import sys
import zipfile
from importlib import metadata
from pathlib import Path

import docx
from docx.document import Document as WordDocument
from docx.oxml.ns import qn
from fpdf import FPDF
from fpdf.enums import XPos, YPos
from prose_sources import (
    MANIFEST,
    PROSE_DIR,
    SOURCE_DIR,
    Block,
    CorpusDocument,
    CorpusSourceError,
    load_documents,
    parse_markup,
    read_prose,
)

CORPUS_DIR = SOURCE_DIR.parent

# The versions corpus/ was generated with. Another fpdf2 lays out text differently, and
# another python-docx ships another template, so their bytes differ; the corpus test
# skips rather than fails then. Update these when regenerating corpus/ on purpose.
GENERATED_WITH = {"fpdf2": "2.8.9", "python-docx": "1.2.0"}

FIXED_DATE = dt.datetime(2024, 5, 1, 12, 0, 0, tzinfo=dt.UTC)
ZIP_DATE = (2024, 5, 1, 12, 0, 0)
AUTHOR = "semsearch sample corpus"
# The generator's path before it moved here. It is written into every PDF (Creator) and
# DOCX (lastModifiedBy), so it is part of corpus/'s bytes: it stays until corpus/ is
# regenerated on purpose.
CREATOR = "benchmarks/make_corpus_binaries.py"
BOMS = {
    "utf-8": codecs.BOM_UTF8,
    "utf-16-le": codecs.BOM_UTF16_LE,
    "utf-16-be": codecs.BOM_UTF16_BE,
}


class _CorpusPdf(FPDF):
    """An A4 document with its title and the page number in every page's footer."""

    def __init__(self, footer_title: str) -> None:
        super().__init__(format="A4")
        self.footer_title = footer_title

    def footer(self) -> None:
        self.set_y(-15)
        self.set_font("Helvetica", "I", 8)
        self.set_text_color(120)
        self.cell(0, 10, f"{self.footer_title} - page {self.page_no()}", align="C")
        self.set_text_color(0)


def render_pdf(title: str, blocks: list[Block]) -> FPDF:
    """Lay `blocks` out as an A4 PDF with fixed metadata, ready for `.output(path)`."""
    pdf = _CorpusPdf(title)
    pdf.set_compression(True)
    pdf.set_creation_date(FIXED_DATE)
    pdf.set_title(title)
    pdf.set_author(AUTHOR)
    pdf.set_creator(CREATOR)
    pdf.set_margins(20, 20, 20)
    pdf.set_auto_page_break(True, margin=20)
    pdf.add_page()
    for block in blocks:
        _render_pdf_block(pdf, block)
    return pdf


def _pdf_text(pdf: FPDF, text: str, size: float = 11, style: str = "", height: float = 5.6) -> None:
    pdf.set_font("Helvetica", style, size)
    pdf.multi_cell(0, height, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _render_pdf_block(pdf: FPDF, block: Block) -> None:
    if block.kind == "h1":
        _pdf_text(pdf, block.text, 20, "B", 9)
        pdf.ln(4)
    elif block.kind == "h2":
        pdf.ln(3)
        _pdf_text(pdf, block.text, 14, "B", 7)
        pdf.ln(1)
    elif block.kind == "h3":
        pdf.ln(1)
        _pdf_text(pdf, block.text, 12, "B", 6)
    elif block.kind == "p":
        _pdf_text(pdf, block.text)
        pdf.ln(2.5)
    elif block.kind == "ul":
        pdf.set_font("Helvetica", "", 11)
        for item in block.items:
            pdf.set_x(pdf.l_margin + 4)
            pdf.multi_cell(0, 5.6, "-  " + item, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
            pdf.ln(0.8)
        pdf.ln(2)
    elif block.kind == "table":
        pdf.set_font("Helvetica", "", 10)
        with pdf.table(text_align="LEFT", line_height=6) as table:
            for row in block.rows:
                cells = table.row()
                for value in row:
                    cells.cell(value)
        pdf.ln(3)
    elif block.kind == "pagebreak":
        pdf.add_page()


def write_docx(path: Path, title: str, blocks: list[Block], east_asian: bool) -> None:
    """Write `blocks` as a Word document at `path`, with fixed dates and zip timestamps.

    `east_asian` gives the text styles an East Asian font (SimSun) for Chinese prose.
    """
    document = docx.Document()
    properties = document.core_properties
    properties.title = title
    properties.author = AUTHOR
    properties.last_modified_by = CREATOR
    properties.created = FIXED_DATE.replace(tzinfo=None)
    properties.modified = FIXED_DATE.replace(tzinfo=None)
    properties.revision = 1
    if east_asian:
        for style_name in ("Normal", "Heading 1", "Heading 2", "Heading 3"):
            run_properties = document.styles[style_name].element.get_or_add_rPr()
            run_properties.get_or_add_rFonts().set(qn("w:eastAsia"), "SimSun")
    for block in blocks:
        if block.kind in ("h1", "h2", "h3"):
            document.add_heading(block.text, level=int(block.kind[1]))
        elif block.kind == "p":
            document.add_paragraph(block.text)
        elif block.kind == "ul":
            for item in block.items:
                document.add_paragraph(item, style="List Bullet")
        elif block.kind == "table":
            _add_docx_table(document, block.rows)
    buffer = io.BytesIO()
    document.save(buffer)
    path.write_bytes(_normalise_zip(buffer.getvalue()))


def _add_docx_table(document: WordDocument, rows: list[list[str]]) -> None:
    table = document.add_table(rows=len(rows), cols=len(rows[0]))
    table.style = "Table Grid"
    for row_number, row in enumerate(rows):
        for column, value in enumerate(row):
            cell = table.cell(row_number, column)
            cell.text = value
            if row_number == 0:
                for run in cell.paragraphs[0].runs:
                    run.bold = True
    document.add_paragraph()


def _normalise_zip(data: bytes) -> bytes:
    """The zip archive `data` rewritten with fixed timestamps and modes, for reproducibility."""
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(data)) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for info in source.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=ZIP_DATE)
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = 0o644 << 16
            target.writestr(fixed, source.read(info.filename))
    return out.getvalue()


def write_text(path: Path, text: str, encoding: str, bom: bool) -> None:
    """Write `text` to `path` in `encoding`, after its byte order mark when `bom`.

    Raises:
        CorpusSourceError: `bom` for an encoding that has none here (see BOMS).
    """
    if bom and encoding not in BOMS:
        raise CorpusSourceError(
            f"{path.name}: no byte order mark for {encoding}; use one of {sorted(BOMS)}"
        )
    path.write_bytes((BOMS[encoding] if bom else b"") + text.encode(encoding))


def write_document(document: CorpusDocument, out_dir: Path, prose_dir: Path = PROSE_DIR) -> Path:
    """Write one corpus file under `out_dir` from its prose in `prose_dir`; returns its path.

    Raises:
        CorpusSourceError: the prose is unreadable, outside the PDF font's Latin-1, not
            encodable in the text's encoding, or too short for a multi-page PDF.
    """
    path = out_dir / document.output
    path.parent.mkdir(parents=True, exist_ok=True)
    prose = read_prose(prose_dir, document.source)
    joiner = "" if document.language == "zh" else " "
    try:
        if document.kind == "text":
            write_text(path, prose, document.encoding, document.bom)
        elif document.kind == "docx":
            write_docx(path, document.title, parse_markup(prose, joiner), joiner == "")
        else:
            prose.encode("latin-1")  # the core PDF fonts cover Latin-1 only
            pdf = render_pdf(document.title, parse_markup(prose, joiner))
            if pdf.page_no() < 2:  # the corpus keeps its PDFs multi-page, for page handling
                raise CorpusSourceError(f"{document.source}: 1 page; expected 2 or more")
            pdf.output(str(path))
    except UnicodeEncodeError as error:
        raise CorpusSourceError(f"{document.source} for {document.output}: {error}") from error
    return path


def version_mismatches() -> list[str]:
    """How the installed fpdf2 and python-docx differ from those corpus/ was made with."""
    mismatches = []
    for package, expected in GENERATED_WITH.items():
        installed = metadata.version(package)
        if installed != expected:
            mismatches.append(
                f"{package} {installed} is installed; corpus/ was made with {expected}"
            )
    return mismatches


def main(argv: list[str] | None = None) -> int:
    """Write every document of documents.toml under --out (corpus/ by default)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", type=Path, default=CORPUS_DIR, help="folder to write into (default: %(default)s)"
    )
    args = parser.parse_args(argv)
    for mismatch in version_mismatches():
        print(
            f"warning: {mismatch}; the output will differ from corpus/ (update "
            "GENERATED_WITH in generate.py if you commit it)",
            file=sys.stderr,
        )
    try:
        for document in load_documents(MANIFEST):
            path = write_document(document, args.out)
            print(f"{document.output}: {path.stat().st_size} bytes")
    except CorpusSourceError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
