"""Tune the dense/lexical fusion on BEIR train queries, then check it on the test split.

For every query the Searcher's two legs are run separately (`mode="dense"` and
`mode="lexical"`, k=100, group_by="document"), giving per-document scores (cosine of the
best chunk, BM25 of the best chunk). They are fused at the document level with
`search.fuse.convex_fusion` (dense weight 0.3 .. 0.8, step 0.1) and
`search.fuse.reciprocal_rank_fusion` (k=60); a document missing from one leg gets that
leg's minimum over the query's candidates. nDCG@10 (and Recall@100) on the tuning split
picks the best setting, which is then scored with RRF on the test split.

Tuning split: qrels/train.tsv. If the dataset has none, a fixed seeded half of the test
queries tunes and the other half is the test (the output says so).

Note: the Searcher's own hybrid mode fuses at the chunk level with complete leg scores
(cosine for every candidate, BM25 0 for no match); this document-level fusion is the
tuning proxy the brief asked for, so its numbers can differ a little from bench_query's.
The Searcher's highlighting (which changes no score) is switched off unless
--keep-highlights, as it costs most of a k=100 dense search.

Run:
  python benchmarks/tune_fusion.py /path/to/scifact --index /tmp/scifact-bench/index \
      [--out /tmp/tune_fusion.json]
"""

from __future__ import annotations

import argparse
import json
import random
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np
from bench_common import print_table
from numpy.typing import NDArray

from semsearch.indexer.encoders import EncoderSpec
from semsearch.search.evaluate import Qrels, beir_doc_id, load_beir, score_run
from semsearch.search.fuse import DENSE_WEIGHT, RRF_K, convex_fusion, reciprocal_rank_fusion
from semsearch.search.options import SearchOptions
from semsearch.search.searcher import Searcher
from semsearch.settings import DEFAULT_MODEL

Legs = dict[str, tuple[list[str], NDArray[np.float64], NDArray[np.float64]]]
Fuser = Callable[[NDArray[np.float64], NDArray[np.float64]], NDArray[np.float64]]
DEPTH = 100


def leg_scores(searcher: Searcher, text: str, mode: str, highlight: bool) -> dict[str, float]:
    hits = searcher.search(text,
            SearchOptions(k=DEPTH, mode=mode, group_by="document", highlight=highlight)).results
    scores: dict[str, float] = {}
    for hit in hits:
        scores.setdefault(beir_doc_id(hit.path), hit.score)
    return scores


def aligned(dense: dict[str, float], lexical: dict[str, float]
            ) -> tuple[list[str], NDArray[np.float64], NDArray[np.float64]]:
    """Candidates (dense order, then lexical-only) and both legs' scores, gaps filled."""
    candidates = list(dict.fromkeys([*dense, *lexical]))

    def column(leg: dict[str, float]) -> NDArray[np.float64]:
        floor = min(leg.values()) if leg else 0.0
        return np.array([leg.get(c, floor) for c in candidates], dtype=np.float64)

    return candidates, column(dense), column(lexical)


def collect(searcher: Searcher, texts: dict[str, str], qrels: Qrels, label: str,
            highlight: bool) -> Legs:
    legs: Legs = {}
    started = time.perf_counter()
    for n, qid in enumerate(sorted(qrels, key=_numeric), 1):
        legs[qid] = aligned(leg_scores(searcher, texts[qid], "dense", highlight),
                            leg_scores(searcher, texts[qid], "lexical", highlight))
        if n % 100 == 0 or n == len(qrels):
            print(f"  {label}: {n}/{len(qrels)} queries, {time.perf_counter() - started:.0f} s",
                  flush=True)
    return legs


def _numeric(qid: str) -> tuple[int, str]:
    return (int(qid), qid) if qid.isdigit() else (1 << 62, qid)


def tuning_half(qrels: Qrels, seed: int = 13) -> tuple[Qrels, Qrels]:
    """A fixed, seeded split of `qrels` into (tuning half, held-out half)."""
    qids = sorted(qrels)
    random.Random(seed).shuffle(qids)
    half = set(qids[: len(qids) // 2])
    return ({q: qrels[q] for q in qids if q in half},
            {q: qrels[q] for q in qids if q not in half})


def score(legs: Legs, qrels: Qrels, fuse: Fuser) -> dict[str, float]:
    runs: dict[str, list[str]] = {}
    for qid, (candidates, dense, lexical) in legs.items():
        fused = fuse(dense, lexical) if candidates else np.zeros(0)
        order = np.argsort(-fused, kind="stable")[:DEPTH]
        runs[qid] = [candidates[i] for i in order]
    # Rounded so that settings within noise tie, and the tie-break below decides.
    return {name: round(value, 4) for name, value in score_run(runs, qrels).items()}


def settings(weights: list[float], rrf_k: int) -> dict[str, Fuser]:
    table: dict[str, Fuser] = {"dense only": lambda d, lx: d, "lexical only": lambda d, lx: lx}
    for w in weights:
        table[f"convex w={w:.1f}"] = partial(convex_fusion, dense_weight=w)
    table[f"rrf k={rrf_k}"] = lambda d, lx: reciprocal_rank_fusion(d, lx, rrf_k)
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--index", type=Path, required=True, help="index dir from bench_index")
    parser.add_argument("--out", type=Path, default=Path("/tmp/tune_fusion.json"))
    parser.add_argument("--rrf-k", type=int, default=RRF_K)
    parser.add_argument("--seed", type=int, default=13, help="for the fallback split only")
    parser.add_argument("--keep-highlights", action="store_true",
                        help="leave the Searcher's highlighting on (slower, same rankings)")
    parser.add_argument("--limit", type=int, default=None, help="first N queries per split")
    args = parser.parse_args()
    weights = [round(w, 1) for w in np.arange(0.3, 0.8 + 1e-9, 0.1)]

    test = load_beir(args.dataset, "test")
    texts, test_qrels = dict(test.queries), test.qrels
    if (args.dataset / "qrels" / "train.tsv").is_file():
        train = load_beir(args.dataset, "train")
        texts.update(train.queries)
        tune_qrels, split_note = train.qrels, "qrels/train.tsv"
    else:
        tune_qrels, test_qrels = tuning_half(test_qrels, args.seed)
        split_note = (f"no qrels/train.tsv: tuned on a seeded half (seed {args.seed}) of the "
                      f"test queries, tested on the other half")
    tune_qrels = {q: r for q, r in tune_qrels.items() if q in texts}
    test_qrels = {q: r for q, r in test_qrels.items() if q in texts}
    if args.limit:
        tune_qrels = dict(sorted(tune_qrels.items(), key=lambda kv: _numeric(kv[0]))[: args.limit])
        test_qrels = dict(sorted(test_qrels.items(), key=lambda kv: _numeric(kv[0]))[: args.limit])
    print(f"tuning split: {split_note} ({len(tune_qrels)} queries); "
          f"test: {len(test_qrels)} queries", flush=True)

    searcher = Searcher(args.index, EncoderSpec(DEFAULT_MODEL, "torch", "cpu"))
    # Highlights change no score or order; they cost time.
    tune_legs = collect(searcher, texts, tune_qrels, "tune", args.keep_highlights)
    test_legs = collect(searcher, texts, test_qrels, "test", args.keep_highlights)
    searcher.close()

    fusers = settings(weights, args.rrf_k)
    tuned = {name: score(tune_legs, tune_qrels, fuse) for name, fuse in fusers.items()}
    print(f"\nTuning split ({split_note}, {len(tune_qrels)} queries), document-level fusion:")
    print_table(["setting", "nDCG@10", "R@100"],
                [[name, m["ndcg@10"], m["recall@100"]] for name, m in tuned.items()])
    convex = [n for n in fusers if n.startswith("convex")]
    best = max(convex, key=lambda n: (tuned[n]["ndcg@10"], -abs(float(n[-3:]) - DENSE_WEIGHT)))
    rrf = f"rrf k={args.rrf_k}"
    overall = max([*convex, rrf], key=lambda n: tuned[n]["ndcg@10"])
    print(f"best convex setting: {best} (nDCG@10 {tuned[best]['ndcg@10']}); "
          f"best overall: {overall}; shipped DENSE_WEIGHT = {DENSE_WEIGHT}")

    shipped = f"convex w={DENSE_WEIGHT:.1f}"
    on_test = list(dict.fromkeys([best, rrf, shipped, "dense only", "lexical only"]))
    tested = {name: score(test_legs, test_qrels, fusers[name]) for name in on_test
              if name in fusers}
    print(f"\nTest split ({len(test_qrels)} queries):")
    print_table(["setting", "nDCG@10", "R@100", "note"],
                [[name, m["ndcg@10"], m["recall@100"],
                  "best on tuning" if name == best else ("shipped" if name == shipped else "")]
                 for name, m in tested.items()])
    result = {"dataset": str(args.dataset), "index": str(args.index), "tuning_split": split_note,
              "tuning_queries": len(tune_qrels), "test_queries": len(test_qrels),
              "fusion_level": "document (best chunk per document per leg), missing = leg min",
              "depth": DEPTH, "tuning": tuned, "best_convex": best, "best_overall": overall,
              "shipped_dense_weight": DENSE_WEIGHT, "test": tested}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
