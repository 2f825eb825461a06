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

from indexer.errors import IndexerError
from indexer.settings import Settings

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
    from search.errors import SearchError

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
    as_json: JsonOption = False,
) -> None:
    """Sync a folder into the index: only new, changed and removed files cost work."""
    from indexer.encoder import load_encoder
    from indexer.sync import SyncOptions, sync_folder

    settings = _settings(index_dir=index_dir, model=model, device=device,
                         chunk_tokens=chunk_tokens, chunk_overlap=chunk_overlap,
                         batch_size=batch_size)
    options = SyncOptions(chunk_tokens=settings.chunk_tokens,
                          chunk_overlap=settings.chunk_overlap, batch_size=settings.batch_size,
                          max_file_bytes=settings.max_file_bytes, rebuild=rebuild)
    with _errors(), _progress_bar() as on_progress:
        report = sync_folder(path, settings.index_dir, settings.model,
                             lambda: load_encoder(settings.model, settings.device),
                             options, on_progress)
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
    from indexer.stats import index_stats

    settings = _settings(index_dir=index_dir)
    with _errors():
        result = index_stats(settings.index_dir)
    if as_json:
        out.print_json(json.dumps(result))
        return
    table = Table(show_header=False, box=None)
    for key, value in result.items():
        if key != "skipped_files":
            table.add_row(key, str(value))
    out.print(table)
    for path, reason in result["skipped_files"]:  # type: ignore[attr-defined]
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
    from search.hits import Filters
    from search.searcher import Searcher

    settings = _settings(index_dir=index_dir)
    filters = Filters(path_prefix=path_prefix, path_glob=path_glob,
                      file_types=tuple(file_type or ()))
    with _errors():
        searcher = Searcher(settings.index_dir, device=settings.device,
                            rerank_model=settings.rerank_model)
        response = searcher.search(query, k=k, mode=mode, rerank=rerank, filters=filters,
                                   group_by="document" if group_by_document else None,
                                   min_score=min_score)
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

    from indexer.stats import index_stats

    settings = _settings(index_dir=index_dir, host=host, port=port)
    with _errors():
        index_stats(settings.index_dir)  # fail here, clearly, when there is no index
    # The app factory reads its settings from the environment, also in worker processes.
    os.environ["SEMSEARCH_INDEX_DIR"] = str(settings.index_dir.resolve())
    uvicorn.run("api.app:create_app", factory=True, host=settings.host, port=settings.port,
                workers=workers, log_level="info")


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
    index_dir: IndexDirOption = None,
    as_json: JsonOption = False,
) -> None:
    """Measure nDCG@10, Recall@10/100, MRR@10 and latency on a benchmark or your queries.

    A BEIR corpus is indexed through the same path as `semsearch index`, into an index
    directory (default .semsearch-eval/NAME) that later runs reuse.
    """
    from indexer.encoder import load_encoder
    from indexer.sync import SyncOptions, sync_folder
    from search import evaluate as ev
    from search.searcher import Searcher

    if (dataset is None) == (queries is None):
        console.print("[red]error:[/red] give either a BEIR DATASET folder or --queries FILE")
        raise typer.Exit(2)
    modes = [m.strip() for m in mode.split(",") if m.strip()]
    settings = _settings(index_dir=index_dir)
    with _errors():
        if dataset is not None:
            data = ev.load_beir(dataset, split)
            work = index_dir or Path(".semsearch-eval") / dataset.resolve().name
            with console.status(f"writing {len(data.corpus)} documents…"):
                ev.write_corpus_files(data, work / "documents")
            encoder = load_encoder(settings.model, settings.device)
            options = SyncOptions(chunk_tokens=settings.chunk_tokens,
                                  chunk_overlap=settings.chunk_overlap,
                                  batch_size=settings.batch_size)
            with _progress_bar() as on_progress:
                sync_folder(work / "documents", work / "index", settings.model,
                            lambda: encoder, options, on_progress)
            searcher = Searcher(work / "index", encoder=encoder,
                                rerank_model=settings.rerank_model)
            to_doc_id = ev.beir_doc_id
        else:
            assert queries is not None
            data = ev.load_query_file(queries)
            searcher = Searcher(settings.index_dir, device=settings.device,
                                rerank_model=settings.rerank_model)
            to_doc_id = _same
        results = _run_evaluation(searcher, data, modes, rerank, to_doc_id,
                                  ignore_identical_ids)
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


def _same(path: str) -> str:
    return path


def _run_evaluation(searcher: Any, data: Any, modes: list[str], rerank: bool,
                    to_doc_id: Callable[[str], str],
                    ignore_identical_ids: bool) -> dict[str, dict[str, float]]:
    from search import evaluate as ev

    runs = [(m, False) for m in modes] + ([(m, True) for m in modes] if rerank else [])
    results = {}
    progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(),
                        MofNCompleteColumn(), TimeElapsedColumn(), console=console,
                        transient=True, disable=not console.is_terminal)
    with progress:
        for run_mode, run_rerank in runs:
            name = run_mode + ("+rerank" if run_rerank else "")
            task = progress.add_task(name, total=len(data.queries))
            results[name] = ev.evaluate(
                searcher, data, run_mode, run_rerank, to_doc_id, ignore_identical_ids,
                on_query=partial(progress.advance, task))
    return results


def main() -> None:
    """Entry point of the `semsearch` console script."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    # pypdf logs every oddity of a broken file; the skip reason already says what matters.
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    app()


if __name__ == "__main__":
    main()
