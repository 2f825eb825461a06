"""What every command shares: the typer app, the consoles, common options, settings
from options, the one place where arguments that are not text (or numbers that are not
finite) are refused, and the one place where domain errors become a message and exit
code 2."""

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from typer.core import TyperCommand
from typer.models import CommandFunctionType

from semsearch.indexer.errors import IndexerError
from semsearch.indexer.text_validity import escaped_byte, lone_surrogate
from semsearch.settings import Settings


class CheckedCommand(TyperCommand):
    """A command that refuses, before it runs, an argument or option that is not text,
    or a number that is not finite.

    Python hands over command-line bytes that are not UTF-8 as lone surrogates
    (surrogateescape), which no tokenizer, SQLite or JSON encoder takes; click reads
    `nan` and `inf` as floats. Such a value, alone or in a list, is a usage error naming
    the parameter: exit status 2, no traceback.
    """

    def invoke(self, ctx: Any) -> Any:  # ctx: typer's Context, once parsing is done
        for parameter in self.params:
            problem = _argument_problem(ctx.params.get(parameter.name))
            if problem is not None:
                raise typer.BadParameter(problem, ctx=ctx, param_hint=parameter.opts)
        return super().invoke(ctx)


def _argument_problem(value: Any) -> str | None:
    """What is wrong with a parameter's value; None when nothing is."""
    for item in value if isinstance(value, list | tuple) else [value]:
        if isinstance(item, float) and not math.isfinite(item):
            return f"{item} is not a finite number"
        text = str(item) if isinstance(item, str | Path) else ""
        position = lone_surrogate(text)
        if position is not None:
            byte = escaped_byte(text[position])
            if byte is None:
                return f"not valid Unicode text (a lone surrogate at position {position})"
            return (f"not valid UTF-8 (the byte 0x{byte:02x} at position {position}); "
                    "give text and paths in UTF-8")
    return None


class _CheckedTyper(typer.Typer):
    """A Typer whose commands are `CheckedCommand`s unless they name another class."""

    def command(self, name: str | None = None, *, cls: type[TyperCommand] | None = None,
                **options: Any) -> Callable[[CommandFunctionType], CommandFunctionType]:
        return super().command(name, cls=cls or CheckedCommand, **options)


app = _CheckedTyper(add_completion=False, no_args_is_help=True,
                        help="Semantic search over your own documents.")
console = Console(stderr=True)
out = Console(soft_wrap=True)

IndexDirOption = Annotated[
    Path | None, typer.Option("--index-dir", help="Index directory [env SEMSEARCH_INDEX_DIR]")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
MilvusOption = Annotated[str | None, typer.Option(
    "--milvus", metavar="URI", help=(
        "A Milvus store instead of the index directory: http://host:19530 [env "
        "SEMSEARCH_MILVUS_URI; credentials from SEMSEARCH_MILVUS_TOKEN or _USER/_PASSWORD]; "
        "needs pip install 'semsearch[scale]'"))]
CollectionOption = Annotated[str | None, typer.Option(
    "--collection", metavar="NAME",
    help="The Milvus store's collection [env SEMSEARCH_MILVUS_COLLECTION; semsearch]")]


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
        console.print(f"[red]error:[/red] {escape(str(error))}")
        raise typer.Exit(2) from error
    except _search_error_type() as error:
        console.print(f"[red]error:[/red] {escape(str(error))}")
        raise typer.Exit(2) from error


def _search_error_type() -> type[Exception]:
    from semsearch.search.errors import SearchError

    return SearchError



def fail(message: str) -> typer.Exit:
    """Print `message` as an error; return the exit (status 2) to raise."""
    console.print(f"[red]error:[/red] {message}", markup=True, highlight=False)
    return typer.Exit(2)
