"""Ranking variants on BEIR train queries, replayed offline from an existing index.

The Searcher's hybrid ranking is replayed from the index itself: every chunk's vector
(FAISS), every chunk's BM25 (the in-memory postings, any column weights), the chunk ->
document map, and the query vectors, embedded once. Each variant then costs seconds per
split instead of a run of `semsearch eval`. With the shipped settings the replay gives
`semsearch eval`'s hybrid numbers (`group_by="document"`, 100 deep, each leg's top 500
chunks as candidates), to 0.001 where a query holds a phrase.

Variants: fusion by chunk (then each document's best chunk), by document (each leg's
best chunk per document, `search.ranking.fuse_documents`) or by whole document (BM25
over the document's whole text, the best chunk's cosine mixed with that of the mean
chunk vector: `search.whole_documents`, what `group_by="document"` ships), with the
share of the mean vector; the dense weight; how each leg is scaled before the convex
combination (min-max over the candidates, as before 2026-12-04; from the score's
theoretical minimum to the candidates' maximum, TM2C2; z-scores, shipped since); BM25's
k1 and b over whole documents; the weight
of the title column in BM25 (BM25F-style); reciprocal rank fusion; Rocchio feedback on
the query vector (the query plus `beta` times the mean of the first pass's top `k`
documents' best chunks, then a second pass). Settings are chosen on train; the test
split is printed for the shipped setting, the two rankings before it and the best on
train.

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
from semsearch.indexer.fts import FtsPostings, fts_tokens
from semsearch.indexer.store import Store
from semsearch.search.evaluate import Dataset, beir_doc_id, load_beir, score_run
from semsearch.search.fuse import DENSE_WEIGHT, min_max, z_score
from semsearch.search.lexical import COLUMN_WEIGHTS, query_terms
from semsearch.search.lexical_memory import K1, B, MemoryBM25
from semsearch.search.ranking import DOCUMENT_DENSE_WEIGHT, MEAN_VECTOR_SHARE
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
            paths = dict(snapshot.store.connection.execute("SELECT id, path FROM documents"))
            self.document_postings, document_rows, means = _whole_documents(snapshot.store)
        self.doc_names = sorted({beir_doc_id(p) for p in rows.values()})
        slots = {name: i for i, name in enumerate(self.doc_names)}
        self.doc_of = np.array([slots[beir_doc_id(rows[int(c)])] for c in self.ids])
        # Documents of the whole-document BM25's rows; each document's mean chunk vector,
        # normalised (its cosine is the one `search.whole_documents` mixes in).
        self.slot_of_row = np.array([slots[beir_doc_id(paths[int(d)])] for d in document_rows])
        self.doc_vectors = np.zeros((len(self.doc_names), self.vectors.shape[1]), np.float32)
        self.doc_vectors[self.slot_of_row] = means / np.linalg.norm(means, axis=1,
                                                                    keepdims=True)
        if not np.array_equal(self.rowids, self.ids):
            raise SystemExit(f"{searcher.index_dir}: the FTS rows are not the vectors' "
                             "chunks; re-index")
        self.memories: dict[tuple[float, float], MemoryBM25] = {}
        self.document_memories: dict[tuple[float, float], MemoryBM25] = {}
        self.query_vectors = {}
        for dataset in splits.values():
            qids = list(dataset.queries)
            embedded = searcher.embed([dataset.queries[q] for q in qids])
            self.query_vectors.update(zip(qids, embedded, strict=True))

    def bm25(self, text: str, weights: tuple[float, float]) -> NDArray[np.float64]:
        """Every chunk's BM25 for `text`, by position in `ids`."""
        if weights not in self.memories:
            self.memories[weights] = MemoryBM25.build(self.rowids, self.lengths,
                                                      self.postings, self.size, weights)
        scores = np.zeros(len(self.ids))
        scored = self.memories[weights].score(_tokens(self.memories[weights], text))
        scores[scored.matched] = scored.scores
        return scores

    def document_bm25(self, text: str, k1_b: tuple[float, float]) -> NDArray[np.float64]:
        """Every document's BM25 over its whole text for `text`, with BM25's (k1, b) =
        `k1_b`, by document slot."""
        if k1_b not in self.document_memories:
            rowids, lengths, postings, size = self.document_postings
            self.document_memories[k1_b] = MemoryBM25.build(rowids, lengths, postings, size,
                                                            COLUMN_WEIGHTS, *k1_b)
        memory = self.document_memories[k1_b]
        scores = np.zeros(len(self.doc_names))
        scored = memory.score(_tokens(memory, text))
        scores[self.slot_of_row[scored.matched]] = scored.scores
        return scores


DocumentPostings = tuple[NDArray[np.int64], NDArray[np.int64], list[FtsPostings],
                         tuple[int, int]]


def _whole_documents(store: Store) -> tuple[DocumentPostings, NDArray[np.int64],
                                            NDArray[np.float32]]:
    """(whole-document BM25 rows, lengths, postings and vocabulary size, their rows'
    document ids, those documents' mean chunk vectors)."""
    whole = store.whole_documents
    if not whole.ready():
        raise SystemExit(f"{store.path.parent}: no whole-document rows; sync it once with "
                         "this version (`semsearch index`)")
    rowids, lengths = whole.fts.row_lengths()
    postings = (rowids, lengths, list(whole.fts.postings()), whole.fts.vocabulary_size())
    found, means = whole.mean_vectors(rowids.tolist())
    if not np.array_equal(found, rowids):
        raise SystemExit(f"{store.path.parent}: a document has BM25 rows but no mean vector")
    return postings, rowids, means


def _tokens(memory: MemoryBM25, text: str) -> tuple[tuple[str, ...], ...]:
    terms = query_terms(text)
    tokens = memory.tokens(terms) if terms else ()
    if tokens is None:  # a phrase ("covid-19"), which FTS5 matches by position,
        # scored here word by word (3 of SciFact's 1,109 queries)
        tokens = tuple((t,) for found in fts_tokens(tuple(terms)) for t in found)
    return tokens


def _top(scores: NDArray[np.float64], n: int) -> NDArray[np.intp]:
    """Positions of the n best, best first, ties by position (= chunk id order)."""
    picked = np.argpartition(-scores, n - 1)[:n] if len(scores) > n else np.arange(len(scores))
    return picked[np.lexsort((picked, -scores[picked]))]


def _documents_in_order(replay: Replay, order: NDArray[np.intp]) -> list[int]:
    _, first = np.unique(replay.doc_of[order], return_index=True)
    return replay.doc_of[order][np.sort(first)][:DEPTH].tolist()


Normaliser = Callable[[NDArray[np.float64], NDArray[np.float64]],
                      tuple[NDArray[np.float64], NDArray[np.float64]]]


def _min_max(dense: NDArray[np.float64], lexical: NDArray[np.float64]
             ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    return min_max(dense), min_max(lexical)


def _theoretical_min_max(cosine_floor: float) -> Normaliser:
    """TM2C2 (Bruch, Gai & Ingber 2023): each leg scaled from its score's theoretical
    minimum (`cosine_floor` for the cosine, 0 for BM25) to the candidates' maximum."""
    def scale(scores: NDArray[np.float64], floor: float) -> NDArray[np.float64]:
        top = float(scores.max()) if scores.size else floor
        return (scores - floor) / (top - floor) if top - floor > 1e-12 \
            else np.ones_like(scores)

    return lambda dense, lexical: (scale(dense, cosine_floor), scale(lexical, 0.0))


def _z_score(dense: NDArray[np.float64], lexical: NDArray[np.float64]
             ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    return z_score(dense), z_score(lexical)


NORMALISERS: dict[str, Normaliser] = {"min-max": _min_max, "tm2c2 -1": _theoretical_min_max(-1.0),
                                      "tm2c2 0": _theoretical_min_max(0.0), "z-score": _z_score}


def hybrid(replay: Replay, *, level: str = "whole",
           dense_weight: float | None = None,
           title_weight: float = COLUMN_WEIGHTS[0], rrf: bool = False,
           feedback: tuple[int, float] | None = None,
           document_vector: float = MEAN_VECTOR_SHARE,
           normalise: str | None = None,
           document_k1_b: tuple[float, float] = (K1, B)) -> Ranker:
    """A ranker of documents for (query id, text) with these settings; the defaults are
    the Searcher's (`level="whole"`; "document" and "chunk" are the rankings before).
    `normalise` names how each leg is scaled before the convex combination
    (`NORMALISERS`); `document_k1_b`, BM25's (k1, b) over whole documents. The dense
    weight and the normalisation default to the Searcher's at that level."""
    weights = (title_weight, COLUMN_WEIGHTS[1])
    whole = level == "whole"
    if dense_weight is None:
        dense_weight = DOCUMENT_DENSE_WEIGHT if whole else DENSE_WEIGHT
    normaliser = NORMALISERS[normalise or ("z-score" if whole else "min-max")]

    def fuse(dense: NDArray[np.float64], lexical: NDArray[np.float64]) -> NDArray[np.float64]:
        if rrf:
            ranks = [np.argsort(np.argsort(-x, kind="stable")) + 1 for x in (dense, lexical)]
            return 1 / (60 + ranks[0]) + 1 / (60 + ranks[1])
        dense, lexical = normaliser(dense, lexical)
        return dense_weight * dense + (1 - dense_weight) * lexical

    def one_pass(vector: NDArray[np.float32], lexical: NDArray[np.float64],
                 text: str) -> list[int]:
        dense = (replay.vectors @ vector).astype(np.float64)
        matched = np.flatnonzero(lexical > 0)
        lexical_top = matched[_top(lexical[matched], POOL)]
        candidates = np.array(list(dict.fromkeys(
            [*lexical_top.tolist(), *_top(dense, POOL).tolist()])), dtype=np.intp)
        if level == "whole":
            return _whole(replay, vector, dense, text, candidates, fuse,
                          document_vector, document_k1_b)
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
        ranked = one_pass(vector, lexical, text)
        if feedback is None:
            return ranked
        k, beta = feedback
        dense = replay.vectors @ vector
        best_chunks = [np.flatnonzero(replay.doc_of == d) for d in ranked[:k]]
        centroid = np.mean([replay.vectors[c[np.argmax(dense[c])]] for c in best_chunks], 0)
        moved = vector + beta * centroid
        return one_pass(moved / np.linalg.norm(moved), lexical, text)

    return rank


def _whole(replay: Replay, vector: NDArray[np.float32], dense: NDArray[np.float64],
           text: str, candidates: NDArray[np.intp],
           fuse: Callable[[NDArray[np.float64], NDArray[np.float64]], NDArray[np.float64]],
           share: float, k1_b: tuple[float, float]) -> list[int]:
    """Documents by whole-document evidence, as `search.whole_documents` ranks them:
    the candidates' documents and the top `POOL` by whole-text BM25 (all chunks of
    those new ones become candidates); dense, the best candidate chunk's cosine mixed
    with the mean vector's; lexical, the whole text's BM25."""
    whole_bm25 = replay.document_bm25(text, k1_b)
    matched = np.flatnonzero(whole_bm25 > 0)
    extra = np.setdiff1d(matched[_top(whole_bm25[matched], POOL)], replay.doc_of[candidates])
    candidates = np.r_[candidates, np.flatnonzero(np.isin(replay.doc_of, extra))]
    documents, slot = np.unique(replay.doc_of[candidates], return_inverse=True)
    best = np.full(len(documents), -np.inf)
    np.maximum.at(best, slot, dense[candidates])
    mixed = (1 - share) * best + share * (replay.doc_vectors[documents] @ vector)
    fused = fuse(mixed, whole_bm25[documents])
    return documents[np.lexsort((documents, -fused))][:DEPTH].tolist()


def score(replay: Replay, dataset: Dataset, rank: Ranker) -> dict[str, float]:
    run = {qid: [replay.doc_names[d] for d in rank(qid, text)]
           for qid, text in dataset.queries.items()}
    return {name: round(value, 4) for name, value in score_run(run, dataset.qrels).items()}


SHIPPED = "shipped (whole documents, z-scores)"
MIN_MAX = "whole documents, min-max (before)"
BEFORE = "document fusion (before that)"


def variants(replay: Replay) -> dict[str, Ranker]:
    """The shipped ranking, the rankings before it, and the variants tried. Those of
    before 2026-12-04 keep the min-max fusion at dense weight 0.5 they were tried with."""
    before = {"normalise": "min-max", "dense_weight": DENSE_WEIGHT}
    table = {SHIPPED: hybrid(replay),
             MIN_MAX: hybrid(replay, **before),
             BEFORE: hybrid(replay, level="document", document_vector=0.0),
             "chunk fusion": hybrid(replay, level="chunk"),
             "whole, rrf k=60": hybrid(replay, rrf=True),
             "whole, title weight 2.0": hybrid(replay, title_weight=2.0, **before),
             "whole, Rocchio k=1 beta=0.3": hybrid(replay, feedback=(1, 0.3), **before)}
    for weight in (0.5, 0.6, 0.7, 0.8):
        for share in (0.0, 0.3, 0.5, 0.7):
            table[f"whole, dense weight {weight}, mean vector {share}"] = hybrid(
                replay, dense_weight=weight, document_vector=share, normalise="min-max")
    return table | normalisation_variants(replay)


def normalisation_variants(replay: Replay) -> dict[str, Ranker]:
    """Whole documents (mean vector share as shipped): the legs scaled from their
    theoretical minimum (TM2C2, the cosine's taken as -1 or 0) or z-scored, by dense
    weight; and BM25's k1 and b over whole documents, min-max at dense weight 0.5."""
    table = {}
    for name, weights in (("tm2c2 -1", (0.4, 0.5, 0.6, 0.7, 0.8, 0.9)),
                          ("tm2c2 0", (0.4, 0.5, 0.6, 0.7)),
                          ("z-score", (0.4, 0.5, 0.55, 0.6, 0.65, 0.7))):
        for weight in weights:
            table[f"whole, {name}, dense weight {weight}"] = hybrid(
                replay, normalise=name, dense_weight=weight)
    for k1 in (0.9, 1.2, 1.5):
        for b in (0.4, 0.6, 0.75):
            table[f"whole, min-max, document BM25 k1 {k1} b {b}"] = hybrid(
                replay, normalise="min-max", dense_weight=DENSE_WEIGHT, document_k1_b=(k1, b))
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
    tested = dict.fromkeys([SHIPPED, MIN_MAX, BEFORE, best])
    print_table(["variant", "nDCG@10", "R@100", "MRR@10"],
                [[n, *(score(replay, splits["test"], table[n])[k]
                       for k in ("ndcg@10", "recall@100", "mrr@10"))] for n in tested])


if __name__ == "__main__":
    main()
