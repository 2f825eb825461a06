"""The one place that talks to Milvus: a collection of chunks and its companions.

A store named NAME is a manifest collection and, for each build, three more:
  NAME            one row per chunk: text, offsets, headings, path and document, mtime and
                  type for the filters, the dense vector (unit length, inner product: that
                  is cosine), the BM25 sparse vector (`milvus_lexical`) and the lexical text
                  Milvus' own BM25 function reads;
  NAME_documents  one row per file: indexed or skipped (with the reason), its stat and
                  type for the filters, and the whole-document evidence that ranks
                  grouped searches (`milvus_documents`): the mean of its chunk vectors
                  and the BM25 sparse vector and length of its whole text;
  NAME_terms      the document frequency of each sparse dimension (BM25's IDF): of the
                  chunks, and at dimension + 2^32 of the whole documents;
  NAME_manifest   the committed state (row 0): the manifest (model, chunking, folder),
                  the committed build and generation, the BM25 statistics of chunks and
                  of whole documents; and the leases of the syncs (`milvus_lease`).
(Milvus wants a vector in every collection: the last two hold a 2-d placeholder.) A
build made before the whole-document evidence has a placeholder in its document rows in
place of it; its syncs go on without it, its searches rank documents by their best
chunks, and a `--rebuild` makes a build that holds it.
A `--rebuild` writes a new build beside the committed one, NAME__build<N> and its
companions, and the commit that names it in the manifest switches every reader over;
then the old build's collections are dropped. The first build has the plain names.

Milvus has no multi-row transactions, so every row carries `generation` (the sync that
wrote it) and `retired` (the sync that replaced it; 0 while current), and readers see
exactly the rows with `generation <= C and (retired == 0 or retired > C)` for the
committed generation C in the manifest. A sync writes its rows with generation C + 1 and
marks the rows it replaces retired = C + 1 (both invisible at C), flips the manifest to
C + 1 in one single-row upsert (the commit), then deletes the retired rows. A sync killed
before its flip leaves rows that the next sync deletes (generation > C) or restores
(retired > C) before it starts. Primary keys are hashes of what a row holds, so rewriting
the same content gives the same keys.
"""

import hashlib
import json
import logging
from collections.abc import Iterator
from copy import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from semsearch.indexer.errors import IndexerError, IndexNotFoundError
from semsearch.indexer.manifest import IndexManifest
from semsearch.indexer.milvus_schema import (
    DEFAULT_DENSE_INDEX,
    PLACEHOLDER,
    create_collections,
    create_manifest,
    dense_index,
)

CHUNK_FIELDS = ["pk", "doc_id", "path", "file_type", "content_hash", "mtime", "ordinal",
                "title", "format", "text", "start", "end", "page", "page_breaks",
                "headings", "token_count", "generation", "retired", "dense", "lexical",
                "lexical_length", "lexical_text"]
DOCUMENT_FIELDS = ["pk", "doc_id", "path", "content_hash", "size", "mtime", "title",
                   "format", "status", "error", "indexed_at", "generation", "retired"]
# Rows per request: Milvus caps the size of one insert, query and filter expression.
BATCH = 500
# The most rows one query returns (Milvus' largest offset + limit).
QUERY_WINDOW = 16_384
# The manifest collection's rows: the committed state; leases have hashed keys.
STATE_ROW = 0
# pymilvus pings an idle connection every 10 s; a gRPC server that keeps gRPC's default
# policy (milvus-lite's does; Milvus' own allows 5 s) counts a ping closer than 5 minutes
# to the last as a strike and, at the third, closes the connection (GOAWAY
# "too_many_pings"), which then failed the next client of that URI in the process. Each
# client has a connection of its own (`dedicated`): pymilvus otherwise shares one per
# address, with the options of whichever client made it first.
GRPC_OPTIONS = {"grpc.keepalive_time_ms": 330_000}
BUILD_SEPARATOR = "__build"


class MilvusStoreError(IndexerError):
    """Milvus could not be reached, or refused a request."""


class MilvusIndexNotFoundError(IndexNotFoundError):
    """Nothing is committed in the Milvus collection."""

    def __init__(self, target: "MilvusTarget") -> None:
        IndexerError.__init__(
            self, f"No index in Milvus collection {target.collection!r} at {target.uri}; "
            f"run `semsearch index PATH --milvus {target.uri} --collection "
            f"{target.collection}` first.")
        self.index_dir = Path(f"{target.uri}#{target.collection}")


@dataclass(frozen=True)
class MilvusTarget:
    """Where a Milvus store lives. The secrets come from settings, never the command line.

    Attributes:
        uri: http://host:19530 (Milvus, or `milvus-lite server`).
        collection: the store's name; its companion collections add suffixes.
        token / user / password: credentials of a Milvus with authentication.
        dense_index: the dense index type of a new store or a rebuild (`milvus_schema.
            DENSE_INDEXES`); None: FLAT for a new store, its own for an existing one.

    Raises:
        ValueError: `dense_index` is not a known index type.
    """

    uri: str
    collection: str = "semsearch"
    token: str | None = field(default=None, repr=False)
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    dense_index: str | None = None

    def __post_init__(self) -> None:
        if self.dense_index is not None:
            dense_index(self.dense_index)

    def connect(self) -> Any:
        """A `pymilvus.MilvusClient` of this server.

        Raises:
            MilvusStoreError: pymilvus is missing, or the server does not answer.
        """
        try:
            from pymilvus import MilvusClient
        except ImportError as error:
            raise MilvusStoreError(
                "Milvus needs pymilvus: pip install 'semsearch[scale]'") from error
        # milvus-lite answers no session timestamp to a query iterator, which then falls
        # back to the client's clock (what a Strong read wants) with a warning each time.
        logging.getLogger("pymilvus.client.iterator.query_iterator").setLevel(logging.ERROR)
        credentials: dict[str, str] = {}
        if self.token:
            credentials["token"] = self.token
        if self.user:
            credentials.update(user=self.user, password=self.password or "")
        try:
            return MilvusClient(uri=self.uri, grpc_options=GRPC_OPTIONS, dedicated=True,
                                **credentials)
        except Exception as error:  # pymilvus raises its own and grpc's errors
            raise MilvusStoreError(f"Cannot reach Milvus at {self.uri}: {error}") from error


@dataclass(frozen=True)
class CommittedState:
    """The manifest row: what readers filter on and score BM25 with; `build` names the
    collections the committed generation lives in. `documents`, `document_length` and
    `document_reference_length` are the whole-document BM25's (`milvus_documents`):
    indexed documents, their summed lengths in terms, the reference length of their
    stored weights; None for a build made before whole documents were stored."""

    manifest: IndexManifest
    chunks: int
    lexical_length: int
    reference_length: float
    build: int = 0
    documents: int = 0
    document_length: int = 0
    document_reference_length: float | None = None

    @property
    def generation(self) -> int:
        return self.manifest.generation

    @property
    def dense_index(self) -> str:
        """The dense index type of the build."""
        return str(self.manifest.vector_index.get("params", {}).get("index",
                                                                    DEFAULT_DENSE_INDEX))

    @property
    def mean_length(self) -> float:
        return self.lexical_length / self.chunks if self.chunks else 1.0

    @property
    def document_mean_length(self) -> float:
        return self.document_length / self.documents if self.documents else 1.0

    def to_json(self) -> str:
        return json.dumps({"manifest": self.manifest.to_meta(), "chunks": self.chunks,
                           "lexical_length": self.lexical_length,
                           "reference_length": self.reference_length,
                           "build": self.build, "documents": self.documents,
                           "document_length": self.document_length,
                           "document_reference_length": self.document_reference_length})

    @classmethod
    def from_json(cls, text: str) -> "CommittedState":
        value = json.loads(text)
        manifest = IndexManifest.from_meta(value["manifest"])
        assert manifest is not None
        reference = value.get("document_reference_length")
        return cls(manifest, int(value["chunks"]), int(value["lexical_length"]),
                   float(value["reference_length"]), int(value.get("build", 0)),
                   int(value.get("documents", 0)), int(value.get("document_length", 0)),
                   None if reference is None else float(reference))


def row_key(*parts: object) -> int:
    """A 63-bit primary key from what a row holds (positive in Milvus' INT64)."""
    digest = hashlib.blake2b("\x1f".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> 1


def document_id(path: str) -> int:
    """A document's id: the same for a path in every sync and every store."""
    return row_key("document", path)


def visible(generation: int) -> str:
    """The filter of the rows readers see at committed generation `generation`."""
    return f"generation <= {generation} and (retired == 0 or retired > {generation})"


def is_visible(row: dict[str, Any], generation: int) -> bool:
    """Whether readers at committed generation `generation` see `row` (its `generation`
    and `retired`): `visible`, for rows read by key alone."""
    return bool(row["generation"] <= generation
                and (row["retired"] == 0 or row["retired"] > generation))


def quote(text: str) -> str:
    """A Milvus string literal of `text`."""
    return json.dumps(text)


def build_name(collection: str, build: int) -> str:
    """The chunk collection of `build` of the store `collection` (its companions add
    suffixes): the first build has the store's own name."""
    return collection if build == 0 else f"{collection}{BUILD_SEPARATOR}{build}"


class MilvusStore:
    """The collections of one store, over one client: the manifest and those of one
    build (`at`)."""

    def __init__(self, target: MilvusTarget, build: int = 0) -> None:
        self.target = target
        self.client = target.connect()
        self.manifest_collection = f"{target.collection}_manifest"
        self._name(build)
        # Milvus Lite forgets what it had loaded when it restarts, and the manifest is
        # read before anything else (the builds' collections are loaded by `load`).
        if self.exists():
            self.client.load_collection(self.manifest_collection)

    def _name(self, build: int) -> None:
        self.build = build
        name = build_name(self.target.collection, build)
        self.chunks, self.documents, self.terms = name, f"{name}_documents", f"{name}_terms"

    def at(self, build: int) -> "MilvusStore":
        """This store over the same client, reading and writing the collections of
        `build`."""
        other = copy(self)
        other._name(build)
        return other

    def close(self) -> None:
        self.client.close()

    # --- state ---------------------------------------------------------------------
    def exists(self) -> bool:
        return bool(self.client.has_collection(self.manifest_collection))

    def committed(self) -> CommittedState | None:
        """The committed state, or None before the first commit."""
        if not self.exists():
            return None
        rows = self.client.query(self.manifest_collection, filter=f"pk == {STATE_ROW}",
                                 output_fields=["state"], consistency_level="Strong")
        return CommittedState.from_json(rows[0]["state"]) if rows else None

    def require_committed(self) -> CommittedState:
        """The committed state.

        Raises:
            IndexNotFoundError: nothing committed in this collection.
        """
        state = self.committed()
        if state is None:
            raise MilvusIndexNotFoundError(self.target)
        return state

    def commit(self, state: CommittedState) -> None:
        """Flip the committed state: one single-row upsert, the sync's commit point."""
        self.client.upsert(self.manifest_collection, [
            {"pk": STATE_ROW, "state": state.to_json(), "placeholder": PLACEHOLDER}])

    # --- schema --------------------------------------------------------------------
    def create_manifest(self) -> None:
        """Create the manifest collection (loaded) if it is not there."""
        create_manifest(self.client, self.manifest_collection)

    def create(self, dimension: int, index_type: str = DEFAULT_DENSE_INDEX) -> None:
        """Create the manifest and this build's collections (loaded) that are not there;
        the dense vectors indexed by `index_type`."""
        self.create_manifest()
        create_collections(self.client, self.chunks, dimension, index_type)

    def load(self) -> None:
        """Load the collections into memory (Milvus forgets it when it restarts)."""
        for name in (self.manifest_collection, *self.collections()):
            self.client.load_collection(name)

    def builds(self) -> list[int]:
        """The builds whose chunk collections exist, committed or not."""
        prefix = self.target.collection + BUILD_SEPARATOR
        names = self.client.list_collections()
        found = [0] if self.target.collection in names else []
        return found + sorted(int(name[len(prefix):]) for name in names
                              if name.startswith(prefix) and name[len(prefix):].isdigit())

    def drop_build(self, build: int) -> None:
        """Drop the collections of `build`."""
        for name in self.at(build).collections():
            if self.client.has_collection(name):
                self.client.drop_collection(name)

    def drop(self) -> None:
        """Drop every collection of the store: its builds and its manifest."""
        for build in self.builds():
            self.drop_build(build)
        if self.exists():
            self.client.drop_collection(self.manifest_collection)

    # --- reading -------------------------------------------------------------------
    def query(self, collection: str, expression: str, fields: list[str]) -> list[dict[str, Any]]:
        """Every row of `collection` that `expression` selects, in primary-key order: one
        request when they fit in Milvus' window of one query, else iterated past it (an
        iterator costs a request to set it up and one past its last page)."""
        rows: list[dict[str, Any]] = self.client.query(
            collection, filter=expression, output_fields=fields, limit=QUERY_WINDOW,
            consistency_level="Strong")
        if len(rows) < QUERY_WINDOW:
            return sorted(rows, key=lambda row: row["pk"])
        iterator = self.client.query_iterator(collection, filter=expression,
                                              output_fields=fields, batch_size=BATCH * 4,
                                              consistency_level="Strong")
        rows = []
        try:
            while batch := iterator.next():
                rows += batch
        finally:
            iterator.close()
        return rows

    def rows_by_key(self, collection: str, keys: list[int],
                    fields: list[str]) -> list[dict[str, Any]]:
        """The rows of `keys`, in batches."""
        rows: list[dict[str, Any]] = []
        for batch in batches(keys):
            rows += self.client.query(collection, filter=f"pk in {batch}",
                                      output_fields=fields, consistency_level="Strong")
        return rows

    def count(self, collection: str, expression: str) -> int:
        rows = self.client.query(collection, filter=expression, output_fields=["count(*)"],
                                 consistency_level="Strong")
        return int(rows[0]["count(*)"])

    # --- writing -------------------------------------------------------------------
    def insert(self, collection: str, rows: list[dict[str, Any]]) -> None:
        """Upsert `rows` (whole rows; keys are content hashes, so a rerun rewrites the
        same rows)."""
        for start in range(0, len(rows), BATCH):
            self.client.upsert(collection, rows[start:start + BATCH])

    def mark(self, collection: str, keys: list[int], retired: int) -> None:
        """Set `retired` on the rows of `keys` (a partial upsert): the generation that
        replaces them, or 0 to restore them."""
        for batch in batches(keys):
            self.client.upsert(collection, [{"pk": key, "retired": retired} for key in batch],
                               partial_update=True)

    def delete(self, collection: str, expression: str) -> None:
        self.client.delete(collection, filter=expression)

    def collections(self) -> tuple[str, str, str]:
        """The collections whose rows have generations: chunks, documents, terms."""
        return self.chunks, self.documents, self.terms

    def finish(self, committed: int) -> None:
        """Bring the collections to exactly the committed state: drop the rows of a sync
        that never committed, restore the rows it retired, delete the rows a committed
        sync retired. Idempotent; every sync starts with it and ends with it."""
        for collection in self.collections():
            self.delete(collection, f"generation > {committed}")
            restored = [row["pk"] for row in self.query(
                collection, f"retired > {committed}", ["pk"])]
            self.mark(collection, restored, 0)
            self.delete(collection, f"retired > 0 and retired <= {committed}")

    def flush(self) -> None:
        """Seal what was written (searches before a flush are slow in milvus-lite)."""
        for collection in self.collections():
            self.client.flush(collection)


def batches(keys: list[int]) -> Iterator[list[int]]:
    for start in range(0, len(keys), BATCH):
        yield keys[start:start + BATCH]
