"""The one settings object, read from `SEMSEARCH_*` environment variables at the edge."""

import os
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from semsearch.indexer.encoders import (
    DEFAULT_MODEL,
    DEFAULT_RERANK_MODEL,
    EncoderSpec,
    default_cache_dir,
)
from semsearch.indexer.encoders.base import check_backend
from semsearch.indexer.milvus_store import MilvusTarget
from semsearch.indexer.milvus_sync import MilvusSyncJob
from semsearch.indexer.sync import SyncJob, SyncOptions
from semsearch.indexer.vector_policy import VectorIndexKind, VectorIndexPolicy
from semsearch.search.rerank import RerankScorer

if TYPE_CHECKING:
    from semsearch.search.searcher import Searcher

__all__ = ["DEFAULT_MODEL", "DEFAULT_RERANK_MODEL", "Settings"]


class Settings(BaseSettings):
    """Configuration for indexing, searching and serving.

    Built once by the CLI or `create_app` and passed down; library functions take the
    plain values it makes (`encoder_spec`, `sync_job`) instead of reading this.
    """

    model_config = SettingsConfigDict(env_prefix="SEMSEARCH_", extra="ignore")

    index_dir: Path = Path(".semsearch")
    model: str = DEFAULT_MODEL
    device: str | None = Field(default=None, description="cuda, mps, cpu; None picks the best")
    batch_size: int = Field(default=64, ge=1, le=4096)
    chunk_tokens: int | None = Field(
        default=None, ge=16, description="tokens per chunk, at most; None: the index's own "
        "(200 for a new index)")
    chunk_overlap: int | None = Field(
        default=None, ge=0, description="tokens shared by neighbours; None: the index's own "
        "(32 for a new index)")
    max_file_bytes: int = Field(default=50_000_000, ge=1)
    generation_files: int = Field(
        default=500, ge=1, description="a sync commits a generation, searchable at once, "
        "after this many files or generation_seconds, whichever comes first")
    generation_seconds: float = Field(default=60.0, gt=0, description="see generation_files")
    vector_index: VectorIndexKind | None = Field(
        default=None, description="auto (exact flat, approximate past a size), flat, hnsw, "
        "ivf; None keeps the index's recorded choice (auto for a new index)")
    rerank_model: str = DEFAULT_RERANK_MODEL
    rerank_scorer: RerankScorer = Field(
        default="auto", description="what scores POST /rerank: cross-encoder (rerank_model; "
        "503 when it cannot load), cosine (the index's model), or auto: the cross-encoder "
        "when it loads, else cosine; the answer says which")
    backend: str | None = Field(
        default=None, description="torch, onnx (fp32) or onnx-int8; None: onnx (fp32) on the "
        "CPU, torch on a GPU. An existing index is always searched and synced with the "
        "backend it records.")
    cache_dir: Path = Field(default_factory=default_cache_dir,
                            description="exported ONNX models (semsearch/onnx/<key>)")
    api_key: str | None = Field(default=None, description="admin key: every route")
    read_keys: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="comma-separated keys that may search and read only")
    roots: Annotated[list[Path], NoDecode] = Field(
        default_factory=list, description="folders POST /index may sync, separated like PATH; "
        "empty: only the index's own folder")
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="comma-separated origins allowed by CORS; empty: off")
    max_body_bytes: int = Field(default=1_048_576, ge=1024, description="request body limit")
    host: str = "127.0.0.1"
    port: int = 8000
    ray: str | None = Field(
        default=None, description="encode a sync on Ray: local (a Ray on 127.0.0.1 for the "
        "run), auto, host:port or ray://host:10001; None: in this process")
    milvus_uri: str | None = Field(
        default=None, description="a Milvus store instead of the index directory: "
        "http://host:19530 (Milvus, or `milvus-lite server`); needs semsearch[scale]")
    milvus_collection: str = Field(
        default="semsearch", pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,200}$",
        description="the Milvus store's name (its collections add suffixes to it)")
    milvus_token: SecretStr | None = Field(default=None, description="Milvus API token")
    milvus_user: str | None = None
    milvus_password: SecretStr | None = None
    milvus_lexical: Literal["sparse", "native"] = Field(
        default="sparse", description="BM25 on Milvus: sparse (semsearch's terms and "
        "scores, as the embedded index) or native (Milvus' BM25 function)")
    milvus_index: Literal["FLAT", "HNSW", "IVF_FLAT", "IVF_SQ8", "AUTOINDEX"] | None = Field(
        default=None, description="the dense index of a new Milvus store (or a --rebuild): "
        "FLAT (exact, the default), HNSW, IVF_FLAT, IVF_SQ8 or AUTOINDEX; an existing "
        "store keeps its own")

    @field_validator("read_keys", "cors_origins", mode="before")
    @classmethod
    def _comma_list(cls, value: object) -> object:
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @field_validator("roots", mode="before")
    @classmethod
    def _path_list(cls, value: object) -> object:
        if isinstance(value, str):
            return [item for item in value.split(os.pathsep) if item.strip()]
        return value

    def encoder_spec(self, model: str | None = None) -> EncoderSpec:
        """The encoder these settings ask for: `model` (None: the index's own, or the
        configured one for a new index), backend, device and ONNX cache."""
        backend = check_backend(self.backend) if self.backend is not None else None
        return EncoderSpec(model=model, backend=backend, device=self.device,
                           cache_dir=self.cache_dir)

    def sync_job(self, root: Path, index_dir: Path | None = None,
                 rebuild: bool = False) -> SyncJob:
        """A sync of `root` into `index_dir` (default: the configured one) with these
        settings; an existing index keeps its own chunking, backend and vector index
        unless asked for others."""
        options = SyncOptions(
            chunk_tokens=self.chunk_tokens, chunk_overlap=self.chunk_overlap,
            batch_size=self.batch_size, max_file_bytes=self.max_file_bytes, rebuild=rebuild,
            generation_files=self.generation_files,
            generation_seconds=self.generation_seconds,
            vector_index=VectorIndexPolicy(kind=self.vector_index) if self.vector_index
            else None)
        encoder = replace(self.encoder_spec(self.model), ray=self.ray)
        return SyncJob(root, index_dir or self.index_dir, encoder, options)

    def milvus_target(self) -> MilvusTarget | None:
        """The Milvus store these settings name, or None for the index directory."""
        if self.milvus_uri is None:
            return None
        return MilvusTarget(
            self.milvus_uri, self.milvus_collection,
            token=self.milvus_token.get_secret_value() if self.milvus_token else None,
            user=self.milvus_user,
            password=self.milvus_password.get_secret_value() if self.milvus_password
            else None, dense_index=self.milvus_index)

    def store_job(self, root: Path, index_dir: Path | None = None,
                  rebuild: bool = False) -> SyncJob | MilvusSyncJob:
        """A sync of `root` into the configured store: the Milvus one when set, else the
        index directory (see `sync_job`)."""
        job = self.sync_job(root, index_dir, rebuild)
        target = self.milvus_target()
        if target is None:
            return job
        return MilvusSyncJob(root, target, job.encoder, job.options)

    def open_searcher(self) -> "Searcher":
        """The searcher of the configured store (Milvus or the index directory), with
        its own model on the configured device: the one place that chooses.

        Raises:
            IndexNotFoundError: no index there.
            MilvusStoreError: Milvus cannot be reached.
        """
        target = self.milvus_target()
        if target is not None:
            from semsearch.search.milvus_searcher import MilvusSearcher

            return MilvusSearcher(target, self.encoder_spec(), rerank_model=self.rerank_model,
                                  lexical=self.milvus_lexical)
        from semsearch.search.searcher import Searcher

        return Searcher(self.index_dir, self.encoder_spec(), rerank_model=self.rerank_model)
