"""The benchmark scripts' pure helpers, on the search tests' tiny index (no txtai, no locust)."""

import os
import sys
import time
from pathlib import Path

import numpy as np
import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

from bench_common import percentiles, read_chunks, spread  # noqa: E402
from bench_http import Variant, loop_thread_cpu_s  # noqa: E402
from bench_peers_index import leg_order, summarise  # noqa: E402
from bench_peers_query import (  # noqa: E402
    chunk_documents,
    kind_of,
    mean_overlap,
    run_interleaved,
    semantic_search_system,
    semsearch_system,
)

from tests.helpers import SEARCH_DOCS  # noqa: E402

QUERIES = ["how do I fix a flat bicycle tyre", "zorblax enzyme", "baking sourdough bread"]


def test_percentiles_use_nearest_rank() -> None:
    stats = percentiles([float(v) for v in range(1, 101)])
    assert (stats["p50_ms"], stats["p99_ms"], stats["max_ms"]) == (50.0, 99.0, 100.0)
    assert stats["qps"] == round(1000 / 50.5, 2)
    assert percentiles([]) == {"n": 0}


def test_spread_gives_median_min_max() -> None:
    assert spread([3.0, 1.0, 2.0]) == {"n": 3, "median": 2.0, "min": 1.0, "max": 3.0}


def test_http_variants_name_parser_loop_and_source() -> None:
    before = Variant.parse("before=h11,asyncio,/tmp/old/pkg")
    after = Variant.parse("after=httptools,uvloop")
    assert (before.name, before.http, before.loop, before.source) == \
        ("before", "h11", "asyncio", "/tmp/old/pkg")
    assert (after.name, after.http, after.loop, after.source) == \
        ("after", "httptools", "uvloop", None)


def test_loop_thread_cpu_grows_with_the_main_threads_work() -> None:
    started = loop_thread_cpu_s(os.getpid())
    deadline = time.process_time() + 0.05
    while time.process_time() < deadline:  # this (main) thread's own work
        pass
    assert loop_thread_cpu_s(os.getpid()) > started


def test_leg_order_rotates_so_every_leg_comes_first_once() -> None:
    legs = ["semsearch", "txtai", "floor"]
    firsts = [leg_order(legs, r)[0] for r in range(3)]
    assert firsts == legs
    assert sorted(leg_order(legs, 4)) == sorted(legs)


def test_summarise_takes_ratios_per_round() -> None:
    def run(seconds: float, process_seconds: float = 40.0) -> dict[str, float]:
        return {"chunks_per_s": 100 / seconds, "seconds": seconds, "cpu_seconds": seconds,
                "load_s": 1.0, "peak_rss_mb": 500.0, "process_seconds": process_seconds,
                "process_cpu_seconds": process_seconds}

    summary = summarise({"semsearch": [run(12.0, 20.0), run(30.0, 30.0)],
                         "floor": [run(10.0), run(20.0)]})
    ratio = summary["ratios"]["semsearch_over_floor_seconds"]
    assert (ratio["min"], ratio["max"], ratio["median"]) == (1.2, 1.5, 1.35)
    whole = summary["ratios"]["semsearch_over_floor_process_seconds"]
    assert (whole["min"], whole["max"], whole["median"]) == (0.5, 0.75, 0.625)
    assert "semsearch_over_txtai_seconds" not in summary["ratios"]


def test_read_chunks_gives_unit_vectors_and_paths_of_every_chunk(search_index) -> None:
    _, index_dir = search_index
    ids, texts, vectors = read_chunks(index_dir)
    assert ids == sorted(ids) and len(ids) == len(texts) == len(vectors) > len(SEARCH_DOCS)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    paths = chunk_documents(index_dir)
    assert set(paths) == set(ids)
    assert set(paths.values()) <= set(SEARCH_DOCS)


def test_semantic_search_over_stored_vectors_ranks_like_semsearch_dense(
        search_index, search_searcher) -> None:
    _, index_dir = search_index
    ids, texts, vectors = read_chunks(index_dir)
    systems = {
        "semsearch dense": semsearch_system(search_searcher, "dense", 3, highlight=True),
        "semsearch dense no-highlight": semsearch_system(search_searcher, "dense", 3, False),
        "st semantic_search": semantic_search_system(search_searcher.embed, vectors, ids,
                                                     texts, 3),
    }
    latencies, rankings = run_interleaved(systems, QUERIES, warmup=1)
    assert all(len(latencies[name]) == len(QUERIES) for name in systems)
    reference = rankings["semsearch dense"]
    assert all(len(ranking) == 3 for ranking in reference)
    # Same vectors, exact search on both sides: the same top 3 for every query.
    assert mean_overlap(rankings["st semantic_search"], reference, 3) == 1.0
    assert rankings["semsearch dense no-highlight"] == reference
    paths = chunk_documents(index_dir)
    assert paths[reference[0][0]] == "cycling/flat_tyre.md"


def test_mean_overlap_and_kind_of() -> None:
    assert mean_overlap([[1, 2, 3], [4, 5, 6]], [[3, 2, 9], [7, 8, 9]], 3) == pytest.approx(
        (2 / 3 + 0) / 2, abs=1e-4)
    assert kind_of("txtai keyword") == "lexical"
    assert kind_of("semsearch hybrid no-highlight") == "hybrid"
    assert kind_of("st semantic_search") == "dense"
