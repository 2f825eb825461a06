"""Ray, side by side: encoding the same chunk texts locally vs on one or two Ray nodes;
then whole syncs of the same folder, local vs through the Ray Data pipeline.

In one process: the first documents of a BEIR corpus are chunked as `semsearch index`
does until there are --limit chunk texts (bench_encoders.chunk_texts). A Ray cluster is
started on this machine with ray.cluster_utils.Cluster, on 127.0.0.1 with token
authentication on: a head node, then a second node. Legs, each encoding every text:

  local     the ONNX encoder in this process (what `semsearch index` runs)
  ray_1     `RayEncoder` with one actor (made while the cluster had one node)
  ray_2     `RayEncoder` with an actor on each of the two nodes
  ray_data  `encode_dataset`: Ray Data's map_batches over an actor pool of the same
            class; each run starts its pool and loads the model, so it pays that each time

The order of the legs rotates each round, so background load hits each alike. Reported:
texts/s per leg (median, min, max over --repeats rounds), the ratio to local, and the
lowest cosine of each leg's vectors with the local ones.

Then, with --sync-docs N (0: skipped), the first N corpus documents are written as files
and synced whole into a fresh index directory, --repeats rounds, order rotating:

  sync_local     `sync_folder` in this process (what `semsearch index` runs)
  sync_pipeline  `sync_folder` with `--ray` on the two-node cluster: parse/chunk tasks,
                 an encoder actor pool, the driver writing (indexer.ray_pipeline); each
                 run starts its pool and loads the model (a describe task, each actor)

Reported: seconds per sync (model loads included), chunks/s, the ratio to local, and the
lowest cosine between the two indexes' vectors, chunk by chunk.

Both nodes run on this machine and share its CPUs: two nodes cannot beat one here, and
on a 2-core machine each ONNX session already uses every core. The numbers measure
Ray's overhead (serialising texts and vectors, scheduling), not a speed-up; a speed-up
needs nodes with their own cores or GPUs (docs/scale-out.md).

Run:
  python benchmarks/bench_ray.py --scifact /path/to/scifact --limit 2000 --repeats 3 \
      --sync-docs 300
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

# Before Ray is imported: keep every Ray process on 127.0.0.1; token auth on, with a
# token of this run's own.
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
os.environ.setdefault("RAY_AUTH_MODE", "token")
os.environ.setdefault("RAY_AUTH_TOKEN", secrets.token_hex(32))
# a private RAY_TMPDIR unless one is given; removed at the end
OWN_TMPDIR = (None if "RAY_TMPDIR" in os.environ
              else tempfile.mkdtemp(prefix="ssray-bench-", dir="/tmp"))
if OWN_TMPDIR is not None:
    os.environ["RAY_TMPDIR"] = OWN_TMPDIR

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_common import print_table, spread  # noqa: E402
from bench_encoders import chunk_texts  # noqa: E402
from bench_peers_index import write_documents  # noqa: E402

from semsearch.indexer.encoders import EncoderSpec  # noqa: E402
from semsearch.indexer.encoders.ray_cluster import connect, import_ray  # noqa: E402
from semsearch.indexer.encoders.ray_encoder import encode_dataset, load_ray_encoder  # noqa: E402
from semsearch.indexer.sync import SyncOptions, sync_folder  # noqa: E402

Leg = Callable[[list[str]], NDArray[np.float32]]


def ray_data_leg(spec: EncoderSpec, batch_size: int, nodes: set[str]) -> Leg:
    """Encode through `encode_dataset`, rows put back in the order of the texts; the ids
    of the nodes that encoded are added to `nodes`."""
    ray = import_ray()

    def encode(texts: list[str]) -> NDArray[np.float32]:
        items = [{"row": row, "text": text} for row, text in enumerate(texts)]
        rows = encode_dataset(ray.data.from_items(items), spec, batch_size).take_all()
        rows.sort(key=lambda row: int(row["row"]))
        nodes.update(str(row["node_id"]) for row in rows)
        return np.stack([row["embedding"] for row in rows]).astype(np.float32)

    return encode


def run_rounds(legs: dict[str, Leg], texts: list[str], repeats: int
               ) -> tuple[dict[str, list[float]], dict[str, NDArray[np.float32]]]:
    """Texts/s of each leg per round (order rotating), and each leg's last vectors."""
    rates: dict[str, list[float]] = {name: [] for name in legs}
    vectors: dict[str, NDArray[np.float32]] = {}
    names = list(legs)
    for round_number in range(repeats):
        shift = round_number % len(names)
        for name in names[shift:] + names[:shift]:
            started = time.perf_counter()
            vectors[name] = legs[name](texts)
            rates[name].append(len(texts) / (time.perf_counter() - started))
    return rates, vectors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scifact", type=Path, required=True)
    parser.add_argument("--limit", type=int, default=2000, help="chunk texts to encode")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--sync-docs", type=int, default=0,
                        help="documents to sync whole, local vs the Ray pipeline (0: none)")
    parser.add_argument("--out", type=Path, help="also write the results as JSON")
    args = parser.parse_args()

    from ray.cluster_utils import Cluster

    spec = EncoderSpec(backend="onnx", device="cpu").resolved()
    local = spec.load()
    texts = chunk_texts(args.scifact, args.limit, local)
    cluster = Cluster()
    try:
        # Logical CPUs only schedule: room for ray_1's actor, ray_2's and a Ray Data pool.
        cluster.add_node(num_cpus=3, include_dashboard=False)
        connect(cluster.address)
        one_node = load_ray_encoder(spec, cluster.address)
        cluster.add_node(num_cpus=2)
        cluster.wait_for_nodes()
        two_nodes = load_ray_encoder(spec, cluster.address)
        ray_data_nodes: set[str] = set()
        legs: dict[str, Leg] = {
            "local": lambda batch: local.encode(batch, args.batch_size),
            "ray_1": lambda batch: one_node.encode(batch, args.batch_size),
            "ray_2": lambda batch: two_nodes.encode(batch, args.batch_size),
            "ray_data": ray_data_leg(spec, args.batch_size, ray_data_nodes),
        }
        for leg in legs.values():  # warm: actors loaded, ONNX sessions run once
            leg(texts[:32])
        rates, vectors = run_rounds(legs, texts, args.repeats)
        nodes_used = {"ray_1": len(one_node.rows_by_node), "ray_2": len(two_nodes.rows_by_node),
                      "ray_data": len(ray_data_nodes)}
        syncs = sync_rounds(args, cluster.address) if args.sync_docs else None
    finally:
        import_ray().shutdown()
        cluster.shutdown()
        if OWN_TMPDIR is not None:
            shutil.rmtree(OWN_TMPDIR, ignore_errors=True)
    report(args, texts, rates, vectors, nodes_used)
    if syncs is not None:
        report_syncs(args, syncs)


def sync_rounds(args: argparse.Namespace, address: str) -> dict[str, Any]:
    """Sync the first --sync-docs documents whole, local vs the Ray pipeline, --repeats
    rounds with the order rotating, in a temporary folder removed after."""
    work = Path(tempfile.mkdtemp(prefix="ssray-sync-", dir="/tmp"))
    try:
        return sync_legs(args, address, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def sync_legs(args: argparse.Namespace, address: str, work: Path) -> dict[str, Any]:
    """Seconds and chunks per leg, and the last indexes' vectors compared chunk by
    chunk."""
    folder = work / "docs"
    write_documents(args.scifact, folder, args.sync_docs)
    options = SyncOptions(batch_size=args.batch_size)
    legs = {"sync_local": None, "sync_pipeline": address}
    seconds: dict[str, list[float]] = {name: [] for name in legs}
    chunks = {}
    names = list(legs)
    for round_number in range(args.repeats):
        shift = round_number % len(names)
        for name in names[shift:] + names[:shift]:
            index_dir = work / name
            shutil.rmtree(index_dir, ignore_errors=True)
            spec = EncoderSpec(backend="onnx", device="cpu", ray=legs[name])
            started = time.perf_counter()
            chunks[name] = sync_folder(folder, index_dir, spec, options).chunks_written
            seconds[name].append(time.perf_counter() - started)
            print(f"round {round_number + 1} {name}: {seconds[name][-1]:.1f} s", flush=True)
    vectors = [index_vectors(work / name) for name in names]
    return {"documents": args.sync_docs, "seconds": seconds, "chunks": chunks,
            "min_cosine": float((vectors[0] * vectors[1]).sum(axis=1).min())}


def index_vectors(index_dir: Path) -> NDArray[np.float32]:
    """An index's chunk vectors, ordered by path and ordinal."""
    import sqlite3

    with sqlite3.connect(index_dir / "index.sqlite") as connection:
        rows = connection.execute(
            "SELECT c.embedding FROM chunks c JOIN documents d ON d.id = c.doc_id "
            "ORDER BY d.path, c.ordinal").fetchall()
    return np.stack([np.frombuffer(row[0], np.float32) for row in rows])


def report_syncs(args: argparse.Namespace, syncs: dict[str, Any]) -> None:
    """Print the whole-sync table (and add it to the JSON when asked)."""
    local = float(np.median(syncs["seconds"]["sync_local"]))
    rows = []
    for name, values in syncs["seconds"].items():
        median = float(np.median(values))
        rows.append([name, syncs["chunks"][name], round(median, 1), round(min(values), 1),
                     round(max(values), 1), round(syncs["chunks"][name] / median, 1),
                     round(local / median, 3)])
    print(f"\n{syncs['documents']} documents synced whole, {args.repeats} rounds; lowest "
          f"cosine between the two indexes' vectors {syncs['min_cosine']:.6f}")
    print_table(["leg", "chunks", "seconds (median)", "min", "max", "chunks/s",
                 "speed vs local"], rows)
    if args.out:
        results = json.loads(args.out.read_text())
        results["syncs"] = syncs
        args.out.write_text(json.dumps(results, indent=2))


def report(args: argparse.Namespace, texts: list[str], rates: dict[str, list[float]],
           vectors: dict[str, NDArray[np.float32]], nodes_used: dict[str, int]) -> None:
    """Print the table (and write JSON when asked)."""
    local_rate = float(np.median(rates["local"]))
    results = {}
    for name, values in rates.items():
        results[name] = {
            "texts_per_s": spread(values, 1),
            "ratio_to_local": round(float(np.median(values)) / local_rate, 3),
            "min_cosine_to_local": round(float(
                (vectors[name] * vectors["local"]).sum(axis=1).min()), 6),
            "nodes": nodes_used.get(name, 1)}
    print(f"{len(texts)} chunk texts, batch size {args.batch_size}, {args.repeats} rounds, "
          f"{os.cpu_count()} CPUs on this machine (both Ray nodes share them)")
    print_table(["leg", "nodes", "texts/s (median)", "min", "max", "vs local", "min cosine"],
                [[name, r["nodes"], r["texts_per_s"]["median"], r["texts_per_s"]["min"],
                  r["texts_per_s"]["max"], r["ratio_to_local"], r["min_cosine_to_local"]]
                 for name, r in results.items()])
    if args.out:
        args.out.write_text(json.dumps({"texts": len(texts), "batch_size": args.batch_size,
                                        "repeats": args.repeats, "legs": results}, indent=2))


if __name__ == "__main__":
    main()
