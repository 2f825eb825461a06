"""search/evaluate_text.py and `semsearch eval --pairs/--labelled`: correlations equal
sentence-transformers' EmbeddingSimilarityEvaluator's, classification scores equal those of
`text_tools.classify_*` run fold by fold, on the real bundled model and the shipped files."""

import json
from pathlib import Path
from typing import Any

import pytest
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import StratifiedKFold
from typer.testing import CliRunner

from semsearch.cli import app
from semsearch.indexer.encoders import Encoder, EncoderSpec
from semsearch.indexer.sync import SyncOptions, sync_folder
from semsearch.search import text_tools
from semsearch.search.errors import InvalidQueryError
from semsearch.search.evaluate import DatasetError
from semsearch.search.evaluate_text import (
    FOLD_SEED,
    ScoredPair,
    correlate_pairs,
    load_labelled,
    load_pairs,
    score_labelled,
)
from semsearch.settings import DEFAULT_MODEL

EVAL = Path(__file__).resolve().parents[1] / "corpus" / "eval"
PAIRS, LABELLED = EVAL / "pairs.tsv", EVAL / "labelled.jsonl"



def _run(*args: str) -> Any:
    return CliRunner().invoke(app, list(args))


def _embedding_similarity_evaluator() -> Any:
    try:  # sentence-transformers 6 moved it; 5 has only the old name
        from sentence_transformers.sentence_transformer.evaluation import (
            EmbeddingSimilarityEvaluator,
        )
    except ImportError:
        from sentence_transformers.evaluation import EmbeddingSimilarityEvaluator
    return EmbeddingSimilarityEvaluator


# --- the shipped files, scored ------------------------------------------------------------
def test_the_shipped_files_hold_both_languages() -> None:
    pairs, examples = load_pairs(PAIRS), load_labelled(LABELLED)
    assert len(pairs) >= 40 and len(examples) >= 60
    assert {pair.score for pair in pairs} >= {0.0, 5.0} and len({p.score for p in pairs}) > 10
    chinese = [text for text, _ in examples if any("\u4e00" <= c <= "\u9fff" for c in text)]
    assert 0 < len(chinese) < len(examples)
    assert 4 <= len({label for _, label in examples}) <= 6


def test_correlations_equal_embedding_similarity_evaluator(encoder: Encoder) -> None:
    pairs = load_pairs(PAIRS)
    ours = correlate_pairs(encoder, pairs)
    evaluator = _embedding_similarity_evaluator()(
        [p.text_a for p in pairs], [p.text_b for p in pairs], [p.score for p in pairs],
        main_similarity="cosine", name="shipped")
    theirs = evaluator(encoder.model)  # type: ignore[attr-defined]  # the torch model
    assert ours.pairs == len(pairs)
    assert ours.spearman == pytest.approx(theirs["shipped_spearman_cosine"], abs=1e-6)
    assert ours.pearson == pytest.approx(theirs["shipped_pearson_cosine"], abs=1e-6)
    assert 0.3 < ours.spearman < 1


def test_labelled_scores_equal_classify_fold_by_fold(encoder: Encoder) -> None:
    examples = load_labelled(LABELLED)
    scores = score_labelled(encoder, examples)
    texts, labels = [t for t, _ in examples], [label for _, label in examples]
    names = list(dict.fromkeys(labels))
    zero = [r.label for r in text_tools.classify_zero_shot(encoder, texts, {n: n for n in names})]
    few = [""] * len(texts)
    splitter = StratifiedKFold(n_splits=5, shuffle=True, random_state=FOLD_SEED)
    for train, test in splitter.split(texts, labels):
        results = text_tools.classify_few_shot(encoder, [texts[i] for i in test],
                                               [examples[i] for i in train], "logistic")
        for index, result in zip(test, results, strict=True):
            few[index] = result.label
    assert scores.texts == len(examples) and scores.folds == 5
    assert scores.labels == {name: labels.count(name) for name in names}
    assert scores.zero_shot.method == "zero-shot" and scores.few_shot.method == "logistic"
    assert scores.zero_shot.accuracy == pytest.approx(accuracy_score(labels, zero))
    assert scores.zero_shot.macro_f1 == pytest.approx(f1_score(labels, zero, average="macro"))
    assert scores.few_shot.accuracy == pytest.approx(accuracy_score(labels, few))
    assert scores.few_shot.macro_f1 == pytest.approx(f1_score(labels, few, average="macro"))
    assert scores.zero_shot.accuracy > 1 / len(names)


def test_folds_shrink_to_the_rarest_label_and_auto_picks_per_fold(encoder: Encoder) -> None:
    examples = [("a tennis final", "sport"), ("the marathon runners", "sport"),
                ("the goalkeeper saved a penalty", "sport"),
                ("simmer the sauce", "cooking"), ("knead the dough", "cooking")]
    scores = score_labelled(encoder, examples, folds=5)
    # two folds: each trains on one cooking text, so "auto" is the centroid method
    assert scores.folds == 2 and scores.few_shot.method == "centroid"
    assert score_labelled(encoder, examples, method="logistic").few_shot.method == "logistic"


# --- failures ------------------------------------------------------------------------------
def test_pairs_files_tsv_with_and_without_header_and_jsonl(tmp_path: Path) -> None:
    plain = tmp_path / "plain.tsv"
    plain.write_text("a cat\ta dog\t3\n\na car\tan automobile\t4.5\n", encoding="utf-8")
    headed = tmp_path / "headed.tsv"
    headed.write_text("sentence1\tsentence2\tgold\n" + plain.read_text(), encoding="utf-8")
    jsonl = tmp_path / "pairs.jsonl"
    jsonl.write_text('{"text_a": "a cat", "text_b": "a dog", "score": 3}\n'
                     '{"text_a": "a car", "text_b": "an automobile", "score": "4.5"}\n',
                     encoding="utf-8")
    expected = [ScoredPair("a cat", "a dog", 3.0), ScoredPair("a car", "an automobile", 4.5)]
    assert load_pairs(plain) == load_pairs(headed) == load_pairs(jsonl) == expected


@pytest.mark.parametrize(("content", "message"), [
    ("a\tb\t1\na\tb\n", "bad.tsv:2: want text_a<TAB>text_b<TAB>score, not 2 field(s)"),
    ("a\tb\t1\n\nc\td\tmuch\n", "bad.tsv:3: the score 'much' is not a number"),
    ("a\tb\t1\nc\td\tnan\n", "bad.tsv:2: the score 'nan' is not a number"),
    ("a\tb\t1\n \td\t2\n", "bad.tsv:2: a text is empty"),
    ("a\tb\t1\n", "bad.tsv: 1 pair(s); a correlation needs at least two"),
    ('{"text_a": "a", "text_b": "b", "score": 1}\n{"text_a": "a"\n', "bad.tsv:2: not JSON"),
    ('{"text_a": "a", "text_b": "b", "score": 1}\n["a", "b", 1]\n',
     "bad.tsv:2: want a JSON object, not list"),
    ('{"text_a": "a", "text_b": "b", "score": 1}\n{"text_a": "a", "score": 2}\n',
     'bad.tsv:2: want {"text_a": "..", "text_b": "..", "score": N}'),
])
def test_malformed_pairs_name_the_line(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.tsv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DatasetError) as raised:
        load_pairs(path)
    assert message in str(raised.value)


def test_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="no file at"):
        load_pairs(tmp_path / "missing.tsv")
    latin = tmp_path / "latin.tsv"
    latin.write_bytes("café\tcafe\t5\n".encode("latin-1"))
    with pytest.raises(DatasetError, match="cannot read .*latin.tsv as UTF-8"):
        load_labelled(latin)


def test_labelled_files_tsv_and_jsonl(tmp_path: Path) -> None:
    tsv = tmp_path / "labelled.tsv"
    tsv.write_text("text\tlabel\nthe striker scored\tsport\nknead the dough\t cooking \n",
                   encoding="utf-8")
    jsonl = tmp_path / "labelled.jsonl"
    jsonl.write_text('{"text": "the striker scored", "label": "sport"}\n'
                     '{"text": "knead the dough", "label": "cooking"}\n', encoding="utf-8")
    expected = [("the striker scored", "sport"), ("knead the dough", "cooking")]
    assert load_labelled(tsv) == load_labelled(jsonl) == expected
    numbered = tmp_path / "numbered.jsonl"
    numbered.write_text('{"text": "a", "label": 1}\n', encoding="utf-8")
    assert load_labelled(numbered) == [("a", "1")]


@pytest.mark.parametrize(("name", "content", "message"), [
    ("bad.tsv", "one\tsport\nno label here\n", "bad.tsv:2: want text<TAB>label, not 1 field"),
    ("bad.tsv", "one\tsport\ntwo\t \n", "bad.tsv:2: the text or the label is empty"),
    ("bad.jsonl", '{"text": "a", "label": "x"}\n{"text": "b"}\n',
     'bad.jsonl:2: want {"text": "..", "label": ".."}'),
    ("bad.jsonl", '{"text": "a", "label": ["x"]}\n', "bad.jsonl:1: want"),
])
def test_malformed_labelled_lines_are_named(tmp_path: Path, name: str, content: str,
                                            message: str) -> None:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DatasetError) as raised:
        load_labelled(path)
    assert message in str(raised.value)


def test_scoring_refuses_what_it_cannot_score(encoder: Encoder) -> None:
    same = [ScoredPair("a cat", "a dog", 2.0), ScoredPair("a car", "a bus", 2.0)]
    with pytest.raises(DatasetError, match="every pair has the score 2"):
        correlate_pairs(encoder, same)
    with pytest.raises(DatasetError, match="at least two labels|1 label"):
        score_labelled(encoder, [("a", "x"), ("b", "x")])
    with pytest.raises(DatasetError, match="'y' have a single text"):
        score_labelled(encoder, [("a", "x"), ("b", "x"), ("c", "y")])
    two_each = [("a", "x"), ("b", "x"), ("c", "y"), ("d", "y")]
    with pytest.raises(DatasetError, match="folds must be at least 2"):
        score_labelled(encoder, two_each, folds=1)
    with pytest.raises(InvalidQueryError, match="unknown method"):
        score_labelled(encoder, two_each, method="forest")


# --- the command ---------------------------------------------------------------------------
def test_eval_pairs_prints_the_libraries_numbers(loads: list, encoder: Encoder) -> None:
    expected = correlate_pairs(encoder, load_pairs(PAIRS))
    result = _run("eval", "--pairs", str(PAIRS), "--json")
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body == {"model": DEFAULT_MODEL, "backend": encoder.backend, "pairs": 50,
                    "spearman": pytest.approx(expected.spearman),
                    "pearson": pytest.approx(expected.pearson)}
    assert loads == [(DEFAULT_MODEL, None, None)]
    table = _run("eval", "--pairs", str(PAIRS))
    assert table.exit_code == 0 and "Spearman" in table.stdout
    assert f"{expected.spearman:.4f}" in table.stdout


def test_eval_with_index_dir_uses_the_indexs_model_and_backend(
        loads: list, encoder: Encoder, tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.txt").write_text("Cats sleep all day.", encoding="utf-8")
    sync_folder(tmp_path / "docs", tmp_path / "index", EncoderSpec.of(encoder), SyncOptions())
    loads.clear()
    result = _run("eval", "--pairs", str(PAIRS), "--index-dir", str(tmp_path / "index"))
    assert result.exit_code == 0, result.output
    assert loads == [(DEFAULT_MODEL, None, encoder.backend)]


def test_eval_labelled_prints_both_methods(loads: list) -> None:
    result = _run("eval", "--labelled", str(LABELLED), "--folds", "3")
    assert result.exit_code == 0, result.output
    assert "zero-shot (label names)" in result.stdout
    assert "few-shot logistic, 3-fold CV" in result.stdout
    body = json.loads(_run("eval", "--labelled", str(LABELLED), "--method", "centroid",
                           "--json").stdout)
    assert body["few_shot"]["method"] == "centroid" and body["folds"] == 5
    assert set(body["zero_shot"]) == {"method", "accuracy", "macro_f1"}


@pytest.mark.parametrize(("args", "message"), [
    (["--pairs", "p.tsv", "--labelled", "l.jsonl"], "give one of"),
    (["--pairs", "p.tsv", "--queries", "q.jsonl"], "give one of"),
    (["--pairs", str(PAIRS), "--rerank"], "apply to a DATASET or --queries only"),
    (["--labelled", str(LABELLED), "--mode", "dense"], "apply to a DATASET or --queries"),
    (["--queries", "q.jsonl", "--model", DEFAULT_MODEL], "apply to --pairs and --labelled"),
    (["--queries", "q.jsonl", "--folds", "3"], "apply to --pairs and --labelled"),
    (["--pairs", str(PAIRS), "--folds", "3"], "apply to --labelled only"),
    (["--pairs", str(PAIRS), "--model", "m", "--index-dir", "i"], "not both"),
])
def test_eval_refuses_mixed_options(loads: list, args: list[str], message: str) -> None:
    result = _run("eval", *args)
    assert result.exit_code == 2 and message in " ".join(result.output.split())
    assert loads == []


def test_eval_names_a_bad_line_before_loading_the_model(loads: list, tmp_path: Path) -> None:
    path = tmp_path / "pairs.tsv"
    path.write_text("a\tb\t1\nc\td\n", encoding="utf-8")
    result = _run("eval", "--pairs", str(path))
    assert result.exit_code == 2
    assert "pairs.tsv:2: want text_a<TAB>text_b<TAB>score" in " ".join(result.output.split())
    missing = _run("eval", "--labelled", str(tmp_path / "none.jsonl"))
    assert missing.exit_code == 2 and "no file at" in missing.output
    assert loads == []
