"""`EncoderSpec`: which model, on which backend and device; the one place that picks the
defaults and loads an encoder."""

import logging
import sys
import threading
from dataclasses import dataclass, field, replace
from pathlib import Path

from semsearch.indexer.encoders.base import (
    DEFAULT_MODEL,
    Backend,
    Encoder,
    check_backend,
    default_cache_dir,
    resolve_model_path,
)

log = logging.getLogger(__name__)

_GPU_DEVICE_FILES = ("/dev/nvidiactl", "/dev/kfd", "/dev/dxg")


def choose_device(requested: str | None, ray: str | None = None) -> str:
    """`requested`, or the best available device: CUDA, then Apple MPS, then CPU (on the
    Ray cluster at `ray` when given: CUDA where it has GPUs, else CPU).

    torch is asked only where a GPU may be: importing it costs seconds and hundreds of
    MiB, which the ONNX backend on the CPU never needs.
    """
    if requested:
        return requested
    if ray is not None:
        from semsearch.indexer.encoders.ray_cluster import cluster_device

        return cluster_device(ray)
    if not _gpu_possible():
        return "cpu"
    import torch

    if torch.cuda.is_available():
        return "cuda"
    if torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def _gpu_possible() -> bool:
    """False where torch surely finds no GPU: Linux without the device files of an NVIDIA
    or AMD (ROCm) driver, or of WSL's GPU; elsewhere torch is asked."""
    if sys.platform != "linux":
        return True
    return any(Path(name).exists() for name in _GPU_DEVICE_FILES)


def default_backend(device: str) -> Backend:
    """ONNX Runtime int8 on the CPU, torch (fp16 on CUDA) anywhere else.

    int8 needs about 40 % less CPU time than fp32 (`onnx`, one flag away) and, tuned on
    SciFact's train queries, stays within 0.002 of its nDCG@10 (docs/benchmarks.md).
    """
    return "onnx-int8" if device == "cpu" else "torch"


class LoadedEncoders:
    """Encoders loaded through the specs that share this object, kept for reuse: a
    watcher loads its model on the first sync that needs it, and keeps it."""

    def __init__(self) -> None:
        self._loaded: dict[tuple[object, ...], Encoder] = {}
        self._lock = threading.Lock()

    def get(self, spec: "EncoderSpec") -> Encoder:
        key = (spec.model, spec.backend, spec.device, spec.cache_dir)
        with self._lock:
            if key not in self._loaded:
                self._loaded[key] = replace(spec, keep=None).load()
            return self._loaded[key]


@dataclass(frozen=True)
class EncoderSpec:
    """Which encoder to load; unset fields take the index's record or the defaults.

    Attributes:
        model: a sentence-transformers name or local path; None: the index's own model
            (`DEFAULT_MODEL` for a new index).
        backend: torch, onnx (fp32) or onnx-int8; None: the index's own (for a new
            index, onnx-int8 on the CPU and torch on a GPU).
        device: cuda, mps or cpu; None: the best there is (ONNX: the CPU).
        cache_dir: where ONNX exports are kept; None: `default_cache_dir()`.
        preloaded: an encoder already in memory, handed out by `load` instead of a new
            one (a server's syncs reuse its searcher's model; tests share one model).
        keep: where loaded encoders are kept for later loads of the same spec.
        ray: a Ray address (`local`, `auto`, `host:port`, `ray://host:port`): the model
            runs in actors on that cluster (`ray_encoder`); None: in this process.

    Raises:
        ModelLoadError: `backend` is not one of BACKENDS.
    """

    model: str | None = None
    backend: Backend | None = None
    device: str | None = None
    cache_dir: Path | None = None
    preloaded: Encoder | None = field(default=None, compare=False, repr=False)
    keep: LoadedEncoders | None = field(default=None, compare=False, repr=False)
    ray: str | None = None

    def __post_init__(self) -> None:
        if self.backend is not None:
            check_backend(self.backend)

    @classmethod
    def of(cls, encoder: Encoder) -> "EncoderSpec":
        """The spec of a loaded encoder; `load` returns that very encoder."""
        return cls(model=encoder.model_name, backend=check_backend(encoder.backend),
                   device=encoder.device, preloaded=encoder)

    def with_record(self, model: str, backend: str) -> "EncoderSpec":
        """This spec with an index's recorded model and backend filled in where unset."""
        return replace(self, model=self.model or model,
                       backend=self.backend or check_backend(backend))

    def resolved(self) -> "EncoderSpec":
        """Every field but `preloaded` decided: the defaults applied once, here."""
        if self.preloaded is not None:
            return self
        if self.backend is None or self.backend == "torch":
            device = choose_device(self.device, self.ray)
            backend = self.backend or default_backend(device)
        else:  # ONNX is for the CPU unless a GPU is asked for by name
            device, backend = self.device or "cpu", self.backend
        return replace(self, model=self.model or DEFAULT_MODEL, backend=backend,
                       device=device, cache_dir=self.cache_dir or default_cache_dir())

    def load(self) -> Encoder:
        """The encoder this spec names (the preloaded one when there is one).

        Raises:
            ModelLoadError: loading (or exporting to ONNX) failed; the message says why.
        """
        if self.preloaded is not None:
            return self.preloaded
        spec = self.resolved()
        if spec.ray is not None:
            from semsearch.indexer.encoders.ray_encoder import load_ray_encoder

            return load_ray_encoder(replace(spec, ray=None), spec.ray)
        if spec.keep is not None:
            return spec.keep.get(spec)
        assert spec.model and spec.backend and spec.device and spec.cache_dir
        location = resolve_model_path(spec.model)
        if spec.backend == "torch":
            from semsearch.indexer.encoders.torch_backend import load_torch_encoder

            return load_torch_encoder(spec.model, location, spec.device)
        from semsearch.indexer.encoders.onnx_runtime import load_onnx_encoder

        return load_onnx_encoder(spec.model, location, spec.device, spec.backend,
                                 spec.cache_dir)
