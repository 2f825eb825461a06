"""A sync's new content parsed, chunked and encoded as one Ray Data pipeline (`--ray`).

The driver (the process that runs the sync) walks the folder and reads and hashes each
changed file, as a local sync does (`Examiner.read`): that decides what is skipped,
touched or renamed, and which content is new. Only new content goes to the cluster:

    from_items(path, content hash)                         one item per new content
      -> map_batches(parse_and_chunk)  CPU tasks           the local parser and chunker
      -> map_batches(ChunkEncoder, ActorPoolStrategy)      one model per actor: a GPU
                                                           each (fp16, large batches)
                                                           when the cluster has GPUs
      -> iter_batches in the driver                        rows and vectors come back

The tasks read each file by its path under the folder, so every node must see the folder
at the same path (a shared volume; `--ray local` is one machine), and a file whose hash
differs from the driver's is skipped and read again by the next sync. The driver writes
what comes back, to whichever store the sync writes (see docs/scale-out.md for why not
a Ray `Datasink`): `handovers` yields `Examined` handovers like the local producer, but
only once all of a content's rows are back, so a generation commits only whole files.
"""

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from semsearch.indexer.encoders.ray_cluster import RayClusterError, connect, import_ray
from semsearch.indexer.encoders.ray_encoder import (
    GPU_BATCH_SIZE,
    BatchEncoder,
    actor_nodes,
    register_tokenizer_serializer,
)
from semsearch.indexer.encoders.spec import EncoderSpec
from semsearch.indexer.errors import ParseError, UnreadableFileError
from semsearch.indexer.parse import parse_document
from semsearch.indexer.plan import (
    HANDOVER_FILES,
    Action,
    Chunking,
    Examined,
    Examiner,
    Pending,
    chunk_rows,
    content_hash,
)
from semsearch.indexer.walk import CHANGED_WHILE_READING, read_file

# Files per parse task: enough to amortise a task's start, few enough to spread them.
FILES_PER_TASK = 8
# The columns of a chunk row as it travels (its staged row, minus the embedding, plus
# where it belongs): `chunks` is its content's chunk count, 0 on a content's one marker
# row (no text, or `error` says why it was skipped).
_STRING_COLUMNS = ("title", "format", "text", "page_breaks", "headings", "lexical_title",
                   "lexical_body")
_INT_COLUMNS = ("ordinal", "start", "end", "page", "token_count")


def parse_and_chunk(batch: dict[str, NDArray[Any]], root: str, max_file_bytes: int,
                    tokenizer: Any, model_max_tokens: int,
                    chunking: Chunking) -> dict[str, NDArray[Any]]:
    """Ray Data task: read, parse and chunk each file of `batch` (columns `path`,
    `content_hash`); a row per chunk, or a marker row for content with no chunk."""
    rows: list[dict[str, Any]] = []
    for path, expected in zip(batch["path"], batch["content_hash"], strict=True):
        rows += _file_rows(Path(root) / str(path), str(path), str(expected),
                           max_file_bytes, tokenizer, model_max_tokens, chunking)
    return {name: np.array([row[name] for row in rows]) for name in rows[0]}


def _file_rows(file: Path, path: str, expected: str, max_file_bytes: int, tokenizer: Any,
               model_max_tokens: int, chunking: Chunking) -> list[dict[str, Any]]:
    try:
        data = read_file(file, max_file_bytes).data
    except UnreadableFileError as error:
        return [_marker(expected, error.reason, error.retry)]
    if content_hash(data) != expected:  # changed since the driver read it
        return [_marker(expected, CHANGED_WHILE_READING, retry=True)]
    try:
        document = parse_document(path, data)
    except ParseError as error:
        return [_marker(expected, error.reason, retry=False)]
    rows = chunk_rows(document, tokenizer, model_max_tokens, chunking)
    if not rows:
        return [_marker(expected, "", retry=False)]
    return [{**row, "page": -1 if row["page"] is None else row["page"],
             "content_hash": expected, "chunks": len(rows), "error": "", "retry": False}
            for row in rows]


def _marker(expected: str, error: str, retry: bool) -> dict[str, Any]:
    """The one row of content that has no chunk: `error` says why ("" for no text)."""
    return {**dict.fromkeys(_STRING_COLUMNS, ""), **dict.fromkeys(_INT_COLUMNS, -1),
            "content_hash": expected, "chunks": 0, "error": error, "retry": retry}


class ChunkEncoder(BatchEncoder):
    """Ray Data actor: adds an `embedding` column, encoding the chunk rows (a marker
    row gets zeros)."""

    def __init__(self, spec: EncoderSpec, batch_size: int) -> None:
        super().__init__(spec)
        self.batch_size = batch_size

    def __call__(self, batch: dict[str, NDArray[Any]]) -> dict[str, NDArray[Any]]:
        chunks = np.flatnonzero(batch["chunks"] > 0)
        vectors = np.zeros((len(batch["chunks"]), self.encoder.dimension), np.float32)
        if len(chunks):
            texts = [str(batch["text"][row]) for row in chunks]
            vectors[chunks] = self.encoder.encode(texts, self._batch_size(self.batch_size))
        return {**batch, "embedding": vectors}


@dataclass(frozen=True)
class Described:
    """What the driver needs of the model the pipeline runs."""

    dimension: int
    max_tokens: int
    tokenizer: Any


def _describe(spec: EncoderSpec) -> Described:
    """Ray task: load the model once and say what it is."""
    encoder = BatchEncoder(spec).encoder
    return Described(encoder.dimension, encoder.max_tokens, encoder.tokenizer)


@dataclass
class _Waiting:
    """A new content on its way through the pipeline: the files that hold it, and the
    rows (with their vectors) back so far."""

    actions: list[Action]
    ordinals: list[int] = field(default_factory=list)
    rows: list[dict[str, object]] = field(default_factory=list)
    vectors: list[NDArray[np.float32]] = field(default_factory=list)


class RayPipeline:
    """Parses, chunks and encodes a sync's new content on a Ray cluster.

    Args:
        spec: the resolved encoder; its `ray` address is connected to here unless this
            process is connected already (as `load_ray_encoder` does).
        batch_size: texts per forward pass (at least `GPU_BATCH_SIZE` on a GPU).

    Raises:
        RayClusterError: Ray is missing or the address cannot be reached.
    """

    def __init__(self, spec: EncoderSpec, chunking: Chunking, batch_size: int,
                 max_file_bytes: int) -> None:
        assert spec.device and spec.ray
        connect(spec.ray)
        self.spec = replace(spec, ray=None, keep=None, preloaded=None)
        self.device: str = spec.device
        self.on_gpu = self.device.startswith("cuda")
        self.chunking, self.batch_size = chunking, batch_size
        self.max_file_bytes = max_file_bytes
        self._described: Described | None = None

    def describe(self) -> Described:
        """The model's dimension, token limit and tokenizer, from one Ray task (on a
        GPU when the encoder runs on one), asked once.

        Raises:
            RayClusterError: the model cannot be loaded on the cluster.
        """
        if self._described is None:
            ray = import_ray()
            register_tokenizer_serializer()
            task = ray.remote(_describe).options(num_cpus=1, num_gpus=int(self.on_gpu))
            try:
                self._described = ray.get(task.remote(self.spec))
            except ray.exceptions.RayError as error:
                cause = str(getattr(error, "cause", None) or error).strip().splitlines()[-1]
                raise RayClusterError(
                    f"The encoder could not start on the Ray cluster: {cause}") from error
        return self._described

    @property
    def dimension(self) -> int:
        return self.describe().dimension

    def handovers(self, examiner: Examiner,
                  files_per_handover: int | None = None) -> Iterator[Examined]:
        """The examiner's candidates as handovers of at most `files_per_handover` files
        (more only for one content that many files hold): first those that need no
        parsing (skips, touches, renames, content staged before), then, as the pipeline
        brings each new content back whole, the files that hold it with its rows and
        vectors. A content the tasks could not read or parse skips its files, reported."""
        most = min(HANDOVER_FILES, files_per_handover or HANDOVER_FILES)
        ready, waiting = self._examine(examiner)
        done = 0
        for settled in self._settled(examiner, ready, waiting):
            handover = Examined([], [], done)
            for actions, pending in settled:
                if handover.actions and len(handover.actions) + len(actions) > most:
                    yield handover
                    handover = Examined([], [], handover.files_done)
                handover.actions += actions
                handover.pending += pending
                handover.files_done += len(actions)
            if handover.actions:
                yield handover
            done = handover.files_done

    def _settled(self, examiner: Examiner, ready: list[Action],
                 waiting: dict[str, _Waiting]
                 ) -> Iterator[list[tuple[list[Action], list[Pending]]]]:
        """Groups of settled files, each file with the new content it brings (if any):
        those ready now, then those of each batch the pipeline sends back."""
        yield [([action], []) for action in ready]
        if waiting:
            yield from self._run(examiner, waiting)

    def _examine(self, examiner: Examiner) -> tuple[list[Action], dict[str, _Waiting]]:
        """Read and hash every candidate in the driver: (the actions ready now, the new
        contents to send, by hash)."""
        ready: list[Action] = []
        waiting: dict[str, _Waiting] = {}
        for action in examiner.plan.candidates:
            if examiner.read(action) is None:
                ready.append(action)
            elif action.content_hash in waiting:
                waiting[action.content_hash].actions.append(action)
            elif action.content_hash in examiner.seen:  # staged by a run that was killed
                examiner.count(action)
                ready.append(action)
            else:
                waiting[action.content_hash] = _Waiting([action])
        return ready, waiting

    def _run(self, examiner: Examiner, waiting: dict[str, _Waiting]
             ) -> Iterator[list[tuple[list[Action], list[Pending]]]]:
        """Stream the pipeline's output; per batch, the contents it completes: the files
        that hold each, and its pending rows (none for a content that was skipped)."""
        dataset = self._dataset(examiner.root, waiting)
        for batch in dataset.iter_batches(batch_size=None, batch_format="numpy"):
            settled: list[tuple[list[Action], list[Pending]]] = []
            for index in range(len(batch["content_hash"])):
                hash_ = str(batch["content_hash"][index])
                entry = waiting[hash_]
                complete = _take_row(entry, batch, index)
                if complete is not None:
                    del waiting[hash_]
                    settled.append((entry.actions, self._finish(
                        examiner, hash_, entry, complete, batch, index)))
            yield settled

    def _finish(self, examiner: Examiner, hash_: str, entry: _Waiting, complete: bool,
                batch: dict[str, NDArray[Any]], index: int) -> list[Pending]:
        """Settle a content that is back whole: its files are counted and it is pending
        (`complete`), or they are skipped for the reason its marker row gives."""
        error = str(batch["error"][index])
        if not complete and error:
            for action in entry.actions:
                if bool(batch["retry"][index]):  # read again by the next sync
                    action.size, action.mtime = -1, -1.0
                action.skipped(examiner.report, error)
            return []
        for action in entry.actions:
            examiner.count(action)
        order = np.argsort(entry.ordinals, kind="stable")
        vectors = (np.stack(entry.vectors)[order] if entry.vectors
                   else np.zeros((0, self.dimension), np.float32))
        return [Pending(hash_, [entry.rows[i] for i in order], vectors)]

    def _dataset(self, root: Path, waiting: dict[str, _Waiting]) -> Any:
        """The lazy Dataset from the new contents to their rows with embeddings."""
        ray = import_ray()
        described = self.describe()
        items = [{"path": entry.actions[0].path, "content_hash": hash_}
                 for hash_, entry in waiting.items()]
        tasks = max(1, -(-len(items) // FILES_PER_TASK))
        # rows per actor call; each call runs forward passes of `batch_size` texts
        rows_per_call = max(self.batch_size, GPU_BATCH_SIZE)
        pool = ray.data.ActorPoolStrategy(min_size=1, max_size=len(actor_nodes(self.device)))
        dataset = (ray.data.from_items(items, override_num_blocks=tasks)
                .map_batches(parse_and_chunk, batch_size=FILES_PER_TASK, num_cpus=1,
                             batch_format="numpy",
                             fn_kwargs={"root": str(root),
                                        "max_file_bytes": self.max_file_bytes,
                                        "tokenizer": described.tokenizer,
                                        "model_max_tokens": described.max_tokens,
                                        "chunking": self.chunking})
                .map_batches(ChunkEncoder, fn_constructor_args=(self.spec, self.batch_size),
                             batch_size=rows_per_call, compute=pool, batch_format="numpy",
                             **encoder_actor_options(self.device)))
        # the dataset's own copy of the settings: the sync reports its own progress
        dataset.context.enable_progress_bars = False
        return dataset


def encoder_actor_options(device: str) -> dict[str, Any]:
    """Ray options of the pool's encoder actors: a GPU each on CUDA; on CPUs one CPU
    slot but the threads of the smallest node (Ray sets OMP_NUM_THREADS=1 for a 1-CPU
    actor, which would leave torch on one core). Either way they differ from the parse
    tasks' options, so Ray Data keeps the two stages apart: parsing runs in tasks of
    its own, beside the encoding, not inside the encoder actors."""
    if device.startswith("cuda"):
        return {"num_cpus": 1, "num_gpus": 1}
    threads = min(int(node["Resources"]["CPU"]) for node in import_ray().nodes()
                  if node["Alive"] and node["Resources"].get("CPU", 0) >= 1)
    return {"num_cpus": 1, "runtime_env": {"env_vars": {"OMP_NUM_THREADS": str(threads)}}}


def _take_row(entry: _Waiting, batch: dict[str, NDArray[Any]], index: int) -> bool | None:
    """Add row `index` of `batch` to its content; True when that completes it with its
    chunks, False when it is the content's marker row, None while rows are missing."""
    chunks = int(batch["chunks"][index])
    if chunks == 0:
        return False
    row: dict[str, object] = {name: str(batch[name][index]) for name in _STRING_COLUMNS}
    row.update({name: int(batch[name][index]) for name in _INT_COLUMNS})
    if row["page"] == -1:
        row["page"] = None
    entry.ordinals.append(int(batch["ordinal"][index]))
    entry.rows.append(row)
    entry.vectors.append(np.asarray(batch["embedding"][index], dtype=np.float32))
    return True if len(entry.rows) == chunks else None
