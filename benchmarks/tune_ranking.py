"""Ranking variants on BEIR train queries, replayed offline from an existing index.

The Searcher's hybrid ranking is replayed from the index itself: every chunk's vector
(FAISS), every chunk's BM25 (the in-memory postings, any column weights), the chunk ->
document map, and the query vectors, embedded once. Each variant then costs seconds per
split instead of a run of `semsearch eval`. With the shipped settings the replay gives
`semsearch eval`'s hybrid numbers (`group_by="document"`, 100 deep, each leg's top 500
chunks as candidates), to 0.001 where a query holds a phrase.

Variants: fusion by chunk (then each document's best chunk) or by document (each leg's
best chunk per document, `search.ranking.fuse_documents`), its dense score mixed with
the cosine of the document's mean chunk vector; the dense weight; the weight
of the title column in BM25 (BM25F-style); reciprocal rank fusion; Rocchio feedback on
the query vector (the query plus `beta` times the mean of the first pass's top `k`
documents' best chunks, then a second pass). Settings are chosen on train; the test
split is printed for the shipped setting and the best on train.

Run:
  python benchmarks/tune_ranking.py PATH/TO/scifact --index .semsearch-eval/scifact/index
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from bench_common import print_table
from numpy.typing import NDArray

from semsearch.indexer.encoders import EncoderSpec
from semsearch.indexer.fts import fts_tokens
from semsearch.search.evaluate import Dataset, beir_doc_id, load_beir, score_run
from semsearch.search.fuse import DENSE_WEIGHT, min_max
from semsearch.search.lexical import COLUMN_WEIGHTS, query_terms
from semsearch.search.lexical_memory import MemoryBM25
from semsearch.search.searcher import Searcher

POOL = 500  # candidates per leg in `semsearch eval` (k = 100, grouped: k * 5)
DEPTH = 100
Ranker = Callable[[str, str], list[int]]


class Replay:
    """An index's vectors, BM25 postings and chunk -> document map, held in memory."""

    def __init__(self, searcher: Searcher, splits: dict[str, Dataset]) -> None:
        searcher.wait_for_bm25()
        with searcher.reader.snapshot() as snapshot:
            self.ids = np.sort(snapshot.vectors.ids())
            self.vectors = snapshot.vectors.vectors(self.ids)
            fts = snapshot.store.fts
            self.rowids, self.lengths = fts.row_lengths()
            self.postings = list(fts.postings())
            self.size = fts.vocabulary_size()
            rows = dict(snapshot.store.connection.execute(
                "SELECT c.id, d.path FROM chunks c JOIN documents d ON d.id = c.doc_id"))
        self.doc_names = sorted({beir_doc_id(p) for p in rows.values()})
        slots = {name: i for i, name in enumerate(self.doc_names)}
        self.doc_of = np.array([slots[beir_doc_id(rows[int(c)])] for c in self.ids])
        # Each document's chunk vectors, averaged and normalised: the whole text's topic.
        self.doc_vectors = np.zeros((len(self.doc_names), self.vectors.shape[1]), np.float32)
        np.add.at(self.doc_vectors, self.doc_of, self.vectors)
        self.doc_vectors /= np.linalg.norm(self.doc_vectors, axis=1, keepdims=True)
        if not np.array_equal(self.rowids, self.ids):
            raise SystemExit(f"{searcher.index_dir}: the FTS rows are not the vectors' "
                             "chunks; re-index")
        self.memories: dict[tuple[float, float], MemoryBM25] = {}
        self.query_vectors = {}
        for dataset in splits.values():
            qids = list(dataset.queries)
            embedded = searcher.embed([dataset.queries[q] for q in qids])
            self.query_vectors.update(zip(qids, embedded, strict=True))

    def bm25(self, text: str, weights: tuple[float, float]) -> NDArray[np.float64]:
        if weights not in self.memories:
            self.memories[weights] = MemoryBM25.build(self.rowids, self.lengths,
                                                      self.postings, self.size, weights)
        memory = self.memories[weights]
        terms = query_terms(text)
        tokens = memory.tokens(terms) if terms else ()
        if tokens is None:  # a phrase ("covid-19"), which FTS5 matches by position,
            # scored here word by word (3 of SciFact's 1,109 queries)
            tokens = tuple((t,) for found in fts_tokens(tuple(terms)) for t in found)
        scores = np.zeros(len(self.ids))
        scored = memory.score(tokens)
        scores[scored.matched] = scored.scores
        return scores


def _top(scores: NDArray[np.float64], n: int) -> NDArray[np.intp]:
    """Positions of the n best, best first, ties by position (= chunk id order)."""
    picked = np.argpartition(-scores, n - 1)[:n] if len(scores) > n else np.arange(len(scores))
    return picked[np.lexsort((picked, -scores[picked]))]


def _documents_in_order(replay: Replay, order: NDArray[np.intp]) -> list[int]:
    _, first = np.unique(replay.doc_of[order], return_index=True)
    return replay.doc_of[order][np.sort(first)][:DEPTH].tolist()


def hybrid(replay: Replay, *, level: str = "document", dense_weight: float = DENSE_WEIGHT,
           title_weight: float = COLUMN_WEIGHTS[0], rrf: bool = False,
           feedback: tuple[int, float] | None = None, document_vector: float = 0.0) -> Ranker:
    """A ranker of documents for (query id, text) with these settings."""
    weights = (title_weight, COLUMN_WEIGHTS[1])

    def fuse(dense: NDArray[np.float64], lexical: NDArray[np.float64]) -> NDArray[np.float64]:
        if rrf:
            ranks = [np.argsort(np.argsort(-x, kind="stable")) + 1 for x in (dense, lexical)]
            return 1 / (60 + ranks[0]) + 1 / (60 + ranks[1])
        return dense_weight * min_max(dense) + (1 - dense_weight) * min_max(lexical)

    def one_pass(vector: NDArray[np.float32], lexical: NDArray[np.float64]) -> list[int]:
        dense = (replay.vectors @ vector).astype(np.float64)
        matched = np.flatnonzero(lexical > 0)
        lexical_top = matched[_top(lexical[matched], POOL)]
        candidates = np.array(list(dict.fromkeys(
            [*lexical_top.tolist(), *_top(dense, POOL).tolist()])), dtype=np.intp)
        if level == "chunk":
            fused = fuse(dense[candidates], lexical[candidates])
            return _documents_in_order(replay, candidates[np.lexsort((candidates, -fused))])
        documents, slot = np.unique(replay.doc_of[candidates], return_inverse=True)
        best = [np.full(len(documents), -np.inf), np.zeros(len(documents))]
        np.maximum.at(best[0], slot, dense[candidates])
        np.maximum.at(best[1], slot, lexical[candidates])
        if document_vector:
            mean_cosine = replay.doc_vectors[documents] @ vector
            best[0] = (1 - document_vector) * best[0] + document_vector * mean_cosine
        fused = fuse(best[0], best[1])
        return documents[np.lexsort((documents, -fused))][:DEPTH].tolist()

    def rank(qid: str, text: str) -> list[int]:
        vector, lexical = replay.query_vectors[qid], replay.bm25(text, weights)
        ranked = one_pass(vector, lexical)
        if feedback is None:
            return ranked
        k, beta = feedback
        dense = replay.vectors @ vector
        best_chunks = [np.flatnonzero(replay.doc_of == d) for d in ranked[:k]]
        centroid = np.mean([replay.vectors[c[np.argmax(dense[c])]] for c in best_chunks], 0)
        moved = vector + beta * centroid
        return one_pass(moved / np.linalg.norm(moved), lexical)

    return rank


def score(replay: Replay, dataset: Dataset, rank: Ranker) -> dict[str, float]:
    run = {qid: [replay.doc_names[d] for d in rank(qid, text)]
           for qid, text in dataset.queries.items()}
    return {name: round(value, 4) for name, value in score_run(run, dataset.qrels).items()}


def variants(replay: Replay) -> dict[str, Ranker]:
    table = {"shipped (document fusion)": hybrid(replay),
             "chunk fusion (before)": hybrid(replay, level="chunk"),
             "rrf k=60, document fusion": hybrid(replay, rrf=True)}
    for weight in (0.4, 0.6, 0.7):
        table[f"dense weight {weight}"] = hybrid(replay, dense_weight=weight)
    for share in (0.3, 0.5):
        table[f"document mean vector {share}"] = hybrid(replay, document_vector=share)
    for title in (1.5, 2.0, 3.0):
        table[f"title weight {title}"] = hybrid(replay, title_weight=title)
    for k, beta in ((1, 0.3), (3, 0.6), (5, 0.3)):
        table[f"Rocchio k={k} beta={beta}"] = hybrid(replay, feedback=(k, beta))
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--index", type=Path, required=True, help="an index of the corpus")
    parser.add_argument("--backend", default=None, help="the index's encoder backend")
    args = parser.parse_args()
    splits = {split: load_beir(args.dataset, split) for split in ("train", "test")}
    started = time.perf_counter()
    searcher = Searcher(args.index, EncoderSpec(backend=args.backend) if args.backend else None)
    replay = Replay(searcher, splits)
    searcher.close()
    print(f"loaded {len(replay.ids)} chunks, {len(replay.query_vectors)} queries in "
          f"{time.perf_counter() - started:.0f} s", flush=True)
    table = variants(replay)
    train = {name: score(replay, splits["train"], rank) for name, rank in table.items()}
    print(f"\nTrain ({len(splits['train'].queries)} queries):")
    print_table(["variant", "nDCG@10", "R@100", "MRR@10"],
                [[n, m["ndcg@10"], m["recall@100"], m["mrr@10"]] for n, m in train.items()])
    best = max(train, key=lambda n: train[n]["ndcg@10"])
    print(f"\nTest ({len(splits['test'].queries)} queries), best on train: {best}")
    tested = dict.fromkeys(["shipped (document fusion)", "chunk fusion (before)", best])
    print_table(["variant", "nDCG@10", "R@100", "MRR@10"],
                [[n, *(score(replay, splits["test"], table[n])[k]
                       for k in ("ndcg@10", "recall@100", "mrr@10"))] for n in tested])


if __name__ == "__main__":
    main()
