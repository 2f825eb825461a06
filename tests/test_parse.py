"""indexer.parse: every supported format, text encodings, and the reasons a file is refused."""

import io
import zipfile

import docx
import pytest
from fpdf import FPDF

from semsearch.indexer.errors import ParseError
from semsearch.indexer.parse import decode_text, is_supported, parse_document
from semsearch.indexer.sentences import split_sentences

CHINESE = (
    "今天天气很好，我们一起去公园散步吧。"
    "这个搜索引擎可以理解中文句子的意思，并找到相关的文档。"
)


def _pdf(pages: list[str], *, title: str = "", user_password: str | None = None) -> bytes:
    pdf = FPDF()
    pdf.set_font("Helvetica", size=12)
    if title:
        pdf.set_title(title)
    for text in pages:
        pdf.add_page()
        pdf.multi_cell(0, 10, text=text)
    if user_password is not None:
        pdf.set_encryption(owner_password="owner-pass", user_password=user_password)
    return bytes(pdf.output())


def _refusal(path: str, data: bytes) -> str:
    with pytest.raises(ParseError) as caught:
        parse_document(path, data)
    return caught.value.reason


# --- formats ---------------------------------------------------------------------------


def test_plain_text() -> None:
    document = parse_document("notes/todo.txt", b"\n  Buy milk\nCall the plumber.\n")
    assert document.format == "text"
    assert document.text == "\n  Buy milk\nCall the plumber.\n"
    assert document.title == "Buy milk"
    assert document.sections == [] and document.page_starts == []


def test_markdown_headings_become_sections_with_paths() -> None:
    text = (
        "# Guide\n\nIntro text.\n\n## Install\n\nRun pip.\n\n### On Linux\n\nUse apt.\n\n"
        "```\n# not a heading, inside a fence\n```\n\n## Usage\n\nCall it.\n\n# Appendix ##\n"
    )
    document = parse_document("guide.md", text.encode())
    assert document.format == "markdown"
    assert document.title == "Guide"
    assert [s.path for s in document.sections] == [
        ("Guide",),
        ("Guide", "Install"),
        ("Guide", "Install", "On Linux"),
        ("Guide", "Usage"),
        ("Appendix",),
    ]
    for section in document.sections:
        line = document.text[section.start:].split("\n", 1)[0]
        assert line.lstrip("# ").startswith(section.path[-1])


def test_markdown_without_headings_takes_its_first_line_as_title() -> None:
    document = parse_document("plain.markdown", b"\n\nJust a line.\nAnother.\n")
    assert document.title == "Just a line."
    assert document.sections == []


def test_rst_underlined_headings() -> None:
    text = (
        "Manual\n======\n\nWelcome.\n\nSetup\n-----\n\nSteps here.\n\n"
        "Details\n~~~~~~~\n\nMore.\n\nFAQ\n---\n\nAnswers.\n"
    )
    document = parse_document("manual.rst", text.encode())
    assert document.format == "rst"
    assert document.title == "Manual"
    assert [s.path for s in document.sections] == [
        ("Manual",),
        ("Manual", "Setup"),
        ("Manual", "Setup", "Details"),
        ("Manual", "FAQ"),
    ]
    assert document.text[document.sections[1].start:].startswith("Setup\n-----")


def test_html_title_headings_and_invisible_text() -> None:
    markup = """<!doctype html><html><head><title> The   Page Title </title>
    <style>.hidden { color: red }</style><script>var tracker = "SCRIPTSECRET";</script>
    </head><body><h1>Main heading</h1><p>First   paragraph
    text.</p><!-- a COMMENTSECRET --><script>alert("BODYSCRIPT")</script>
    <h2>Sub heading</h2><p>Second <b>bold</b> paragraph.</p><noscript>NOSCRIPTTEXT</noscript>
    </body></html>"""
    document = parse_document("site/page.html", markup.encode())
    assert document.format == "html"
    assert document.title == "The Page Title"
    for invisible in ("SCRIPTSECRET", "BODYSCRIPT", "color: red", "COMMENTSECRET", "NOSCRIPTTEXT",
                      "The Page Title"):
        assert invisible not in document.text
    assert "First paragraph text." in document.text
    assert "Second bold paragraph." in document.text
    assert [s.path for s in document.sections] == [
        ("Main heading",), ("Main heading", "Sub heading")]
    for section in document.sections:
        assert document.text[section.start:].startswith(section.path[-1])


def test_html_without_title_uses_first_heading() -> None:
    document = parse_document("a.htm", b"<body><h2>Only heading</h2><p>Body.</p></body>")
    assert document.title == "Only heading"


def test_pdf_pages_and_page_starts() -> None:
    pages = ["Alpha page one talks about apples.", "Beta page two talks about bananas.",
             "Gamma page three talks about cherries."]
    document = parse_document("report.pdf", _pdf(pages, title="Fruit Report"))
    assert document.format == "pdf"
    assert document.title == "Fruit Report"
    assert len(document.page_starts) == 3
    assert document.page_starts[0] == 0
    assert document.page_starts == sorted(document.page_starts)
    for start, page_text in zip(document.page_starts, pages, strict=True):
        assert document.text[start:].startswith(page_text)


def test_pdf_words_broken_at_line_ends_are_whole_and_pages_stay_right() -> None:
    pages = ["The lamp was first lit on 14 Oc-\ntober 1871 by the keeper,\nwho kept it lit.",
             "A self-\nevident rule: a self-evident claim needs no proof-\nreading.\nEnd-\nUse"]
    document = parse_document("lamp.pdf", _pdf(pages))
    first, second = (document.text[start:end] for start, end in zip(
        document.page_starts, [*document.page_starts[1:], len(document.text)], strict=True))
    assert first.strip() == \
        "The lamp was first lit on 14 October\n1871 by the keeper,\nwho kept it lit."
    # The hyphen stays in a word the document spells with one; a capital goes on a new word.
    assert second.strip() == ("A self-evident\nrule: a self-evident claim needs no proofreading."
                              "\nEnd-\nUse")


def test_pdf_running_footers_go_and_a_sentence_runs_on_to_the_next_page() -> None:
    pages = ["Lighthouses\nThe lamp of the tower was first\nlit on a stormy night in\n"
             "Lighthouses - page 1",
             "autumn, and it still shines.\nKeepers lived on site.\nLighthouses - page 2"]
    document = parse_document("lamp.pdf", _pdf(pages))
    assert "page 1" not in document.text and "page 2" not in document.text
    second = document.page_starts[1]
    assert document.text[second:].startswith("autumn, and it still shines.")
    # One line break (a soft wrap), not a blank line, joins the pages mid-sentence.
    assert document.text[:second].endswith("night in\n")
    (sentence, *_) = [document.text[s.start:s.end] for s in split_sentences(document.text)
                      if "lamp" in document.text[s.start:s.end]]
    assert sentence == ("The lamp of the tower was first\nlit on a stormy night in\n"
                        "autumn, and it still shines.")


def test_pdf_without_metadata_title_uses_first_line() -> None:
    document = parse_document("untitled.pdf", _pdf(["Quarterly numbers", "Second page."]))
    assert document.title == "Quarterly numbers"


def test_docx_paragraphs_headings_and_table() -> None:
    word = docx.Document()
    word.core_properties.title = ""
    word.add_heading("Overview", level=1)
    word.add_paragraph("First paragraph about rivers.")
    word.add_heading("Data", level=2)
    table = word.add_table(rows=2, cols=2)
    for (row, col), value in {(0, 0): "city", (0, 1): "population", (1, 0): "Paris",
                              (1, 1): "2 million"}.items():
        table.cell(row, col).text = value
    word.add_heading("Closing", level=1)
    word.add_paragraph("Closing words.")
    buffer = io.BytesIO()
    word.save(buffer)

    document = parse_document("report.docx", buffer.getvalue())
    assert document.format == "docx"
    assert document.title == "Overview"
    assert "First paragraph about rivers." in document.text
    assert "city | population\nParis | 2 million" in document.text
    assert document.text.index("rivers") < document.text.index("Paris") < document.text.index(
        "Closing words")
    assert [s.path for s in document.sections] == [
        ("Overview",), ("Overview", "Data"), ("Closing",)]
    for section in document.sections:
        assert document.text[section.start:].startswith(section.path[-1])


def test_docx_core_title_wins() -> None:
    word = docx.Document()
    word.core_properties.title = "Official Title"
    word.add_paragraph("Some body text.")
    buffer = io.BytesIO()
    word.save(buffer)
    assert parse_document("t.docx", buffer.getvalue()).title == "Official Title"


@pytest.mark.parametrize(
    ("path", "source"),
    [
        ("pkg/module.py", 'def greet(name):\n    return f"hello {name}"\n'),
        ("config/settings.json", '{"name": "semsearch", "tags": ["search", "index"]}\n'),
    ],
)
def test_source_files_are_code(path: str, source: str) -> None:
    document = parse_document(path, source.encode())
    assert document.format == "code"
    assert document.text == source
    assert document.title == path.rsplit("/", 1)[1]


def test_is_supported() -> None:
    for path in ("a.txt", "b.MD", "c.rst", "d.html", "e.htm", "f.pdf", "g.docx", "h.py",
                 "i.json", "j.yaml"):
        assert is_supported(path), path
    for path in ("a.png", "b.exe", "c", "d.doc", "e.zip"):
        assert not is_supported(path), path


# --- encodings ---------------------------------------------------------------------------


def test_gbk_chinese_decodes() -> None:
    document = parse_document("zh.txt", CHINESE.encode("gbk"))
    assert document.text == CHINESE


def test_utf16_with_bom() -> None:
    text = "Ünïcödé text in UTF-16, with 中文 too.\n"
    for data in (text.encode("utf-16"), b"\xfe\xff" + text.encode("utf-16-be")):
        document = parse_document("u16.txt", data)
        assert document.text == text
        assert "\ufeff" not in document.text


def test_utf8_bom_is_stripped() -> None:
    text = "# Café\n\nBody text.\n"
    document = parse_document("bom.md", b"\xef\xbb\xbf" + text.encode("utf-8"))
    assert document.text == text
    assert "\ufeff" not in document.text
    assert document.title == "Café"
    assert document.sections[0].start == 0


def test_plain_utf8_passes_through() -> None:
    assert decode_text("naïve 中文 ✓".encode()) == "naïve 中文 ✓"


# --- refusals ----------------------------------------------------------------------------


def test_binary_file_refused() -> None:
    data = bytes(range(256)) * 8
    assert _refusal("blob.txt", data) == "binary file"


def test_unsupported_suffix_refused() -> None:
    assert _refusal("photo.png", b"\x89PNG\r\n\x1a\n") == "unsupported type"
    assert _refusal("README", b"plain words") == "unsupported type"


def test_empty_text_refused() -> None:
    assert _refusal("empty.txt", b"  \n\t\n") == "no text"


@pytest.mark.parametrize(
    "data",
    [b"%PDF-1.4\ngarbage garbage garbage", b"not a pdf at all", b""],
)
def test_corrupt_pdf_refused(data: bytes) -> None:
    assert _refusal("broken.pdf", data).startswith("corrupt PDF")


def test_truncated_pdf_refused() -> None:
    data = _pdf(["Some text that will be cut off."])
    assert _refusal("cut.pdf", data[: len(data) // 3]).startswith("corrupt PDF")


def test_encrypted_pdf_refused() -> None:
    data = _pdf(["Top secret content."], user_password="secret")
    assert _refusal("locked.pdf", data) == "password-protected PDF"


def test_pdf_with_only_an_owner_password_is_read() -> None:
    data = _pdf(["Readable content."], user_password="")
    assert "Readable content." in parse_document("open.pdf", data).text


def test_corrupt_docx_refused() -> None:
    assert _refusal("broken.docx", b"this is not a zip file").startswith("corrupt DOCX")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("hello.txt", "a zip, but no Word document inside")
    assert _refusal("fake.docx", buffer.getvalue()).startswith("corrupt DOCX")
