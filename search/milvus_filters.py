"""`Filters` as a Milvus boolean expression over the chunk rows, with the same meaning
as the embedded store's SQL (`indexer.store._filter_sql`)."""

import fnmatch
import json
from typing import Any

from semsearch.indexer.milvus_store import MilvusStore, visible
from semsearch.search.options import Filters


def filter_expression(filters: Filters, generation: int, store: MilvusStore) -> str:
    """The rows of generation `generation` that `filters` keep.

    A path glob with a character class (`[...]`), which LIKE cannot say, is matched as
    SQLite's GLOB would over the paths that a looser LIKE finds in the documents.
    """
    parts = [visible(generation)]
    if filters.path_prefix:
        parts.append(f"path like {json.dumps(_like_literal(filters.path_prefix) + '%')}")
    if filters.path_glob:
        parts.append(_glob_expression(filters.path_glob, generation, store))
    if filters.file_types:
        types = sorted({t.lower().lstrip(".") for t in filters.file_types})
        parts.append(f"file_type in {json.dumps(types)}")
    if filters.modified_after is not None:
        parts.append(f"mtime >= {float(filters.modified_after)!r}")
    if filters.modified_before is not None:
        parts.append(f"mtime <= {float(filters.modified_before)!r}")
    return " and ".join(parts)


def _like_literal(text: str) -> str:
    """`text` matched literally by LIKE: its `%` and `_` escaped."""
    return text.replace("%", "\\%").replace("_", "\\_")


def _glob_like(glob: str) -> tuple[str, bool]:
    """A LIKE pattern of a GLOB, and whether it is exact (no character class)."""
    pattern, exact, index = [], True, 0
    while index < len(glob):
        char = glob[index]
        if char == "*":
            pattern.append("%")
        elif char == "?":
            pattern.append("_")
        elif char == "[" and "]" in glob[index + 2:]:
            pattern.append("_")
            index = glob.index("]", index + 2)
            exact = False
        else:
            pattern.append(_like_literal(char))
        index += 1
    return "".join(pattern), exact


def _glob_expression(glob: str, generation: int, store: MilvusStore) -> str:
    pattern, exact = _glob_like(glob)
    like = f"path like {json.dumps(pattern)}"
    if exact:
        return like
    rows: list[dict[str, Any]] = store.query(
        store.documents, f"{like} and status == \"indexed\" and {visible(generation)}",
        ["doc_id", "path"])
    # fnmatchcase is GLOB but for the negated class: GLOB's [^...] is its [!...].
    pattern = glob.replace("[^", "[!")
    kept = [row["doc_id"] for row in rows if fnmatch.fnmatchcase(row["path"], pattern)]
    return f"doc_id in {kept}"
