"""A large index for query benchmarks, grown from a real one without running the model.

Encoding 100,000 chunks takes hours on two cores; a query benchmark needs the index's
size, its text statistics and realistic vectors, not new embeddings. So the index is
grown from a real one (SciFact's, 12,049 chunks) in rounds, as follows:

  * round r (1, 2, ...) adds one new document per source document, at path
    `grown-r/<path>`, with the source's title and one chunk per source chunk;
  * the chunk made from source chunk i holds i's sentences with one of them (the r-th,
    cyclically) replaced by a sentence of a partner chunk p = perm_r(i) (a seeded random
    permutation per round; a one-sentence chunk gets it appended): every text is real
    SciFact prose, no two chunks are copies, and BM25 sees the corpus's vocabulary with
    document frequencies that grow with it;
  * its vector is i's stored vector plus Gaussian noise of norm 0.2, L2-normalised
    (cosine about 0.98 to i's): each source chunk's variants lie close together, around
    a real SciFact embedding, and the guest sentence's meaning is not in the vector (a
    mix of the two vectors scattered the variants so that the IVF tuner needed half of
    the 1,024 lists for its target recall, where real text of that size needs a few);
  * its BM25 row is what a sync writes: the document title as the title column and the
    text (Chinese segmented) as the body;
  * rounds stop once the index holds `--chunks` chunks (the last document whole), the
    generation is bumped, and the vector index is built from SQLite as a sync builds it
    (`auto`: IVF from 100,000 vectors).

Run:
  python benchmarks/grow_index.py /tmp/scifact/index /tmp/scifact-100k --chunks 100000
  python benchmarks/grow_index.py /tmp/scifact/index /tmp/scifact-1m --chunks 1000000 \
      --no-vectors   # BM25 only: 5.6 GB of SQLite, no FAISS file
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sqlite3
import time
from pathlib import Path

import numpy as np

from semsearch.indexer.index_dir import (
    build_vectors,
    record_vectors,
    sync_lock,
    write_vectors,
)
from semsearch.indexer.lexical_text import segment
from semsearch.indexer.store import DB_NAME, Store
from semsearch.indexer.vector_policy import VectorIndexPolicy

NOISE_NORM = 0.2
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def mixed_text(own: str, partner: str, round_number: int) -> str:
    """`own`'s sentences with the one at `round_number` (cyclically) replaced by one of
    `partner`'s (appended to a text of one sentence)."""
    sentences = _SENTENCE_END.split(own.strip())
    borrowed = _SENTENCE_END.split(partner.strip())
    guest = borrowed[round_number % len(borrowed)]
    if len(sentences) == 1:
        sentences.append(guest)
    else:
        sentences[round_number % len(sentences)] = guest
    return " ".join(sentences)


def copy_store(source: Path, target: Path) -> None:
    target.mkdir(parents=True, exist_ok=False)
    reading = sqlite3.connect(f"file:{source / DB_NAME}?mode=ro", uri=True)
    writing = sqlite3.connect(target / DB_NAME)
    try:
        reading.backup(writing)
    finally:
        writing.close()
        reading.close()


def grow(source: Path, target: Path, chunks: int, seed: int = 0,
         vectors: bool = True) -> dict[str, float]:
    """Write an index of at least `chunks` chunks at `target`, grown from `source`;
    without `vectors`, no FAISS file (for BM25 measurements: a searcher opening it
    would build the vector index in memory first)."""
    started = time.perf_counter()
    copy_store(source, target)
    store = Store.open(target)
    try:
        with sync_lock(target):
            added = _add_rounds(store, chunks, seed)
            manifest = store.manifest()
            assert manifest is not None, f"{source} holds no finished index"
            with store.transaction():
                store.connection.execute(
                    "UPDATE meta SET value = value + 1 WHERE key = 'generation'")
            written = time.perf_counter()
            if vectors:
                policy = VectorIndexPolicy()
                with store.transaction(write=False):
                    built = build_vectors(store, manifest.dimension, policy)
                    write_vectors(built, target, store.generation())
                record_vectors(store, built, policy)
        return {"chunks": store.chunk_count(), "added": added,
                "sqlite_s": round(written - started, 1),
                "vectors_s": round(time.perf_counter() - written, 1)}
    finally:
        store.close()


def _add_rounds(store: Store, chunks: int, seed: int) -> int:
    connection = store.connection
    documents = connection.execute(
        "SELECT id, path, size, mtime, title, format FROM documents "
        "WHERE status = 'indexed' ORDER BY id").fetchall()
    rows = connection.execute(
        'SELECT id, doc_id, ordinal, text, start, token_count, embedding FROM chunks '
        "ORDER BY id").fetchall()
    titles = dict(connection.execute("SELECT rowid, title FROM chunks_fts").fetchall())
    by_document: dict[int, list[int]] = {}
    for position, row in enumerate(rows):
        by_document.setdefault(row[1], []).append(position)
    vectors = np.stack([np.frombuffer(row[6], dtype=np.float32) for row in rows])
    total, added, round_number = len(rows), 0, 0
    while total < chunks:
        round_number += 1
        rng = np.random.default_rng([seed, round_number])
        partners = rng.permutation(len(rows))
        with store.transaction():
            for doc_id, path, size, mtime, title, kind in documents:
                if total >= chunks:
                    break
                new_path = f"grown-{round_number}/{path}"
                new_id = store.insert_document({
                    "path": new_path, "content_hash": hashlib.sha1(new_path.encode()).hexdigest(),
                    "size": size, "mtime": mtime, "title": title, "format": kind,
                    "status": "indexed", "indexed_at": time.time()})
                for position in by_document.get(doc_id, []):
                    partner = partners[position]
                    _add_chunk(store, new_id, rows[position], rows[partner], round_number,
                               vectors[position],
                               titles.get(rows[position][0], ""), rng)
                    total += 1
                    added += 1
    return added


def _add_chunk(store: Store, doc_id: int, own: tuple, partner: tuple, round_number: int,
               own_vector: np.ndarray, fts_title: str,
               rng: np.random.Generator) -> None:
    text = mixed_text(own[3], partner[3], round_number)
    noise = rng.standard_normal(len(own_vector)).astype(np.float32)
    vector = own_vector + noise * (NOISE_NORM / np.linalg.norm(noise))
    vector = (vector / np.linalg.norm(vector)).astype(np.float32)
    chunk_id = store.connection.execute(
        'INSERT INTO chunks (doc_id, ordinal, text, start, "end", page, headings, '
        "token_count, embedding) VALUES (?, ?, ?, ?, ?, NULL, '[]', ?, ?) RETURNING id",
        (doc_id, own[2], text, own[4], own[4] + len(text), own[5], vector.tobytes()),
    ).fetchone()[0]
    store.connection.execute("INSERT INTO chunks_fts (rowid, title, body) VALUES (?, ?, ?)",
                             (chunk_id, fts_title, segment(text)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", type=Path, help="a built index directory")
    parser.add_argument("target", type=Path, help="a new directory for the grown index")
    parser.add_argument("--chunks", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-vectors", action="store_true",
                        help="write no FAISS file (BM25 measurements only)")
    args = parser.parse_args()
    print(json.dumps(grow(args.source, args.target, args.chunks, args.seed,
                          vectors=not args.no_vectors)))


if __name__ == "__main__":
    main()
