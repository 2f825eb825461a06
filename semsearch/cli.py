"""The `semsearch` command: a thin layer over the indexer, search and api packages.

Typer (on click) gives typed options and help; rich draws progress bars and tables.
Domain errors become one-line messages and exit code 2 here, in one place.
"""

import json
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from semsearch.indexer.errors import IndexerError
from semsearch.indexer.vector_policy import VectorIndexKind
from semsearch.settings import Settings

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Semantic search over your own documents.")
console = Console(stderr=True)
out = Console(soft_wrap=True)

IndexDirOption = Annotated[
    Path | None, typer.Option("--index-dir", help="Index directory [env SEMSEARCH_INDEX_DIR]")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


def _settings(**overrides: Any) -> Settings:
    return Settings(**{key: value for key, value in overrides.items() if value is not None})


@contextmanager
def _errors() -> Iterator[None]:
    """Turn the packages' own errors into a clear message and exit status 2."""
    try:
        yield
    except IndexerError as error:
        console.print(f"[red]error:[/red] {error}")
        raise typer.Exit(2) from error
    except _search_error_type() as error:
        console.print(f"[red]error:[/red] {error}")
        raise typer.Exit(2) from error


def _search_error_type() -> type[Exception]:
    from semsearch.search.errors import SearchError

    return SearchError


@app.command()
def index(
    path: Annotated[Path, typer.Argument(help="Folder to index.", exists=True, file_okay=False)],
    index_dir: IndexDirOption = None,
    model: Annotated[str | None, typer.Option(help="Model name or path.")] = None,
    device: Annotated[str | None, typer.Option(help="cuda, mps or cpu (default: best)")] = None,
    chunk_tokens: Annotated[int | None, typer.Option(help="Tokens per chunk, at most.")] = None,
    chunk_overlap: Annotated[int | None, typer.Option(help="Tokens shared by neighbours.")] = None,
    batch_size: Annotated[int | None, typer.Option(help="Texts per encoder batch.")] = None,
    rebuild: Annotated[bool, typer.Option(help="Re-index everything from scratch.")] = False,
    backend: Annotated[str | None, typer.Option(help=(
        "torch, onnx or onnx-int8 [env SEMSEARCH_BACKEND]; default: the index's own, for a "
        "new index onnx on the CPU and torch on a GPU"))] = None,
    vector_index: Annotated[VectorIndexKind | None, typer.Option(
        "--vector-index", help="auto, flat, hnsw or ivf [env SEMSEARCH_VECTOR_INDEX]")] = None,
    as_json: JsonOption = False,
) -> None:
    """Sync a folder into the index: only new, changed and removed files cost work."""
    settings = _settings(index_dir=index_dir, model=model, device=device,
                         chunk_tokens=chunk_tokens, chunk_overlap=chunk_overlap,
                         batch_size=batch_size, vector_index=vector_index, backend=backend)
    with _errors(), _progress_bar() as on_progress:
        report = settings.sync_job(path, rebuild=rebuild).run(on_progress)
    if as_json:
        out.print_json(json.dumps(report.to_dict()))
        return
    out.print(
        f"added {report.added}, updated {report.updated}, unchanged {report.unchanged}, "
        f"removed {report.removed}, renamed {report.renamed}, skipped {len(report.skipped)}; "
        f"{report.chunks_written} chunks written ({report.chunks_encoded} encoded) "
        f"in {report.seconds:.1f} s"
    )
    for skipped in report.skipped:
        out.print(f"  skipped {skipped.path}: {skipped.reason}", markup=False)


@contextmanager
def _progress_bar() -> Iterator[Callable[[Any], None]]:
    progress = Progress(
        TextColumn("[bold]indexing"), BarColumn(), MofNCompleteColumn(),
        TextColumn("files · {task.fields[chunks]} chunks encoded"),
        TimeElapsedColumn(), TimeRemainingColumn(), console=console, transient=True,
        disable=not console.is_terminal,
    )
    task = progress.add_task("index", total=None, chunks=0)

    def update(event: Any) -> None:
        progress.update(task, completed=event.files_done, total=event.files_total,
                        chunks=event.chunks_encoded)

    with progress:
        yield update


@app.command()
def stats(index_dir: IndexDirOption = None, as_json: JsonOption = False) -> None:
    """Show what the index holds."""
    from semsearch.indexer.stats import index_stats

    settings = _settings(index_dir=index_dir)
    with _errors():
        result = index_stats(settings.index_dir).to_dict()
    if as_json:
        out.print_json(json.dumps(result))
        return
    table = Table(show_header=False, box=None)
    for key, value in result.items():
        if key != "skipped_files":
            table.add_row(key, str(value))
    out.print(table)
    for skipped in result["skipped_files"]:
        path, reason = skipped["path"], skipped["reason"]
        out.print(f"  skipped {path}: {reason}", markup=False)


@app.command()
def search(
    query: Annotated[str, typer.Argument(help="What to look for.")],
    k: Annotated[int, typer.Option("-k", help="Results wanted.")] = 10,
    mode: Annotated[str, typer.Option(help="dense, lexical or hybrid.")] = "hybrid",
    rerank: Annotated[bool, typer.Option(help="Rescore with the cross-encoder.")] = False,
    path_prefix: Annotated[str | None, typer.Option(help="Only paths starting so.")] = None,
    path_glob: Annotated[str | None, typer.Option(help="Only paths matching this glob.")] = None,
    file_type: Annotated[
        list[str] | None, typer.Option("--type", help="Only this extension (repeatable).")
    ] = None,
    group_by_document: Annotated[
        bool, typer.Option("--by-document", help="One hit per document.")
    ] = False,
    min_score: Annotated[float | None, typer.Option(help="Drop hits scoring less.")] = None,
    index_dir: IndexDirOption = None,
    as_json: JsonOption = False,
) -> None:
    """Search the index and print ranked results with path, score and highlight."""
    from semsearch.search.options import Filters, SearchOptions

    settings = _settings(index_dir=index_dir)
    with _errors():
        options = SearchOptions(
            k=k, mode=mode,  # type: ignore[arg-type]  # checked, with a clear error
            rerank=rerank, min_score=min_score,
            filters=Filters(path_prefix=path_prefix, path_glob=path_glob,
                            file_types=tuple(file_type or ())),
            group_by="document" if group_by_document else None)
        response = _open_searcher(settings).search(query, options)
    if as_json:
        out.print_json(json.dumps(response.to_dict(), ensure_ascii=False))
        return
    if not response.results:
        out.print("no results")
    for rank, hit in enumerate(response.results, 1):
        where = f"{hit.path}" + (f" p.{hit.page}" if hit.page else "")
        out.print(f"[bold]{rank}.[/bold] {where}  [dim]{hit.score_kind} {hit.score:.3f}[/dim]")
        if hit.highlights:
            out.print("   " + hit.highlights[0].text.replace("\n", " ")[:300], markup=False)


@app.command()
def serve(
    index_dir: IndexDirOption = None,
    host: Annotated[str | None, typer.Option(help="Address to bind [127.0.0.1].")] = None,
    port: Annotated[int | None, typer.Option(help="Port [8000].")] = None,
    workers: Annotated[int, typer.Option(help="Worker processes.")] = 1,
) -> None:
    """Serve the index over HTTP (OpenAPI docs at /docs)."""
    import os

    import uvicorn

    from semsearch.indexer.stats import read_manifest

    settings = _settings(index_dir=index_dir, host=host, port=port)
    with _errors():
        read_manifest(settings.index_dir)  # fail here, clearly, when there is no index
    # The app factory reads its settings from the environment, also in worker processes.
    os.environ["SEMSEARCH_INDEX_DIR"] = str(settings.index_dir.resolve())
    from semsearch.api.metrics import log_config

    # One request line from api/metrics.py (method, route, status, ms) replaces uvicorn's.
    uvicorn.run("semsearch.api.app:create_app", factory=True, host=settings.host,
                port=settings.port, workers=workers, log_level="info",
                log_config=log_config(), access_log=False)


@app.command(name="eval")
def evaluate_command(
    dataset: Annotated[Path | None, typer.Argument(
        help="A BEIR folder: corpus.jsonl[.gz], queries.jsonl, qrels/SPLIT.tsv.")] = None,
    queries: Annotated[Path | None, typer.Option(
        help="Your own queries (JSONL or TSV) to evaluate the index of your folder.")] = None,
    mode: Annotated[str, typer.Option(help="Modes, comma-separated.")] = "dense,lexical,hybrid",
    rerank: Annotated[bool, typer.Option(help="Also run each mode reranked.")] = False,
    split: Annotated[str, typer.Option(help="Which qrels file of a BEIR folder.")] = "test",
    ignore_identical_ids: Annotated[bool, typer.Option(
        help="Drop a document whose id equals the query's (BEIR convention).")] = False,
    backend: Annotated[str | None, typer.Option(help=(
        "Encoder backend for a BEIR corpus's index: torch, onnx or onnx-int8 "
        "[env SEMSEARCH_BACKEND]; default: that index's own"))] = None,
    index_dir: IndexDirOption = None,
    as_json: JsonOption = False,
) -> None:
    """Measure nDCG@10, Recall@10/100, MRR@10 and latency on a benchmark or your queries.

    A BEIR corpus is indexed through the same path as `semsearch index`, into an index
    directory (default .semsearch-eval/NAME) that later runs reuse.
    """
    from semsearch.search import evaluate as ev

    if (dataset is None) == (queries is None):
        console.print("[red]error:[/red] give either a BEIR DATASET folder or --queries FILE")
        raise typer.Exit(2)
    modes = [m.strip() for m in mode.split(",") if m.strip()]
    settings = _settings(index_dir=index_dir, backend=backend)
    with _errors():
        if dataset is not None:
            data = ev.load_beir(dataset, split)
            work = index_dir or Path(".semsearch-eval") / dataset.resolve().name
            job = settings.sync_job(work / "documents", work / "index")
            with _progress_bar() as on_progress:
                searcher = ev.open_beir_index(data, job, settings.rerank_model, on_progress)
            to_doc_id: Callable[[str], str] = ev.beir_doc_id
        else:
            assert queries is not None
            data = ev.load_query_file(queries)
            searcher = _open_searcher(settings)
            to_doc_id = str
        with _run_progress() as on_run:
            results = ev.evaluate_modes(searcher, data, modes, rerank, to_doc_id,
                                        ignore_identical_ids, on_run)
    if as_json:
        out.print_json(json.dumps(results))
        return
    table = Table("mode", "nDCG@10", "Recall@10", "Recall@100", "MRR@10", "p50 ms", "p99 ms")
    for name, metrics in results.items():
        table.add_row(name, *(f"{metrics[key]:.4f}" for key in
                              ("ndcg@10", "recall@10", "recall@100", "mrr@10")),
                      f"{metrics['p50_ms']:.1f}", f"{metrics['p99_ms']:.1f}")
    out.print(f"{len(data.queries)} queries")
    out.print(table)


def _open_searcher(settings: Settings) -> Any:
    """The searcher of the configured index, on the configured device."""
    from semsearch.search.searcher import Searcher

    return Searcher(settings.index_dir, settings.encoder_spec(),
                    rerank_model=settings.rerank_model)


@contextmanager
def _run_progress() -> Iterator[Callable[[str], Callable[[], None]]]:
    """A progress bar per evaluation run: `on_run(name)` adds one, returns its ticker."""
    progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(),
                        MofNCompleteColumn(), TimeElapsedColumn(), console=console,
                        transient=True, disable=not console.is_terminal)

    def on_run(name: str) -> Callable[[], None]:
        return partial(progress.advance, progress.add_task(name, total=None))

    with progress:
        yield on_run


@app.command(name="mcp")
def mcp_command(index_dir: IndexDirOption = None) -> None:
    """Serve the index to an MCP client (a chat app) over stdin and stdout.

    Tools: search, context, get_document. Over HTTP, `semsearch serve` offers the same
    tools at /mcp.
    """
    from semsearch.api.mcp_server import build_mcp_server

    settings = _settings(index_dir=index_dir)
    with _errors():  # a missing index fails here, before the client's handshake
        searcher = _open_searcher(settings)
    # stdout carries the protocol: everything else (logs, errors) goes to stderr.
    build_mcp_server(lambda: searcher).run("stdio")


# --- text tools: embed, similarity, classify (search/text_tools.py) ----------------------
ModelOption = Annotated[str | None, typer.Option(
    "--model", help="Model name or path (env SEMSEARCH_MODEL); not with --index-dir.")]
DeviceOption = Annotated[str | None, typer.Option(help="cuda, mps or cpu (default: best)")]
BackendOption = Annotated[str | None, typer.Option(
    help="torch, onnx or onnx-int8 (env SEMSEARCH_BACKEND); default: the index's own with "
    "--index-dir, else onnx on the CPU and torch on a GPU")]
ToolIndexDirOption = Annotated[Path | None, typer.Option(
    "--index-dir", help="Use the model this index was built with.")]


def _fail(message: str) -> typer.Exit:
    console.print(f"[red]error:[/red] {message}", markup=True, highlight=False)
    return typer.Exit(2)


def _tool_encoder(index_dir: Path | None, model: str | None, device: str | None,
                  backend: str | None) -> Any:
    """The model (and backend) of `index_dir` when given, else the configured ones."""
    from semsearch.indexer.stats import read_manifest

    if index_dir is not None and model is not None:
        raise _fail("give --model or --index-dir (which uses the index's model), not both")
    settings = _settings(model=model, device=device, backend=backend)
    spec = settings.encoder_spec(settings.model if index_dir is None else None)
    if index_dir is not None:
        manifest = read_manifest(index_dir)
        manifest.check(index_dir, backend=spec.backend)
        spec = spec.with_record(manifest.model, manifest.backend)
    return spec.load()


def _read_lines(path: Path) -> list[str]:
    try:
        return [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    except (OSError, UnicodeDecodeError) as error:
        raise _fail(f"cannot read {path}: {error}") from error


def _read_pairs(path: Path) -> list[tuple[str, str]]:
    """Lines of `a<TAB>b`, or JSON `[a, b]` / `{"a": ..., "b": ...}`."""
    pairs = []
    for number, line in enumerate(_read_lines(path), 1):
        try:
            value = json.loads(line) if line.lstrip()[:1] in "[{" else line.split("\t")
            pair = (value["a"], value["b"]) if isinstance(value, dict) else tuple(value)
        except (ValueError, KeyError) as error:
            raise _fail(f"{path}:{number}: not a pair: {error}") from error
        if len(pair) != 2 or not all(isinstance(text, str) for text in pair):
            raise _fail(f"{path}:{number}: want `a<TAB>b`, [a, b] or {{\"a\": .., \"b\": ..}}")
        pairs.append((pair[0], pair[1]))
    return pairs


def _read_examples(path: Path) -> list[tuple[str, str]]:
    """JSONL lines of {"text": ..., "label": ...}."""
    examples = []
    for number, line in enumerate(_read_lines(path), 1):
        try:
            row = json.loads(line)
            examples.append((str(row["text"]), str(row["label"])))
        except (ValueError, KeyError, TypeError) as error:
            raise _fail(f"{path}:{number}: want {{\"text\": .., \"label\": ..}}: "
                        f"{error}") from error
    return examples


def _echo_json(value: object) -> None:
    typer.echo(json.dumps(value, ensure_ascii=False))


@app.command()
def embed(
    texts: Annotated[list[str], typer.Argument(help="Texts to embed.")],
    index_dir: ToolIndexDirOption = None, model: ModelOption = None,
    device: DeviceOption = None, backend: BackendOption = None, as_json: JsonOption = False,
) -> None:
    """Print the unit vectors of TEXTS (full vectors with --json)."""
    from semsearch.search import text_tools

    with _errors():
        encoder = _tool_encoder(index_dir, model, device, backend)
        vectors = text_tools.embed(encoder, texts)
    if as_json:
        _echo_json({"model": encoder.model_name, "dimension": encoder.dimension,
                    "embeddings": vectors.tolist()})
        return
    for text, vector in zip(texts, vectors, strict=True):
        head = ", ".join(f"{x:.4f}" for x in vector[:4])
        out.print(f"[{head}, …] ({len(vector)} dims)  {text[:60]}", markup=False)


@app.command()
def similarity(
    texts: Annotated[list[str] | None, typer.Argument(help="A B: two texts.")] = None,
    pairs_file: Annotated[Path | None, typer.Option(
        help="Pairs, one a line: a<TAB>b, or JSON [a, b] or {\"a\", \"b\"}.")] = None,
    queries_file: Annotated[Path | None, typer.Option(
        help="Matrix form: queries, one a line (with --documents-file).")] = None,
    documents_file: Annotated[Path | None, typer.Option(
        help="Matrix form: documents, one a line.")] = None,
    index_dir: ToolIndexDirOption = None, model: ModelOption = None,
    device: DeviceOption = None, backend: BackendOption = None, as_json: JsonOption = False,
) -> None:
    """Cosine similarity of A and B, of each pair in a file, or of queries x documents."""
    from semsearch.search import text_tools

    forms = [bool(texts), pairs_file is not None,
             queries_file is not None or documents_file is not None]
    if sum(forms) != 1 or (texts and len(texts) != 2) or (
            forms[2] and (queries_file is None or documents_file is None)):
        raise _fail("give two texts A B, or --pairs-file, or --queries-file with "
                    "--documents-file")
    pairs = _read_pairs(pairs_file) if pairs_file else []
    queries = _read_lines(queries_file) if queries_file else []
    documents = _read_lines(documents_file) if documents_file else []
    with _errors():
        encoder = _tool_encoder(index_dir, model, device, backend)
        if texts:
            scores: Any = text_tools.similarity(encoder, texts[0], texts[1])
        elif pairs_file is not None:
            scores = text_tools.pair_similarities(encoder, pairs).tolist()
        else:
            scores = text_tools.similarity_matrix(encoder, queries, documents).tolist()
    if as_json:
        _echo_json({"score": scores} if texts else {"scores": scores})
    elif texts:
        out.print(f"{scores:.4f}")
    elif pairs_file is not None:
        for (a, b), score in zip(pairs, scores, strict=True):
            out.print(f"{score:.4f}  {a[:40]}  |  {b[:40]}", markup=False)
    else:
        table = Table("query", *(d[:20] for d in documents))
        for query, row in zip(queries, scores, strict=True):
            table.add_row(query[:40], *(f"{s:.3f}" for s in row))
        out.print(table)


@app.command()
def classify(
    texts: Annotated[list[str], typer.Argument(help="Texts to classify.")],
    label: Annotated[list[str] | None, typer.Option(
        help="Zero-shot label: NAME or NAME=DESCRIPTION (repeat).")] = None,
    examples: Annotated[Path | None, typer.Option(
        help="Few-shot: JSONL of {\"text\": .., \"label\": ..}.")] = None,
    method: Annotated[str, typer.Option(help="Few-shot: auto, logistic or centroid.")] = "auto",
    temperature: Annotated[float | None, typer.Option(
        help="Softmax temperature of zero-shot and centroid [0.03].")] = None,
    index_dir: ToolIndexDirOption = None, model: ModelOption = None,
    device: DeviceOption = None, backend: BackendOption = None, as_json: JsonOption = False,
) -> None:
    """Label TEXTS zero-shot (--label) or from labelled examples (--examples)."""
    from semsearch.search import text_tools

    if bool(label) == (examples is not None):
        raise _fail("give --label (repeat it) or --examples FILE.jsonl, not both or neither")
    if label and method != "auto":
        raise _fail("--method applies to --examples only")
    chosen_temperature = text_tools.DEFAULT_TEMPERATURE if temperature is None else temperature
    with _errors():
        encoder = _tool_encoder(index_dir, model, device, backend)
        used: str
        if examples is not None:
            labelled = _read_examples(examples)
            used = text_tools.choose_method(method, [name for _, name in labelled])
            results = text_tools.classify_few_shot(encoder, texts, labelled, used,
                                                   chosen_temperature)
        else:
            descriptions = dict(_parse_label(item) for item in label or [])
            used = "zero-shot"
            results = text_tools.classify_zero_shot(encoder, texts, descriptions,
                                                    chosen_temperature)
    if as_json:
        _echo_json({"method": used, "results": [vars(r) for r in results]})
        return
    for text, result in zip(texts, results, strict=True):
        out.print(f"{result.label}  {result.probability:.3f}  {text[:60]}", markup=False)


def _parse_label(item: str) -> tuple[str, str]:
    name, _, description = item.partition("=")
    return name.strip(), description.strip() or name.strip()


@app.command()
def watch(
    path: Annotated[Path, typer.Argument(help="Folder to keep indexed.", exists=True,
                                         file_okay=False)],
    index_dir: IndexDirOption = None,
    debounce: Annotated[float, typer.Option(
        min=0.05, help="Seconds without changes before a sync.")] = 1.0,
    device: Annotated[str | None, typer.Option(help="cuda, mps or cpu (default: best)")] = None,
) -> None:
    """Keep the index in step with a folder: sync now, then after each burst of changes.

    Ctrl-C or SIGTERM lets the running sync finish, then stops; a second one stops at once.
    """
    import threading
    import time

    from semsearch.indexer.watch import (
        WatchOptions,
        WatchSync,
        stop_on_signals,
        summary,
        watch_folder,
    )

    settings = _settings(index_dir=index_dir, device=device)
    with _errors():
        job = settings.sync_job(path)
    stop = threading.Event()

    def say(message: str) -> None:
        console.print(f"{time.strftime('%H:%M:%S')} {message}", markup=False, highlight=False,
                      soft_wrap=True)

    def report(done: WatchSync) -> None:
        why = f"{len(done.changed)} change(s)" if done.changed else "start"
        say(f"synced ({why}): {summary(done.report)}")
        for skipped in done.report.skipped:
            say(f"  skipped {skipped.path}: {skipped.reason}")

    stop_on_signals(stop, lambda: say("stopping after the running sync "
                                      "(press Ctrl-C again to stop at once)"))
    say(f"watching {path.resolve()} into {settings.index_dir.resolve()}")
    with _errors():
        watch_folder(job, stop, WatchOptions(debounce_s=debounce), on_sync=report)
    say("stopped")


def main() -> None:
    """Entry point of the `semsearch` console script."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    # pypdf logs every oddity of a broken file; the skip reason already says what matters.
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    app()


if __name__ == "__main__":
    main()
