"""benchmarks/tune_ranking.py: its offline replay ranks as the Searcher does."""

import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

from tune_ranking import Replay, hybrid  # noqa: E402

from semsearch.search.evaluate import Dataset, beir_doc_id  # noqa: E402
from semsearch.search.options import SearchOptions  # noqa: E402
from semsearch.search.searcher import Searcher  # noqa: E402
from tests.helpers import SEARCH_DOCS  # noqa: E402

QUERIES = {"1": "how do I fix a flat bicycle tyre", "2": "zorblax enzyme",
           "3": "printing roses tomatoes garden", "4": "绿茶 水温"}


@pytest.fixture(scope="module")
def replay(search_searcher: Searcher) -> Replay:
    assert len({beir_doc_id(path) for path in SEARCH_DOCS}) == len(SEARCH_DOCS)
    dataset = Dataset(queries=QUERIES, qrels={}, corpus={})
    return Replay(search_searcher, {"test": dataset})


def test_replay_ranks_documents_as_the_searcher(search_searcher: Searcher,
                                                replay: Replay) -> None:
    """The shipped setting gives the Searcher's grouped hybrid ranking, document for
    document, English and Chinese."""
    rank = hybrid(replay)
    for qid, text in QUERIES.items():
        hits = search_searcher.search(text, SearchOptions(
            k=100, mode="hybrid", group_by="document", highlight=False)).results
        assert [replay.doc_names[d] for d in rank(qid, text)] == \
            [beir_doc_id(hit.path) for hit in hits], text
