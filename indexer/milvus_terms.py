"""BM25's document frequencies in a Milvus store: one row per sparse dimension and
generation, in the store's `_terms` collection, versioned like every other row."""

from collections import Counter
from typing import Any

from semsearch.indexer.milvus_schema import PLACEHOLDER
from semsearch.indexer.milvus_store import MilvusStore, batches, row_key, visible


def frequencies(store: MilvusStore, dimensions: list[int], generation: int) -> dict[int, int]:
    """The number of chunks holding each of `dimensions` at committed `generation`."""
    return {row["dimension"]: row["frequency"]
            for row in _rows(store, dimensions, generation)}


def update_frequencies(store: MilvusStore, changes: Counter[int], committed: int,
                       generation: int) -> None:
    """Write `generation`'s frequency of each dimension that `changes` moves (chunks
    added minus chunks retired) and retire the committed row it replaces."""
    dimensions = [dimension for dimension, change in changes.items() if change]
    current = {row["dimension"]: row for row in _rows(store, dimensions, committed)}
    written, retired = [], []
    for dimension in dimensions:
        old = current.get(dimension)
        frequency = (old["frequency"] if old else 0) + changes[dimension]
        if old:
            retired.append(old["pk"])
        if frequency > 0:
            written.append({"pk": row_key("term", dimension, generation),
                            "dimension": dimension, "frequency": frequency,
                            "generation": generation, "retired": 0,
                            "placeholder": PLACEHOLDER})
    store.insert(store.terms, written)
    store.mark(store.terms, retired, generation)


def _rows(store: MilvusStore, dimensions: list[int], generation: int) -> list[dict[str, Any]]:
    if generation == 0:
        return []
    rows: list[dict[str, Any]] = []
    for batch in batches(dimensions):
        rows += store.client.query(
            store.terms, filter=f"dimension in {batch} and {visible(generation)}",
            output_fields=["pk", "dimension", "frequency"], consistency_level="Strong")
    return rows
