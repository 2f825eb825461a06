"""Retrieval quality: BEIR datasets and a user's own query files, scored by IR metrics.

Metrics follow trec_eval's definitions (nDCG with a log2 discount and graded gains,
recall, reciprocal rank), checked against ranx in the tests.
"""

import csv
import gzip
import json
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO
from urllib.parse import quote, unquote

import numpy as np

from semsearch.indexer.encoders import DEFAULT_RERANK_MODEL, EncoderSpec
from semsearch.indexer.sync import SyncJob, SyncProgress
from semsearch.indexer.text_validity import lone_surrogate
from semsearch.search.errors import SearchError
from semsearch.search.evaluate_highlights import Answer, evaluate_highlights, highlight_metrics
from semsearch.search.options import Mode, SearchOptions
from semsearch.search.searcher import Searcher

Qrels = dict[str, dict[str, int]]
Run = dict[str, list[str]]
# Ranked documents kept per query: enough for Recall@100.
DEPTH = 100


class DatasetError(SearchError):
    """A dataset or query file is missing or malformed."""


@dataclass
class Dataset:
    """Queries with their relevance judgements, (BEIR) the documents, and (a query
    file's `answer`s) the passage that answers a query, by query id."""

    queries: dict[str, str]
    qrels: Qrels
    corpus: dict[str, tuple[str, str]]
    answers: dict[str, Answer] = field(default_factory=dict)


def _open_text(path: Path) -> IO[str]:
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8")
    return path.open(encoding="utf-8")


def _jsonl(path: Path) -> Iterator[dict[str, object]]:
    with _open_text(path) as handle:
        for number, line in enumerate(handle, 1):
            if line.strip():
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as error:
                    raise DatasetError(f"{path}:{number}: not JSON: {error}") from error
                # json reads an escaped lone surrogate ("\ud800"): no tokenizer takes it.
                if lone_surrogate(json.dumps(row, ensure_ascii=False)) is not None:
                    raise DatasetError(f"{path}:{number}: not valid Unicode text (an "
                                       "escaped lone surrogate, such as \\ud800)")
                yield row


def load_beir(folder: Path, split: str = "test") -> Dataset:
    """Read a BEIR folder: corpus.jsonl[.gz], queries.jsonl, qrels/<split>.tsv.

    Only the queries judged in `split` are kept.

    Raises:
        DatasetError: a file is missing or malformed.
    """
    corpus_path = next((p for p in (folder / "corpus.jsonl", folder / "corpus.jsonl.gz")
                        if p.is_file()), None)
    qrels_path = folder / "qrels" / f"{split}.tsv"
    for needed in (corpus_path, folder / "queries.jsonl", qrels_path):
        if needed is None or not needed.is_file():
            raise DatasetError(f"{folder} is not a BEIR folder: missing "
                               f"{needed.name if needed else 'corpus.jsonl[.gz]'}")
    assert corpus_path is not None
    qrels = load_qrels_tsv(qrels_path)
    try:
        corpus = {str(row["_id"]): (str(row.get("title") or ""), str(row.get("text") or ""))
                  for row in _jsonl(corpus_path)}
        queries = {str(row["_id"]): str(row["text"]) for row in _jsonl(folder / "queries.jsonl")
                   if str(row["_id"]) in qrels}
    except KeyError as error:
        raise DatasetError(f"{folder}: a record lacks the field {error}") from error
    return Dataset(queries=queries, qrels={q: qrels[q] for q in queries}, corpus=corpus)


def load_qrels_tsv(path: Path) -> Qrels:
    """`query-id<TAB>corpus-id<TAB>score` lines (a header line is skipped)."""
    qrels: Qrels = {}
    with path.open(encoding="utf-8", newline="") as handle:
        for number, row in enumerate(csv.reader(handle, delimiter="\t"), 1):
            if not row or (number == 1 and not row[-1].strip().lstrip("-").isdigit()):
                continue
            if len(row) < 3:
                raise DatasetError(f"{path}:{number}: expected query-id, corpus-id, score")
            qrels.setdefault(row[0].strip(), {})[row[1].strip()] = int(row[2])
    return qrels


def load_query_file(path: Path) -> Dataset:
    """A user's own queries for evaluating an index of their folder.

    JSONL: `{"query": "...", "relevant": ["path/in/folder.md", ...]}` per line (an `id`
    is optional), or `"path": "..."` for one relevant document; an `answer`, an exact
    passage of that one document, is scored by `evaluate_highlights`. TSV:
    `query<TAB>relevant path` per line; repeat a query for more paths.

    Raises:
        DatasetError: the file is missing or malformed.
    """
    if not path.is_file():
        raise DatasetError(f"no query file at {path}")
    texts: dict[str, str] = {}
    qrels: Qrels = {}
    answers: dict[str, Answer] = {}
    if path.suffix == ".jsonl":
        for number, row in enumerate(_jsonl(path), 1):
            query, answer = row.get("query"), row.get("answer")
            relevant = [row["path"]] if isinstance(row.get("path"), str) else row.get("relevant")
            if not isinstance(query, str) or not isinstance(relevant, list) or not relevant:
                raise DatasetError(f"{path}:{number}: needs a 'query' and a 'relevant' list "
                                   "(or one 'path')")
            qid = str(row.get("id", number))
            texts[qid] = query
            qrels[qid] = {str(p): 1 for p in relevant}
            if answer is not None:
                if not isinstance(answer, str) or not answer.strip() or len(relevant) != 1:
                    raise DatasetError(f"{path}:{number}: an 'answer' is a non-empty text "
                                       "from the one relevant document ('path')")
                answers[qid] = Answer(str(relevant[0]), answer)
    else:
        with path.open(encoding="utf-8") as handle:
            for number, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                query, _, relevant = line.rstrip("\n").partition("\t")
                if not query.strip() or not relevant.strip():
                    raise DatasetError(f"{path}:{number}: expected query<TAB>path")
                qid = next((q for q, t in texts.items() if t == query), str(number))
                texts[qid] = query
                qrels.setdefault(qid, {})[relevant.strip()] = 1
    return Dataset(queries=texts, qrels=qrels, corpus={}, answers=answers)


def write_corpus_files(dataset: Dataset, folder: Path) -> int:
    """Write each BEIR document as `<quoted id>.txt` (title, blank line, text).

    Files whose content is already right are left alone, so a re-run's sync finds them
    unchanged; files of documents no longer in the corpus are removed. Returns the count
    written.
    """
    folder.mkdir(parents=True, exist_ok=True)
    wanted = {}
    for doc_id, (title, text) in dataset.corpus.items():
        wanted[quote(doc_id, safe="") + ".txt"] = f"{title}\n\n{text}" if title else text
    for existing in folder.glob("*.txt"):
        if existing.name not in wanted:
            existing.unlink()
    written = 0
    for name, content in wanted.items():
        target = folder / name
        data = content.encode("utf-8")
        if target.is_file() and target.stat().st_size == len(data) and \
                target.read_bytes() == data:
            continue
        target.write_bytes(data)
        written += 1
    return written


def beir_doc_id(path: str) -> str:
    return unquote(Path(path).stem)


# --- metrics ----------------------------------------------------------------------
def ndcg_at_k(ranked: list[str], relevant: dict[str, int], k: int) -> float:
    gains = [relevant.get(doc, 0) for doc in ranked[:k]]
    dcg = sum(gain / math.log2(rank + 2) for rank, gain in enumerate(gains))
    ideal = sorted((g for g in relevant.values() if g > 0), reverse=True)[:k]
    idcg = sum(gain / math.log2(rank + 2) for rank, gain in enumerate(ideal))
    return dcg / idcg if idcg > 0 else 0.0


def recall_at_k(ranked: list[str], relevant: dict[str, int], k: int) -> float:
    wanted = {doc for doc, gain in relevant.items() if gain > 0}
    return len(wanted & set(ranked[:k])) / len(wanted) if wanted else 0.0


def mrr_at_k(ranked: list[str], relevant: dict[str, int], k: int) -> float:
    for rank, doc in enumerate(ranked[:k], 1):
        if relevant.get(doc, 0) > 0:
            return 1.0 / rank
    return 0.0


def score_run(run: Run, qrels: Qrels) -> dict[str, float]:
    """Mean nDCG@10, Recall@10, Recall@100, MRR@10 over the judged queries of `run`."""
    judged = [q for q in qrels if any(g > 0 for g in qrels[q].values())]
    if not judged:
        raise DatasetError("no query has a relevant document")

    def mean(metric: Callable[[list[str], dict[str, int], int], float], k: int) -> float:
        return float(np.mean([metric(run.get(q, []), qrels[q], k) for q in judged]))

    return {"ndcg@10": mean(ndcg_at_k, 10), "recall@10": mean(recall_at_k, 10),
            "recall@100": mean(recall_at_k, 100), "mrr@10": mean(mrr_at_k, 10)}


# --- running ----------------------------------------------------------------------
def evaluate(searcher: Searcher, dataset: Dataset, mode: Mode | str, rerank: bool = False,
             to_doc_id: Callable[[str], str] = str, ignore_identical_ids: bool = False,
             on_query: Callable[[], None] | None = None) -> dict[str, float]:
    """Run every query (one at a time, as a user would) and score the ranking.

    Documents are ranked by their best chunk (`group_by="document"`). Returns the
    metrics of `score_run` plus the per-query latency `p50_ms` and `p99_ms`; when the
    dataset has answers, also `highlight_accuracy`, `highlight_found` and
    `highlight_accuracy_by_document` (`evaluate_highlights`, a plain and a grouped search
    per answered query, outside the latency).
    """
    options = SearchOptions(k=DEPTH, mode=Mode(mode), rerank=rerank, group_by="document",
                            highlight=False)
    run: Run = {}
    latencies = []
    for qid, text in dataset.queries.items():
        started = time.perf_counter()
        response = searcher.search(text, options)
        latencies.append((time.perf_counter() - started) * 1000)
        ranked = [to_doc_id(hit.path) for hit in response.results]
        if ignore_identical_ids:
            ranked = [doc for doc in ranked if doc != qid]
        run[qid] = ranked
        if on_query is not None:
            on_query()
    metrics = score_run(run, dataset.qrels)
    metrics["p50_ms"] = float(np.percentile(latencies, 50))
    metrics["p99_ms"] = float(np.percentile(latencies, 99))
    if dataset.answers:
        metrics.update(highlight_metrics(*(
            evaluate_highlights(searcher, dataset.queries, dataset.answers, mode, rerank,
                                group_by) for group_by in (None, "document"))))
    return metrics


def open_beir_index(dataset: Dataset, job: SyncJob, rerank_model: str = DEFAULT_RERANK_MODEL,
                    on_progress: Callable[[SyncProgress], None] | None = None) -> Searcher:
    """Index a BEIR corpus through the same path as `semsearch index` and open it.

    The corpus is written as one file per document under `job.root` and synced into
    `job.index_dir` (a later run with the same data reuses both); the searcher gets the
    very encoder the sync used, so the model loads once.
    """
    write_corpus_files(dataset, job.root)
    encoder = job.encoder.resolved()
    if encoder.preloaded is None:
        encoder = EncoderSpec.of(encoder.load())
    replace(job, encoder=encoder).run(on_progress)
    return Searcher(job.index_dir, encoder, rerank_model=rerank_model)


def evaluate_modes(searcher: Searcher, dataset: Dataset, modes: list[str], rerank: bool,
                   to_doc_id: Callable[[str], str] = str, ignore_identical_ids: bool = False,
                   on_run: Callable[[str], Callable[[], None] | None] | None = None,
                   ) -> dict[str, dict[str, float]]:
    """`evaluate` each mode (and, with `rerank`, each mode reranked), by run name
    ("hybrid", "hybrid+rerank"); `on_run(name)` gives the run's per-query callback."""
    runs = [(m, False) for m in modes] + ([(m, True) for m in modes] if rerank else [])
    results = {}
    for mode, reranked in runs:
        name = mode + ("+rerank" if reranked else "")
        on_query = on_run(name) if on_run is not None else None
        results[name] = evaluate(searcher, dataset, mode, reranked, to_doc_id,
                                 ignore_identical_ids, on_query)
    return results
