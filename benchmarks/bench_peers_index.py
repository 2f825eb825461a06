"""Indexing throughput and memory: semsearch vs txtai vs the bare encoder, side by side.

Each leg runs in its own child process (so its peak RSS, `ru_maxrss`, is its own), loads
the same bundled model from disk (`semsearch.indexer.encoders.resolve_model_path`), warms it up on
the same 8 sentences, and then is timed on the same work:

  semsearch     `semsearch index DOCS --index-dir FRESH --json` (the CLI's typer app, in
                the child process) over the corpus written as one `<doc_id>.txt` per
                document: whatever the CLI does by default (encoder backend, vector index)
                is what is measured; `--backend` passes through to it;
  txtai         `txtai.Embeddings(content=True, backend="faiss")` of EXACTLY the chunk texts
                semsearch stored (read back from its SQLite), then `save()` to disk;
  txtai-hybrid  the same with `hybrid=True` (txtai also builds its BM25 index, as
                semsearch builds its FTS5 one); only with `--legs ...,txtai-hybrid`;
  floor         `SentenceTransformer.encode` of the same chunk texts, one call, same batch
                size, normalised: no parsing, chunking, storing or index building;
  encoder       semsearch's own encoder (`EncoderSpec.load` with the backend the semsearch
                leg used, e.g. ONNX) encoding the same texts in one call: semsearch's
                floor when its backend is not sentence-transformers' torch.

Model load time is timed apart and is in no leg's chunks/s. Each leg is also timed whole,
by the parent, from starting its interpreter to its exit (imports, model load, warm-up,
the work, saving; "process s"): the time a user waits for `semsearch index` against a
script that only encodes. Legs are repeated in rounds with the order rotated (round 1:
semsearch first, as it makes the chunk texts the others embed), and the table gives the
median, min and max over rounds; the ratios (semsearch over the floor, semsearch over
txtai) are taken per round, then summarised. Only the legs that use torch import it.

Run (txtai comes with the `bench` extra: pip install -e '.[bench]'):
  python benchmarks/bench_peers_index.py /path/to/scifact --limit 300 --rounds 3 \
      --work /tmp/peers-index --out /tmp/bench_peers_index.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np
from bench_common import current_rss_mb, peak_rss_mb, print_table, read_chunks, spread

from semsearch.indexer.store import DB_NAME

LEGS = ("semsearch", "txtai", "txtai-hybrid", "floor", "encoder")
DEFAULT_LEGS = "semsearch,txtai,floor,encoder"
WARMUP = ["warm-up sentence"] * 8


# --- the parent: rounds of child processes ---------------------------------------------
def leg_order(legs: list[str], round_index: int) -> list[str]:
    """`legs` rotated by the round number, so no leg always runs first or last."""
    shift = round_index % len(legs)
    return legs[shift:] + legs[:shift]


def run_leg(leg: str, round_index: int, args: argparse.Namespace) -> dict[str, Any]:
    """Run one leg in a child process and return what it measured."""
    result_path = args.work / "legs" / f"round{round_index + 1}-{leg}.json"
    log_path = result_path.with_suffix(".log")
    result_path.parent.mkdir(parents=True, exist_ok=True)
    result_path.unlink(missing_ok=True)
    command = [sys.executable, str(Path(__file__).resolve()), str(args.dataset), "--leg", leg,
               "--work", str(args.work), "--leg-out", str(result_path),
               "--batch-size", str(args.batch_size), "--device", args.device]
    if args.backend:
        command += ["--backend", args.backend]
    print(f"round {round_index + 1}: {leg} ...", end=" ", flush=True)
    started, children = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN)
    with log_path.open("w") as log:
        finished = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT)
    process_seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    process_cpu = (after.ru_utime + after.ru_stime) - (children.ru_utime + children.ru_stime)
    if finished.returncode != 0 or not result_path.is_file():
        tail = log_path.read_text(errors="replace").splitlines()[-15:]
        raise SystemExit(f"\nleg {leg} failed (exit {finished.returncode}; the legs that "
                         f"finished are in {result_path.parent}); the end of {log_path}:\n"
                         + "\n".join(tail))
    result: dict[str, Any] = json.loads(result_path.read_text())
    result.update(process_seconds=round(process_seconds, 3),
                  process_cpu_seconds=round(process_cpu, 3))
    print(f"{result['chunks']} chunks in {result['seconds']:.1f} s "
          f"({result['chunks_per_s']:.1f}/s; {process_seconds:.1f} s whole), "
          f"peak RSS {result['peak_rss_mb']:.0f} MiB", flush=True)
    return result


def write_documents(dataset: Path, docs_dir: Path, limit: int | None) -> int:
    """The first `limit` corpus documents as files in `docs_dir`; returns their count."""
    from semsearch.search.evaluate import load_beir, write_corpus_files

    data = load_beir(dataset)
    data.corpus = dict(islice(data.corpus.items(), limit))
    write_corpus_files(data, docs_dir)
    return len(data.corpus)


def save_chunks(index_dir: Path, work: Path, encoder: dict[str, str]) -> int:
    """Keep the chunks semsearch stored (ids, texts, vectors) for the other legs."""
    ids, texts, vectors = read_chunks(index_dir)
    (work / "chunks.json").write_text(json.dumps({"ids": ids, "texts": texts,
                                                  "encoder": encoder}))
    np.save(work / "chunks.npy", vectors)
    return len(texts)


def summarise(results: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """Median/min/max per leg and the per-round ratios."""
    summary: dict[str, Any] = {}
    for leg, runs in results.items():
        summary[leg] = {key: spread([float(r[key]) for r in runs])
                        for key in ("chunks_per_s", "seconds", "cpu_seconds", "load_s",
                                    "process_seconds", "process_cpu_seconds", "peak_rss_mb")}
    ratios: dict[str, Any] = {}
    pairs = [("semsearch_over_floor", "semsearch", "floor"),
             ("semsearch_over_encoder", "semsearch", "encoder"),
             ("semsearch_over_txtai", "semsearch", "txtai"),
             ("semsearch_over_txtai_hybrid", "semsearch", "txtai-hybrid")]
    for name, mine, theirs in pairs:
        if mine in results and theirs in results:
            rounds = list(zip(results[mine], results[theirs], strict=True))
            ratios[f"{name}_seconds"] = spread([a["seconds"] / b["seconds"] for a, b in rounds], 3)
            ratios[f"{name}_cpu_seconds"] = spread(
                [a["cpu_seconds"] / b["cpu_seconds"] for a, b in rounds], 3)
            ratios[f"{name}_process_seconds"] = spread(
                [a["process_seconds"] / b["process_seconds"] for a, b in rounds], 3)
            ratios[f"{name}_process_cpu_seconds"] = spread(
                [a["process_cpu_seconds"] / b["process_cpu_seconds"] for a, b in rounds], 3)
    summary["ratios"] = ratios
    return summary


def print_summary(summary: dict[str, Any], legs: list[str], chunks: int) -> None:
    def cell(stats: dict[str, float], digits: int = 1) -> str:
        return (f"{stats['median']:.{digits}f} ({stats['min']:.{digits}f}-"
                f"{stats['max']:.{digits}f})")

    print(f"\n{chunks} chunks; median (min-max) over {summary[legs[0]]['seconds']['n']} rounds")
    print_table(["leg", "chunks/s", "seconds", "CPU s", "model load s", "process s",
                 "process CPU s", "peak RSS MiB"],
                [[leg, cell(summary[leg]["chunks_per_s"]), cell(summary[leg]["seconds"]),
                  cell(summary[leg]["cpu_seconds"]), cell(summary[leg]["load_s"], 2),
                  cell(summary[leg]["process_seconds"]),
                  cell(summary[leg]["process_cpu_seconds"]),
                  cell(summary[leg]["peak_rss_mb"], 0)] for leg in legs])
    ratios = summary["ratios"]
    if ratios:
        print("\nratios of time for the same chunks, per round (<1: semsearch faster); "
              "process: whole child processes, interpreter start and model load included")
        print_table(["ratio", "wall", "CPU", "process wall", "process CPU"],
                    [[name.removesuffix("_seconds").replace("_", " "), cell(stats, 3),
                      *(cell(ratios[name.replace("_seconds", suffix)], 3) for suffix in
                        ("_cpu_seconds", "_process_seconds", "_process_cpu_seconds"))]
                     for name, stats in ratios.items()
                     if not name.endswith(("_cpu_seconds", "_process_seconds"))])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dataset", type=Path, help="BEIR dataset folder (corpus.jsonl[.gz])")
    parser.add_argument("--work", type=Path, default=Path("/tmp/peers-index"),
                        help="scratch folder: documents, indexes, per-leg logs")
    parser.add_argument("--out", type=Path, default=None,
                        help="JSON output (default WORK/bench_peers_index.json)")
    parser.add_argument("--limit", type=int, default=None, help="first N documents")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--legs", default=DEFAULT_LEGS,
                        help=f"comma-separated, of {', '.join(LEGS)}")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--backend", default=None,
                        help="semsearch's encoder backend, if its Settings has one")
    parser.add_argument("--leg", choices=LEGS, help=argparse.SUPPRESS)
    parser.add_argument("--leg-out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.leg:
        measure_leg(args)
        return

    legs = list(dict.fromkeys(x.strip() for x in args.legs.split(",") if x.strip()))
    unknown = [leg for leg in legs if leg not in LEGS]
    if unknown or "semsearch" not in legs:
        raise SystemExit(f"--legs: need semsearch and any of {', '.join(LEGS[1:])}; "
                         f"unknown: {unknown}")
    legs.remove("semsearch")
    legs.insert(0, "semsearch")  # round 1 starts with it: its chunks feed the others
    if args.backend and "backend" not in settings_fields():
        raise SystemExit("--backend: this semsearch's Settings has no `backend` field")
    args.work.mkdir(parents=True, exist_ok=True)
    out = args.out or args.work / "bench_peers_index.json"
    load_start = round(os.getloadavg()[0], 2)
    documents = write_documents(args.dataset, args.work / "docs", args.limit)
    print(f"{documents} documents in {args.work / 'docs'}; legs {', '.join(legs)}; "
          f"{args.rounds} rounds", flush=True)

    results: dict[str, list[dict[str, Any]]] = {leg: [] for leg in legs}
    chunks = 0
    for round_index in range(args.rounds):
        for leg in leg_order(legs, round_index):
            result = run_leg(leg, round_index, args)
            results[leg].append(result)
            if leg == "semsearch" and round_index == 0:
                chunks = save_chunks(args.work / "semsearch-index", args.work,
                                     result["detail"]["encoder"])
            if result["chunks"] != chunks:
                raise SystemExit(f"leg {leg} handled {result['chunks']} chunks, not {chunks}")
    summary = summarise(results)
    print_summary(summary, legs, chunks)
    report = {
        "dataset": str(args.dataset), "documents": documents, "chunks": chunks,
        "rounds": args.rounds, "legs": legs, "batch_size": args.batch_size,
        "device": args.device, "backend_option": args.backend, "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "loadavg_1m": {"start": load_start, "end": round(os.getloadavg()[0], 2)},
        "summary": summary, "runs": results,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    print(f"wrote {out}")


# --- the children: one leg each ----------------------------------------------------------
def settings_fields() -> set[str]:
    from semsearch.settings import Settings

    return set(Settings.model_fields)


def measure_leg(args: argparse.Namespace) -> None:
    """Child process: run one leg, write its measurements to --leg-out."""
    measure = {"semsearch": semsearch_leg, "txtai": txtai_leg, "floor": floor_leg,
               "txtai-hybrid": txtai_leg, "encoder": encoder_leg}[args.leg]
    result = measure(args)
    # torch's thread count only where the leg imported torch: importing it is a cost.
    torch = sys.modules.get("torch")
    result.update(leg=args.leg, peak_rss_mb=peak_rss_mb(),
                  chunks_per_s=round(result["chunks"] / result["seconds"], 2),
                  torch_threads=torch.get_num_threads() if torch else None,
                  imported=sorted({"torch", "transformers", "onnxruntime"} & set(sys.modules)))
    args.leg_out.write_text(json.dumps(result, indent=2))


def timed(work: Any) -> tuple[Any, float, float]:
    """(work(), wall seconds, process CPU seconds)."""
    started, cpu = time.perf_counter(), time.process_time()
    value = work()
    return value, time.perf_counter() - started, time.process_time() - cpu


def semsearch_leg(args: argparse.Namespace) -> dict[str, Any]:
    """Run `semsearch index DOCS` itself (its typer app, in this process) into a fresh dir.

    So every choice the CLI makes (backend, vector index, chunking) is the one measured.
    `EncoderSpec.load` is wrapped only to time the model load and warm the
    model up like the other legs; both are taken out of the sync's time.
    """

    index_dir = args.work / "semsearch-index"
    remove_index(index_dir, DB_NAME)
    command = ["index", str(args.work / "docs"), "--index-dir", str(index_dir), "--json",
               "--device", args.device, "--batch-size", str(args.batch_size)]
    if args.backend:
        command += ["--backend", args.backend]
    from semsearch.indexer.encoders import EncoderSpec

    original = EncoderSpec.load
    loads: list[dict[str, Any]] = []

    def timed_load(spec: EncoderSpec) -> Any:
        def load_and_warm() -> Any:
            loaded = original(spec)
            loaded.encode(WARMUP, args.batch_size)
            return loaded

        encoder, seconds, cpu = timed(load_and_warm)
        loads.append({"seconds": seconds, "cpu": cpu, "rss_mb": current_rss_mb(),
                      "encoder": describe_encoder(encoder)})
        return encoder

    EncoderSpec.load = timed_load  # type: ignore[method-assign]
    try:
        printed, seconds, cpu = timed(lambda: run_cli(command))
    finally:
        EncoderSpec.load = original  # type: ignore[method-assign]
    if len(loads) != 1:
        raise SystemExit(f"`semsearch index` loaded the model {len(loads)} times, not once")
    load = loads[0]
    report = json.loads(printed)
    return {"chunks": int(report["chunks_written"]),
            "seconds": round(seconds - load["seconds"], 3),
            "cpu_seconds": round(cpu - load["cpu"], 3), "load_s": round(load["seconds"], 3),
            "rss_after_load_mb": load["rss_mb"],
            "detail": {"report": report, "encoder": load["encoder"], "command": command}}


def run_cli(command: list[str]) -> str:
    """Run the `semsearch` typer app with `command`; return what it printed."""
    import contextlib
    import io

    from semsearch import cli

    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        try:
            status = cli.app(command, standalone_mode=False)
        except SystemExit as error:
            status = error.code
    if status not in (0, None):
        raise SystemExit(f"`semsearch {' '.join(command)}` failed with status {status}")
    return printed.getvalue()


def describe_encoder(encoder: Any) -> dict[str, str]:
    """What actually runs semsearch's model (a backend helper may change it)."""
    described = {"type": type(encoder).__name__, "device": str(getattr(encoder, "device", "")),
                 "model_type": type(getattr(encoder, "model", None)).__name__}
    for name in ("backend", "engine"):
        if hasattr(encoder, name):
            described[name] = str(getattr(encoder, name))
    return described


def load_chunk_texts(work: Path) -> tuple[list[int], list[str]]:
    data = json.loads((work / "chunks.json").read_text())
    return data["ids"], data["texts"]


def txtai_leg(args: argparse.Namespace) -> dict[str, Any]:
    """Index semsearch's chunk texts with txtai (content store, Faiss) and save it."""
    from txtai import Embeddings

    from semsearch.indexer.encoders import resolve_model_path
    from semsearch.settings import Settings

    ids, texts = load_chunk_texts(args.work)
    config = txtai_config(resolve_model_path(Settings().model), args.batch_size,
                          args.device, hybrid=args.leg == "txtai-hybrid")
    embeddings, load_s, _ = timed(lambda: Embeddings(**config))
    embeddings.model.model.encode(WARMUP, batch_size=args.batch_size)
    rss_after_load = current_rss_mb()
    index_dir = args.work / f"{args.leg}-index"
    remove_index(index_dir, "config.json")

    def build() -> int:
        embeddings.index((str(i), text, None) for i, text in zip(ids, texts, strict=True))
        embeddings.save(str(index_dir))
        return int(embeddings.count())

    count, seconds, cpu = timed(build)
    return {"chunks": count, "seconds": round(seconds, 3), "cpu_seconds": round(cpu, 3),
            "load_s": round(load_s, 3), "rss_after_load_mb": rss_after_load,
            "detail": {"config": {k: v for k, v in embeddings.config.items()
                                  if k not in ("path",)}}}


def txtai_config(model_path: str, batch_size: int, device: str, hybrid: bool
                 ) -> dict[str, Any]:
    """txtai set up as a user would to match semsearch: same model, SQLite, Faiss."""
    return {"path": model_path, "method": "sentence-transformers", "content": True,
            "backend": "faiss", "encodebatch": batch_size, "gpu": device != "cpu",
            "hybrid": hybrid}


def floor_leg(args: argparse.Namespace) -> dict[str, Any]:
    """The bare model's encode of the same chunk texts: the least any indexer can spend."""
    from sentence_transformers import SentenceTransformer

    from semsearch.indexer.encoders import resolve_model_path
    from semsearch.settings import Settings

    _, texts = load_chunk_texts(args.work)
    path = resolve_model_path(Settings().model)
    model, load_s, _ = timed(lambda: SentenceTransformer(path, device=args.device))
    model.encode(WARMUP, batch_size=args.batch_size)
    rss_after_load = current_rss_mb()
    vectors, seconds, cpu = timed(lambda: model.encode(
        texts, batch_size=args.batch_size, normalize_embeddings=True, convert_to_numpy=True,
        show_progress_bar=False))
    stored = np.load(args.work / "chunks.npy")
    agreement = float(np.min(np.sum(stored * np.asarray(vectors, np.float32), axis=1)))
    return {"chunks": len(texts), "seconds": round(seconds, 3), "cpu_seconds": round(cpu, 3),
            "load_s": round(load_s, 3), "rss_after_load_mb": rss_after_load,
            "detail": {"min_cosine_vs_semsearch_stored": round(agreement, 5)}}


def encoder_leg(args: argparse.Namespace) -> dict[str, Any]:
    """semsearch's encoder alone, with the semsearch leg's backend, on the same texts."""
    from semsearch.indexer.encoders import EncoderSpec
    from semsearch.settings import Settings

    _, texts = load_chunk_texts(args.work)
    used = json.loads((args.work / "chunks.json").read_text())["encoder"]
    spec = EncoderSpec(Settings().model, used.get("backend", "torch"), args.device)
    encoder, load_s, _ = timed(spec.load)
    encoder.encode(WARMUP, args.batch_size)
    rss_after_load = current_rss_mb()
    vectors, seconds, cpu = timed(lambda: encoder.encode(texts, args.batch_size))
    stored = np.load(args.work / "chunks.npy")
    agreement = float(np.min(np.sum(stored * vectors, axis=1)))
    return {"chunks": len(texts), "seconds": round(seconds, 3), "cpu_seconds": round(cpu, 3),
            "load_s": round(load_s, 3), "rss_after_load_mb": rss_after_load,
            "detail": {"encoder": describe_encoder(encoder),
                       "min_cosine_vs_semsearch_stored": round(agreement, 5)}}


def remove_index(index_dir: Path, marker: str) -> None:
    """Delete a previous run's index dir; refuse anything that does not look like one."""
    if index_dir.exists():
        if any(index_dir.iterdir()) and not (index_dir / marker).exists():
            raise SystemExit(f"{index_dir} does not look like an index; not deleting it")
        shutil.rmtree(index_dir)


if __name__ == "__main__":
    main()
