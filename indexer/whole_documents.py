"""Whole documents as ranking evidence, kept beside their chunks in the index file.

A search that asks for documents (`group_by="document"`) ranks them by what the whole
document says, not only by its best chunk: BM25 over the document's whole text (term
counts and length of the document, in `documents_fts`, one row per document, rowid =
document id) and the mean of its chunk vectors (`document_vectors`; its inner product
with a query vector is the mean of the chunks' cosines).

Both are written and deleted with the document's chunks, in the same transaction
(`Store.insert_staged_chunks`, `Store.delete_chunks`), so every generation holds them
for exactly its documents. An index made before them gains them on its next sync
(`fill_missing`, one transaction); until then the meta key `READY_KEY` is absent and
search ranks documents by their best chunk, as before.
"""

from collections.abc import Iterable

import numpy as np
from numpy.typing import NDArray

from semsearch.indexer.fts import FTS_TOKENIZER, FtsTable
from semsearch.indexer.lexical_text import segment

READY_KEY = "whole_documents"
SCHEMA = f"""
CREATE VIRTUAL TABLE IF NOT EXISTS documents_fts USING fts5 (
    title, body, tokenize = '{FTS_TOKENIZER}'
);
CREATE TABLE IF NOT EXISTS document_vectors (
    doc_id INTEGER PRIMARY KEY,
    chunks INTEGER NOT NULL,
    embedding BLOB NOT NULL
);
"""
# (text, start, end) of a chunk: where it lies in its document's text.
ChunkSpan = tuple[str, int, int]


def mean_vector(embeddings: NDArray[np.float32]) -> NDArray[np.float32]:
    """The mean of a document's chunk vectors, as both stores keep it: summed in float64,
    stored in float32."""
    return embeddings.mean(axis=0, dtype=np.float64).astype(np.float32)


def whole_text(chunks: Iterable[ChunkSpan]) -> str:
    """The document's text as its chunks hold it, each overlap once (chunks in order).

    Chunks repeat whole sentences of the chunk before them; counting those twice would
    give a term of an overlap twice its weight in the document's BM25.
    """
    pieces, covered = [], 0
    for text, start, end in chunks:
        if end <= covered:
            continue
        pieces.append(text[max(covered - start, 0):])
        covered = end
    return "\n".join(pieces)


class WholeDocuments:
    """The whole-document tables of an open index file, on the connection of `fts`, its
    `documents_fts` table."""

    def __init__(self, fts: FtsTable) -> None:
        self.connection = fts.connection
        self.fts = fts
        self._ready = False  # known once seen: the key is never removed

    def ready(self) -> bool:
        """Whether every indexed document has its rows (false for an index made before
        them, until its next sync)."""
        if not self._ready:
            self._ready = self.connection.execute(
                "SELECT 1 FROM meta WHERE key = ?", (READY_KEY,)).fetchone() is not None
        return self._ready

    def delete(self, doc_id: int) -> None:
        """Drop the rows of `doc_id` (inside the caller's transaction)."""
        self.fts.delete([doc_id])
        self.connection.execute("DELETE FROM document_vectors WHERE doc_id = ?", (doc_id,))

    def insert(self, doc_id: int, title: str, chunks: list[ChunkSpan],
               embeddings: NDArray[np.float32]) -> None:
        """Write the rows of `doc_id` from its chunks, in order, and their embeddings
        (inside the caller's transaction)."""
        self.connection.execute(
            "INSERT INTO documents_fts (rowid, title, body) VALUES (?, ?, ?)",
            (doc_id, segment(title), segment(whole_text(chunks))))
        self.connection.execute(
            "INSERT INTO document_vectors (doc_id, chunks, embedding) VALUES (?, ?, ?)",
            (doc_id, len(embeddings), mean_vector(embeddings).tobytes()))

    def insert_chunks_of(self, doc_id: int) -> None:
        """Write the rows of `doc_id` from its chunks as stored (inside the caller's
        transaction)."""
        rows = self.connection.execute(
            'SELECT d.title, c.text, c.start, c."end", c.embedding FROM chunks c '
            "JOIN documents d ON d.id = c.doc_id WHERE c.doc_id = ? ORDER BY c.ordinal",
            (doc_id,)).fetchall()
        if rows:
            self._insert_rows(doc_id, rows)

    def fill_missing(self) -> int:
        """Write the rows of every indexed document that has none, then mark the tables
        ready; return how many documents were filled. Call it inside a write
        transaction: a kill leaves the index as it was, and the next sync fills again.
        """
        cursor = self.connection.execute(
            'SELECT c.doc_id, d.title, c.text, c.start, c."end", c.embedding FROM chunks c '
            "JOIN documents d ON d.id = c.doc_id "
            "WHERE c.doc_id NOT IN (SELECT doc_id FROM document_vectors) "
            "ORDER BY c.doc_id, c.ordinal")
        filled, current = 0, -1
        rows: list[tuple[str, str, int, int, bytes]] = []
        # One document's chunks at a time: memory stays that of the largest document.
        for doc_id, title, text, start, end, embedding in cursor:
            if doc_id != current and rows:
                self._insert_rows(current, rows)
                filled, rows = filled + 1, []
            current = doc_id
            rows.append((title, text, start, end, embedding))
        if rows:
            self._insert_rows(current, rows)
            filled += 1
        self.connection.execute(
            "INSERT OR IGNORE INTO meta (key, value) VALUES (?, '1')", (READY_KEY,))
        return filled

    def _insert_rows(self, doc_id: int, rows: list[tuple[str, str, int, int, bytes]]) -> None:
        vectors = np.frombuffer(b"".join(row[4] for row in rows), dtype=np.float32)
        self.insert(doc_id, rows[0][0], [(row[1], row[2], row[3]) for row in rows],
                    vectors.reshape(len(rows), -1))

    def dimension(self) -> int:
        """Floats in a mean vector (0 when there is none)."""
        row = self.connection.execute(
            "SELECT length(embedding) FROM document_vectors LIMIT 1").fetchone()
        return int(row[0]) // 4 if row else 0

    def mean_vectors(self, doc_ids: list[int]) -> tuple[NDArray[np.int64], NDArray[np.float32]]:
        """(document ids, mean chunk vectors) of the documents of `doc_ids` that have
        them, in the order of `doc_ids`."""
        found = dict(self.connection.execute(
            "SELECT doc_id, embedding FROM document_vectors "
            "WHERE doc_id IN (SELECT value FROM json_each(?))",
            (_json_ids(doc_ids),)).fetchall())
        kept = [d for d in doc_ids if d in found]
        vectors = np.frombuffer(b"".join(found[d] for d in kept), dtype=np.float32)
        return np.array(kept, dtype=np.int64), vectors.reshape(len(kept), -1)

    def search(self, expression: str, limit: int, weights: tuple[float, float],
               condition: tuple[str, list[object]] | None = None) -> list[tuple[int, float]]:
        """Top `limit` (document id, BM25 of its whole text) pairs for an FTS5
        `expression`; `condition` on the documents table (aliased `d`), as in
        `FtsTable.search`."""
        where, parameters = condition or ("1", [])
        rows = self.connection.execute(
            f"SELECT f.rowid, -bm25(documents_fts, {weights[0]}, {weights[1]}) AS score "
            "FROM documents_fts f JOIN documents d ON d.id = f.rowid "
            f"WHERE documents_fts MATCH ? AND {where} ORDER BY score DESC LIMIT ?",
            [expression, *parameters, limit]).fetchall()
        return [(int(row[0]), float(row[1])) for row in rows]


def _json_ids(ids: list[int]) -> str:
    return "[" + ",".join(str(int(i)) for i in ids) + "]"
