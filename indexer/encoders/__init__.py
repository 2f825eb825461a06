"""Encoders: the one home of the models that turn text into vectors.

`EncoderSpec(...).load()` is how every caller gets an `Encoder`; the backends are torch
(`torch_backend`, sentence-transformers) and ONNX Runtime (`onnx_runtime`, run from an
export that `onnx_export` makes, caches and quantises). `cross_encoder` holds the
reranking model. Importing this package loads no model library.
"""

from semsearch.indexer.encoders.base import (
    BACKENDS,
    DEFAULT_MODEL,
    DEFAULT_RERANK_MODEL,
    Backend,
    Encoder,
    ModelLoadError,
    default_cache_dir,
    resolve_model_path,
)
from semsearch.indexer.encoders.spec import EncoderSpec, choose_device, default_backend

__all__ = [
    "BACKENDS",
    "DEFAULT_MODEL",
    "DEFAULT_RERANK_MODEL",
    "Backend",
    "Encoder",
    "EncoderSpec",
    "ModelLoadError",
    "choose_device",
    "default_backend",
    "default_cache_dir",
    "resolve_model_path",
]
