"""Indexing throughput on a BEIR corpus, against the bare-encoder floor.

Measures, in one process with one loaded model (the bundled all-MiniLM-L6-v2, CPU):

  (a) `indexer.sync.sync_folder` over the corpus written as `<doc_id>.txt` files, into a
      fresh index dir: wall time, chunks, chunks/s, peak RSS (getrusage ru_maxrss);
  (b) the floor: `SentenceTransformer.encode` of exactly the chunk texts the sync stored
      (read back from the index's SQLite `chunks` table), same batch size,
      normalize_embeddings=True, in one call; and the same in slices of the sync's
      encode-group size (sync sorts by length only within a group), unless --no-grouped;
  (c) a second sync with nothing changed.
Reports overhead = sync time / floor time, in wall and in process CPU time (the latter
is less sensitive to other load on the machine; `loadavg_1m` records that load). Model
load time is reported apart and is in neither (the sync gets the already-loaded encoder).

Run:
  python benchmarks/bench_index.py /path/to/scifact --work /tmp/scifact-bench \
      --out /tmp/bench_index.json
The index lands in WORK/index (reused by bench_query.py and tune_fusion.py); the corpus
files in WORK/docs. WORK/index is deleted first if it holds an index (or is empty).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import time
from itertools import islice
from pathlib import Path

import numpy as np
from bench_common import current_rss_mb, peak_rss_mb, print_table, read_chunks

from semsearch.indexer.encoders import EncoderSpec
from semsearch.indexer.store import DB_NAME
from semsearch.indexer.sync import ENCODE_GROUP, SyncOptions, sync_folder
from semsearch.search.evaluate import Dataset, load_beir, write_corpus_files
from semsearch.settings import DEFAULT_MODEL


def fresh_dir(path: Path) -> None:
    """Empty `path` if it is an index dir from an earlier run (or empty); refuse otherwise."""
    if path.exists():
        if any(path.iterdir()) and not (path / DB_NAME).exists():
            raise SystemExit(f"{path} exists and does not look like an index; not deleting it")
        shutil.rmtree(path)
    path.mkdir(parents=True)


def load_documents(dataset: Path, limit: int | None) -> Dataset:
    """The BEIR dataset with its corpus cut to the first `limit` documents (file order)."""
    data = load_beir(dataset)
    data.corpus = dict(islice(data.corpus.items(), limit))
    return data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dataset", type=Path, help="BEIR dataset folder (corpus.jsonl[.gz])")
    parser.add_argument("--work", type=Path, default=Path("/tmp/scifact-bench"))
    parser.add_argument("--out", type=Path, default=None,
                        help="JSON output (default WORK/bench_index.json)")
    parser.add_argument("--batch-size", type=int, default=SyncOptions().batch_size)
    parser.add_argument("--limit", type=int, default=None, help="first N documents (smoke test)")
    parser.add_argument("--no-grouped", action="store_true",
                        help="skip the floor encoded in sync-sized groups")
    args = parser.parse_args()
    import torch

    docs_dir, index_dir = args.work / "docs", args.work / "index"
    out = args.out or args.work / "bench_index.json"

    load_start = round(os.getloadavg()[0], 2)
    data = load_documents(args.dataset, args.limit)
    if docs_dir.exists():
        shutil.rmtree(docs_dir)
    files = write_corpus_files(data, docs_dir)
    fresh_dir(index_dir)
    print(f"{files} documents written to {docs_dir}", flush=True)

    started = time.perf_counter()
    encoder = EncoderSpec(DEFAULT_MODEL, "torch", "cpu").load()
    model_load_s = time.perf_counter() - started
    encoder.encode(["warm-up sentence"] * 8, args.batch_size)
    rss_before = current_rss_mb()

    options = SyncOptions(batch_size=args.batch_size)
    started, cpu = time.perf_counter(), time.process_time()
    report = sync_folder(docs_dir, index_dir, EncoderSpec.of(encoder), options)
    sync_s, sync_cpu = time.perf_counter() - started, time.process_time() - cpu
    peak_after_sync = peak_rss_mb()
    print(f"sync: {report.chunks_written} chunks in {sync_s:.1f} s", flush=True)

    _, texts, stored = read_chunks(index_dir)
    started, cpu = time.perf_counter(), time.process_time()
    floor_vectors = encoder.model.encode(texts, batch_size=args.batch_size,
                                         normalize_embeddings=True, convert_to_numpy=True,
                                         show_progress_bar=False)
    floor_s, floor_cpu = time.perf_counter() - started, time.process_time() - cpu
    print(f"floor: {len(texts)} chunks in {floor_s:.1f} s", flush=True)
    agreement = float(np.min(np.sum(stored * np.asarray(floor_vectors, np.float32), axis=1)))

    grouped_s: float | None = None
    if not args.no_grouped:
        started = time.perf_counter()
        for i in range(0, len(texts), ENCODE_GROUP):
            encoder.model.encode(texts[i:i + ENCODE_GROUP], batch_size=args.batch_size,
                                 normalize_embeddings=True, convert_to_numpy=True,
                                 show_progress_bar=False)
        grouped_s = time.perf_counter() - started
        print(f"floor in groups of {ENCODE_GROUP}: {grouped_s:.1f} s", flush=True)

    started = time.perf_counter()
    second = sync_folder(docs_dir, index_dir, EncoderSpec.of(encoder), options)
    second_s = time.perf_counter() - started

    chunks = report.chunks_written
    chars = sum(len(t) for t in texts)
    result: dict[str, object] = {
        "dataset": str(args.dataset), "documents": files, "chunks": chunks,
        "chunk_chars_total": chars, "batch_size": args.batch_size,
        "encode_group": ENCODE_GROUP, "model": DEFAULT_MODEL, "device": "cpu",
        "torch_threads": torch.get_num_threads(), "cpus": os.cpu_count(),
        "python": platform.python_version(), "torch": torch.__version__,
        "model_load_s": round(model_load_s, 2),
        "sync": {"seconds": round(sync_s, 2), "chunks_per_s": round(chunks / sync_s, 1),
                 "docs_per_s": round(files / sync_s, 1),
                 "cpu_seconds": round(sync_cpu, 2), "report": report.to_dict()},
        "floor": {"seconds": round(floor_s, 2), "chunks_per_s": round(len(texts) / floor_s, 1),
                  "cpu_seconds": round(floor_cpu, 2),
                  "min_cosine_vs_stored": round(agreement, 5)},
        "floor_grouped": None if grouped_s is None else {
            "seconds": round(grouped_s, 2), "chunks_per_s": round(len(texts) / grouped_s, 1)},
        "overhead_ratio": round(sync_s / floor_s, 3),
        "overhead_ratio_cpu_time": round(sync_cpu / floor_cpu, 3),
        "overhead_ratio_vs_grouped": None if grouped_s is None else round(sync_s / grouped_s, 3),
        "second_sync": {"seconds": round(second_s, 3), "report": second.to_dict()},
        "rss_mb": {"after_model_load": rss_before, "peak_after_sync": peak_after_sync,
                   "peak_end": peak_rss_mb()},
        "loadavg_1m": {"start": load_start, "end": round(os.getloadavg()[0], 2)},
        "index_dir": str(index_dir),
    }
    print()
    rows: list[list[object]] = [
        ["model load", f"{model_load_s:.2f}", "", ""],
        ["sync (fresh index)", f"{sync_s:.2f}", chunks, f"{chunks / sync_s:.1f}"],
        ["floor: encode, one call", f"{floor_s:.2f}", len(texts), f"{len(texts) / floor_s:.1f}"],
    ]
    if grouped_s is not None:
        rows.append([f"floor: encode, groups of {ENCODE_GROUP}", f"{grouped_s:.2f}", len(texts),
                     f"{len(texts) / grouped_s:.1f}"])
    rows.append(["second sync (no change)", f"{second_s:.3f}", second.chunks_written, ""])
    rows[1].append(f"{sync_cpu:.1f}")
    rows[2].append(f"{floor_cpu:.1f}")
    print_table(["step", "seconds", "chunks", "chunks/s", "CPU s"],
                [row + [""] * (5 - len(row)) for row in rows])
    print(f"\noverhead sync/floor: {sync_s / floor_s:.3f}x wall, "
          f"{sync_cpu / floor_cpu:.3f}x process CPU time"
          + ("" if grouped_s is None else f" (vs grouped floor {sync_s / grouped_s:.3f}x)"))
    print(f"peak RSS after sync {peak_after_sync} MiB (after model load {rss_before} MiB); "
          f"torch threads {torch.get_num_threads()}; floor vs stored min cosine {agreement:.5f}")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
