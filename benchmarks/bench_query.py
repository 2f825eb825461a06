"""Query latency and retrieval quality on a BEIR test split, in process and over HTTP.

Measures, on an index built by bench_index.py (bundled model, CPU):

  * latency of `Searcher.search(query, k=10, mode)` for dense, lexical and hybrid:
    p50 / p99 / mean ms and QPS (sequential, one query at a time, after a warm-up);
  * quality: nDCG@10 and Recall@100 per mode, from `search(k=100, group_by="document")`,
    a hit's doc id being the stem of its path (each document's best chunk rank);
  * the same queries sent one by one to `semsearch serve` (POST /search, k=10) with
    httpx: p50 / p99 per mode. Skipped, with a message, if `semsearch serve` is missing
    or does not come up.

Run:
  python benchmarks/bench_query.py /path/to/scifact --index /tmp/scifact-bench/index \
      [--n 300] [--out /tmp/bench_query.json] [--no-api]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

from bench_common import percentiles, print_table, running_server

from semsearch.search.evaluate import beir_doc_id, load_beir, score_run
from semsearch.search.options import SearchOptions
from semsearch.search.searcher import Searcher

MODES = ("dense", "lexical", "hybrid")
WARMUP = 5


def run_in_process(searcher: Searcher, queries: list[tuple[str, str]], k: int
                   ) -> tuple[dict[str, dict[str, float]], dict[str, dict[str, list[str]]],
                              dict[str, dict[str, float]]]:
    """(latency at k per mode, doc rankings at k=100 per mode, latency of those runs)."""
    latency: dict[str, dict[str, float]] = {}
    eval_latency: dict[str, dict[str, float]] = {}
    runs: dict[str, dict[str, list[str]]] = {}
    for mode in MODES:
        for _, text in queries[:WARMUP]:
            searcher.search(text, SearchOptions(k=k, mode=mode))
        times: list[float] = []
        stages: dict[str, list[float]] = {}
        for _, text in queries:
            started = time.perf_counter()
            response = searcher.search(text, SearchOptions(k=k, mode=mode))
            times.append((time.perf_counter() - started) * 1000)
            for stage, ms in response.timings_ms.items():
                stages.setdefault(stage, []).append(ms)
        latency[mode] = percentiles(times)
        for stage, values in stages.items():
            latency[mode][f"stage_{stage}_p50_ms"] = percentiles(values)["p50_ms"]
            latency[mode][f"stage_{stage}_mean_ms"] = percentiles(values)["mean_ms"]
        times, runs[mode] = [], {}
        for qid, text in queries:
            started = time.perf_counter()
            hits = searcher.search(text,
                    SearchOptions(k=100, mode=mode, group_by="document")).results
            times.append((time.perf_counter() - started) * 1000)
            runs[mode][qid] = [beir_doc_id(hit.path) for hit in hits]
        eval_latency[mode] = percentiles(times)
        print(f"{mode}: k={k} p50 {latency[mode]['p50_ms']} ms; "
              f"k=100 grouped p50 {eval_latency[mode]['p50_ms']} ms", flush=True)
    return latency, runs, eval_latency


def run_api(index_dir: Path, queries: list[tuple[str, str]], k: int, log_path: Path,
            startup_s: float) -> dict[str, object]:
    """Latency over HTTP per mode, or {"skipped": reason}."""
    import httpx

    try:
        with running_server(index_dir, log_path, startup_s=startup_s) as (_, base), \
                httpx.Client(base_url=base, timeout=60.0) as client:
            result: dict[str, object] = {"url": base}
            for mode in MODES:
                for _, text in queries[:WARMUP]:
                    client.post("/search", json={"query": text, "k": k, "mode": mode})
                times, server_ms, errors = [], [], 0
                for _, text in queries:
                    started = time.perf_counter()
                    response = client.post("/search", json={"query": text, "k": k, "mode": mode})
                    times.append((time.perf_counter() - started) * 1000)
                    if response.status_code != 200:
                        errors += 1
                        continue
                    total = response.json().get("timings_ms", {}).get("total")
                    if isinstance(total, int | float):
                        server_ms.append(float(total))
                stats: dict[str, object] = {**percentiles(times), "errors": errors}
                if server_ms:
                    stats["server_total_p50_ms"] = percentiles(server_ms)["p50_ms"]
                result[mode] = stats
                print(f"api {mode}: p50 {stats['p50_ms']} ms, errors {errors}", flush=True)
            return result
    except RuntimeError as error:  # the server did not start
        return {"skipped": str(error)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--index", type=Path, required=True, help="index dir from bench_index")
    parser.add_argument("--n", type=int, default=300, help="test queries to run (all: 300)")
    parser.add_argument("--k", type=int, default=10, help="k of the latency runs")
    parser.add_argument("--split", default="test")
    parser.add_argument("--out", type=Path, default=Path("/tmp/bench_query.json"))
    parser.add_argument("--no-api", action="store_true", help="skip the HTTP part")
    parser.add_argument("--startup-timeout", type=float, default=180.0)
    args = parser.parse_args()

    data = load_beir(args.dataset, args.split)
    queries = list(data.queries.items())[: args.n]
    qrels = {qid: data.qrels[qid] for qid, _ in queries}
    print(f"{len(queries)} {args.split} queries", flush=True)

    # No embedding cache: the modes run the same queries one after another, and each
    # must pay for its own query embedding (a repeated query would skip the model).
    searcher = Searcher(args.index, embedding_cache_size=0)  # the index's own backend
    latency, runs, eval_latency = run_in_process(searcher, queries, args.k)
    searcher.close()
    quality = {mode: score_run(runs[mode], qrels) for mode in MODES}

    if args.no_api:
        api: dict[str, object] = {"skipped": "--no-api"}
    else:
        api = run_api(args.index, queries, args.k, args.out.with_suffix(".server.log"),
                      args.startup_timeout)

    import torch

    print(f"\nIn process, k={args.k}, {len(queries)} queries, sequential "
          f"(torch threads {torch.get_num_threads()}):")
    print_table(["mode", "p50 ms", "p99 ms", "mean ms", "QPS", "nDCG@10", "R@100",
                 "k=100 p50 ms"],
                [[m, latency[m]["p50_ms"], latency[m]["p99_ms"], latency[m]["mean_ms"],
                  latency[m]["qps"], quality[m]["ndcg@10"], quality[m]["recall@100"],
                  eval_latency[m]["p50_ms"]] for m in MODES])
    names = ["embed", "dense", "lexical", "fuse", "highlight"]
    print("\nStage times, k=10, p50 / mean ms (from SearchResponse.timings_ms):")
    print_table(["mode", *names], [[m, *(f"{latency[m].get(f'stage_{n}_p50_ms', '')} / "
                                         f"{latency[m].get(f'stage_{n}_mean_ms', '')}"
                                         for n in names)] for m in MODES])
    print(f"\nHTTP API (POST /search, k={args.k}, sequential, httpx keep-alive):")
    if "skipped" in api:
        print(f"  skipped: {api['skipped']}")
    else:
        rows = []
        for mode in MODES:
            stats = api[mode]
            assert isinstance(stats, dict)
            rows.append([mode, stats["p50_ms"], stats["p99_ms"], stats["mean_ms"], stats["qps"],
                         stats.get("server_total_p50_ms", ""), stats["errors"]])
        print_table(["mode", "p50 ms", "p99 ms", "mean ms", "QPS", "server p50 ms", "errors"],
                    rows)
    result = {"dataset": str(args.dataset), "index": str(args.index), "split": args.split,
              "queries": len(queries), "k": args.k, "torch_threads": torch.get_num_threads(),
              "loadavg_1m": round(os.getloadavg()[0], 2),
              "in_process": latency, "quality": quality, "eval_latency_k100_grouped": eval_latency,
              "api": api}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
