"""Highlight cost per query: the hits of each query (k = 10) highlighted alone, timed.

For each mode, the same hits are highlighted three ways, interleaved query by query:
cold (the per-chunk caches cleared first, as for chunks never met), warm (met before), and
with the model but no embedding cache (every semantic fallback pays the encoder). Prints
p50/p90/mean milliseconds and how many queries asked the model.

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
from semsearch.search.options import Mode, SearchOptions
from semsearch.search.searcher import Searcher


def _clear_caches() -> None:
    for cached in (highlight.sentences_of, highlight._stems_by_sentence,
                   answer_kinds.answer_sentences, answer_kinds._tokens):
        cached.cache_clear()


def _summary(label: str, times: list[float]) -> str:
    ordered = sorted(times)
    return (f"{label:22s} p50 {statistics.median(ordered):7.3f}  "
            f"p90 {ordered[int(0.9 * len(ordered))]:7.3f}  mean {statistics.mean(ordered):7.3f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("index_dir", type=Path)
    parser.add_argument("queries", type=Path, help="JSONL lines with a 'query'")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    searcher = Searcher(args.index_dir)
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
    searcher.close()


if __name__ == "__main__":
    main()
