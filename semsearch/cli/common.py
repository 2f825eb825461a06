"""What every command shares: the typer app, the consoles, common options, settings
from options, and the one place where domain errors become a message and exit code 2."""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from semsearch.indexer.errors import IndexerError
from semsearch.settings import Settings

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Semantic search over your own documents.")
console = Console(stderr=True)
out = Console(soft_wrap=True)

IndexDirOption = Annotated[
    Path | None, typer.Option("--index-dir", help="Index directory [env SEMSEARCH_INDEX_DIR]")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


def _print_version(value: bool) -> None:
    if value:
        from semsearch import __version__

        out.print(f"semsearch {__version__}", markup=False, highlight=False)
        raise typer.Exit()


@app.callback()
def _options(version: Annotated[bool, typer.Option(
        "--version", callback=_print_version, is_eager=True,
        help="Print the version and exit.")] = False) -> None:
    """Semantic search over your own documents."""


def settings_with(**overrides: Any) -> Settings:
    return Settings(**{key: value for key, value in overrides.items() if value is not None})


@contextmanager
def domain_errors() -> Iterator[None]:
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



def fail(message: str) -> typer.Exit:
    """Print `message` as an error; return the exit (status 2) to raise."""
    console.print(f"[red]error:[/red] {message}", markup=True, highlight=False)
    return typer.Exit(2)
