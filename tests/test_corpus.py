"""corpus/_source/generate.py: it writes corpus/'s PDF, DOCX and encoded files byte for byte,
and its folder stays out of the index of corpus/."""

import subprocess
import sys
from pathlib import Path

import pytest

from semsearch.indexer.walk import iter_files

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO / "corpus"
SOURCE_DIR = CORPUS / "_source"

pytest.importorskip("fpdf", reason="fpdf2 (the dev extra) writes the corpus's PDFs")
sys.path.insert(0, str(SOURCE_DIR))

import generate  # noqa: E402
from prose_sources import Block, CorpusDocument, CorpusSourceError, parse_markup  # noqa: E402

GENERATED = [
    "finance/index_funds.pdf",
    "history/roman_aqueducts.pdf",
    "outdoors/beekeeping.pdf",
    "outdoors/camping_gear.docx",
    "science/periodic_table_groups.docx",
    "science/weather_fronts.pdf",
    "tech/http_status_codes.docx",
    "zh/go_game.docx",
    "zh/sichuan_cuisine_utf16.txt",
    "zh/solar_terms_bom.md",
    "zh/taiji_gbk.txt",
]


def test_generator_reproduces_the_corpus_byte_for_byte(tmp_path: Path) -> None:
    mismatches = generate.version_mismatches()
    if mismatches:
        pytest.skip(f"{'; '.join(mismatches)}: its output is not expected to match corpus/")
    # the command a writer runs, but from another folder: paths come from the script's own
    result = subprocess.run(
        [sys.executable, str(SOURCE_DIR / "generate.py"), "--out", str(tmp_path / "out")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    out = tmp_path / "out"
    written = sorted(path.relative_to(out).as_posix() for path in out.rglob("*") if path.is_file())
    assert written == GENERATED
    differing = [
        relative
        for relative in written
        if (out / relative).read_bytes() != (CORPUS / relative).read_bytes()
    ]
    assert differing == [], "regenerate with `python corpus/_source/generate.py` and commit"


def test_the_generator_the_example_queries_and_the_eval_files_are_not_indexed() -> None:
    walked = list(iter_files(CORPUS))
    assert [path for path in walked if path.startswith(("_source/", "eval/"))] == []
    assert (CORPUS / "eval" / "pairs.tsv").is_file()  # `semsearch eval --pairs`'s, not a document
    assert "QUERIES.md" not in walked
    assert set(GENERATED) <= set(walked)


def test_markup_makes_headings_paragraphs_lists_and_tables() -> None:
    prose = (
        "# Title\n\n## Part\n\nOne line\nand the next.\n\n- first\n  continued\n- second\n\n"
        "| A | B |\n| --- | :-: |\n| 1 | 2 |\n\n[pagebreak]\n\n#hashtag, not a heading\n"
    )
    assert parse_markup(prose) == [
        Block("h1", "Title"),
        Block("h2", "Part"),
        Block("p", "One line and the next."),
        Block("ul", items=["first continued", "second"]),
        Block("table", rows=[["A", "B"], ["1", "2"]]),
        Block("pagebreak"),
        Block("p", "#hashtag, not a heading"),
    ]
    assert parse_markup("第一行\n第二行") == [Block("p", "第一行 第二行")]
    assert parse_markup("第一行\n第二行", joiner="") == [Block("p", "第一行第二行")]


def _write_prose(folder: Path, name: str, text: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text, encoding="utf-8")


def test_pdf_prose_outside_latin1_is_refused_naming_its_file(tmp_path: Path) -> None:
    _write_prose(tmp_path / "prose", "go.md", "# 围棋\n\nBlack and white.\n")
    document = CorpusDocument(kind="pdf", output="zh/go.pdf", source="go.md", title="Go")
    with pytest.raises(CorpusSourceError, match=r"go\.md for zh/go\.pdf: 'latin-1' codec"):
        generate.write_document(document, tmp_path / "out", tmp_path / "prose")
    assert not (tmp_path / "out" / "zh" / "go.pdf").exists()


def test_one_page_pdf_is_refused(tmp_path: Path) -> None:
    _write_prose(tmp_path / "prose", "short.md", "# Short\n\nOne paragraph.\n")
    document = CorpusDocument(kind="pdf", output="short.pdf", source="short.md", title="Short")
    with pytest.raises(CorpusSourceError, match="short.md: 1 page; expected 2 or more"):
        generate.write_document(document, tmp_path / "out", tmp_path / "prose")
    assert not (tmp_path / "out" / "short.pdf").exists()


def test_text_with_a_bom_its_encoding_lacks_is_refused(tmp_path: Path) -> None:
    _write_prose(tmp_path / "prose", "taiji.txt", "太极拳\n")
    document = CorpusDocument(
        kind="text", output="taiji.txt", source="taiji.txt", encoding="gbk", bom=True
    )
    with pytest.raises(CorpusSourceError, match="no byte order mark for gbk"):
        generate.write_document(document, tmp_path / "out", tmp_path / "prose")


def test_missing_prose_is_refused_naming_its_path(tmp_path: Path) -> None:
    document = CorpusDocument(kind="docx", output="a.docx", source="missing.md", title="A")
    with pytest.raises(CorpusSourceError, match="cannot read prose .*missing.md"):
        generate.write_document(document, tmp_path / "out", tmp_path / "prose")
