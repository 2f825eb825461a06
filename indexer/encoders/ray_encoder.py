"""An `Encoder` whose batches run on a Ray cluster: one actor per GPU (fp16, large
batches) when the encoder's device is CUDA, else one actor per node on its CPUs.

Each actor loads the model once through the same `EncoderSpec` a local run would use, so
the vectors are the local encoder's. `EncoderSpec(ray=...).load()` returns one: its
caller calls `encode` as it would a local model and gets the vectors back in its own
process. A sync does not use it (`ray_pipeline` parses, chunks and encodes a `--ray`
sync's content). `BatchEncoder` is also the callable class for Ray Data's `map_batches`
(`encode_dataset`, and `ray_pipeline`'s pool).
"""

import math
from collections import Counter
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from semsearch.indexer.encoders.base import Encoder, PerThreadTokenizer
from semsearch.indexer.encoders.fast_tokenizer import FastTokenizer
from semsearch.indexer.encoders.ray_cluster import RayClusterError, connect, import_ray

if TYPE_CHECKING:  # spec.py imports this module to load a Ray encoder
    from semsearch.indexer.encoders.spec import EncoderSpec

# Texts per forward pass on a GPU actor, at least: a small model leaves a GPU idle at 64.
GPU_BATCH_SIZE = 256


class BatchEncoder:
    """Holds one loaded encoder inside a Ray worker (an actor or a Ray Data pool)."""

    def __init__(self, spec: "EncoderSpec") -> None:
        register_tokenizer_serializer()
        self.encoder: Encoder = spec.load()
        self.node_id: str = import_ray().get_runtime_context().get_node_id()

    def describe(self) -> tuple[int, int, Any]:
        """(dimension, max_tokens, tokenizer): what the driver needs to chunk."""
        return self.encoder.dimension, self.encoder.max_tokens, self.encoder.tokenizer

    def encode(self, texts: list[str], batch_size: int) -> tuple[NDArray[np.float32], str]:
        """(the rows of `texts`, the id of the node that encoded them)."""
        return self.encoder.encode(texts, self._batch_size(batch_size)), self.node_id

    def __call__(self, batch: dict[str, NDArray[Any]]) -> dict[str, NDArray[Any]]:
        """Ray Data's `map_batches`: add `embedding` and `node_id` columns to `text`."""
        vectors = self.encoder.encode([str(text) for text in batch["text"]],
                                      self._batch_size(len(batch["text"])))
        return {**batch, "embedding": vectors,
                "node_id": np.full(len(vectors), self.node_id)}

    def _batch_size(self, requested: int) -> int:
        on_gpu = self.encoder.device.startswith("cuda")
        return max(requested, GPU_BATCH_SIZE) if on_gpu else requested


def register_tokenizer_serializer() -> None:
    """Let this process send a `FastTokenizer` through Ray: the ONNX backend's tokenizer
    holds a lock, which pickle refuses, so it travels as its tokenizer.json text."""
    import_ray().util.register_serializer(FastTokenizer, serializer=_fast_tokenizer_state,
                                          deserializer=_fast_tokenizer_from_state)


def _fast_tokenizer_state(tokenizer: FastTokenizer) -> tuple[str, int, int]:
    """What rebuilds `tokenizer` elsewhere: its tokenizer.json text and settings."""
    text = tokenizer.truncating(tokenizer.model_max_length).to_str()
    return text, tokenizer.model_max_length, tokenizer.pad_token_id


def _fast_tokenizer_from_state(state: tuple[str, int, int]) -> FastTokenizer:
    from tokenizers import Tokenizer

    text, model_max_length, pad_token_id = state
    return FastTokenizer(Tokenizer.from_str(text), model_max_length, pad_token_id)


class RayEncoder:
    """The `Encoder` protocol over a pool of `BatchEncoder` actors.

    Attributes:
        rows_by_node: rows encoded so far, by Ray node id (shows where the work ran).
    """

    def __init__(self, spec: "EncoderSpec", actors: list[Any]) -> None:
        assert spec.model and spec.backend and spec.device
        self.model_name: str = spec.model
        self.backend: str = spec.backend
        self.device: str = spec.device
        self._actors = actors
        ray = import_ray()
        try:
            self._dimension, self._max_tokens, tokenizer = ray.get(actors[0].describe.remote())
        except ray.exceptions.RayError as error:
            raise RayClusterError(
                f"The encoder could not start on the Ray cluster: {_cause(error)}") from error
        # a Hugging Face tokenizer (torch) changes itself per call; FastTokenizer never
        self._tokenizer: FastTokenizer | PerThreadTokenizer = (
            tokenizer if isinstance(tokenizer, FastTokenizer) else PerThreadTokenizer(tokenizer))
        self.rows_by_node: Counter[str] = Counter()

    @property
    def dimension(self) -> int:
        return int(self._dimension)

    @property
    def max_tokens(self) -> int:
        return int(self._max_tokens)

    @property
    def tokenizer(self) -> Any:
        """The actors' tokenizer, as their backend hands it out (the driver chunks with it)."""
        if isinstance(self._tokenizer, PerThreadTokenizer):
            return self._tokenizer.get()
        return self._tokenizer

    def encode(self, texts: list[str], batch_size: int = 64) -> NDArray[np.float32]:
        """Embed `texts`, shared out evenly among the actors; rows in the order given."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        from ray.util import ActorPool

        size = max(1, math.ceil(len(texts) / len(self._actors)))
        pieces = [texts[start:start + size] for start in range(0, len(texts), size)]
        results = list(ActorPool(self._actors).map(
            lambda actor, piece: actor.encode.remote(piece, batch_size), pieces))
        for vectors, node_id in results:
            self.rows_by_node[node_id] += len(vectors)
        return np.concatenate([vectors for vectors, _ in results])


def _cause(error: Exception) -> str:
    """The message of the exception an actor raised (its creation, for a dead actor)."""
    cause = getattr(error, "cause", None) or getattr(error, "creation_task_error", None)
    return str(cause or error).strip().splitlines()[-1]


def actor_nodes(device: str) -> list[str]:
    """A node id per actor to start: one per GPU on CUDA, else one per node with CPUs.

    Raises:
        RayClusterError: no node can take an actor.
    """
    ray = import_ray()
    resource = "GPU" if device.startswith("cuda") else "CPU"
    nodes: list[str] = []
    for node in ray.nodes():
        count = node["Resources"].get(resource, 0) if node["Alive"] else 0
        nodes += [node["NodeID"]] * (int(count) if resource == "GPU" else int(count >= 1))
    if not nodes:
        raise RayClusterError(f"The Ray cluster has no node with a {resource} for the encoder.")
    return nodes


def actor_options(device: str, node_id: str) -> dict[str, Any]:
    """Ray options of an encoder actor pinned to `node_id`: a GPU on CUDA; on the CPU,
    one CPU slot but the node's threads (Ray sets OMP_NUM_THREADS=1 for a 1-CPU actor,
    which would leave torch on one core)."""
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    options: dict[str, Any] = {
        "num_cpus": 1,
        "scheduling_strategy": NodeAffinitySchedulingStrategy(node_id, soft=False)}
    if device.startswith("cuda"):
        options["num_gpus"] = 1
    else:
        cpus = next(int(node["Resources"].get("CPU", 1)) for node in import_ray().nodes()
                    if node["NodeID"] == node_id)
        options["runtime_env"] = {"env_vars": {"OMP_NUM_THREADS": str(cpus)}}
    return options


def load_ray_encoder(spec: "EncoderSpec", address: str) -> RayEncoder:
    """A `RayEncoder` for the resolved `spec` on the Ray at `address` (connected first).

    Raises:
        RayClusterError: Ray is missing, unreachable, or has no node for the encoder.
    """
    connect(address)
    ray = import_ray()
    local = replace(spec, keep=None, preloaded=None)
    assert local.device
    actor_class = ray.remote(BatchEncoder)
    actors = [actor_class.options(**actor_options(local.device, node)).remote(local)
              for node in actor_nodes(local.device)]
    return RayEncoder(local, actors)


def encode_dataset(dataset: Any, spec: "EncoderSpec", batch_size: int = 64) -> Any:
    """`dataset` (a Ray Dataset with a `text` column) with `embedding` and `node_id`
    columns, encoded by a Ray Data actor pool of `BatchEncoder`s (one per node, or per
    GPU), lazily like every Ray Data transform."""
    assert spec.device
    on_gpu = spec.device.startswith("cuda")
    pool = import_ray().data.ActorPoolStrategy(size=len(actor_nodes(spec.device)))
    return dataset.map_batches(
        BatchEncoder, fn_constructor_args=(spec,), batch_size=batch_size, compute=pool,
        num_gpus=1 if on_gpu else 0, num_cpus=1, batch_format="numpy")
