"""The ONNX export of a sentence-transformers model: made once, cached, quantised.

The export (torch and sentence-transformers, seconds) happens the first time a model is
asked for with an ONNX backend; it lands in `cache_dir/onnx/<key>`, where the key hashes
the model's resolved location, its files' sizes and mtimes, the backend and the export
format. It is written to a temporary folder and renamed into place, so two processes
racing to export the same model both end up reading one complete copy. A BERT-type
graph is fused by onnxruntime's transformer optimizer (attention, layer norms and GELU
become single operators: the same vectors, faster); onnx-int8 is dynamically quantised
from that fused fp32 export, attention included.
"""

import hashlib
import inspect
import json
import logging
import os
import shutil
import tempfile
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from semsearch.indexer.encoders.base import ONNX_BACKENDS, ModelLoadError
from semsearch.indexer.encoders.torch_backend import load_sentence_transformer

log = logging.getLogger(__name__)

# Bump when the exported graph or the manifest changes: older cache entries are ignored.
EXPORT_VERSION = 2
MANIFEST_NAME = "semsearch-onnx.json"
MODEL_FILE = "model.onnx"
TOKENIZER_DIR = "tokenizer"
_POOLING_MODES = ("mean", "cls")
_MODEL_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
# Architectures whose graphs onnxruntime's "bert" optimizer fuses (others are not fused).
_FUSABLE_MODEL_TYPES = ("bert",)


@dataclass(frozen=True)
class ExportManifest:
    """What the encoder needs to know about an exported model, besides the graph."""

    source: str
    backend: str
    pooling: str
    max_seq_length: int
    dimension: int
    lowercase: bool
    inputs: tuple[str, ...]
    version: int = EXPORT_VERSION


# --- the cache ------------------------------------------------------------------------

def export_key(name: str, location: str, backend: str) -> str:
    """The cache folder name of `location` exported for `backend`.

    A local model folder is fingerprinted by its files' paths, sizes and mtimes (not
    their bytes: hashing a large model on every load would cost seconds); a hub name by
    its snapshot in the Hugging Face cache when there is one, else by the name alone.
    """
    folder = _local_folder(location)
    files: list[tuple[str, int, int]] = []
    if folder is not None:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and ".git" not in path.relative_to(folder).parts:
                stat = path.stat()
                files.append((str(path.relative_to(folder)), stat.st_size, stat.st_mtime_ns))
    identity = json.dumps([EXPORT_VERSION, backend, str(folder or location), files])
    digest = hashlib.sha256(identity.encode()).hexdigest()[:16]
    readable = "".join(c if c.isalnum() or c in "-_." else "_" for c in Path(name).name)
    return f"{readable}-{backend}-{digest}"


def _local_folder(location: str) -> Path | None:
    if Path(location).is_dir():
        return Path(location).resolve()
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(location, local_files_only=True))
    except (OSError, ValueError):  # not cached, or not a hub name
        return None


def read_manifest(export_dir: Path) -> ExportManifest | None:
    """The manifest of a complete export in `export_dir`, or None when there is none."""
    try:
        values = json.loads((export_dir / MANIFEST_NAME).read_text())
    except (OSError, ValueError):
        return None
    if values.get("version") != EXPORT_VERSION:
        return None
    return ExportManifest(**{**values, "inputs": tuple(values["inputs"])})


def ensure_export(name: str, location: str, backend: str, cache_dir: Path) -> Path:
    """The cache folder holding `location` (the model `name`) exported for `backend`.

    The model is exported when the cache has no complete copy of it.

    onnx-int8 is quantised from the onnx (fp32) export, which is made first if missing.

    Raises:
        ModelLoadError: the model cannot be loaded or has a part the ONNX backend cannot
            run (a pooling other than mean or CLS, a Dense layer, ...).
    """
    if backend not in ONNX_BACKENDS:
        raise ValueError(f"not an ONNX backend: {backend!r}")
    root = cache_dir / "onnx"
    target = root / export_key(name, location, backend)
    if read_manifest(target) is not None:
        return target
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=root))
    try:
        if backend == "onnx":
            manifest = _export_fp32(location, staging)
        else:
            manifest = _quantize(ensure_export(name, location, "onnx", cache_dir), staging)
        (staging / MANIFEST_NAME).write_text(json.dumps(asdict(manifest), indent=1))
        _publish(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _publish(staging: Path, target: Path) -> None:
    """Rename the finished export into place; a racing process's copy, if first, stays."""
    try:
        os.rename(staging, target)
    except OSError:
        if read_manifest(target) is None:
            raise
        log.info("another process exported %s first; using its copy", target)
    else:
        log.info("exported the model to %s", target)


# --- the export -----------------------------------------------------------------------

def _export_fp32(location: str, staging: Path) -> ExportManifest:
    """Export the transformer of the sentence-transformers model at `location`."""
    import torch

    model = load_sentence_transformer(location, location, "cpu")
    transformer, pooling = _check_modules(location, model)
    tokenizer = transformer.tokenizer
    if tokenizer is None or not tokenizer.is_fast:
        raise ModelLoadError(
            f"Model {location!r} has no fast tokenizer, which the ONNX backend needs; "
            "use --backend torch.")
    if not model.max_seq_length:
        raise ModelLoadError(f"Model {location!r} states no max_seq_length to truncate at.")
    network = transformer.auto_model.eval()
    if hasattr(network, "set_attn_implementation"):
        network.set_attn_implementation("eager")  # plain ops that onnxruntime fuses
    inputs = tuple(name for name in _MODEL_INPUTS if name in tokenizer.model_input_names)
    # Two texts of different lengths: the traced graph must take a padded batch.
    example = tokenizer(["a", "a longer example text"], padding=True, return_tensors="pt")
    axes = {name: {0: "batch", 1: "sequence"} for name in (*inputs, "last_hidden_state")}
    with warnings.catch_warnings(), torch.no_grad():
        # The TorchScript exporter warns about itself and about shapes it traces as
        # constants (here, always equal ones); neither is the user's concern.
        warnings.simplefilter("ignore")
        torch.onnx.export(_last_hidden_state(network, inputs),
                          tuple(example[name] for name in inputs), str(staging / MODEL_FILE),
                          **_torchscript_exporter(torch), input_names=list(inputs),
                          output_names=["last_hidden_state"], dynamic_axes=axes,
                          opset_version=17)
    _fuse(staging / MODEL_FILE, network.config)
    tokenizer.save_pretrained(staging / TOKENIZER_DIR)
    dimension = getattr(model, "get_embedding_dimension", None) or \
        model.get_sentence_embedding_dimension
    return ExportManifest(
        source=location, backend="onnx", pooling=_pooling_mode(location, pooling),
        max_seq_length=int(model.max_seq_length), dimension=int(dimension() or 0),
        lowercase=bool(getattr(transformer, "do_lower_case", False)), inputs=inputs)


def _fuse(path: Path, config: Any) -> None:
    """Fuse the graph at `path` in place with onnxruntime's transformer optimizer.

    Attention, skip layer norms and bias GELU become one operator each (measured 5 to
    30 % faster on 200-token chunks; same vectors) and the attention can then be
    quantised as a whole. Only architectures the "bert" optimizer knows are fused.
    """
    if getattr(config, "model_type", None) not in _FUSABLE_MODEL_TYPES:
        log.info("not fusing a %s graph", getattr(config, "model_type", "unknown"))
        return
    from onnxruntime.transformers.optimizer import optimize_model

    fused = optimize_model(str(path), model_type="bert",
                           num_heads=int(config.num_attention_heads),
                           hidden_size=int(config.hidden_size), opt_level=1)
    fused.save_model_to_file(str(path))


def _torchscript_exporter(torch: Any) -> dict[str, Any]:
    """The TorchScript-based exporter: torch >= 2.9 defaults to the dynamo one, which
    needs onnxscript; before 2.5 there is no choice to make."""
    parameters = inspect.signature(torch.onnx.export).parameters
    return {"dynamo": False} if "dynamo" in parameters else {}


def _check_modules(location: str, model: Any) -> tuple[Any, Any]:
    """The Transformer and Pooling modules; refuse any other layer we would not run."""
    names = [type(module).__name__ for module in model]
    if names not in (["Transformer", "Pooling"], ["Transformer", "Pooling", "Normalize"]):
        raise ModelLoadError(
            f"Model {location!r} is made of {' -> '.join(names)}; the ONNX backend runs "
            "only Transformer -> Pooling [-> Normalize]. Use --backend torch.")
    return model[0], model[1]


def _pooling_mode(location: str, pooling: Any) -> str:
    mode = getattr(pooling, "pooling_mode", None)
    if mode is None:  # sentence-transformers 5
        mode = pooling.get_pooling_mode_str()
    if isinstance(mode, (list, tuple)):
        mode = "+".join(mode) if len(mode) != 1 else mode[0]
    if mode not in _POOLING_MODES:
        raise ModelLoadError(
            f"Model {location!r} pools with {mode!r}; the ONNX backend does mean or CLS "
            "pooling only. Use --backend torch.")
    return str(mode)


def _quantize(fp32_dir: Path, staging: Path) -> ExportManifest:
    """Dynamic int8 quantisation of the fp32 export: the weights of every MatMul and
    fused Attention per channel (per tensor lost accuracy: cosine to fp32 down to 0.91)."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.tools.symbolic_shape_infer import SymbolicShapeInference

    # The quantiser needs every tensor's type, which ONNX's own shape inference cannot
    # give behind the fused (contrib) operators.
    shaped = SymbolicShapeInference.infer_shapes(onnx.load(fp32_dir / MODEL_FILE),
                                                 auto_merge=True)
    # Its advice to pre-process first is what the shape inference above does.
    advice = _DropMessage("pre-processing before quantization")
    logging.getLogger().addFilter(advice)
    try:
        quantize_dynamic(shaped, staging / MODEL_FILE, op_types_to_quantize=["MatMul", "Attention"],
                         weight_type=QuantType.QInt8, per_channel=True)
    finally:
        logging.getLogger().removeFilter(advice)
    shutil.copytree(fp32_dir / TOKENIZER_DIR, staging / TOKENIZER_DIR)
    manifest = read_manifest(fp32_dir)
    assert manifest is not None  # ensure_export just made or found it
    return ExportManifest(**{**asdict(manifest), "backend": "onnx-int8"})


class _DropMessage(logging.Filter):
    def __init__(self, fragment: str) -> None:
        super().__init__()
        self.fragment = fragment

    def filter(self, record: logging.LogRecord) -> bool:
        return self.fragment not in record.getMessage()


def _last_hidden_state(network: Any, inputs: tuple[str, ...]) -> Any:
    """`network` taking positional tensors and returning one, as the tracer wants it."""
    import torch

    class LastHiddenState(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.network = network

        def forward(self, *tensors: Any) -> Any:
            return self.network(**dict(zip(inputs, tensors, strict=True))).last_hidden_state

    return LastHiddenState()


