"""The one settings object, read from `SEMSEARCH_*` environment variables at the edge."""

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
DEFAULT_RERANK_MODEL = "cross-encoder/ms-marco-MiniLM-L6-v2"


class Settings(BaseSettings):
    """Configuration for indexing, searching and serving.

    Built once by the CLI or `create_app` and passed down; library functions take plain
    arguments instead of reading this.
    """

    model_config = SettingsConfigDict(env_prefix="SEMSEARCH_", extra="ignore")

    index_dir: Path = Path(".semsearch")
    model: str = DEFAULT_MODEL
    device: str | None = Field(default=None, description="cuda, mps, cpu; None picks the best")
    batch_size: int = Field(default=64, ge=1, le=4096)
    chunk_tokens: int = Field(default=200, ge=16, description="tokens per chunk, at most")
    chunk_overlap: int = Field(default=32, ge=0, description="tokens shared by neighbours")
    max_file_bytes: int = Field(default=50_000_000, ge=1)
    rerank_model: str = DEFAULT_RERANK_MODEL
    api_key: str | None = None
    host: str = "127.0.0.1"
    port: int = 8000
