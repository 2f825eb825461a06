"""Query latency per mode and per stage, in process and over HTTP; optionally quality.

On an index of a BEIR dataset (bundled model, CPU), for dense, lexical and hybrid:

  * in process: `Searcher.search(query, k=10, mode)` with highlights on, one query at a
    time after a warm-up and after the BM25 postings are in memory: p50 / p99 / mean ms
    of the wall time, and p50 / p99 of each stage the searcher reports in `timings_ms`
    (embed, lexical, dense, fuse, rows, highlight; `other` is the searcher's total less
    its stages), plus the garbage collector's pauses during the run;
  * the API's encoding of the same responses (FastAPI's response_model validation and
    JSON serialisation, as pydantic does it for `POST /search`), timed in process;
  * over HTTP: the same queries sent one by one to `semsearch serve` on 127.0.0.1
    (POST /search, keep-alive), dealt in turn to two clients: httpx (what
    `semsearch.client` uses) and the standard library's `http.client` (next to no work
    of its own, so its numbers are the server's and the socket's): client p50 / p99,
    the time outside the searcher (client wall less the server's `timings_ms.total`),
    and the server's CPU time per request (from /proc, both clients' requests), to set
    beside the in-process CPU time per query: on a loaded machine CPU times still
    compare where wall times do not;
  * with `--quality`: nDCG@10 and Recall@100 per mode on the test queries (k=100,
    grouped by document).

Every query text is sent once per run and mode: the dataset's queries (all qrels
splits) are dealt out, disjoint, to the three modes, so that neither the searcher's
embedding cache (on, at the server's default size, as in a server) nor the server's
answers a repeated query. Warm-up queries are others again.

A large index: `--grow-from INDEX --chunks N` first writes `--index` (if missing) with
benchmarks/grow_index.py: real SciFact text, vectors derived from the stored ones.

Run (one command per size):
  python benchmarks/bench_query.py PATH/TO/scifact --index /tmp/scifact/index
  python benchmarks/bench_query.py PATH/TO/scifact --index /tmp/scifact-100k \
      --grow-from /tmp/scifact/index --chunks 100000
Options: [--n 300] [--k 10] [--no-api] [--quality] [--out /tmp/bench_query.json]
"""

from __future__ import annotations

import argparse
import gc
import http.client
import json
import os
import platform
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench_common import percentiles, print_table, running_server
from grow_index import grow

from semsearch.search.embedding_cache import EMBEDDING_CACHE_SIZE
from semsearch.search.evaluate import beir_doc_id, load_beir, score_run
from semsearch.search.hits import SearchResponse
from semsearch.search.options import SearchOptions
from semsearch.search.searcher import Searcher

MODES = ("dense", "lexical", "hybrid")
WARMUP = 20


class GcPauses:
    """The collector's pauses while it is on: one entry per collection, in ms."""

    def __init__(self) -> None:
        self.pauses: list[tuple[int, float]] = []
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.pauses.append((info["generation"],
                                (time.perf_counter() - self._started) * 1000))

    def __enter__(self) -> GcPauses:
        gc.callbacks.append(self)
        return self

    def __exit__(self, *_: object) -> None:
        gc.callbacks.remove(self)

    def summary(self) -> dict[str, float]:
        return {"collections": len(self.pauses),
                "gen2": sum(1 for generation, _ in self.pauses if generation == 2),
                "max_ms": round(max((ms for _, ms in self.pauses), default=0.0), 2),
                "total_ms": round(sum(ms for _, ms in self.pauses), 1)}


def deal_queries(dataset: Path, n: int) -> tuple[dict[str, list[str]], list[str]]:
    """Disjoint query texts per mode (up to `n` each, test split first) and warm-ups."""
    texts: dict[str, None] = {}
    splits = sorted((p.stem for p in (dataset / "qrels").glob("*.tsv")),
                    key=lambda split: split != "test")
    for split in splits:
        texts.update(dict.fromkeys(load_beir(dataset, split).queries.values()))
    ordered = list(texts)
    dealt = {mode: ordered[number::len(MODES)][:n] for number, mode in enumerate(MODES)}
    used = {text for mine in dealt.values() for text in mine}
    warmup = [text for text in reversed(ordered) if text not in used][:WARMUP * len(MODES)]
    return dealt, warmup


def stage_stats(responses: list[SearchResponse]) -> dict[str, dict[str, float]]:
    """p50 / p99 of each stage of `timings_ms`, and `other`: total less the stages."""
    stages: dict[str, list[float]] = {}
    for response in responses:
        timings = dict(response.timings_ms)
        total = timings.pop("total")
        for stage, ms in timings.items():
            stages.setdefault(stage, []).append(ms)
        stages.setdefault("other", []).append(max(0.0, total - sum(timings.values())))
        stages.setdefault("total", []).append(total)
    return {stage: percentiles(values) for stage, values in stages.items()}


def run_in_process(searcher: Searcher, dealt: dict[str, list[str]], warmup: list[str],
                   k: int) -> tuple[dict[str, Any], dict[str, list[SearchResponse]]]:
    """Wall-time and stage statistics per mode, and the responses."""
    results: dict[str, Any] = {}
    responses: dict[str, list[SearchResponse]] = {}
    for number, mode in enumerate(MODES):
        options = SearchOptions(k=k, mode=mode)
        for text in warmup[number::len(MODES)]:
            searcher.search(text, options)
        times, found = [], []
        cpu_started = time.process_time()
        with GcPauses() as pauses:
            for text in dealt[mode]:
                started = time.perf_counter()
                found.append(searcher.search(text, options))
                times.append((time.perf_counter() - started) * 1000)
        cpu_ms = (time.process_time() - cpu_started) * 1000 / max(1, len(times))
        results[mode] = {"wall": percentiles(times), "stages": stage_stats(found),
                         "gc": pauses.summary(), "cpu_ms_per_query": round(cpu_ms, 2)}
        responses[mode] = found
        print(f"in process {mode}: p50 {results[mode]['wall']['p50_ms']} ms, p99 "
              f"{results[mode]['wall']['p99_ms']} ms", flush=True)
    return results, responses


def api_encoding(responses: dict[str, list[SearchResponse]]) -> dict[str, dict[str, float]]:
    """Time of FastAPI's response handling for `response_model=SearchResponse`: validate
    the returned dataclass, then serialise it to JSON, as pydantic does it."""
    from pydantic import TypeAdapter

    adapter = TypeAdapter(SearchResponse)
    results = {}
    for mode, found in responses.items():
        times = []
        for response in found:
            started = time.perf_counter()
            adapter.dump_json(adapter.validate_python(response))
            times.append((time.perf_counter() - started) * 1000)
        results[mode] = percentiles(times)
    return results


class StdlibClient:
    """POST /search through the standard library's `http.client`, one keep-alive
    connection: next to nothing of its own per request, so the time outside the searcher
    is the server's and the socket's, where httpx adds its own Python work."""

    def __init__(self, base: str) -> None:
        host, port = base.removeprefix("http://").split(":")
        self.connection = http.client.HTTPConnection(host, int(port), timeout=60)

    def search(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        self.connection.request("POST", "/search", json.dumps(body),
                                {"Content-Type": "application/json"})
        response = self.connection.getresponse()
        return response.status, json.loads(response.read())

    def close(self) -> None:
        self.connection.close()


class HttpxClient:
    """POST /search through httpx (keep-alive), as `semsearch.client` sends it."""

    def __init__(self, base: str) -> None:
        import httpx

        self.client = httpx.Client(base_url=base, timeout=60.0)

    def search(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        response = self.client.post("/search", json=body)
        return response.status_code, response.json()

    def close(self) -> None:
        self.client.close()


CLIENTS = {"httpx": HttpxClient, "http.client": StdlibClient}


def run_api(index_dir: Path, dealt: dict[str, list[str]], warmup: list[str], k: int,
            log_path: Path, bm25_wait_s: float) -> dict[str, Any]:
    """Latency over HTTP per client and mode, or {"skipped": reason}.

    A mode's queries are dealt to the clients in turn (query i to client i mod 2, the
    order within each pair alternating), so both meet the same server state and no
    query text is sent twice.
    """
    try:
        with running_server(index_dir, log_path) as (server, base):
            clients = {name: make(base) for name, make in CLIENTS.items()}
            # The server builds its BM25 postings in the background, as the in-process
            # searcher did: wait twice as long as that took, so FTS5 answers none.
            time.sleep(bm25_wait_s)
            results: dict[str, Any] = {"url": base, "clients": {n: {} for n in clients}}
            for number, mode in enumerate(MODES):
                for name, result in _api_mode(clients, server.pid, mode, dealt[mode],
                                              warmup[number::len(MODES)], k).items():
                    results["clients"][name][mode] = result
                    print(f"api {name} {mode}: p50 {result['wall']['p50_ms']} ms, p99 "
                          f"{result['wall']['p99_ms']} ms", flush=True)
            for client in clients.values():
                client.close()
            return results
    except RuntimeError as error:  # the server did not start
        return {"skipped": str(error)}


def _api_mode(clients: dict[str, Any], pid: int, mode: str, texts: list[str],
              warmup: list[str], k: int) -> dict[str, dict[str, Any]]:
    def body(text: str) -> dict[str, Any]:
        return {"query": text, "k": k, "mode": mode}

    names = list(clients)
    for number, text in enumerate(warmup):
        clients[names[number % len(names)]].search(body(text))
    times: dict[str, list[float]] = {n: [] for n in names}
    outside: dict[str, list[float]] = {n: [] for n in names}
    server: dict[str, list[float]] = {n: [] for n in names}
    errors = dict.fromkeys(names, 0)
    cpu_started = process_cpu_s(pid)
    for number, text in enumerate(texts):
        turn = number // len(names)
        name = names[(number + turn) % len(names)]  # the pair's order alternates
        started = time.perf_counter()
        status, answer = clients[name].search(body(text))
        elapsed = (time.perf_counter() - started) * 1000
        times[name].append(elapsed)
        if status != 200:
            errors[name] += 1
            continue
        total = float(answer["timings_ms"]["total"])
        server[name].append(total)
        outside[name].append(elapsed - total)
    cpu_ms = (process_cpu_s(pid) - cpu_started) * 1000 / max(1, len(texts))
    return {name: {"wall": percentiles(times[name]), "server_total": percentiles(server[name]),
                   "outside_searcher": percentiles(outside[name]), "errors": errors[name],
                   "server_cpu_ms_per_request": round(cpu_ms, 2)} for name in names}


def process_cpu_s(pid: int) -> float:
    """User and system CPU seconds of process `pid` so far, all its threads (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_quality(searcher: Searcher, dataset: Path) -> dict[str, dict[str, float]]:
    data = load_beir(dataset, "test")
    quality = {}
    for mode in MODES:
        options = SearchOptions(k=100, mode=mode, group_by="document", highlight=False)
        run = {qid: [beir_doc_id(hit.path) for hit in searcher.search(text, options).results]
               for qid, text in data.queries.items()}
        quality[mode] = score_run(run, data.qrels)
    return quality


def timed(work: Callable[[], Any]) -> tuple[Any, float]:
    started = time.perf_counter()
    value = work()
    return value, time.perf_counter() - started


def report(result: dict[str, Any]) -> None:
    in_process = result["in_process"]
    print(f"\nIn process, k={result['k']}, highlights on, one query at a time "
          f"({result['chunks']:,} chunks, embedding cache {result['embedding_cache']}):")
    print_table(["mode", "p50 ms", "p99 ms", "p99/p50", "mean ms", "CPU ms/query", "QPS",
                 "GC pauses", "of them full", "GC max ms"],
                [[m, r["wall"]["p50_ms"], r["wall"]["p99_ms"],
                  round(r["wall"]["p99_ms"] / r["wall"]["p50_ms"], 2), r["wall"]["mean_ms"],
                  r["cpu_ms_per_query"], r["wall"]["qps"], r["gc"]["collections"],
                  r["gc"]["gen2"], r["gc"]["max_ms"]]
                 for m, r in in_process.items()])
    names = list(dict.fromkeys(s for r in in_process.values() for s in r["stages"]))
    print("\nStages, p50 / p99 ms (SearchResponse.timings_ms):")
    print_table(["mode", *names],
                [[m, *(f"{r['stages'][n]['p50_ms']} / {r['stages'][n]['p99_ms']}"
                       if n in r["stages"] else "" for n in names)]
                 for m, r in in_process.items()])
    print("\nAPI response encoding in process (validate + JSON), p50 / p99 ms:")
    print_table(["mode", "p50 ms", "p99 ms"],
                [[m, r["p50_ms"], r["p99_ms"]] for m, r in result["api_encoding"].items()])
    api = result["api"]
    print(f"\nHTTP (POST /search, k={result['k']}, one at a time, keep-alive; a mode's "
          "queries dealt to the clients in turn):")
    if "skipped" in api:
        print(f"  skipped: {api['skipped']}")
        return
    rows = []
    for name, by_mode in api["clients"].items():
        rows += [[name, m, r["wall"]["p50_ms"], r["wall"]["p99_ms"],
                  round(r["wall"]["p99_ms"] / r["wall"]["p50_ms"], 2),
                  r["server_total"]["p50_ms"], r["outside_searcher"]["p50_ms"],
                  r["outside_searcher"]["p99_ms"], r["server_cpu_ms_per_request"],
                  r["errors"]] for m, r in by_mode.items()]
    print_table(["client", "mode", "p50 ms", "p99 ms", "p99/p50", "server total p50",
                 "outside p50", "outside p99", "server CPU ms/request", "errors"], rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dataset", type=Path, help="a BEIR folder (its queries are sent)")
    parser.add_argument("--index", type=Path, required=True, help="the index directory")
    parser.add_argument("--grow-from", type=Path, help="grow --index from this index")
    parser.add_argument("--chunks", type=int, default=100_000, help="with --grow-from")
    parser.add_argument("--n", type=int, default=300, help="queries per mode")
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--out", type=Path, default=Path("/tmp/bench_query.json"))
    parser.add_argument("--no-api", action="store_true", help="skip the HTTP part")
    parser.add_argument("--quality", action="store_true", help="nDCG@10 on the test split")
    args = parser.parse_args()

    if args.grow_from and not args.index.exists():
        print(f"growing {args.index} from {args.grow_from} ...", flush=True)
        print(json.dumps(grow(args.grow_from, args.index, args.chunks)), flush=True)
    dealt, warmup = deal_queries(args.dataset, args.n)
    searcher = Searcher(args.index)  # the index's backend; the server's cache size
    in_memory, bm25_s = timed(lambda: searcher.wait_for_bm25(600))
    chunks = searcher.reader.store().chunk_count()
    print(f"{chunks:,} chunks; BM25 in memory: {in_memory} after {bm25_s:.1f} s; "
          f"{sum(map(len, dealt.values()))} queries", flush=True)
    in_process, responses = run_in_process(searcher, dealt, warmup, args.k)
    quality = run_quality(searcher, args.dataset) if args.quality else {}
    searcher.close()
    result: dict[str, Any] = {
        "dataset": str(args.dataset), "index": str(args.index), "chunks": chunks,
        "k": args.k, "embedding_cache": EMBEDDING_CACHE_SIZE, "bm25_build_s": round(bm25_s, 1),
        "cpus": os.cpu_count(), "python": platform.python_version(),
        "loadavg_1m": round(os.getloadavg()[0], 2), "in_process": in_process,
        "api_encoding": api_encoding(responses), "quality": quality,
        "api": {"skipped": "--no-api"} if args.no_api else run_api(
            args.index, dealt, warmup, args.k, args.out.with_suffix(".server.log"),
            2 * bm25_s + 2)}
    report(result)
    if quality:
        print_table(["mode", "nDCG@10", "R@100"],
                    [[m, q["ndcg@10"], q["recall@100"]] for m, q in quality.items()])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(f"wrote {args.out} (load average {result['loadavg_1m']})")


if __name__ == "__main__":
    main()
