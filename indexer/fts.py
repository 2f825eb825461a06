"""FTS5: the chunks' full-text table beside the store, BM25 over it, its postings, and
the query tokenizer that cuts query words exactly as the table cut the documents."""

import json
import sqlite3
import threading
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from numpy.typing import NDArray

# How FTS5 cuts the chunks' text into terms; search tokenizes queries the same way.
FTS_TOKENIZER = "porter unicode61 remove_diacritics 2"
FTS_COLUMNS = ("title", "body")
FTS_SCHEMA = f"""
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5 (
    title, body, tokenize = '{FTS_TOKENIZER}'
);
"""


class FtsTable:
    """An FTS5 table of an open index file: `chunks_fts` (one row per chunk, rowid =
    chunk id) unless `table` names another of the same columns and tokenizer."""

    def __init__(self, connection: sqlite3.Connection, table: str = "chunks_fts") -> None:
        self.connection = connection
        self.table = table

    def delete(self, rowids: list[int]) -> None:
        """Drop the rows of `rowids` (inside the caller's transaction)."""
        self.connection.executemany(
            f"DELETE FROM {self.table} WHERE rowid = ?", [(i,) for i in rowids])

    def insert_staged(self, doc_id: int, content_hash: str) -> None:
        """Index the staged lexical text of `content_hash`, now the chunks of `doc_id`."""
        self.connection.execute(
            "INSERT INTO chunks_fts (rowid, title, body) SELECT c.id, s.lexical_title, "
            "s.lexical_body FROM chunks c JOIN staged_chunks s ON s.ordinal = c.ordinal "
            "AND s.content_hash = ? WHERE c.doc_id = ?",
            (content_hash, doc_id),
        )

    def search(self, expression: str, limit: int, weights: tuple[float, float],
               condition: tuple[str, list[object]] | None = None) -> list[tuple[int, float]]:
        """Top `limit` (chunk id, BM25) pairs for an FTS5 `expression`; higher is better.

        `condition` is a SQL condition on the documents table (aliased `d`) with its
        parameters, from the store's filter; None for every indexed document.
        """
        score = f"-bm25(chunks_fts, {weights[0]}, {weights[1]})"
        if condition is None:
            # Every FTS row is a chunk of an indexed document (they are written and
            # deleted together), so the joins would only cost two lookups per match.
            rows = self.connection.execute(
                f"SELECT rowid, {score} AS score FROM chunks_fts WHERE chunks_fts MATCH ? "
                "ORDER BY score DESC LIMIT ?", [expression, limit]).fetchall()
        else:
            where, parameters = condition
            rows = self.connection.execute(
                f"SELECT f.rowid, {score} AS score FROM chunks_fts f JOIN chunks c "
                f"ON c.id = f.rowid JOIN documents d ON d.id = c.doc_id "
                f"WHERE chunks_fts MATCH ? AND {where} ORDER BY score DESC LIMIT ?",
                [expression, *parameters, limit],
            ).fetchall()
        return [(int(row[0]), float(row[1])) for row in rows]

    def scores(self, expression: str, chunk_ids: list[int],
                    weights: tuple[float, float]) -> dict[int, float]:
        """BM25 of the chunks of `chunk_ids` that match `expression` (the others match no
        query word); the same scores `search` gives them."""
        # `+rowid` keeps SQLite from handing the IN list to FTS5 as rowid lookups: that
        # reruns the match, and bm25's corpus statistics, once per id (~30x slower).
        table = self.table
        rows = self.connection.execute(
            f"SELECT rowid, -bm25({table}, {weights[0]}, {weights[1]}) FROM {table} "
            f"WHERE {table} MATCH ? AND +rowid IN (SELECT value FROM json_each(?))",
            [expression, json.dumps(chunk_ids)]).fetchall()
        return {int(row[0]): float(row[1]) for row in rows}

    def row_lengths(self) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """(rowids ascending, tokens in each row over all columns): the row count and the
        lengths FTS5's bm25() reads, from its own `docsize` table."""
        rows = self.connection.execute(
            f"SELECT id, sz FROM {self.table}_docsize ORDER BY id").fetchall()
        rowids = np.fromiter((row[0] for row in rows), dtype=np.int64, count=len(rows))
        lengths = np.fromiter((sum(_varints(row[1])) for row in rows), dtype=np.int64,
                              count=len(rows))
        return rowids, lengths

    def vocabulary_size(self) -> tuple[int, int]:
        """(distinct terms, distinct (term, row) pairs) of the index."""
        self._vocabulary("row")
        terms, pairs = self.connection.execute(
            f"SELECT count(*), coalesce(sum(doc), 0) FROM temp.{self.table}_row").fetchone()
        return int(terms), int(pairs)

    def postings(self, terms_per_batch: int = 512) -> Iterator["FtsPostings"]:
        """Every term of the FTS index with where it occurs, in term order, in batches
        of up to `terms_per_batch` terms (a batch holds each of its terms whole).

        Call it inside a read transaction, so that the postings match one generation.
        """
        self._vocabulary("instance")
        # fts5vocab hands rows over in term order, so the grouping sorts nothing; one
        # string per term is far cheaper to read than a Python row per occurrence.
        cursor = self.connection.execute(
            f"SELECT term, group_concat(doc * {len(FTS_COLUMNS)} + col, ' ') "
            f"FROM temp.{self.table}_instance GROUP BY term")
        while rows := cursor.fetchmany(terms_per_batch):
            terms = [row[0] for row in rows]
            counts = np.array([row[1].count(" ") + 1 for row in rows], dtype=np.int64)
            # Parsed in C: a Python int per occurrence would take ~30x the memory.
            codes = np.fromstring(" ".join(row[1] for row in rows), dtype=np.int64, sep=" ")
            del rows
            columns = (codes % len(FTS_COLUMNS)).astype(np.int8)
            codes //= len(FTS_COLUMNS)
            yield FtsPostings(terms, counts, codes, columns)

    def _vocabulary(self, kind: str) -> None:
        self.connection.execute(
            f"CREATE VIRTUAL TABLE IF NOT EXISTS temp.{self.table}_{kind} "
            f"USING fts5vocab(main, {self.table}, '{kind}')")


def _varints(blob: bytes) -> list[int]:
    """The integers of an FTS5 `docsize` record (SQLite varints, big-endian, 7 bits a
    byte, the high bit set on every byte but a number's last)."""
    values, value = [], 0
    for byte in blob:
        value = (value << 7) | (byte & 0x7F)
        if byte < 0x80:
            values.append(value)
            value = 0
    return values


@dataclass(frozen=True)
class FtsPostings:
    """Each occurrence of each term of a batch of the FTS index's terms, in term order.

    The occurrences of `terms[i]` are the next `counts[i]` entries of `rowids` (the chunk
    holding it, ascending) and `columns` (index into `FTS_COLUMNS`).
    """

    terms: list[str]
    counts: NDArray[np.int64]
    rowids: NDArray[np.int64]
    columns: NDArray[np.int8]


_tokenizer_connections = threading.local()


def term_counts(texts: list[tuple[str, str]]) -> list[Counter[str]]:
    """The index terms of each (title, body) pair with their counts in both columns, cut
    exactly as `chunks_fts` cuts them (a Milvus store's BM25 vectors, `milvus_lexical`)."""
    connection = sqlite3.connect(":memory:")
    try:
        connection.execute(
            f"CREATE VIRTUAL TABLE rows USING fts5 (title, body, tokenize = '{FTS_TOKENIZER}')")
        connection.execute("CREATE VIRTUAL TABLE terms USING fts5vocab(rows, 'instance')")
        connection.executemany("INSERT INTO rows (rowid, title, body) VALUES (?, ?, ?)",
                               [(i, title, body) for i, (title, body) in enumerate(texts)])
        counts: list[Counter[str]] = [Counter() for _ in texts]
        for doc, term in connection.execute("SELECT doc, term FROM terms"):
            counts[doc][term] += 1
        return counts
    finally:
        connection.close()


@lru_cache(maxsize=4096)
def fts_tokens(terms: tuple[str, ...]) -> tuple[tuple[str, ...], ...]:
    """The index terms of each query term, cut by an in-memory FTS5 table of the index's
    tokenizer: whatever it does to a word (Porter stems, case, diacritics) is what the
    index did to the documents. One SQLite connection per thread."""
    connection = _tokenizer_connection()
    with connection:
        connection.execute("DELETE FROM query")
        connection.executemany("INSERT INTO query (rowid, body) VALUES (?, ?)",
                               list(enumerate(terms)))
        rows = connection.execute("SELECT doc, offset, term FROM query_instances").fetchall()
    found: dict[int, list[tuple[int, str]]] = defaultdict(list)
    for doc, offset, term in rows:
        found[doc].append((offset, term))
    return tuple(tuple(term for _, term in sorted(found[i])) for i in range(len(terms)))


def _tokenizer_connection() -> sqlite3.Connection:
    connection: sqlite3.Connection | None = getattr(_tokenizer_connections, "connection", None)
    if connection is None:
        connection = sqlite3.connect(":memory:")
        connection.execute(
            f"CREATE VIRTUAL TABLE query USING fts5 (body, tokenize = '{FTS_TOKENIZER}')")
        connection.execute(
            "CREATE VIRTUAL TABLE query_instances USING fts5vocab(query, 'instance')")
        _tokenizer_connections.connection = connection
    return connection
