"""Encoder backends side by side: torch vs ONNX fp32 vs ONNX int8, on the same chunk texts.

In one process: the first documents of a BEIR corpus are parsed and chunked exactly as
`semsearch index` does (200 tokens, 32 overlap) until there are --limit chunk texts. Each
backend encodes all of them, --repeats times, interleaved (the order rotates each round,
so background load hits every backend alike). Reported per backend: texts/s (median, min,
max over the rounds), process CPU seconds per round (steadier than wall time on a busy
machine), load time; and against torch: the mean and lowest cosine of the chunk vectors,
and the mean top-10 overlap of --queries test queries searched over those chunks (each
backend encoding both sides).

The matrix products are the floor, so each backend's arithmetic rate is reported too:
the FLOPs of one forward pass over the texts' real token counts (`forward_gflop`; padding
not counted) per CPU second, i.e. per busy core whatever the load, and its share of one
core's peak, measured the same way on a large float32 numpy matmul (`peak_gflops`).

Run:
  python benchmarks/bench_encoders.py --scifact /path/to/scifact --limit 1000 \\
      --out /tmp/bench_encoders.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import quote

import numpy as np
from numpy.typing import NDArray

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from semsearch.indexer.chunk import chunk_document  # noqa: E402
from semsearch.indexer.encoders import Encoder, EncoderSpec  # noqa: E402
from semsearch.indexer.parse import parse_document  # noqa: E402
from semsearch.search.evaluate import load_beir  # noqa: E402
from semsearch.settings import DEFAULT_MODEL, Settings  # noqa: E402

BACKENDS = ("torch", "onnx", "onnx-int8")


def chunk_texts(dataset: Path, limit: int, encoder: Encoder) -> list[str]:
    """The first `limit` chunk texts of the corpus, as the indexer would store them."""
    texts: list[str] = []
    for doc_id, (title, body) in load_beir(dataset).corpus.items():
        content = f"{title}\n\n{body}" if title else body
        document = parse_document(quote(doc_id, safe="") + ".txt", content.encode("utf-8"))
        texts += [chunk.text for chunk in chunk_document(document, encoder.tokenizer, 200, 32)]
        if len(texts) >= limit:
            break
    return texts[:limit]


def forward_gflop(token_counts: list[int], config: dict[str, int]) -> float:
    """GFLOP of a BERT-type encoder's forward pass over texts of `token_counts` tokens.

    Per token and layer: 2 * (4 h^2 + 2 h i) for the four attention projections and the
    two feed-forward products (h: hidden size, i: intermediate size), and 4 n h for the
    attention scores and their weighted sum over the text's n tokens. Embeddings, layer
    norms, softmax and GELU are left out (a few percent).
    """
    hidden, inner = config["hidden_size"], config["intermediate_size"]
    per_token = 2 * (4 * hidden * hidden + 2 * hidden * inner)
    flops = sum(n * per_token + 4 * n * n * hidden for n in token_counts)
    return flops * config["num_hidden_layers"] / 1e9


def peak_gflops(size: int = 2048, tries: int = 7) -> float:
    """The best GFLOP per CPU second of a float32 `size` x `size` matmul (numpy's BLAS):
    one core's peak, however many threads the BLAS uses."""
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal((size, size), dtype=np.float32) for _ in range(2))
    best = float("inf")
    for _ in range(tries):
        started = time.process_time()
        a @ b
        best = min(best, time.process_time() - started)
    return 2 * size**3 / best / 1e9


def model_config() -> dict[str, int]:
    """The bundled model's config.json (sizes of its layers)."""
    from semsearch.indexer.encoders import resolve_model_path

    config: dict[str, int] = json.loads(
        (Path(resolve_model_path(DEFAULT_MODEL)) / "config.json").read_text())
    return config


def load_queries(dataset: Path, count: int) -> list[str]:
    return list(load_beir(dataset).queries.values())[:count]


def top_k(queries: NDArray[np.float32], corpus: NDArray[np.float32], k: int) -> list[set[int]]:
    scores = queries @ corpus.T
    return [set(np.argsort(-row, kind="stable")[:k].tolist()) for row in scores]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scifact", type=Path, required=True, help="BEIR folder (SciFact)")
    parser.add_argument("--limit", type=int, default=1000, help="chunk texts to encode")
    parser.add_argument("--repeats", type=int, default=3, help="rounds per backend")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--queries", type=int, default=50, help="queries for top-10 overlap")
    parser.add_argument("--out", type=Path, default=Path("/tmp/bench_encoders.json"))
    args = parser.parse_args()
    import torch

    settings = Settings()
    load_before = round(os.getloadavg()[0], 2)
    encoders: dict[str, Encoder] = {}
    load_s: dict[str, float] = {}
    for backend in BACKENDS:
        started = time.perf_counter()
        encoders[backend] = EncoderSpec(DEFAULT_MODEL, backend, "cpu",
                                        settings.cache_dir).load()
        load_s[backend] = round(time.perf_counter() - started, 2)
        encoders[backend].encode(["warm up"] * 8)
    texts = chunk_texts(args.scifact, args.limit, encoders["torch"])
    queries = load_queries(args.scifact, args.queries)
    limit = encoders["torch"].max_tokens + 2
    token_counts = [len(ids) for ids in encoders["torch"].tokenizer(
        texts, truncation=True, max_length=limit)["input_ids"]]
    gflop = forward_gflop(token_counts, model_config())
    peak = peak_gflops()
    print(f"{sum(token_counts)} tokens, {gflop:.1f} GFLOP per pass; float32 matmul peak "
          f"{peak:.0f} GFLOP per CPU second")
    print(f"{len(texts)} chunk texts, {len(queries)} queries, batch {args.batch_size}, "
          f"{args.repeats} rounds; torch threads {torch.get_num_threads()}, "
          f"load average {load_before}")

    wall: dict[str, list[float]] = {b: [] for b in BACKENDS}
    cpu: dict[str, list[float]] = {b: [] for b in BACKENDS}
    vectors: dict[str, NDArray[np.float32]] = {}
    for round_number in range(args.repeats):
        shift = round_number % len(BACKENDS)
        for backend in BACKENDS[shift:] + BACKENDS[:shift]:
            started, cpu_started = time.perf_counter(), time.process_time()
            vectors[backend] = encoders[backend].encode(texts, args.batch_size)
            wall[backend].append(time.perf_counter() - started)
            cpu[backend].append(time.process_time() - cpu_started)
            print(f"  round {round_number + 1} {backend:<10} {wall[backend][-1]:7.1f} s")

    reference_hits = top_k(encoders["torch"].encode(queries), vectors["torch"], 10)
    results = {}
    for backend in BACKENDS:
        cosines = (vectors[backend] * vectors["torch"]).sum(axis=1)
        hits = top_k(encoders[backend].encode(queries), vectors[backend], 10)
        overlap = statistics.mean(len(a & b) / 10 for a, b in
                                  zip(hits, reference_hits, strict=True))
        rates = [len(texts) / seconds for seconds in wall[backend]]
        results[backend] = {
            "texts_per_s_median": round(statistics.median(rates), 1),
            "texts_per_s_min": round(min(rates), 1),
            "texts_per_s_max": round(max(rates), 1),
            "cpu_s_per_round_median": round(statistics.median(cpu[backend]), 2),
            "load_s": load_s[backend],
            "mean_cosine_to_torch": round(float(cosines.mean()), 6),
            "min_cosine_to_torch": round(float(cosines.min()), 6),
            "top10_overlap_with_torch": round(overlap, 4),
            "gflop_per_cpu_s": round(gflop / min(cpu[backend]), 1),
            "share_of_core_fp32_peak": round(gflop / min(cpu[backend]) / peak, 3),
        }

    header = (f"{'backend':<10}{'texts/s med':>12}{'min':>8}{'max':>8}{'cpu s':>8}"
              f"{'load s':>8}{'cos mean':>10}{'cos min':>9}{'top10':>7}{'GFLOP/CPUs':>11}"
              f"{'of peak':>8}")
    print(header)
    for backend, row in results.items():
        print(f"{backend:<10}{row['texts_per_s_median']:>12}{row['texts_per_s_min']:>8}"
              f"{row['texts_per_s_max']:>8}{row['cpu_s_per_round_median']:>8}"
              f"{row['load_s']:>8}{row['mean_cosine_to_torch']:>10.5f}"
              f"{row['min_cosine_to_torch']:>9.5f}{row['top10_overlap_with_torch']:>7.3f}"
              f"{row['gflop_per_cpu_s']:>11}{row['share_of_core_fp32_peak']:>8.1%}")
    report = {
        "texts": len(texts), "queries": len(queries), "batch_size": args.batch_size,
        "repeats": args.repeats, "torch_threads": torch.get_num_threads(),
        "tokens": sum(token_counts), "gflop_per_pass": round(gflop, 2),
        "core_fp32_peak_gflop_per_cpu_s": round(peak, 1),
        "cpu_count": os.cpu_count(), "machine": platform.machine(),
        "loadavg_1m_before": load_before, "loadavg_1m_after": round(os.getloadavg()[0], 2),
        "results": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
