"""cli: `semsearch embed`, `similarity` and `classify`, in process through CliRunner.

The commands load their model through `EncoderSpec.load`; here it hands back
the session's real model (loaded once) and records what was asked for.
"""

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from semsearch.cli import app
from semsearch.indexer.encoders import Encoder, EncoderSpec
from semsearch.indexer.sync import SyncOptions, sync_folder
from semsearch.search import text_tools
from semsearch.settings import DEFAULT_MODEL


def _run(*args: str) -> Any:
    return CliRunner().invoke(app, list(args))


def test_embed_json_gives_the_models_vectors(loads: list, encoder: Encoder) -> None:
    result = _run("embed", "a cat", "a dog", "--json", "--model", DEFAULT_MODEL)
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["model"] == DEFAULT_MODEL and body["dimension"] == encoder.dimension
    np.testing.assert_allclose(body["embeddings"], encoder.encode(["a cat", "a dog"]), atol=1e-6)
    assert loads == [(DEFAULT_MODEL, None, None)]


def test_embed_with_index_dir_uses_the_indexs_model_and_backend(
        loads: list, encoder: Encoder, tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.txt").write_text("Cats sleep all day.", encoding="utf-8")
    sync_folder(tmp_path / "docs", tmp_path / "index", EncoderSpec.of(encoder),
                SyncOptions())
    loads.clear()
    result = _run("embed", "hello", "--index-dir", str(tmp_path / "index"))
    assert result.exit_code == 0, result.output
    assert "(384 dims)  hello" in result.stdout
    assert loads == [(DEFAULT_MODEL, None, encoder.backend)]
    both = _run("embed", "hello", "--index-dir", str(tmp_path / "index"), "--model", "x")
    assert both.exit_code == 2 and "not both" in both.output


def test_embed_with_a_missing_index_exits_2(loads: list, tmp_path: Path) -> None:
    result = _run("embed", "hello", "--index-dir", str(tmp_path / "nothing"))
    assert result.exit_code == 2 and "No index at" in result.output
    assert loads == []


def test_similarity_of_two_texts(loads: list, encoder: Encoder) -> None:
    a, b = "How do I fix a flat bike tyre?", "Repairing a punctured bicycle wheel"
    result = _run("similarity", a, b, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["score"] == pytest.approx(
        text_tools.similarity(encoder, a, b), abs=1e-6)
    plain = _run("similarity", a, b)
    assert plain.stdout.strip() == f"{text_tools.similarity(encoder, a, b):.4f}"


def test_similarity_pairs_file_and_matrix(loads: list, tmp_path: Path) -> None:
    pairs = tmp_path / "pairs.txt"
    pairs.write_text('cat\tdog\n["a car", "an automobile"]\n{"a": "x y", "b": "z"}\n',
                     encoding="utf-8")
    result = _run("similarity", "--pairs-file", str(pairs), "--json")
    assert result.exit_code == 0, result.output
    scores = json.loads(result.stdout)["scores"]
    assert len(scores) == 3 and scores[1] > scores[0]
    (tmp_path / "q.txt").write_text("bread\nbikes\n", encoding="utf-8")
    (tmp_path / "d.txt").write_text("sourdough\nflat tyre\nMars\n", encoding="utf-8")
    result = _run("similarity", "--queries-file", str(tmp_path / "q.txt"),
                  "--documents-file", str(tmp_path / "d.txt"), "--json")
    matrix = np.array(json.loads(result.stdout)["scores"])
    assert matrix.shape == (2, 3) and matrix[0].argmax() == 0 and matrix[1].argmax() == 1


@pytest.mark.parametrize("args", [
    ["only-one"], ["a", "b", "c"], [], ["a", "b", "--pairs-file", "p.txt"],
    ["--queries-file", "q.txt"],
])
def test_similarity_needs_exactly_one_form(loads: list, args: list[str]) -> None:
    result = _run("similarity", *args)
    assert result.exit_code == 2 and "give two texts A B" in result.output
    assert loads == []


def test_similarity_reports_a_bad_pairs_line(loads: list, tmp_path: Path) -> None:
    pairs = tmp_path / "pairs.txt"
    pairs.write_text("cat\tdog\njust one\n", encoding="utf-8")
    result = _run("similarity", "--pairs-file", str(pairs))
    assert result.exit_code == 2 and "pairs.txt:2" in result.output


def test_classify_zero_shot_with_names_and_descriptions(loads: list) -> None:
    result = _run("classify", "--label", "sports", "--label", "politics=government and elections",
                  "The striker scored twice.", "The senate passed the bill.", "--json")
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["method"] == "zero-shot"
    assert [r["label"] for r in body["results"]] == ["sports", "politics"]
    assert set(body["results"][0]["scores"]) == {"sports", "politics"}


def test_classify_few_shot_from_examples(loads: list, tmp_path: Path) -> None:
    examples = tmp_path / "examples.jsonl"
    rows = [("a tennis final", "sports"), ("the marathon runners", "sports"),
            ("simmer the sauce", "cooking"), ("knead the dough", "cooking")]
    examples.write_text("".join(json.dumps({"text": t, "label": label}) + "\n"
                                for t, label in rows), encoding="utf-8")
    result = _run("classify", "--examples", str(examples), "The goalkeeper saved it.",
                  "Preheat the oven.")
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert lines[0].startswith("sports ") and lines[1].startswith("cooking ")
    centroid = _run("classify", "--examples", str(examples), "--method", "centroid", "--json",
                    "The goalkeeper saved it.")
    assert json.loads(centroid.stdout)["method"] == "centroid"


def test_classify_errors_exit_2(loads: list, tmp_path: Path) -> None:
    neither = _run("classify", "text")
    assert neither.exit_code == 2 and "--label" in neither.output
    one_label = _run("classify", "--label", "only", "text")
    assert one_label.exit_code == 2 and "at least two labels" in one_label.output
    method = _run("classify", "--label", "a", "--label", "b", "--method", "logistic", "text")
    assert method.exit_code == 2 and "--examples only" in method.output
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "t", "label": "a"}\n{"text": "no label"}\n', encoding="utf-8")
    broken = _run("classify", "--examples", str(bad), "text")
    assert broken.exit_code == 2 and "bad.jsonl:2" in broken.output
