"""The Milvus store beside the embedded index, side by side in one run (issue 12).

On BEIR SciFact (or another BEIR folder), with a Milvus collection and an embedded
index of the same corpus files, built with the same model and backend:

  * quality and latency: nDCG@10, Recall@100 and p50 / p99 per query of each mode
    (dense, lexical, hybrid; k=100 grouped by document, no highlights, as `semsearch
    eval`) for the embedded index, Milvus with semsearch's sparse BM25 (the default),
    and Milvus with its own BM25 function;
  * ingest: `--ingest N` syncs the first N corpus files into a fresh collection and a
    fresh index directory, alternately, `--rounds` times each: files/s and chunks/s,
    the model's time included (it is the same for both), then the write rate of Milvus
    alone: upserts of the stored rows (vectors and all) copied to a scratch collection.

Build the two first (each indexes the corpus once, about 8 minutes for SciFact on a
2-core CPU):
  milvus-lite server --host 127.0.0.1 --port 19530 --data-dir /tmp/milvus
  semsearch eval PATH/TO/scifact --milvus http://127.0.0.1:19530 --collection scifact \
      --backend onnx --index-dir /tmp/scifact-milvus
  semsearch eval PATH/TO/scifact --backend onnx --index-dir /tmp/scifact-embedded
Run:
  python benchmarks/bench_milvus.py PATH/TO/scifact --uri http://127.0.0.1:19530 \
      --collection scifact --index /tmp/scifact-embedded/index [--ingest 300] [--n 300]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from bench_common import print_table

from semsearch.indexer.encoders import EncoderSpec
from semsearch.indexer.milvus_store import CHUNK_FIELDS, MilvusStore, MilvusTarget
from semsearch.indexer.milvus_sync import sync_to_milvus
from semsearch.indexer.sync import sync_folder
from semsearch.search import evaluate as ev
from semsearch.search.milvus_searcher import MilvusSearcher
from semsearch.search.searcher import Searcher

MODES = ("dense", "lexical", "hybrid")


def quality(searchers: dict[str, Searcher], data: ev.Dataset) -> list[list[object]]:
    """A row per (store, mode): nDCG@10, Recall@100, p50 and p99 ms."""
    rows: list[list[object]] = []
    for mode in MODES:
        for name, searcher in searchers.items():
            metrics = ev.evaluate(searcher, data, mode, to_doc_id=ev.beir_doc_id)
            rows.append([name, mode, round(metrics["ndcg@10"], 4),
                         round(metrics["recall@100"], 4), round(metrics["p50_ms"], 1),
                         round(metrics["p99_ms"], 1)])
    return rows


def ingest(data: ev.Dataset, files: int, rounds: int, target: MilvusTarget,
           encoder: EncoderSpec) -> list[list[object]]:
    """Sync the first `files` corpus files into Milvus and into an index directory,
    alternately; a row per store with the median rate."""
    work = Path(tempfile.mkdtemp(prefix="bench-milvus-"))
    try:
        sample = ev.Dataset({}, {}, {d: data.corpus[d] for d in list(data.corpus)[:files]})
        ev.write_corpus_files(sample, work / "documents")
        times: dict[str, list[tuple[float, int]]] = {"embedded": [], "milvus": []}
        for round_number in range(rounds):
            scratch = MilvusTarget(target.uri, f"{target.collection}_ingest{round_number}")
            started = time.perf_counter()
            report = sync_to_milvus(work / "documents", scratch, encoder)
            times["milvus"].append((time.perf_counter() - started, report.chunks_written))
            MilvusStore(scratch).drop()
            started = time.perf_counter()
            report = sync_folder(work / "documents", work / f"index{round_number}", encoder)
            times["embedded"].append((time.perf_counter() - started, report.chunks_written))
        rows: list[list[object]] = []
        for name, runs in times.items():
            seconds = sorted(s for s, _ in runs)[len(runs) // 2]
            chunks = runs[0][1]
            rows.append([name, files, chunks, round(seconds, 1), round(files / seconds, 1),
                         round(chunks / seconds, 1)])
        return rows
    finally:
        shutil.rmtree(work, ignore_errors=True)


def write_rate(target: MilvusTarget, rows: int) -> float:
    """Rows per second that Milvus takes in upserts of whole stored chunk rows."""
    store = MilvusStore(target)
    scratch = MilvusTarget(target.uri, f"{target.collection}_writes")
    copy = MilvusStore(scratch)
    try:
        state = store.require_committed()
        source = store.client.query(store.at(state.build).chunks, filter="pk >= 0",
                                    limit=rows, output_fields=CHUNK_FIELDS)
        copy.create(state.manifest.dimension)
        started = time.perf_counter()
        copy.insert(copy.chunks, source)
        copy.flush()
        return len(source) / (time.perf_counter() - started)
    finally:
        copy.drop()
        copy.close()
        store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--uri", required=True)
    parser.add_argument("--collection", default="scifact")
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--n", type=int, default=300, help="test queries, at most")
    parser.add_argument("--ingest", type=int, default=0, help="files synced per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--writes", type=int, default=5000, help="rows upserted")
    args = parser.parse_args()
    data = ev.load_beir(args.dataset, "test")
    kept = list(data.queries)[:args.n]
    data = ev.Dataset({q: data.queries[q] for q in kept},
                      {q: data.qrels[q] for q in kept if q in data.qrels}, data.corpus)
    target = MilvusTarget(args.uri, args.collection)
    embedded = Searcher(args.index)
    encoder = EncoderSpec.of(embedded.encoder)
    searchers: dict[str, Any] = {
        "embedded": embedded,
        "milvus sparse": MilvusSearcher(target, encoder, lexical="sparse"),
        "milvus native": MilvusSearcher(target, encoder, lexical="native")}
    print(f"{len(data.queries)} queries, {embedded.model_name} ({embedded.backend})")
    print_table(["store", "mode", "nDCG@10", "Recall@100", "p50 ms", "p99 ms"],
                quality(searchers, data))
    if args.ingest:
        print()
        print_table(["store", "files", "chunks", "seconds", "files/s", "chunks/s"],
                    ingest(data, args.ingest, args.rounds, target, encoder))
    if args.writes:
        print(f"\nMilvus upserts of stored chunk rows: {write_rate(target, args.writes):.0f} "
              "rows/s")


if __name__ == "__main__":
    main()
