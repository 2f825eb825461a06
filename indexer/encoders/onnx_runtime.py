"""The ONNX Runtime backend: an exported sentence-transformers model run by onnxruntime.

Pooling (mean or CLS, read from the model's Pooling module), L2 normalisation and the
model's max_seq_length truncation are done here exactly as sentence-transformers does
them, so the vectors match the torch backend's (cosine >= 0.9999 in fp32). The export
itself is `onnx_export`'s.
"""

import logging
import os
import threading
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from semsearch.indexer.encoders.base import ModelLoadError
from semsearch.indexer.encoders.fast_tokenizer import FastTokenizer
from semsearch.indexer.encoders.onnx_export import (
    MODEL_FILE,
    TOKENIZER_DIR,
    ensure_export,
    read_manifest,
)

log = logging.getLogger(__name__)

# Padded tokens in one batch, at most: the attention scores of a batch grow with its rows
# times its width squared, and 64 texts of 256 tokens took 800 MiB at peak against 400
# MiB in batches of 4,096 tokens, for no less speed.
TOKENS_PER_BATCH = 4096
# A batch of at most this many padded tokens (a query, a few highlight passages) runs on
# one thread: ONNX Runtime's threads meet at every operator, which for so small a matrix
# costs more than the second core gives. session.run, int8, 1 vs 2 threads on a quiet
# 2-core machine (benchmarks/bench_query_embedding.py): 10 tokens 1.07 vs 1.44 ms, 18
# tokens 1.59 vs 1.99, 34 tokens 2.52 vs 3.15, 66 tokens 4.44 vs 4.46, 130 tokens 8.9 vs
# 7.4; a hybrid query with highlights, p50 4.42 -> 4.24 ms, dense 4.49 -> 3.86.
SMALL_BATCH_TOKENS = 64


class OnnxEncoder:
    """An exported model run by onnxruntime; the same interface as the torch encoder.

    Attributes:
        model_name: the name the index records (the user's name, not the resolved path).
        device: "cpu", or "cuda[:N]" through onnxruntime's CUDA provider.
        backend: "onnx" (fp32) or "onnx-int8" (dynamically quantised weights).
        tokenizer: the model's tokenizer.json run by the `tokenizers` library, called
            like a Hugging Face fast tokenizer (the chunker uses its offsets); no torch.
        export_dir: the cache folder the model was read from.
    """

    def __init__(self, model_name: str, device: str, backend: str, export_dir: Path,
                 threads: int | None = None) -> None:
        self.model_name, self.device, self.backend = model_name, device, backend
        self.export_dir = export_dir
        manifest = read_manifest(export_dir)
        if manifest is None:
            raise ModelLoadError(f"No exported model in {export_dir}; delete it to re-export.")
        self.manifest = manifest
        # One tokenizer for every thread: neither ever changes after it is made.
        self._tokenizer = FastTokenizer.from_folder(export_dir / TOKENIZER_DIR)
        self._encoder_tokenizer = self._tokenizer.truncating(manifest.max_seq_length)
        threads = threads or _usable_cpus()
        self.session = self._new_session(threads)
        # The one-thread session for small batches, made at the first one (a searcher's
        # warm-up): a second copy of the weights (56 MiB int8) that a sync of many files
        # never needs.
        self._small_session: Any = None if threads > 1 and device == "cpu" else self.session
        self._small_session_lock = threading.Lock()

    def _new_session(self, threads: int) -> Any:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        # ORT's idle worker threads spin after each run by default. For one query that
        # steals the cores from the search that follows it: a hybrid query on 100k chunks,
        # spin vs no spin interleaved in one searcher on a loaded 2-core machine, embed p50
        # 99 -> 69 ms, the BM25 step after it 9.5 -> 2.2 ms, the whole query 157 -> 100 ms;
        # batches of 64 lost nothing (benchmarks/bench_query_embedding.py).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        return ort.InferenceSession(str(self.export_dir / MODEL_FILE), options,
                                    providers=_providers(ort, self.device))

    def _session_for(self, rows: int, width: int) -> Any:
        """The session a batch of `rows` texts padded to `width` tokens runs on."""
        if rows * width > SMALL_BATCH_TOKENS:
            return self.session
        if self._small_session is None:
            with self._small_session_lock:
                if self._small_session is None:
                    self._small_session = self._new_session(1)
        return self._small_session

    @property
    def tokenizer(self) -> FastTokenizer:
        """The model's tokenizer, called like a Hugging Face fast tokenizer."""
        return self._tokenizer

    @property
    def dimension(self) -> int:
        return self.manifest.dimension

    @property
    def max_tokens(self) -> int:
        """Most content tokens one text may hold: the model's limit less [CLS] and [SEP]."""
        return self.manifest.max_seq_length - 2

    def encode(self, texts: list[str], batch_size: int = 64) -> NDArray[np.float32]:
        """Embed `texts` as L2-normalised float32 rows (inner product is then cosine).

        Texts are tokenized at once, sorted by length into batches (little padding) of at
        most `batch_size` texts and `TOKENS_PER_BATCH` padded tokens, and the rows put back
        in the order given.
        """
        vectors = np.zeros((len(texts), self.dimension), dtype=np.float32)
        if not texts:
            return vectors
        if self.manifest.lowercase:
            texts = [text.lower() for text in texts]
        encodings = self._encoder_tokenizer.encode_batch(texts)
        lengths = np.array([len(encoding.ids) for encoding in encodings])
        order = np.argsort(lengths, kind="stable")
        for rows in _batches(order, lengths, batch_size):
            feed = self._feed([encodings[row] for row in rows])
            session = self._session_for(*feed["input_ids"].shape)
            hidden = session.run(None, feed)[0]
            vectors[rows] = _pool(hidden, feed["attention_mask"], self.manifest.pooling)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return np.ascontiguousarray(vectors / np.maximum(norms, 1e-12), dtype=np.float32)

    def _feed(self, encodings: list[Any]) -> dict[str, NDArray[np.int64]]:
        """Right-padded int64 arrays of one batch, for the inputs the graph takes."""
        width = max(len(encoding.ids) for encoding in encodings)
        arrays = {
            "input_ids": np.full((len(encodings), width), self._tokenizer.pad_token_id,
                                 dtype=np.int64),
            "attention_mask": np.zeros((len(encodings), width), dtype=np.int64),
            "token_type_ids": np.zeros((len(encodings), width), dtype=np.int64),
        }
        for row, encoding in enumerate(encodings):
            length = len(encoding.ids)
            arrays["input_ids"][row, :length] = encoding.ids
            arrays["attention_mask"][row, :length] = encoding.attention_mask
            arrays["token_type_ids"][row, :length] = encoding.type_ids
        return {name: arrays[name] for name in self.manifest.inputs}


def _batches(order: NDArray[np.intp], lengths: NDArray[np.int_],
             batch_size: int) -> list[NDArray[np.intp]]:
    """`order` (rows by ascending length) cut into batches of at most `batch_size` rows
    and `TOKENS_PER_BATCH` tokens once padded to the batch's longest row."""
    batches, start = [], 0
    while start < len(order):
        end = start + 1  # a batch grows while the row it takes (its longest) still fits
        while end < len(order) and end - start < batch_size and \
                (end - start + 1) * lengths[order[end]] <= TOKENS_PER_BATCH:
            end += 1
        batches.append(order[start:end])
        start = end
    return batches


def _pool(hidden: NDArray[np.float32], mask: NDArray[np.int64], mode: str) -> NDArray[np.float32]:
    """sentence-transformers' Pooling of right-padded token vectors: mean or CLS."""
    if mode == "cls":
        return hidden[:, 0]
    weights = mask[:, :, None].astype(np.float32)
    summed = (hidden * weights).sum(axis=1)
    return summed / np.maximum(weights.sum(axis=1), 1e-9)


def _providers(ort: Any, device: str) -> list[Any]:
    if device == "cpu":
        return ["CPUExecutionProvider"]
    if device.startswith("cuda"):
        if "CUDAExecutionProvider" not in ort.get_available_providers():
            raise ModelLoadError(
                "The ONNX backend on CUDA needs onnxruntime-gpu (this onnxruntime has no "
                "CUDA provider): install it, or use --backend torch.")
        _, _, index = device.partition(":")
        return [("CUDAExecutionProvider", {"device_id": int(index or 0)}),
                "CPUExecutionProvider"]
    raise ModelLoadError(
        f"The ONNX backends run on cpu or cuda, not {device!r}; use --backend torch there.")


def _usable_cpus() -> int:
    """CPUs this process may run on (a container's limit, not the host's count)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def load_onnx_encoder(model_name: str, location: str, device: str, backend: str,
                      cache_dir: Path, threads: int | None = None) -> OnnxEncoder:
    """Export `location` for `backend` unless cached, then load it on `device`."""
    export_dir = ensure_export(model_name, location, backend, cache_dir)
    encoder = OnnxEncoder(model_name, device, backend, export_dir, threads)
    log.info("loaded model %s (%s) on %s from %s", model_name, backend, device, export_dir)
    return encoder
