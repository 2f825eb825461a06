"""`IndexManifest`: what built an index, typed and frozen. The store reads and writes it;
`check` is the one place that refuses to mix an index built one way with work done
another way."""

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from semsearch.indexer.errors import IndexMismatchError

# Bump when the tables change in a way older code cannot read.
SCHEMA_VERSION = 1
# Indexes older than the record of their backend were all built by torch.
LEGACY_BACKEND = "torch"
_FLAT = {"type": "flat", "params": {"metric": "cosine"}, "tombstones": 0}


@dataclass(frozen=True)
class IndexManifest:
    """The settings a finished index was built with, and its state.

    Attributes:
        model: the embedding model's name as the user gave it.
        backend: the encoder backend (torch, onnx, onnx-int8); vectors never mix two.
        dimension: the vectors' length.
        chunk_tokens / chunk_overlap: the chunking, in the model's tokens.
        root: the folder indexed, resolved.
        vector_index: the FAISS index's kind, parameters, vectors and tombstones, as the
            last sync built it (empty for indexes older than the record: exact flat).
        vector_index_setting: the kind asked for: auto, flat, hnsw or ivf.
        generation: bumped by every committed sync; names the FAISS file.
        schema_version: of the SQLite tables.
        last_sync: Unix time of the last commit.
    """

    model: str
    backend: str
    dimension: int
    chunk_tokens: int
    chunk_overlap: int
    root: str
    vector_index: dict[str, Any] = field(default_factory=dict)
    vector_index_setting: str = "auto"
    generation: int = 0
    schema_version: int = SCHEMA_VERSION
    last_sync: float | None = None

    @classmethod
    def from_meta(cls, meta: dict[str, str]) -> "IndexManifest | None":
        """The manifest in the store's metadata, or None before the first commit."""
        if "model" not in meta or "dimension" not in meta:
            return None
        return cls(
            model=meta["model"], backend=meta.get("backend", LEGACY_BACKEND),
            dimension=int(meta["dimension"]), chunk_tokens=int(meta.get("chunk_tokens", 0)),
            chunk_overlap=int(meta.get("chunk_overlap", 0)), root=meta.get("root", ""),
            vector_index=json.loads(meta["vector_index"]) if "vector_index" in meta else {},
            vector_index_setting=meta.get("vector_index_setting", "auto"),
            generation=int(meta.get("generation", 0)),
            schema_version=int(meta.get("schema_version", SCHEMA_VERSION)),
            last_sync=float(meta["last_sync"]) if meta.get("last_sync") else None)

    def to_meta(self) -> dict[str, str]:
        """The metadata rows that record this manifest (the index describes itself)."""
        values = {
            "model": self.model, "backend": self.backend, "dimension": str(self.dimension),
            "chunk_tokens": str(self.chunk_tokens), "chunk_overlap": str(self.chunk_overlap),
            "root": self.root, "vector_index_setting": self.vector_index_setting,
            "generation": str(self.generation), "schema_version": str(self.schema_version),
            "normalized": "true", "metric": "cosine (inner product of L2-normalised vectors)",
        }
        if self.vector_index:
            values["vector_index"] = json.dumps(self.vector_index)
        if self.last_sync is not None:
            values["last_sync"] = str(self.last_sync)
        return values

    def vector_index_info(self, chunks: int) -> dict[str, Any]:
        """The vector index as recorded (exact flat for indexes older than the record)."""
        recorded = self.vector_index or {**_FLAT, "vectors": chunks}
        return {**recorded, "requested": self.vector_index_setting}

    def check(self, index_dir: Path, *, model: str | None = None,
              backend: str | None = None, dimension: int | None = None,
              chunk_tokens: int | None = None, chunk_overlap: int | None = None,
              root: str | None = None) -> None:
        """Refuse work done with other settings than the index was built with; None
        means "not asked".

        Raises:
            IndexMismatchError: a given setting differs from the recorded one; the
                message says how to go on.
        """
        if model is not None and model != self.model or \
                dimension is not None and dimension != self.dimension:
            shown = f" (dimension {dimension})" if dimension is not None else ""
            detail = (f"was built with model {self.model!r} (dimension {self.dimension}), "
                      f"not {model or self.model!r}{shown}; vectors of two models cannot "
                      "be mixed")
        elif root is not None and root != self.root:
            detail = f"holds the folder {self.root}, not {root}"
        elif backend is not None and backend != self.backend:
            detail = (f"was built with the {self.backend} backend, not {backend}; their "
                      f"vectors differ slightly and are never mixed (use --backend "
                      f"{self.backend}, or rebuild)")
        elif chunk_tokens is not None and chunk_tokens != self.chunk_tokens:
            detail = f"was built with chunk_tokens={self.chunk_tokens}, not {chunk_tokens}"
        elif chunk_overlap is not None and chunk_overlap != self.chunk_overlap:
            detail = f"was built with chunk_overlap={self.chunk_overlap}, not {chunk_overlap}"
        else:
            return
        raise IndexMismatchError(
            f"The index at {index_dir} {detail}. Rebuild it with `semsearch index PATH "
            "--rebuild` and the new settings, or use another --index-dir.")
