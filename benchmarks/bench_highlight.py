"""Highlight accuracy and cost per query (k = 10), for each mode.

Accuracy (when the query file has answers, as corpus/eval/highlights.jsonl does): the
share of questions whose document's first hit has a top highlight covering the answer
(`search.evaluate_highlights`), in a plain search and in one grouped by document (where a
document's hit may show another of its candidate chunks).

Cost: the same hits of a plain search highlighted three ways, interleaved query by query:
cold (the per-chunk caches cleared first, as for chunks never met), warm (met before), and
with the model but no embedding cache (every semantic fallback pays the encoder; a
lexical search has no query vector and never asks). Prints p50/p90/mean milliseconds and
how many queries asked the model; then the searcher's own `highlight` stage, plain and
grouped (a grouped hit's passage is looked for in up to 12 chunks of its document).

    python benchmarks/bench_highlight.py INDEX_DIR QUERIES.jsonl [--rounds 5]
"""

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from semsearch.search import answer_kinds, highlight
from semsearch.search.evaluate import load_query_file
from semsearch.search.evaluate_highlights import HIGHLIGHT_DEPTH, indexed_text, judge_hits
from semsearch.search.options import Mode, SearchOptions
from semsearch.search.searcher import Searcher

GROUPINGS = {"plain": None, "grouped": "document"}


def _clear_caches() -> None:
    for cached in (highlight.sentences_of, highlight._stems_by_sentence,
                   answer_kinds.answer_sentences, answer_kinds._tokens):
        cached.cache_clear()


def _summary(label: str, times: list[float]) -> str:
    ordered = sorted(times)
    return (f"{label:24s} p50 {statistics.median(ordered):7.3f}  "
            f"p90 {ordered[int(0.9 * len(ordered))]:7.3f}  mean {statistics.mean(ordered):7.3f} ms")


def _accuracy(searcher: Searcher, queries: Path) -> None:
    """Print the highlight accuracy of each mode, plain and grouped by document."""
    dataset = load_query_file(queries)
    if not dataset.answers:
        return
    texts: dict[int, str] = {}

    def document_text(doc_id: int) -> str:
        if doc_id not in texts:
            texts[doc_id] = indexed_text(searcher, doc_id)
        return texts[doc_id]

    for mode in Mode:
        shares = []
        for grouping, group_by in GROUPINGS.items():
            options = SearchOptions(k=HIGHLIGHT_DEPTH, mode=mode, group_by=group_by)
            correct = sum(judge_hits(searcher.search(dataset.queries[qid], options).results,
                                     answer, document_text).correct
                          for qid, answer in dataset.answers.items())
            shares.append(f"{grouping} {correct / len(dataset.answers):.3f}")
        print(f"highlight accuracy, {mode.value} ({len(dataset.answers)} answers): "
              + ", ".join(shares))


def _stage(searcher: Searcher, queries: list[str], mode: Mode, rounds: int) -> None:
    """Print the p50/p90 of the searcher's `highlight` stage, plain and grouped."""
    for grouping, group_by in GROUPINGS.items():
        options = SearchOptions(k=10, mode=mode, group_by=group_by)
        times = [searcher.search(query, options).timings_ms["highlight"]
                 for _ in range(rounds) for query in queries]
        print("  " + _summary(f"searcher stage, {grouping}", times))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("index_dir", type=Path)
    parser.add_argument("queries", type=Path, help="JSONL lines with a 'query'")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    searcher = Searcher(args.index_dir)
    _accuracy(searcher, args.queries)
    queries = [json.loads(line)["query"] for line in args.queries.open(encoding="utf-8")]
    for mode in Mode:
        cases = []
        for query in queries:
            hits = searcher.search(query, SearchOptions(k=10, mode=mode, highlight=False)).results
            vector = searcher.encoder.encode([query])[0] if mode != Mode.LEXICAL else None
            cases.append((query, [(h.text, h.start) for h in hits],
                          [(*h.headings, h.title) for h in hits], vector))
        times: dict[str, list[float]] = {"cold, no model": [], "warm, no model": [],
                                         "cold, model uncached": []}
        asked = 0
        for _ in range(args.rounds):
            for query, chunks, headings, vector in cases:
                for label in times:
                    if label.startswith("cold"):
                        _clear_caches()
                    calls: list[int] = []

                    def embed(texts: list[str],
                              calls: list[int] = calls) -> NDArray[np.float32]:
                        calls.append(len(texts))
                        return searcher.encoder.encode(texts)

                    model = embed if label.endswith("uncached") else None
                    started = time.perf_counter()
                    highlight.highlight_chunks(query, chunks, model, vector, headings)
                    times[label].append((time.perf_counter() - started) * 1000)
                    asked += bool(calls)
        print(f"{mode.value}: {len(cases)} queries x {args.rounds} rounds; "
              f"the model asked on {asked / args.rounds:.0f} queries a round")
        for label, measured in times.items():
            print("  " + _summary(label, measured))
        _stage(searcher, queries, mode, args.rounds)
    searcher.close()


if __name__ == "__main__":
    main()
