"""What committing a first sync in generations costs: the same folder indexed from scratch
with several generation sizes, side by side, in one process with one loaded model.

Variants (each a fresh index directory, run in turn, `--rounds` times, rotating which
goes first so that the machine's load falls on all alike):

  one       a single generation (generation_files past the folder's size): the old way;
  default   SyncOptions() (500 files or 60 s, commits at most ~10% of the time);
  files=N   generation_files=N with the default commit_share (as `--generation-files N`);
  files=N!  generation_files=N with commit_share=1: every N files exactly, no wait.

Prints the median wall and process CPU time of each (CPU time is less sensitive to other
load on the machine), its generations and its ratios to `one`.

Run:
  python benchmarks/bench_generations.py corpus --work /tmp/bench-generations --small 2
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import time
from pathlib import Path

from bench_common import print_table

from semsearch.indexer.encoders import EncoderSpec
from semsearch.indexer.sync import SyncOptions, sync_folder
from semsearch.settings import DEFAULT_MODEL


def variants(small: int) -> dict[str, SyncOptions]:
    return {
        "one": SyncOptions(generation_files=10**9, generation_seconds=10**9),
        "default": SyncOptions(),
        f"files={small}": SyncOptions(generation_files=small),
        f"files={small}!": SyncOptions(generation_files=small, commit_share=1.0),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path, help="the folder to index")
    parser.add_argument("--work", type=Path, default=Path("/tmp/bench-generations"))
    parser.add_argument("--small", type=int, default=2, help="the small generation size")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--backend", default="onnx", choices=["torch", "onnx", "onnx-int8"])
    args = parser.parse_args()

    encoder = EncoderSpec(DEFAULT_MODEL, args.backend, "cpu").load()  # type: ignore[arg-type]
    encoder.encode(["warm-up sentence"] * 8)
    options = variants(args.small)
    names = list(options)
    seconds: dict[str, list[float]] = {name: [] for name in names}
    cpu_seconds: dict[str, list[float]] = {name: [] for name in names}
    generations: dict[str, int] = {}
    chunks: dict[str, int] = {}
    loads = []
    for round_number in range(args.rounds):
        shift = round_number % len(names)
        for name in names[shift:] + names[:shift]:
            index_dir = args.work / "index"
            if index_dir.exists():
                shutil.rmtree(index_dir)
            loads.append(os.getloadavg()[0])
            started, cpu = time.perf_counter(), time.process_time()
            report = sync_folder(args.folder, index_dir, EncoderSpec.of(encoder), options[name])
            seconds[name].append(time.perf_counter() - started)
            cpu_seconds[name].append(time.process_time() - cpu)
            generations[name], chunks[name] = report.generations, report.chunks_written
            print(f"round {round_number + 1} {name}: {seconds[name][-1]:.2f} s, "
                  f"{cpu_seconds[name][-1]:.2f} s CPU, {report.generations} generations",
                  flush=True)
    base = statistics.median(seconds["one"])
    base_cpu = statistics.median(cpu_seconds["one"])
    rows = [{"variant": name, "generations": generations[name], "chunks": chunks[name],
             "median_s": round(statistics.median(seconds[name]), 2),
             "min_s": round(min(seconds[name]), 2),
             "ratio": round(statistics.median(seconds[name]) / base, 3),
             "median_cpu_s": round(statistics.median(cpu_seconds[name]), 2),
             "cpu_ratio": round(statistics.median(cpu_seconds[name]) / base_cpu, 3)}
            for name in names]
    print_table(list(rows[0]), [list(row.values()) for row in rows])
    print(json.dumps({"folder": str(args.folder), "backend": args.backend,
                      "rounds": args.rounds, "cpus": os.cpu_count(),
                      "loadavg_1m": [round(min(loads), 2), round(max(loads), 2)],
                      "results": rows}))


if __name__ == "__main__":
    main()
