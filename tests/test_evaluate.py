"""Metrics checked against trec_eval (pytrec_eval); BEIR and query-file loading; `eval`."""

import gzip
import json
import random
from pathlib import Path

import pytest
import pytrec_eval
from typer.testing import CliRunner

from semsearch.cli import app
from semsearch.search.evaluate import (
    DatasetError,
    load_beir,
    load_query_file,
    mrr_at_k,
    ndcg_at_k,
    recall_at_k,
    score_run,
    write_corpus_files,
)


def _random_case(seed: int) -> tuple[dict[str, list[str]], dict[str, dict[str, int]]]:
    rng = random.Random(seed)
    docs = [f"d{i}" for i in range(60)]
    qrels, run = {}, {}
    for q in range(25):
        qid = f"q{q}"
        qrels[qid] = {d: rng.choice([1, 1, 2]) for d in rng.sample(docs, rng.randint(1, 6))}
        run[qid] = rng.sample(docs, rng.randint(0, 40))
    return run, qrels


@pytest.mark.parametrize("seed", range(5))
def test_metrics_equal_trec_eval(seed: int) -> None:
    run, qrels = _random_case(seed)
    trec_run = {q: {d: float(1000 - r) for r, d in enumerate(ranked)} for q, ranked in run.items()}
    trec_run = {q: ranked or {"none": 0.0} for q, ranked in trec_run.items()}
    reference = pytrec_eval.RelevanceEvaluator(
        qrels, {"ndcg_cut.10", "recall.10", "recall.100"}).evaluate(trec_run)
    cut_run = {q: {d: s for d, s in ranked.items() if s > 1000 - 10 + 0.5}
               for q, ranked in trec_run.items()}
    reciprocal = pytrec_eval.RelevanceEvaluator(qrels, {"recip_rank"}).evaluate(
        {q: ranked or {"none": 0.0} for q, ranked in cut_run.items()})
    for qid in qrels:
        assert ndcg_at_k(run[qid], qrels[qid], 10) == pytest.approx(
            reference[qid]["ndcg_cut_10"])
        assert recall_at_k(run[qid], qrels[qid], 10) == pytest.approx(reference[qid]["recall_10"])
        assert recall_at_k(run[qid], qrels[qid], 100) == pytest.approx(
            reference[qid]["recall_100"])
        assert mrr_at_k(run[qid], qrels[qid], 10) == pytest.approx(
            reciprocal[qid]["recip_rank"])
    means = score_run(run, qrels)
    assert means["ndcg@10"] == pytest.approx(
        sum(reference[q]["ndcg_cut_10"] for q in qrels) / len(qrels))


def _write_beir(folder: Path) -> None:
    corpus = [
        {"_id": "d1", "title": "Sourdough",
         "text": "A sourdough starter ferments flour and water."},
        {"_id": "d2", "title": "Bicycles", "text": "Bike puncture repair: patch the inner tube."},
        {"_id": "d3", "title": "Mars", "text": "Perseverance landed in Jezero crater in 2021."},
        {"_id": "q/odd id", "title": "Tea", "text": "Green tea is brewed at 80 degrees."},
    ]
    folder.mkdir(parents=True)
    with gzip.open(folder / "corpus.jsonl.gz", "wt", encoding="utf-8") as handle:
        handle.writelines(json.dumps(row) + "\n" for row in corpus)
    queries = [{"_id": "1", "text": "how to repair a bike puncture"},
               {"_id": "2", "text": "which rover landed on Mars in 2021"},
               {"_id": "3", "text": "unjudged query"}]
    (folder / "queries.jsonl").write_text("".join(json.dumps(q) + "\n" for q in queries))
    (folder / "qrels").mkdir()
    (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n1\td2\t1\n2\td3\t1\n")


def test_load_beir_keeps_judged_queries(tmp_path: Path) -> None:
    _write_beir(tmp_path / "beir")
    dataset = load_beir(tmp_path / "beir")
    assert set(dataset.queries) == {"1", "2"}
    assert dataset.corpus["d2"] == ("Bicycles", "Bike puncture repair: patch the inner tube.")
    with pytest.raises(DatasetError, match="not a BEIR folder"):
        load_beir(tmp_path)


def test_write_corpus_files_is_idempotent(tmp_path: Path) -> None:
    _write_beir(tmp_path / "beir")
    dataset = load_beir(tmp_path / "beir")
    assert write_corpus_files(dataset, tmp_path / "docs") == 4
    assert write_corpus_files(dataset, tmp_path / "docs") == 0
    assert (tmp_path / "docs" / "q%2Fodd%20id.txt").read_text().startswith("Tea\n\n")


def test_query_files(tmp_path: Path) -> None:
    jsonl = tmp_path / "q.jsonl"
    jsonl.write_text('{"query": "tyre", "relevant": ["bike.txt"]}\n')
    assert load_query_file(jsonl).qrels == {"1": {"bike.txt": 1}}
    tsv = tmp_path / "q.tsv"
    tsv.write_text("tyre\tbike.txt\ntyre\tgarage/tools.md\n")
    dataset = load_query_file(tsv)
    assert list(dataset.queries.values()) == ["tyre"]
    assert dataset.qrels["1"] == {"bike.txt": 1, "garage/tools.md": 1}
    (tmp_path / "bad.jsonl").write_text('{"query": "x"}\n')
    with pytest.raises(DatasetError, match="relevant"):
        load_query_file(tmp_path / "bad.jsonl")


def test_eval_command_on_a_tiny_beir_set(tmp_path: Path) -> None:
    _write_beir(tmp_path / "beir")
    work = tmp_path / "work"
    runner = CliRunner()
    result = runner.invoke(app, ["eval", str(tmp_path / "beir"), "--index-dir", str(work),
                                 "--mode", "dense,lexical,hybrid", "--json"])
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.stdout)
    assert set(metrics) == {"dense", "lexical", "hybrid"}
    for values in metrics.values():
        assert set(values) >= {"ndcg@10", "recall@10", "recall@100", "mrr@10", "p50_ms", "p99_ms"}
        assert values["ndcg@10"] == pytest.approx(1.0)
    again = runner.invoke(app, ["eval", str(tmp_path / "beir"), "--index-dir", str(work),
                                "--mode", "lexical", "--json"])
    assert again.exit_code == 0 and set(json.loads(again.stdout)) == {"lexical"}


def test_eval_needs_exactly_one_source(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["eval"])
    assert result.exit_code == 2
