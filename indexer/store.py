"""The one place that talks to SQLite: documents, chunks, embeddings, BM25 text, metadata.

SQLite is the source of truth; the FAISS file is derived from the `embedding` column.
Chunk ids come from AUTOINCREMENT, so an id is never reused and a stale FAISS id can
never point at another chunk.
"""

import json
import logging
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import sqlite_utils
from numpy.typing import NDArray

from semsearch.indexer.documents import PageSpan
from semsearch.indexer.errors import IndexCorruptError, IndexNotFoundError, IndexWriteError
from semsearch.indexer.filters import DocumentFilter
from semsearch.indexer.fts import FTS_SCHEMA, FtsTable
from semsearch.indexer.manifest import IndexManifest
from semsearch.indexer.whole_documents import SCHEMA as WHOLE_DOCUMENTS_SCHEMA
from semsearch.indexer.whole_documents import WholeDocuments

log = logging.getLogger(__name__)

DB_NAME = "index.sqlite"
_STAGING_KEY = "staging_settings"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    path TEXT NOT NULL UNIQUE,
    content_hash TEXT NOT NULL,
    size INTEGER NOT NULL,
    mtime REAL NOT NULL,
    title TEXT NOT NULL DEFAULT '',
    format TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL,
    error TEXT,
    indexed_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS documents_hash ON documents (content_hash);
CREATE TABLE IF NOT EXISTS chunks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    doc_id INTEGER NOT NULL REFERENCES documents (id),
    ordinal INTEGER NOT NULL,
    text TEXT NOT NULL,
    start INTEGER NOT NULL,
    "end" INTEGER NOT NULL,
    page INTEGER,
    headings TEXT NOT NULL,
    token_count INTEGER NOT NULL,
    embedding BLOB NOT NULL,
    page_breaks TEXT NOT NULL DEFAULT '[]',
    UNIQUE (doc_id, ordinal)
);
CREATE TABLE IF NOT EXISTS staged_chunks (
    content_hash TEXT NOT NULL,
    ordinal INTEGER NOT NULL,
    title TEXT NOT NULL,
    format TEXT NOT NULL,
    text TEXT NOT NULL,
    start INTEGER NOT NULL,
    "end" INTEGER NOT NULL,
    page INTEGER,
    headings TEXT NOT NULL,
    token_count INTEGER NOT NULL,
    lexical_title TEXT NOT NULL,
    lexical_body TEXT NOT NULL,
    embedding BLOB NOT NULL,
    page_breaks TEXT NOT NULL DEFAULT '[]',
    PRIMARY KEY (content_hash, ordinal)
);
"""
# Columns added since the first schema: (table, column, definition). An index made before
# one gains it on its next sync; until then, readers take the column's default.
_ADDED_COLUMNS = [
    ("chunks", "page_breaks", "TEXT NOT NULL DEFAULT '[]'"),
    ("staged_chunks", "page_breaks", "TEXT NOT NULL DEFAULT '[]'"),
]


@dataclass(frozen=True)
class DocumentRow:
    """One row of the documents table."""

    id: int
    path: str
    content_hash: str
    size: int
    mtime: float
    title: str
    format: str
    status: str
    error: str | None


@dataclass(frozen=True)
class ChunkRow:
    """A chunk joined with its document, as search results need it; `page_breaks` are
    the offsets where its later PDF pages begin (see `PageSpan`)."""

    id: int
    doc_id: int
    path: str
    title: str
    format: str
    mtime: float
    ordinal: int
    text: str
    start: int
    end: int
    page: int | None
    headings: tuple[str, ...]
    page_breaks: tuple[int, ...] = ()

    @property
    def pages(self) -> PageSpan:
        return PageSpan(self.page, self.page_breaks)


class Store:
    """An open SQLite index file. Use `Store.create`, `Store.open` or `Store.open_readonly`."""

    def __init__(self, connection: sqlite3.Connection, path: Path) -> None:
        self.connection = connection
        self.path = path
        self.db = sqlite_utils.Database(connection)
        self.fts = FtsTable(connection)
        self.whole_documents = WholeDocuments(FtsTable(connection, "documents_fts"))
        self._has_page_breaks = False  # known once seen: columns are never dropped

    @classmethod
    def open(cls, index_dir: Path, *, create: bool = False) -> "Store":
        """Open the index in `index_dir` for writing, creating it when `create` is set.

        Raises:
            IndexNotFoundError: no index there and `create` is false.
            IndexWriteError: the file cannot be set up for writing (disk full, read-only).
        """
        path = index_dir / DB_NAME
        if not path.exists():
            if not create:
                raise IndexNotFoundError(index_dir)
            index_dir.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        try:
            connection.execute("PRAGMA journal_mode = WAL")
            connection.execute("PRAGMA synchronous = NORMAL")
            connection.execute("PRAGMA busy_timeout = 30000")
            connection.executescript(_SCHEMA + FTS_SCHEMA + WHOLE_DOCUMENTS_SCHEMA)
            for table, column, definition in _ADDED_COLUMNS:
                if column not in _columns(connection, table):
                    connection.execute(f"ALTER TABLE {table} ADD COLUMN {column} {definition}")
        except sqlite3.OperationalError as error:
            connection.close()
            raise IndexWriteError(index_dir, error) from error
        store = cls(connection, path)
        if not store.whole_documents.ready():
            store._fill_whole_documents(index_dir)
        return store

    def _fill_whole_documents(self, index_dir: Path) -> None:
        """Give an index made before the whole-document tables their rows (a new index:
        none to write), in one transaction."""
        try:
            with self.transaction():
                filled = self.whole_documents.fill_missing()
        except IndexWriteError:
            self.close()
            raise
        if filled:
            log.info("%s: whole-document rows written for %d documents", index_dir, filled)

    @classmethod
    def open_readonly(cls, index_dir: Path) -> "Store":
        """Open an existing index without the right to change it.

        Raises:
            IndexNotFoundError: no index in `index_dir`.
        """
        path = index_dir / DB_NAME
        if not path.exists():
            raise IndexNotFoundError(index_dir)
        connection = sqlite3.connect(
            f"file:{path.resolve()}?mode=ro", uri=True, isolation_level=None,
            check_same_thread=False,
        )
        connection.execute("PRAGMA busy_timeout = 30000")
        return cls(connection, path)

    def close(self) -> None:
        self.connection.close()

    @contextmanager
    def transaction(self, *, write: bool = True) -> Iterator[None]:
        """Run the block in one transaction: all of it is committed, or none of it.

        Raises:
            IndexWriteError: a write transaction failed in SQLite (disk full, I/O error,
                read-only file, lock timeout); it was rolled back.
        """
        try:
            self.connection.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            try:
                yield
                self.connection.execute("COMMIT")
            except BaseException:
                self._rollback()
                raise
        except sqlite3.OperationalError as error:
            if not write:
                raise
            raise IndexWriteError(self.path.parent, error) from error

    def _rollback(self) -> None:
        # After a failed write (disk full, I/O error) SQLite may have rolled back on its
        # own; a second ROLLBACK would raise and hide the real error.
        if not self.connection.in_transaction:
            return
        try:
            self.connection.execute("ROLLBACK")
        except sqlite3.Error:
            log.exception("rollback failed in %s", self.path)

    # --- the manifest and the rest of the metadata -----------------------------------
    def meta(self) -> dict[str, str]:
        """The metadata table as it is (the manifest's rows and the staging's)."""
        return dict(self.connection.execute("SELECT key, value FROM meta").fetchall())

    def _set_meta(self, values: dict[str, str]) -> None:
        self.connection.executemany(
            "INSERT INTO meta (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            list(values.items()),
        )

    def manifest(self) -> IndexManifest | None:
        """What built the index, or None before its first sync has committed."""
        return IndexManifest.from_meta(self.meta())

    def write_manifest(self, manifest: IndexManifest) -> None:
        """Record `manifest` (inside the caller's transaction)."""
        self._set_meta(manifest.to_meta())

    def forget_manifest(self) -> None:
        """Drop the manifest, for a rebuild (inside the caller's transaction); the
        staging's fingerprint stays, so that a rebuild killed midway resumes."""
        self.connection.execute(f"DELETE FROM meta WHERE key != '{_STAGING_KEY}'")

    def generation(self) -> int:
        """The generation of the last commit (0 before the first); one row read."""
        row = self.connection.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()
        return int(row[0]) if row else 0

    def staging_fingerprint(self) -> str | None:
        """The settings the staged chunks were encoded with (see `stage`)."""
        row = self.connection.execute(
            "SELECT value FROM meta WHERE key = ?", (_STAGING_KEY,)).fetchone()
        return str(row[0]) if row else None

    def restart_staging(self, fingerprint: str) -> None:
        """Drop the staged chunks and note the settings the next ones are encoded with."""
        with self.transaction():
            self.clear_staging()
            self._set_meta({_STAGING_KEY: fingerprint})

    # --- documents ------------------------------------------------------------------
    def documents(self) -> dict[str, DocumentRow]:
        rows = self.connection.execute(
            "SELECT id, path, content_hash, size, mtime, title, format, status, error "
            "FROM documents"
        ).fetchall()
        return {row[1]: DocumentRow(*row) for row in rows}

    def document(self, doc_id: int) -> DocumentRow | None:
        row = self.connection.execute(
            "SELECT id, path, content_hash, size, mtime, title, format, status, error "
            "FROM documents WHERE id = ?",
            (doc_id,),
        ).fetchone()
        return DocumentRow(*row) if row else None

    def delete_document(self, doc_id: int) -> list[int]:
        """Delete a document, its chunks and their BM25 rows; return the chunk ids gone."""
        chunk_ids = self.delete_chunks(doc_id)
        self.connection.execute("DELETE FROM documents WHERE id = ?", (doc_id,))
        return chunk_ids

    def delete_chunks(self, doc_id: int) -> list[int]:
        """Delete a document's chunks and their BM25 rows; return the chunk ids gone."""
        chunk_ids = [r[0] for r in self.connection.execute(
            "SELECT id FROM chunks WHERE doc_id = ?", (doc_id,))]
        self.fts.delete(chunk_ids)
        self.whole_documents.delete(doc_id)
        self.connection.execute("DELETE FROM chunks WHERE doc_id = ?", (doc_id,))
        return chunk_ids

    def insert_document(self, row: dict[str, object]) -> int:
        """Insert a documents row; return its id."""
        columns = ", ".join(row)
        placeholders = ", ".join("?" for _ in row)
        cursor = self.connection.execute(
            f"INSERT INTO documents ({columns}) VALUES ({placeholders}) RETURNING id",
            list(row.values()),
        )
        return int(cursor.fetchone()[0])

    def update_document(self, doc_id: int, values: dict[str, object]) -> None:
        assignments = ", ".join(f"{column} = ?" for column in values)
        self.connection.execute(
            f"UPDATE documents SET {assignments} WHERE id = ?", [*values.values(), doc_id])

    # --- staging: encoded chunks that survive a crash before the final commit ---------
    def staged_hashes(self) -> set[str]:
        return {r[0] for r in self.connection.execute(
            "SELECT DISTINCT content_hash FROM staged_chunks")}

    def stage(self, contents: dict[str, list[dict[str, object]]]) -> None:
        """Record the encoded chunks of several contents (by content hash) in one
        transaction, replacing any earlier staging of them; a crash leaves all or none."""
        with self.transaction():
            for content_hash, rows in contents.items():
                self.connection.execute("DELETE FROM staged_chunks WHERE content_hash = ?",
                                        (content_hash,))
                if not rows:
                    continue
                columns = ", ".join(f'"{c}"' for c in rows[0])
                placeholders = ", ".join("?" for _ in rows[0])
                self.connection.executemany(
                    f"INSERT INTO staged_chunks (content_hash, {columns}) "
                    f"VALUES (?, {placeholders})",
                    [[content_hash, *row.values()] for row in rows],
                )

    def staged_header(self, content_hash: str) -> tuple[str, str] | None:
        row = self.connection.execute(
            "SELECT title, format FROM staged_chunks WHERE content_hash = ? LIMIT 1",
            (content_hash,)).fetchone()
        return (row[0], row[1]) if row else None

    def insert_staged_chunks(self, doc_id: int, content_hash: str) -> list[int]:
        """Copy the staged chunks of `content_hash` into the live tables for `doc_id`."""
        self.connection.execute(
            'INSERT INTO chunks (doc_id, ordinal, text, start, "end", page, headings, '
            "token_count, embedding, page_breaks) SELECT ?, ordinal, text, start, \"end\", "
            "page, headings, token_count, embedding, page_breaks FROM staged_chunks "
            "WHERE content_hash = ? ORDER BY ordinal",
            (doc_id, content_hash),
        )
        self.fts.insert_staged(doc_id, content_hash)
        self.whole_documents.insert_chunks_of(doc_id)
        return [r[0] for r in self.connection.execute(
            "SELECT id FROM chunks WHERE doc_id = ? ORDER BY ordinal", (doc_id,))]

    def clear_staging(self) -> None:
        self.connection.execute("DELETE FROM staged_chunks")

    # --- chunks ---------------------------------------------------------------------
    def chunk_count(self) -> int:
        return int(self.db["chunks"].count)

    def chunk_ids(self) -> NDArray[np.int64]:
        return np.array([r[0] for r in self.connection.execute(
            "SELECT id FROM chunks ORDER BY id")], dtype=np.int64)

    def embeddings(self, chunk_ids: list[int] | None = None, dimension: int = 0,
                   batch: int = 10_000) -> Iterator[tuple[NDArray[np.int64], NDArray[np.float32]]]:
        """Yield (ids, vectors) batches: all chunks, or those of `chunk_ids`."""
        if chunk_ids is None:
            cursor = self.connection.execute("SELECT id, embedding FROM chunks ORDER BY id")
        else:
            cursor = self.connection.execute(
                "SELECT id, embedding FROM chunks WHERE id IN (SELECT value FROM json_each(?))",
                (json.dumps(chunk_ids),))
        while rows := cursor.fetchmany(batch):
            ids = np.array([r[0] for r in rows], dtype=np.int64)
            vectors = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32)
            if dimension and vectors.size != len(rows) * dimension:
                raise IndexCorruptError("an embedding in the store has the wrong size")
            yield ids, vectors.reshape(len(rows), -1)

    def chunks(self, chunk_ids: list[int]) -> dict[int, ChunkRow]:
        """The chunks of `chunk_ids` with their documents, by id (missing ids left out)."""
        # An index older than the column, opened read-only, has no page breaks.
        self._has_page_breaks = self._has_page_breaks or (
            "page_breaks" in _columns(self.connection, "chunks"))
        page_breaks = "c.page_breaks" if self._has_page_breaks else "'[]'"
        rows = self.connection.execute(
            'SELECT c.id, c.doc_id, d.path, d.title, d.format, d.mtime, c.ordinal, c.text, '
            f'c.start, c."end", c.page, c.headings, {page_breaks} FROM chunks c '
            "JOIN documents d ON d.id = c.doc_id "
            "WHERE c.id IN (SELECT value FROM json_each(?))",
            (json.dumps(chunk_ids),),
        ).fetchall()
        return {row[0]: _chunk_row(row) for row in rows}

    def document_chunks(self, doc_id: int) -> list[ChunkRow]:
        ids = [r[0] for r in self.connection.execute(
            "SELECT id FROM chunks WHERE doc_id = ? ORDER BY ordinal", (doc_id,))]
        by_id = self.chunks(ids)
        return [by_id[i] for i in ids]

    def filtered_chunk_ids(self, document_filter: DocumentFilter) -> NDArray[np.int64]:
        """Ids of the chunks whose documents pass `document_filter`."""
        condition, parameters = _filter_sql(document_filter)
        return np.array([r[0] for r in self.connection.execute(
            f"SELECT c.id FROM chunks c JOIN documents d ON d.id = c.doc_id WHERE {condition}",
            parameters)], dtype=np.int64)

    def bm25_search(self, expression: str, limit: int, document_filter: DocumentFilter,
                    weights: tuple[float, float]) -> list[tuple[int, float]]:
        """Top `limit` (chunk id, BM25) pairs for an FTS5 `expression` among the chunks
        of the documents `document_filter` keeps; higher is better."""
        condition = None if document_filter.is_empty() else _filter_sql(document_filter)
        return self.fts.search(expression, limit, weights, condition)

    def filtered_document_ids(self, document_filter: DocumentFilter) -> NDArray[np.int64]:
        """Ids of the indexed documents that pass `document_filter`."""
        condition, parameters = _filter_sql(document_filter)
        return np.array([r[0] for r in self.connection.execute(
            f"SELECT d.id FROM documents d WHERE {condition}", parameters)], dtype=np.int64)

    def document_bm25_search(self, expression: str, limit: int,
                             document_filter: DocumentFilter,
                             weights: tuple[float, float]) -> list[tuple[int, float]]:
        """Top `limit` (document id, BM25 of its whole text) pairs for an FTS5
        `expression` among the documents `document_filter` keeps."""
        condition = None if document_filter.is_empty() else _filter_sql(document_filter)
        return self.whole_documents.search(expression, limit, weights, condition)

    def documents_chunks(self, doc_ids: list[int]) -> dict[int, int]:
        """The document id of every chunk of the documents of `doc_ids`, by chunk id."""
        return dict(self.connection.execute(
            "SELECT id, doc_id FROM chunks WHERE doc_id IN (SELECT value FROM json_each(?))",
            (json.dumps(doc_ids),)).fetchall())

    def chunk_documents(self, chunk_ids: list[int]) -> dict[int, int]:
        """The document id of each chunk of `chunk_ids` (missing ids left out)."""
        return dict(self.connection.execute(
            "SELECT id, doc_id FROM chunks WHERE id IN (SELECT value FROM json_each(?))",
            (json.dumps(chunk_ids),)).fetchall())

    def counts(self) -> dict[str, int]:
        """Documents indexed, files skipped, chunks held."""
        status = dict(self.connection.execute(
            "SELECT status, count(*) FROM documents GROUP BY status").fetchall())
        return {"documents": int(status.get("indexed", 0)),
                "skipped": int(status.get("skipped", 0)),
                "chunks": self.chunk_count()}

    def skipped(self) -> list[tuple[str, str]]:
        return [(r[0], r[1] or "") for r in self.connection.execute(
            "SELECT path, error FROM documents WHERE status = 'skipped' ORDER BY path")]


def _chunk_row(row: tuple[Any, ...]) -> ChunkRow:
    return ChunkRow(id=row[0], doc_id=row[1], path=row[2], title=row[3], format=row[4],
                    mtime=row[5], ordinal=row[6], text=row[7], start=row[8], end=row[9],
                    page=row[10], headings=tuple(json.loads(row[11])),
                    page_breaks=tuple(json.loads(row[12])))


def _columns(connection: sqlite3.Connection, table: str) -> set[str]:
    return {row[1] for row in connection.execute(f"PRAGMA table_info({table})")}


def _filter_sql(document_filter: DocumentFilter) -> tuple[str, list[object]]:
    """A SQL condition on the documents table (aliased `d`) and its parameters."""
    conditions: list[str] = ["d.status = 'indexed'"]
    parameters: list[object] = []
    if document_filter.path_prefix:
        # Not LIKE: it ignores ASCII case, and paths are case-sensitive.
        conditions.append("substr(d.path, 1, ?) = ?")
        parameters.extend([len(document_filter.path_prefix), document_filter.path_prefix])
    if document_filter.path_glob:
        conditions.append("d.path GLOB ?")
        parameters.append(document_filter.path_glob)
    if document_filter.file_types:
        suffixes = ["." + t.lower().lstrip(".") for t in document_filter.file_types]
        conditions.append("(" + " OR ".join("lower(d.path) LIKE ?" for _ in suffixes) + ")")
        parameters.extend("%" + suffix for suffix in suffixes)
    if document_filter.modified_after is not None:
        conditions.append("d.mtime >= ?")
        parameters.append(document_filter.modified_after)
    if document_filter.modified_before is not None:
        conditions.append("d.mtime <= ?")
        parameters.append(document_filter.modified_before)
    return " AND ".join(conditions), parameters
