"""Query latency: semsearch vs txtai vs sentence-transformers' semantic_search, same index.

All systems search the same chunks with the same vectors: the chunk texts and embeddings
stored in a semsearch index (read-only), on BEIR test queries, top k, one query at a time:

  semsearch dense / lexical / hybrid   `Searcher.search(query, k, mode)`, with highlights
                                       (as the API answers) and with `highlight=False`;
  txtai dense                          `Embeddings(content=True, backend="faiss")` and its
                                       own defaults (past 5,000 rows an IVF index);
  txtai hybrid                         the same with `hybrid=True` (its BM25 + dense);
  txtai keyword                        `keyword=True` (BM25 only);
  st semantic_search                   the query embedded by the bare model, then
                                       `sentence_transformers.util.semantic_search` over
                                       the index's embedding matrix (exact, in memory).

txtai gets semsearch's stored vectors through its documented external-vectors hook
(`method="external"`, a transform that returns a chunk's stored vector and embeds
anything else, i.e. the queries, with the bare model), so no system re-encodes the
corpus and every dense ranking comes from identical vectors. Queries are interleaved:
each query runs on every system before the next, in an order rotated per query, so load
from elsewhere on the machine falls on all systems alike. semsearch's Searcher is opened
with its query-embedding cache off (its six rows share it; no other system caches), so
every row embeds every query. Reported per system: p50, p99
and mean latency, QPS (1000 / mean), top-k overlap with semsearch's ranking of the same
kind, and nDCG@10 (documents ranked by their best chunk among the top k).

Run (txtai comes with the `bench` extra; without it its systems are skipped):
  python benchmarks/bench_peers_query.py /path/to/scifact --index /tmp/scifact-bench/index \
      --n 100 --out /tmp/bench_peers_query.json
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from bench_common import percentiles, print_table, read_chunks
from numpy.typing import NDArray

from semsearch.indexer.store import DB_NAME
from semsearch.search.options import SearchOptions

# A system: query text -> chunk ids of its top k, best first.
System = Callable[[str], list[int]]
# Texts -> L2-normalised float32 rows.
Embed = Callable[[list[str]], NDArray[np.float32]]
WARMUP = 5
# Which semsearch ranking each system's top k is compared with.
REFERENCE = {"dense": "semsearch dense", "lexical": "semsearch lexical",
             "hybrid": "semsearch hybrid"}


def rotated(names: list[str], shift: int) -> list[str]:
    shift %= len(names)
    return names[shift:] + names[:shift]


def run_interleaved(systems: dict[str, System], queries: list[str], warmup: int = WARMUP,
                    on_query: Callable[[int], None] | None = None
                    ) -> tuple[dict[str, list[float]], dict[str, list[list[int]]]]:
    """Run each query on every system (order rotated per query); (latencies ms, rankings).

    The first `warmup` queries run on every system untimed before the timed pass;
    `on_query(n)` is called after the n-th timed query.
    """
    names = list(systems)
    for text in queries[:warmup]:
        for name in names:
            systems[name](text)
    latencies: dict[str, list[float]] = {name: [] for name in names}
    rankings: dict[str, list[list[int]]] = {name: [] for name in names}
    for n, text in enumerate(queries):
        for name in rotated(names, n):
            started = time.perf_counter()
            ranking = systems[name](text)
            latencies[name].append((time.perf_counter() - started) * 1000)
            rankings[name].append(ranking)
        if on_query is not None:
            on_query(n + 1)
    return latencies, rankings


def mean_overlap(rankings: list[list[int]], reference: list[list[int]], k: int) -> float:
    """Mean share of the reference's top k that a ranking's top k also holds."""
    shares = [len(set(a[:k]) & set(b[:k])) / len(b[:k])
              for a, b in zip(rankings, reference, strict=True) if b[:k]]
    return round(float(np.mean(shares)), 4) if shares else 0.0


def semantic_search_system(embed: Embed, vectors: NDArray[np.float32], ids: list[int],
                           texts: list[str], k: int) -> System:
    """`embed` the query, then `util.semantic_search` (exact cosine) over `vectors`."""
    import torch
    from sentence_transformers import util

    corpus = torch.from_numpy(np.ascontiguousarray(vectors))

    def search(query: str) -> list[int]:
        embedded = torch.from_numpy(embed([query]))
        hits = util.semantic_search(embedded, corpus, top_k=k,
                                    score_function=util.dot_score)[0]
        # A user of semantic_search keeps the texts in a list and looks the hits up.
        rows = [int(hit["corpus_id"]) for hit in hits]
        found = [(ids[row], texts[row]) for row in rows]
        return [chunk_id for chunk_id, _ in found]

    return search


def semsearch_system(searcher: Any, mode: str, k: int, highlight: bool) -> System:
    def search(query: str) -> list[int]:
        response = searcher.search(query, SearchOptions(k=k, mode=mode, highlight=highlight))
        return [hit.chunk_id for hit in response.results]

    return search


def txtai_systems(embed: Embed, vectors: NDArray[np.float32], ids: list[int],
                  texts: list[str], k: int) -> tuple[dict[str, System], dict[str, Any]]:
    """txtai dense, hybrid and keyword indexes of the chunks; (systems, build info)."""
    from txtai import Embeddings

    stored = dict(zip(texts, vectors, strict=True))

    def transform(batch: list[str]) -> NDArray[np.float32]:
        missing = [text for text in batch if text not in stored]
        embedded = dict(zip(missing, embed(missing), strict=True)) if missing else {}
        return np.stack([stored[t] if t in stored else embedded[t] for t in batch])

    dense: dict[str, Any] = {"method": "external", "transform": transform, "content": True,
                             "backend": "faiss"}
    configs: dict[str, dict[str, Any]] = {
        "txtai dense": dense, "txtai hybrid": {**dense, "hybrid": True},
        "txtai keyword": {"keyword": True, "content": True}}
    systems: dict[str, System] = {}
    info: dict[str, Any] = {}
    documents = [(str(i), text, None) for i, text in zip(ids, texts, strict=True)]
    for name, config in configs.items():
        embeddings = Embeddings(**config)
        started = time.perf_counter()
        embeddings.index(documents)
        info[name] = {"build_s": round(time.perf_counter() - started, 2),
                      "faiss": (embeddings.config.get("build") or {}).get("settings"),
                      "scoring": embeddings.config.get("scoring")}
        print(f"{name}: built in {info[name]['build_s']} s", flush=True)
        systems[name] = _txtai_search(embeddings, k)
    return systems, info


def _txtai_search(embeddings: Any, k: int) -> System:
    def search(query: str) -> list[int]:
        return [int(row["id"]) for row in embeddings.search(query, k)]

    return search


def chunk_documents(index_dir: Path) -> dict[int, str]:
    """Chunk id -> the indexed file's path, read-only."""
    connection = sqlite3.connect(f"file:{index_dir / DB_NAME}?mode=ro", uri=True)
    try:
        rows = connection.execute(
            "SELECT chunks.id, documents.path FROM chunks "
            "JOIN documents ON documents.id = chunks.doc_id").fetchall()
    finally:
        connection.close()
    return {int(chunk_id): str(path) for chunk_id, path in rows}


def kind_of(name: str) -> str:
    for kind in ("lexical", "keyword", "hybrid"):
        if kind in name:
            return "lexical" if kind == "keyword" else kind
    return "dense"


def main() -> None:
    from semsearch.search.evaluate import beir_doc_id, load_beir, score_run

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dataset", type=Path, help="BEIR dataset folder")
    parser.add_argument("--index", type=Path, default=Path("/tmp/scifact-bench/index"),
                        help="a semsearch index of the dataset's corpus (opened read-only)")
    parser.add_argument("--n", type=int, default=300, help="test queries (SciFact has 300)")
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--split", default="test")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--no-txtai", action="store_true", help="skip the txtai systems")
    parser.add_argument("--out", type=Path, default=Path("/tmp/bench_peers_query.json"))
    args = parser.parse_args()
    from sentence_transformers import SentenceTransformer

    from semsearch.indexer.encoders import resolve_model_path
    from semsearch.search.searcher import Searcher

    data = load_beir(args.dataset, args.split)
    queries = list(data.queries.items())[: args.n]
    ids, texts, vectors = read_chunks(args.index)
    paths = chunk_documents(args.index)
    print(f"{len(queries)} {args.split} queries; {len(ids)} chunks in {args.index}", flush=True)

    started = time.perf_counter()
    # Its model and backend, as `semsearch serve` opens it. Its query-embedding cache is
    # off: the semsearch rows share one Searcher and would reuse each other's embeddings.
    searcher = Searcher(args.index, embedding_cache_size=0)
    searcher_load_s = time.perf_counter() - started
    # As a server does after it starts: BM25's postings are read into memory in the
    # background; until then FTS5 scores the lexical leg (same scores, slower).
    bm25_in_memory = searcher.wait_for_bm25(600)
    bm25_ready_s = time.perf_counter() - started
    print(f"Searcher open in {searcher_load_s:.1f} s, BM25 "
          f"{'in memory' if bm25_in_memory else 'by FTS5'} after {bm25_ready_s:.1f} s",
          flush=True)
    model = SentenceTransformer(resolve_model_path(searcher.model_name),
                                device=searcher.encoder.device)

    def embed(batch: list[str]) -> NDArray[np.float32]:
        """The bare model, as a sentence-transformers user calls it."""
        return np.asarray(model.encode(batch, batch_size=args.batch_size,
                                       normalize_embeddings=True, convert_to_numpy=True,
                                       show_progress_bar=False), dtype=np.float32)
    systems: dict[str, System] = {}
    for mode in ("dense", "lexical", "hybrid"):
        systems[f"semsearch {mode}"] = semsearch_system(searcher, mode, args.k, True)
        systems[f"semsearch {mode} no-highlight"] = semsearch_system(searcher, mode, args.k,
                                                                     False)
    systems["st semantic_search"] = semantic_search_system(embed, vectors, ids, texts, args.k)
    txtai_info: dict[str, Any] = {}
    if args.no_txtai:
        txtai_info = {"skipped": "--no-txtai"}
    else:
        try:
            extra, txtai_info = txtai_systems(embed, vectors, ids, texts, args.k)
            systems.update(extra)
        except ImportError as error:
            txtai_info = {"skipped": f"txtai is not installed ({error}); pip install -e "
                                     "'.[bench]'"}
            print(txtai_info["skipped"], flush=True)

    def progress(done: int) -> None:
        if done % 25 == 0 or done == len(queries):
            print(f"  {done}/{len(queries)} queries on {len(systems)} systems", flush=True)

    latencies, rankings = run_interleaved(systems, [text for _, text in queries],
                                          on_query=progress)
    qrels = {qid: data.qrels[qid] for qid, _ in queries}
    rows, result = [], {}
    for name in systems:
        stats: dict[str, Any] = dict(percentiles(latencies[name]))
        reference = REFERENCE[kind_of(name)]
        stats["overlap_vs"] = reference
        stats["overlap_at_k"] = mean_overlap(rankings[name], rankings[reference], args.k)
        run = {qid: list(dict.fromkeys(beir_doc_id(paths[c]) for c in ranking))
               for (qid, _), ranking in zip(queries, rankings[name], strict=True)}
        stats["ndcg@10"] = round(score_run(run, qrels)["ndcg@10"], 4)
        result[name] = stats
        rows.append([name, stats["p50_ms"], stats["p99_ms"], stats["mean_ms"], stats["qps"],
                     f"{stats['overlap_at_k']:.3f} vs {reference.removeprefix('semsearch ')}",
                     stats["ndcg@10"]])
    import torch

    print(f"\n{len(queries)} queries, k={args.k}, sequential, interleaved "
          f"(torch threads {torch.get_num_threads()}, semsearch backend "
          f"{getattr(searcher.encoder, 'backend', 'torch')}):")
    print_table(["system", "p50 ms", "p99 ms", "mean ms", "QPS", f"top-{args.k} overlap",
                 "nDCG@10"], rows)
    report = {"dataset": str(args.dataset), "index": str(args.index), "split": args.split,
              "queries": len(queries), "k": args.k, "chunks": len(ids),
              "semsearch_backend": getattr(searcher.encoder, "backend", "torch"),
              "searcher_open_s": round(searcher_load_s, 2),
              "bm25": "memory" if bm25_in_memory else "fts5",
              "bm25_ready_s": round(bm25_ready_s, 2),
              "semsearch_embedding_cache": "off",
              "torch_threads": torch.get_num_threads(), "cpus": os.cpu_count(),
              "loadavg_1m": round(os.getloadavg()[0], 2), "txtai": txtai_info,
              "systems": result}
    searcher.close()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
