"""Load a BEIR-format dataset (SciFact and the like) and shared evaluation helpers.

BEIR layout: `corpus.jsonl[.gz]` (`_id`, `title`, `text`), `queries.jsonl` (`_id`, `text`)
and `qrels/<split>.tsv` (header, then `query-id  corpus-id  score`). Nothing here copies
the data anywhere but where the caller says (`write_corpus_as_files`).

Also here, so every benchmark scores the same way: `ndcg_at_k`, `recall_at_k`, `doc_id_of`
and `percentiles`. Used by bench_index.py, bench_query.py and tune_fusion.py; not a script.
"""

from __future__ import annotations

import csv
import gzip
import json
import math
import random
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import IO

Qrels = dict[str, dict[str, int]]


def _open_text(path: Path) -> IO[str]:
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8")
    return path.open("r", encoding="utf-8")


def _jsonl(path: Path) -> Iterator[dict[str, object]]:
    with _open_text(path) as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)


def _find(dataset: Path, name: str) -> Path:
    for candidate in (dataset / name, dataset / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"no {name} (or {name}.gz) in {dataset}")


def load_corpus(dataset: Path) -> list[tuple[str, str, str]]:
    """(doc_id, title, text) for every corpus document, in file order."""
    return [(str(row["_id"]), str(row.get("title") or ""), str(row.get("text") or ""))
            for row in _jsonl(_find(Path(dataset), "corpus.jsonl"))]


def load_queries(dataset: Path) -> dict[str, str]:
    """query id -> query text, for all queries of every split."""
    return {str(row["_id"]): str(row["text"])
            for row in _jsonl(_find(Path(dataset), "queries.jsonl"))}


def has_split(dataset: Path, split: str) -> bool:
    return (Path(dataset) / "qrels" / f"{split}.tsv").is_file()


def load_qrels(dataset: Path, split: str = "test") -> Qrels:
    """query id -> {doc id: relevance} from `qrels/<split>.tsv` (header line skipped)."""
    qrels: Qrels = {}
    with (Path(dataset) / "qrels" / f"{split}.tsv").open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle, delimiter="\t")
        for line, row in enumerate(reader):
            if not row or (line == 0 and not row[-1].strip().lstrip("-").isdigit()):
                continue
            qid, docid, score = row[0].strip(), row[1].strip(), int(row[2])
            qrels.setdefault(qid, {})[docid] = score
    return qrels


def tuning_half(qrels: Qrels, seed: int = 13) -> tuple[Qrels, Qrels]:
    """A fixed, seeded split of `qrels` into (tuning half, held-out half)."""
    qids = sorted(qrels)
    random.Random(seed).shuffle(qids)
    half = set(qids[: len(qids) // 2])
    return ({q: qrels[q] for q in qids if q in half},
            {q: qrels[q] for q in qids if q not in half})


def write_corpus_as_files(corpus: Iterable[tuple[str, str, str]], folder: Path) -> int:
    """Write each document as `<folder>/<doc_id>.txt` holding `title + "\\n\\n" + text`.

    The document id is then the file stem of every hit's path. Returns the file count.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    count = 0
    for doc_id, title, text in corpus:
        if "/" in doc_id or doc_id.startswith("."):
            raise ValueError(f"document id {doc_id!r} cannot be a file name")
        (folder / f"{doc_id}.txt").write_text(f"{title}\n\n{text}", encoding="utf-8")
        count += 1
    return count


def doc_id_of(path: str) -> str:
    """The BEIR doc id of an indexed file: its stem (`12345.txt` -> `12345`)."""
    return PurePosixPath(path).stem


def dedupe(doc_ids: Iterable[str]) -> list[str]:
    """Keep each document's first (best) rank only."""
    return list(dict.fromkeys(doc_ids))


def ndcg_at_k(ranking: Sequence[str], relevant: Mapping[str, int], k: int = 10) -> float:
    """nDCG@k with gain = graded relevance and discount 1/log2(rank + 1).

    The ideal DCG sorts all judged relevances of the query (not just those retrieved).
    Rel <= 0 counts as non-relevant. Duplicate doc ids in `ranking` are counted once.
    """
    ranking = dedupe(ranking)[:k]
    dcg = sum(relevant.get(d, 0) / math.log2(i + 2)
              for i, d in enumerate(ranking) if relevant.get(d, 0) > 0)
    ideal = sorted((r for r in relevant.values() if r > 0), reverse=True)[:k]
    idcg = sum(r / math.log2(i + 2) for i, r in enumerate(ideal))
    return dcg / idcg if idcg > 0 else 0.0


def recall_at_k(ranking: Sequence[str], relevant: Mapping[str, int], k: int = 100) -> float:
    """Share of the query's relevant (rel > 0) documents found in the top k."""
    wanted = {d for d, r in relevant.items() if r > 0}
    if not wanted:
        return 0.0
    return len(wanted & set(dedupe(ranking)[:k])) / len(wanted)


def evaluate(runs: Mapping[str, Sequence[str]], qrels: Qrels) -> dict[str, float]:
    """Mean nDCG@10 and Recall@100 over the queries of `qrels` (a missing run scores 0)."""
    judged = [q for q in qrels if any(r > 0 for r in qrels[q].values())]
    if not judged:
        return {"ndcg@10": 0.0, "recall@100": 0.0, "queries": 0}
    ndcg = sum(ndcg_at_k(runs.get(q, []), qrels[q], 10) for q in judged) / len(judged)
    recall = sum(recall_at_k(runs.get(q, []), qrels[q], 100) for q in judged) / len(judged)
    return {"ndcg@10": round(ndcg, 4), "recall@100": round(recall, 4), "queries": len(judged)}


def percentiles(values_ms: Sequence[float]) -> dict[str, float]:
    """p50, p99 (nearest-rank), mean and max of latencies in ms, plus QPS (1000/mean)."""
    ordered = sorted(values_ms)
    if not ordered:
        return {"n": 0}

    def rank(p: float) -> float:
        return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]

    mean = sum(ordered) / len(ordered)
    return {"n": len(ordered), "p50_ms": round(rank(50), 2), "p99_ms": round(rank(99), 2),
            "mean_ms": round(mean, 2), "max_ms": round(ordered[-1], 2),
            "qps": round(1000.0 / mean, 2) if mean > 0 else 0.0}


def print_table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    """A plain, aligned text table on stdout."""
    cells = [[str(h) for h in headers]] + [[_fmt(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    for n, row in enumerate(cells):
        print("  ".join(c.rjust(w) if n and i else c.ljust(w)
                        for i, (c, w) in enumerate(zip(row, widths, strict=True))))
        if n == 0:
            print("  ".join("-" * w for w in widths))


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) <= 1 else f"{value:.2f}"
    return str(value)
