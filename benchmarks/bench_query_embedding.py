"""Where a single query's time goes: the ONNX encoder's stages, ORT settings, the searcher.

    python benchmarks/bench_query_embedding.py [--queries PATH/TO/scifact/queries.jsonl]
        [--index INDEX_DIR] [--limit 200] [--rounds 5]

Times, per one-query `encode([q])` call, tokenization, building the feed arrays,
`session.run`, pooling + normalisation and the whole call; then compares ORT session
settings interleaved (every query runs on every variant, in a rotated order, each round),
for single queries and for batches of 64 ~200-token texts, as per-round p50 ratios to the
session the encoder builds today; checks each variant's vectors against today's; and, with
`--index`, prints `Searcher.search`'s stage timings for hybrid queries with and without
highlights. Without `--queries` a built-in list of questions is used.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from bench_common import percentiles, print_table, spread

from semsearch.indexer.encoders.onnx_export import MODEL_FILE
from semsearch.indexer.encoders.onnx_runtime import OnnxEncoder, _pool, _usable_cpus
from semsearch.indexer.encoders.spec import EncoderSpec

BUILTIN_QUERIES = [
    "how do vaccines train the immune system", "what causes antibiotic resistance",
    "does coffee raise blood pressure", "how is insulin produced in the pancreas",
    "effects of sleep deprivation on memory", "what is the role of mitochondria",
    "can exercise reduce the risk of depression", "how do tumours recruit blood vessels",
    "is vitamin D linked to bone density", "what triggers an asthma attack",
    "how does CRISPR edit genes", "why do bacteria form biofilms",
    "how are stem cells used in therapy", "does smoking affect wound healing",
    "what regulates the circadian clock", "how do statins lower cholesterol",
    "what is the gut microbiome", "how does HIV infect T cells",
    "are obese patients at higher risk of diabetes", "how do neurons transmit signals",
    "what is the function of the blood brain barrier", "how does aspirin prevent clots",
    "what causes Alzheimer's disease", "how are proteins folded in the cell",
    "does air pollution cause lung cancer", "how do viruses mutate",
    "what is the prognosis of pancreatic cancer", "how do hormones control appetite",
    "what is an autoimmune disease", "how does chemotherapy kill cancer cells",
    "how to fix a flat bicycle tyre", "best way to bake sourdough bread",
    "how do I reset my router password", "what is a vector database",
    "how does a search engine rank pages", "difference between TCP and UDP",
    "how to configure logging in python", "what is the capital of australia",
    "how do solar panels generate electricity", "why is the sky blue",
    "how do electric cars charge", "what is inflation in economics",
    "how to write a unit test", "how does garbage collection work",
    "what is the speed of light", "how do I install a python package",
    "what are transformers in machine learning", "how does public key encryption work",
    "how to make a cup of tea", "what is photosynthesis",
]

# The variants also run on a batch and in the searcher (a 64-text batch takes seconds).
# Today's sessions spin no idle worker; "threads 2, spin" is ONNX Runtime's default, the
# encoder's before 2026-12-03. A lone query runs on one thread since 2026-12-04 ("today"),
# a batch on every core ("today" in the batch table).
BATCH_VARIANTS = ("today", "threads 1", "threads 1, no spin", "threads 2, spin")


def load_queries(path: Path | None, limit: int) -> list[str]:
    """The first `limit` query texts of a BEIR queries.jsonl, or the built-in list (cycled
    with a suffix so no two texts are the same)."""
    if path is not None:
        with path.open(encoding="utf-8") as lines:
            texts = [json.loads(line)["text"] for line in lines if line.strip()]
        return texts[:limit]
    return [BUILTIN_QUERIES[n % len(BUILTIN_QUERIES)] + ("" if n < len(BUILTIN_QUERIES)
            else f" {n // len(BUILTIN_QUERIES)}") for n in range(limit)]


def batch_texts(encoder: OnnxEncoder, queries: list[str], count: int = 64) -> list[str]:
    """`count` texts of about 200 tokens, made of the queries (an indexing batch's shape)."""
    texts = []
    for n in range(count):
        words: list[str] = []
        position = n
        while len(encoder.tokenizer(" ".join(words))["input_ids"]) < 200:
            words.extend(queries[position % len(queries)].split())
            position += 7
        texts.append(" ".join(words))
    return texts


def make_session(encoder: OnnxEncoder, threads: int, spinning: bool | None = None,
                 level: str = "ALL", sequential: bool = False) -> Any:
    """A second session of the encoder's model with these settings (None: ORT's default)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    if spinning is not None:
        options.add_session_config_entry("session.intra_op.allow_spinning",
                                         "1" if spinning else "0")
    options.graph_optimization_level = getattr(ort.GraphOptimizationLevel, f"ORT_ENABLE_{level}")
    if sequential:
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    return ort.InferenceSession(str(encoder.export_dir / MODEL_FILE), options,
                                providers=["CPUExecutionProvider"])


def variants(encoder: OnnxEncoder) -> dict[str, Any]:
    """Sessions to compare; "today" is the one the encoder runs a lone query on (one
    thread, no spinning: `SMALL_BATCH_TOKENS`)."""
    cpus = _usable_cpus()
    found = {"today": encoder._session_for(1, 1),
             "today again (A/A)": make_session(encoder, cpus),
             "threads 1": make_session(encoder, 1),
             "threads 1, no spin": make_session(encoder, 1, spinning=False),
             f"threads {cpus}, no spin": make_session(encoder, cpus, spinning=False),
             f"threads {cpus}, spin": make_session(encoder, cpus, spinning=True),
             "EXTENDED opt": make_session(encoder, cpus, level="EXTENDED"),
             "sequential": make_session(encoder, cpus, sequential=True)}
    if cpus != 2:
        found["threads 2"] = make_session(encoder, 2)
    return found


def ms_since(started: float) -> float:
    return (time.perf_counter() - started) * 1000


def stage_timings(encoder: OnnxEncoder, queries: list[str]) -> dict[str, list[float]]:
    """Each stage of a one-query encode, timed separately, as `OnnxEncoder.encode` runs it."""
    stages: dict[str, list[float]] = {name: [] for name in
                                      ("tokenize", "feed", "run", "pool+norm", "encode([q])")}
    lowercase, pooling = encoder.manifest.lowercase, encoder.manifest.pooling
    tokenizer = encoder._encoder_tokenizer
    for query in queries:
        started = time.perf_counter()
        encodings = tokenizer.encode_batch([query.lower() if lowercase else query])
        stages["tokenize"].append(ms_since(started))
        started = time.perf_counter()
        feed = encoder._feed(encodings)
        stages["feed"].append(ms_since(started))
        started = time.perf_counter()
        hidden = encoder._session_for(*feed["input_ids"].shape).run(None, feed)[0]
        stages["run"].append(ms_since(started))
        started = time.perf_counter()
        vector = _pool(hidden, feed["attention_mask"], pooling)
        vector = vector / np.maximum(np.linalg.norm(vector, axis=1, keepdims=True), 1e-12)
        stages["pool+norm"].append(ms_since(started))
        started = time.perf_counter()
        encoder.encode([query])
        stages["encode([q])"].append(ms_since(started))
    return stages


def feed_overhead(encoder: OnnxEncoder, queries: list[str]) -> dict[str, list[float]]:
    """Building three new int64 arrays per call vs filling preallocated ones."""
    encodings = [encoder._encoder_tokenizer.encode_batch([q])[0] for q in queries]
    buffers = {name: np.zeros((1, encoder.manifest.max_seq_length), np.int64)
               for name in ("input_ids", "attention_mask", "token_type_ids")}
    times: dict[str, list[float]] = {"new arrays": [], "reused arrays": []}
    for encoding in encodings:
        started = time.perf_counter()
        encoder._feed([encoding])
        times["new arrays"].append(ms_since(started))
        started = time.perf_counter()
        width = len(encoding.ids)
        buffers["input_ids"][0, :width] = encoding.ids
        buffers["attention_mask"][0, :width] = encoding.attention_mask
        buffers["token_type_ids"][0, :width] = encoding.type_ids
        {name: buffers[name][:, :width] for name in encoder.manifest.inputs}
        times["reused arrays"].append(ms_since(started))
    return times


def run_interleaved(sessions: dict[str, Any], feeds: list[dict[str, Any]], rounds: int,
                    repeats: int = 1) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """(per-round p50 ms per variant, per-round p50 ratio to "today" per variant)."""
    names = list(sessions)
    p50s: dict[str, list[float]] = {name: [] for name in names}
    ratios: dict[str, list[float]] = {name: [] for name in names}
    for session in sessions.values():  # warm-up: first runs allocate
        for feed in feeds[:3]:
            session.run(None, feed)
    for round_number in range(rounds):
        times: dict[str, list[float]] = {name: [] for name in names}
        for position, feed in enumerate(feeds):
            shift = (round_number + position) % len(names)
            for name in names[shift:] + names[:shift]:
                for _ in range(repeats):
                    started = time.perf_counter()
                    sessions[name].run(None, feed)
                    times[name].append(ms_since(started))
        for name in names:
            p50s[name].append(statistics.median(times[name]))
        for name in names:
            ratios[name].append(p50s[name][-1] / p50s["today"][-1])
    return p50s, ratios


def cosines(sessions: dict[str, Any], encoder: OnnxEncoder, queries: list[str]
            ) -> dict[str, float]:
    """Each variant's lowest cosine to today's vectors over the queries."""
    reference = encoder.encode(queries)
    worst = {}
    for name, session in sessions.items():
        with running_on(encoder, session):
            worst[name] = float(np.min(np.sum(encoder.encode(queries) * reference, axis=1)))
    return worst


@contextmanager
def running_on(encoder: OnnxEncoder, session: Any) -> Iterator[None]:
    """Every batch the encoder runs, small or not, runs on `session` meanwhile."""
    own = encoder.session, encoder._small_session
    encoder.session = encoder._small_session = session
    try:
        yield
    finally:
        encoder.session, encoder._small_session = own


def searcher_stages(index_dir: Path, encoder: OnnxEncoder, queries: list[str],
                    sessions: dict[str, Any]) -> dict[str, dict[str, list[float]]]:
    """Hybrid `Searcher.search` stage timings (and wall time), highlights on and off, with
    each of `sessions` swapped into the encoder in turn, interleaved, cache off."""
    from semsearch.search.options import SearchOptions
    from semsearch.search.searcher import Searcher

    searcher = Searcher(index_dir, EncoderSpec.of(encoder), embedding_cache_size=0)
    results: dict[str, dict[str, list[float]]] = {}
    legs = [(name, highlight) for name in sessions for highlight in (True, False)]
    for query in queries[:5]:
        searcher.search(query)
    for position, query in enumerate(queries):
        shift = position % len(legs)
        for name, highlight in legs[shift:] + legs[:shift]:
            with running_on(encoder, sessions[name]):
                started = time.perf_counter()
                response = searcher.search(query, SearchOptions(k=10, highlight=highlight))
                wall = ms_since(started)
            stages = results.setdefault(f"{name}, highlight {'on' if highlight else 'off'}", {})
            for stage, ms in response.timings_ms.items():
                stages.setdefault(stage, []).append(ms)
            stages.setdefault("wall", []).append(wall)
    return results


def report_stages(title: str, stages: dict[str, list[float]]) -> None:
    print(f"\n{title}")
    print_table(["stage", "p50 ms", "p99 ms", "mean ms"],
                [[name, percentiles(v)["p50_ms"], percentiles(v)["p99_ms"],
                  percentiles(v)["mean_ms"]] for name, v in stages.items()])


def report_ratios(title: str, p50s: dict[str, list[float]],
                  ratios: dict[str, list[float]], worst: dict[str, float] | None) -> None:
    print(f"\n{title}")
    rows = []
    for name in p50s:
        ratio = spread(ratios[name], 3)
        rows.append([name, round(statistics.median(p50s[name]), 3), ratio["median"],
                     ratio["min"], ratio["max"],
                     "" if worst is None else f"{worst[name]:.7f}"])
    print_table(["variant", "p50 ms (median of rounds)", "ratio median", "min", "max",
                 "min cosine"], rows)


def timed(label: str, work: Callable[[], Any]) -> Any:
    started = time.perf_counter()
    value = work()
    print(f"[{label}: {ms_since(started) / 1000:.1f} s]", flush=True)
    return value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=Path, help="a BEIR queries.jsonl")
    parser.add_argument("--index", type=Path, help="an index for Searcher stage timings")
    parser.add_argument("--limit", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--batch-rounds", type=int, default=3)
    args = parser.parse_args()

    encoder = EncoderSpec(backend="onnx", device="cpu").load()
    assert isinstance(encoder, OnnxEncoder), "the ONNX backend should give an OnnxEncoder"
    queries = load_queries(args.queries, args.limit)
    print(f"{len(queries)} queries; encoder threads {_usable_cpus()}", flush=True)
    for query in queries[:5]:
        encoder.encode([query])
    report_stages("One-query encode, by stage", stage_timings(encoder, queries))
    report_stages("Feed arrays per call", feed_overhead(encoder, queries))

    sessions = variants(encoder)
    worst = cosines(sessions, encoder, queries)
    feeds = [encoder._feed(encoder._encoder_tokenizer.encode_batch([q.lower()]))
             for q in queries]
    p50s, ratios = timed("single", lambda: run_interleaved(sessions, feeds, args.rounds))
    report_ratios("session.run, one query, per-round p50 and ratio to today", p50s, ratios,
                  worst)
    texts = batch_texts(encoder, queries)
    batch = encoder._feed(encoder._encoder_tokenizer.encode_batch([t.lower() for t in texts]))
    print(f"\nbatch: {len(texts)} texts, width {batch['input_ids'].shape[1]} tokens")
    # A batch runs on the encoder's session of every core, today's for batches.
    batch_sessions = {name: encoder.session if name == "today" else sessions[name]
                      for name in BATCH_VARIANTS if name in sessions}
    p50s, ratios = timed("batch", lambda: run_interleaved(batch_sessions, [batch],
                                                         args.batch_rounds))
    report_ratios("session.run, batch of 64, per-round p50 and ratio to today", p50s, ratios,
                  None)
    if args.index:
        chosen = {name: sessions[name] for name in BATCH_VARIANTS if name in sessions}
        results = timed("searcher", lambda: searcher_stages(args.index, encoder, queries,
                                                           chosen))
        for title, stages in results.items():
            report_stages(f"Searcher.search hybrid k=10, {title}", stages)


if __name__ == "__main__":
    main()
