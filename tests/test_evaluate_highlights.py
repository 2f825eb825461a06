"""Highlight accuracy on hand-made hits; the shipped labelled set; `eval` with answers."""

import json
from pathlib import Path, PurePosixPath

import pytest
from typer.testing import CliRunner

from semsearch.cli import app
from semsearch.indexer.parse import parse_document
from semsearch.search.errors import SearchError
from semsearch.search.evaluate import DatasetError, load_query_file
from semsearch.search.evaluate_highlights import (
    Answer,
    HighlightOutcome,
    answer_span,
    covers_answer,
    highlight_metrics,
    judge_hits,
)
from semsearch.search.hits import Highlight, Hit

CORPUS = Path(__file__).resolve().parents[1] / "corpus"
SHIPPED = CORPUS / "eval" / "highlights.jsonl"
TEXT = "Alpha one. The answer is forty two. Gamma three."
ANSWER = Answer("doc.txt", "The answer is forty two.")  # span [11, 35), 24 characters


def _hit(path: str, *highlights: tuple[int, int], doc_id: int = 1) -> Hit:
    return Hit(chunk_id=0, doc_id=doc_id, path=path, title="", ordinal=0, text=TEXT, page=None,
               start=0, end=len(TEXT), headings=[], score=1.0, score_kind="cosine",
               highlights=[Highlight(TEXT[s:e], s, e) for s, e in highlights])


def _judge(hits: list[Hit], answer: Answer = ANSWER) -> HighlightOutcome:
    return judge_hits(hits, answer, lambda doc_id: TEXT)


def test_answer_span_is_the_first_occurrence_and_tolerates_whitespace() -> None:
    assert answer_span(TEXT, ANSWER.text) == (11, 35)
    assert answer_span("a b. a b.", "a b.") == (0, 4)
    assert answer_span("x  hard\nwrapped  line", "hard wrapped\nline") == (3, 21)
    assert answer_span(TEXT, "not there") is None


def test_a_highlight_must_cover_half_the_answer() -> None:
    span = (11, 35)
    assert covers_answer(Highlight("", 11, 35), span)
    assert covers_answer(Highlight("", 0, 48), span)  # the whole chunk holds it
    assert covers_answer(Highlight("", 11, 23), span)  # 12 of 24: exactly half
    assert not covers_answer(Highlight("", 11, 22), span)  # 11 of 24
    assert covers_answer(Highlight("", 23, 48), span)  # 12 of 24, from the right
    assert not covers_answer(Highlight("", 0, 10), span)  # the sentence before
    assert not covers_answer(Highlight("", 35, 48), span)  # touching is not overlapping


def test_judge_hits_uses_the_first_hit_of_the_document_in_the_top_ten() -> None:
    right, before = (11, 35), (0, 10)
    assert _judge([_hit("other.txt", right, doc_id=2), _hit("doc.txt", right)]) == \
        HighlightOutcome(found=True, correct=True, highlighted="The answer is forty two.")
    # The document's first hit decides, even when a later chunk of it has the answer.
    assert _judge([_hit("doc.txt", before), _hit("doc.txt", right)]) == \
        HighlightOutcome(found=True, correct=False, highlighted="Alpha one.")
    assert _judge([_hit("doc.txt")]) == HighlightOutcome(True, False, "")
    eleventh = [_hit("other.txt", right, doc_id=2)] * 10 + [_hit("doc.txt", right)]
    assert _judge(eleventh) == HighlightOutcome(found=False, correct=False, highlighted="")
    with pytest.raises(SearchError, match="not in the text of doc.txt"):
        _judge([_hit("doc.txt", right)], Answer("doc.txt", "forty three"))


def test_highlight_metrics_count_a_missing_document_as_a_miss() -> None:
    outcomes = {"1": HighlightOutcome(True, True, "a"), "2": HighlightOutcome(True, False, "b"),
                "3": HighlightOutcome(False, False, ""), "4": HighlightOutcome(True, True, "c")}
    assert highlight_metrics(outcomes) == {"highlight_accuracy": 0.5, "highlight_found": 0.75}
    assert highlight_metrics({}) == {}
    grouped = {**outcomes, "2": HighlightOutcome(True, True, "b")}
    assert highlight_metrics(outcomes, grouped) == {
        "highlight_accuracy": 0.5, "highlight_found": 0.75,
        "highlight_accuracy_by_document": 0.75}


def test_query_file_lines_with_a_path_and_an_answer(tmp_path: Path) -> None:
    good = tmp_path / "q.jsonl"
    good.write_text('{"query": "q", "path": "a.md", "answer": "It is 42."}\n'
                    '{"query": "r", "relevant": ["b.md"]}\n')
    dataset = load_query_file(good)
    assert dataset.qrels == {"1": {"a.md": 1}, "2": {"b.md": 1}}
    assert dataset.answers == {"1": Answer("a.md", "It is 42.")}
    for line in ('{"query": "q", "relevant": ["a.md", "b.md"], "answer": "x"}',
                 '{"query": "q", "path": "a.md", "answer": ""}'):
        (tmp_path / "bad.jsonl").write_text(line + "\n")
        with pytest.raises(DatasetError, match="bad.jsonl:1: an 'answer'"):
            load_query_file(tmp_path / "bad.jsonl")


def test_the_shipped_answers_are_exact_text_of_their_documents() -> None:
    rows = [json.loads(line) for line in SHIPPED.read_text(encoding="utf-8").splitlines()]
    assert len(rows) >= 40
    assert sum(row["path"].startswith("zh/") for row in rows) >= 8
    suffixes = {PurePosixPath(row["path"]).suffix for row in rows}
    assert {".md", ".txt", ".rst", ".html", ".htm", ".pdf", ".docx"} <= suffixes
    texts: dict[str, str] = {}
    for row in rows:
        path = row["path"]
        if path not in texts:
            texts[path] = parse_document(path, (CORPUS / path).read_bytes()).text
        assert row["answer"].strip() and row["answer"] in texts[path], row
    assert len(load_query_file(SHIPPED).answers) == len(rows)


def test_eval_prints_highlight_accuracy_for_answered_queries(
    search_index: tuple[Path, Path], tmp_path: Path
) -> None:
    queries = tmp_path / "answers.jsonl"
    rows = [{"query": "which rover landed in Jezero crater", "path": "astronomy/mars.html",
             "answer": "The Perseverance rover landed in Jezero crater in 2021"},
            {"query": "where was the zorblax enzyme first isolated",
             "path": "biology/zorblax.txt",
             "answer": "The zorblax enzyme was first isolated from deep sea sponges."}]
    queries.write_text("".join(json.dumps(row) + "\n" for row in rows))
    arguments = ["eval", "--queries", str(queries), "--index-dir", str(search_index[1]),
                 "--mode", "lexical"]
    runner = CliRunner()
    result = runner.invoke(app, [*arguments, "--json"])
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.stdout)["lexical"]
    assert metrics["highlight_found"] == 1.0 and metrics["highlight_accuracy"] == 1.0
    assert metrics["highlight_accuracy_by_document"] == 1.0
    table = runner.invoke(app, arguments, env={"COLUMNS": "250"})
    assert table.exit_code == 0, table.output
    assert "Highlight acc." in table.stdout and "Highlight found" in table.stdout
    assert "Highlight acc. by doc." in table.stdout
    plain = tmp_path / "plain.jsonl"
    plain.write_text(json.dumps({"query": rows[0]["query"], "path": rows[0]["path"]}) + "\n")
    without = runner.invoke(app, [*arguments[:2], str(plain), *arguments[3:], "--json"])
    assert without.exit_code == 0, without.output
    assert "highlight_accuracy" not in json.loads(without.stdout)["lexical"]
