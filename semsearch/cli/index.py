"""The index commands: index, stats, search, serve, eval, mcp and watch."""

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from semsearch.cli.common import (
    CollectionOption,
    IndexDirOption,
    JsonOption,
    MilvusOption,
    app,
    console,
    domain_errors,
    fail,
    out,
    settings_with,
)
from semsearch.indexer.encoders.ray_cluster import ray_session
from semsearch.indexer.vector_policy import VectorIndexKind
from semsearch.settings import Settings

RayOption = Annotated[str | None, typer.Option(
    "--ray", metavar="ADDRESS", help=(
        "Encode on Ray: local (start one on 127.0.0.1 for the run), auto, host:port or "
        "ray://host:10001 [env SEMSEARCH_RAY]; needs pip install 'semsearch[scale]'"))]


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
        "torch, onnx (fp32) or onnx-int8 [env SEMSEARCH_BACKEND]; default: the index's own, "
        "for a new index onnx on the CPU and torch on a GPU"))] = None,
    vector_index: Annotated[VectorIndexKind | None, typer.Option(
        "--vector-index", help="auto, flat, hnsw or ivf [env SEMSEARCH_VECTOR_INDEX]")] = None,
    generation_files: Annotated[int | None, typer.Option(min=1, help=(
        "Commit a searchable generation every this many files [500; env "
        "SEMSEARCH_GENERATION_FILES]."))] = None,
    generation_seconds: Annotated[float | None, typer.Option(min=0.001, help=(
        "Or every this many seconds, whichever comes first [60; env "
        "SEMSEARCH_GENERATION_SECONDS]."))] = None,
    ray: RayOption = None,
    milvus: MilvusOption = None,
    collection: CollectionOption = None,
    as_json: JsonOption = False,
) -> None:
    """Sync a folder into the index: only new, changed and removed files cost work.

    A long sync commits as it goes: what it has done is searchable, and a killed sync
    loses at most the files since its last commit (run it again to go on)."""
    settings = settings_with(index_dir=index_dir, model=model, device=device,
                         chunk_tokens=chunk_tokens, chunk_overlap=chunk_overlap,
                         batch_size=batch_size, vector_index=vector_index, backend=backend,
                         generation_files=generation_files,
                         generation_seconds=generation_seconds,
                         ray=ray, milvus_uri=milvus, milvus_collection=collection)
    with domain_errors(), ray_session(settings.ray), _progress_bar() as on_progress:
        report = settings.store_job(path, rebuild=rebuild).run(on_progress)
    if as_json:
        out.print_json(json.dumps(report.to_dict()))
        return
    skip_count = str(len(report.skipped)) + (
        f" ({report.skipped_unchanged} unchanged)" if report.skipped_unchanged else "")
    out.print(
        f"added {report.added}, updated {report.updated}, unchanged {report.unchanged}, "
        f"removed {report.removed}, renamed {report.renamed}, skipped {skip_count}; "
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
def stats(index_dir: IndexDirOption = None, milvus: MilvusOption = None,
          collection: CollectionOption = None, as_json: JsonOption = False) -> None:
    """Show what the index holds."""
    from semsearch.indexer.milvus_stats import store_stats

    settings = settings_with(index_dir=index_dir, milvus_uri=milvus,
                             milvus_collection=collection)
    with domain_errors():
        result = store_stats(settings.index_dir, settings.milvus_target()).to_dict()
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
    milvus: MilvusOption = None,
    collection: CollectionOption = None,
    as_json: JsonOption = False,
) -> None:
    """Search the index and print ranked results with path, score and highlight."""
    from semsearch.search.options import Filters, SearchOptions

    settings = settings_with(index_dir=index_dir, milvus_uri=milvus,
                             milvus_collection=collection)
    with domain_errors():
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
    milvus: MilvusOption = None,
    collection: CollectionOption = None,
) -> None:
    """Serve the index over HTTP (OpenAPI docs at /docs)."""
    import os

    import uvicorn

    from semsearch.indexer.milvus_stats import store_stats

    settings = settings_with(index_dir=index_dir, host=host, port=port, milvus_uri=milvus,
                             milvus_collection=collection)
    with domain_errors():  # fail here, clearly, when there is no index
        store_stats(settings.index_dir, settings.milvus_target())
    # The app factory reads its settings from the environment, also in worker processes.
    os.environ["SEMSEARCH_INDEX_DIR"] = str(settings.index_dir.resolve())
    if settings.milvus_uri is not None:
        os.environ["SEMSEARCH_MILVUS_URI"] = settings.milvus_uri
        os.environ["SEMSEARCH_MILVUS_COLLECTION"] = settings.milvus_collection
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
        "(env SEMSEARCH_BACKEND); default: that index's own (--pairs, --labelled: as "
        "`semsearch embed`)"))] = None,
    index_dir: IndexDirOption = None,
    pairs: Annotated[Path | None, typer.Option(help=(
        "The model alone: text_a<TAB>text_b<TAB>score lines or JSONL; Spearman and Pearson "
        "of cosine vs score."))] = None,
    labelled: Annotated[Path | None, typer.Option(help=(
        "The model alone: JSONL {\"text\", \"label\"} or text<TAB>label lines; accuracy "
        "and macro-F1 of zero-shot and cross-validated few-shot classify."))] = None,
    model: Annotated[str | None, typer.Option(help=(
        "--pairs, --labelled: model name or path (env SEMSEARCH_MODEL); or --index-dir "
        "for that index's model."))] = None,
    folds: Annotated[int | None, typer.Option(help="--labelled: cross-validation folds, "
                                              "at most (default 5).")] = None,
    method: Annotated[str | None, typer.Option(help="--labelled: few-shot method: auto "
                                               "(the default), logistic or centroid.")] = None,
    ray: RayOption = None,
    milvus: MilvusOption = None,
    collection: CollectionOption = None,
    as_json: JsonOption = False,
) -> None:
    """Measure nDCG@10, Recall@10/100, MRR@10 and latency on a benchmark or your queries
    (and, where their lines carry an `answer`, highlight accuracy); or the model alone
    on scored pairs (--pairs) or labelled texts (--labelled).

    A BEIR corpus is indexed through the same path as `semsearch index`, into an index
    directory (default .semsearch-eval/NAME) that later runs reuse.
    """
    from semsearch.cli.evaluate_text import evaluate_model, refuse_other_options

    if sum(source is not None for source in (dataset, queries, pairs, labelled)) != 1:
        raise fail("give one of: a BEIR DATASET folder, --queries FILE, --pairs FILE, "
                   "--labelled FILE")
    text_mode = pairs is not None or labelled is not None
    refuse_other_options(
        text_mode, model_options=(model, folds, method) != (None, None, None),
        retrieval_options=(mode, rerank, split, ignore_identical_ids) != (
            "dense,lexical,hybrid", False, "test", False))
    if text_mode:
        evaluate_model(pairs, labelled, index_dir=index_dir, model=model, backend=backend,
                       folds=folds, method=method, as_json=as_json)
        return
    if ray is not None and dataset is None:
        raise fail("--ray encodes a BEIR DATASET's corpus; the other sources index nothing")
    settings = settings_with(index_dir=index_dir, backend=backend, ray=ray,
                             milvus_uri=milvus, milvus_collection=collection)
    with domain_errors(), ray_session(settings.ray if dataset else None):
        count, results = _evaluate_retrieval(
            settings, dataset, queries, index_dir, split,
            [m.strip() for m in mode.split(",") if m.strip()], rerank, ignore_identical_ids)
    if as_json:
        out.print_json(json.dumps(results))
        return
    _print_retrieval(count, results)


def _evaluate_retrieval(settings: Settings, dataset: Path | None, queries: Path | None,
                        index_dir: Path | None, split: str, modes: list[str], rerank: bool,
                        ignore_identical_ids: bool) -> tuple[int, dict[str, dict[str, float]]]:
    """(queries run, metrics by run name) on a BEIR folder, indexed on first use, or on
    the configured index with a query file."""
    from semsearch.search import evaluate as ev

    if dataset is not None:
        data = ev.load_beir(dataset, split)
        work = index_dir or Path(".semsearch-eval") / dataset.resolve().name
        with _progress_bar() as on_progress:
            searcher = _open_beir(settings, data, work, on_progress)
        to_doc_id: Callable[[str], str] = ev.beir_doc_id
    else:
        assert queries is not None
        data = ev.load_query_file(queries)
        searcher = _open_searcher(settings)
        to_doc_id = str
    with _run_progress() as on_run:
        results = ev.evaluate_modes(searcher, data, modes, rerank, to_doc_id,
                                    ignore_identical_ids, on_run)
    return len(data.queries), results


def _print_retrieval(count: int, results: dict[str, dict[str, float]]) -> None:
    # A query file with answers adds the highlight columns (search/evaluate_highlights.py).
    columns = {"highlight_accuracy": "Highlight acc.", "highlight_found": "Highlight found",
               "highlight_accuracy_by_document": "Highlight acc. by doc."}
    answered = [key for key in columns if all(key in metrics for metrics in results.values())]
    table = Table("mode", "nDCG@10", "Recall@10", "Recall@100", "MRR@10", "p50 ms", "p99 ms",
                  *(columns[key] for key in answered))
    for name, metrics in results.items():
        table.add_row(name, *(f"{metrics[key]:.4f}" for key in
                              ("ndcg@10", "recall@10", "recall@100", "mrr@10")),
                      f"{metrics['p50_ms']:.1f}", f"{metrics['p99_ms']:.1f}",
                      *(f"{metrics[key]:.4f}" for key in answered))
    out.print(f"{count} queries")
    out.print(table)


def _open_searcher(settings: Settings) -> Any:
    """The searcher of the configured index, on the configured device."""
    return settings.open_searcher()


def _open_beir(settings: Settings, data: Any, work: Path,
               on_progress: Callable[[Any], None]) -> Any:
    """Index a BEIR corpus's files under `work` into the configured store (the index
    directory `work/index`, or the Milvus store) and open it with the sync's model."""
    from semsearch.indexer.encoders import EncoderSpec
    from semsearch.search import evaluate as ev

    job = settings.sync_job(work / "documents", work / "index")
    target = settings.milvus_target()
    if target is None:
        return ev.open_beir_index(data, job, settings.rerank_model, on_progress)
    from semsearch.indexer.milvus_sync import MilvusSyncJob
    from semsearch.search.milvus_searcher import MilvusSearcher

    ev.write_corpus_files(data, job.root)
    encoder = job.encoder.resolved()
    if encoder.preloaded is None:
        encoder = EncoderSpec.of(encoder.load())
    MilvusSyncJob(job.root, target, encoder, job.options).run(on_progress)
    return MilvusSearcher(target, encoder, rerank_model=settings.rerank_model,
                          lexical=settings.milvus_lexical)


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

    settings = settings_with(index_dir=index_dir)
    with domain_errors():  # a missing index fails here, before the client's handshake
        searcher = _open_searcher(settings)
    # stdout carries the protocol: everything else (logs, errors) goes to stderr.
    build_mcp_server(lambda: searcher).run("stdio")



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

    settings = settings_with(index_dir=index_dir, device=device)
    with domain_errors():
        job = settings.sync_job(path)
    stop = threading.Event()
    told: set[tuple[str, str]] = set()  # skipped files listed by an earlier sync

    def say(message: str) -> None:
        console.print(f"{time.strftime('%H:%M:%S')} {message}", markup=False, highlight=False,
                      soft_wrap=True)

    def report(done: WatchSync) -> None:
        why = f"{len(done.changed)} change(s)" if done.changed else "start"
        say(f"synced ({why}): {summary(done.report)}")
        # Every sync counts every skipped file; one is listed when it is newly skipped,
        # not again after every change of the folder.
        for skipped in done.report.skipped:
            if (skipped.path, skipped.reason) not in told:
                say(f"  skipped {skipped.path}: {skipped.reason}")
        told.clear()
        told.update((skipped.path, skipped.reason) for skipped in done.report.skipped)

    stop_on_signals(stop, lambda: say("stopping after the running sync "
                                      "(press Ctrl-C again to stop at once)"))
    say(f"watching {path.resolve()} into {settings.index_dir.resolve()}")
    with domain_errors():
        watch_folder(job, stop, WatchOptions(debounce_s=debounce), on_sync=report)
    say("stopped")
