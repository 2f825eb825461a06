"""Command-line arguments that are not text: bytes that are not UTF-8 (which Python hands
over as lone surrogates) in a text, a path or a list of them; numbers that are not finite
(`nan`, `inf`, which click reads as floats); and files whose JSON lines escape a lone
surrogate. Each exits 2 with a message naming the argument or `file:line`, never a
traceback (semsearch/cli/common.py refuses arguments; the file readers, lines).

The listed cases come first; then hypothesis generates the class: every text, path or
float parameter of every quick command, given text with a lone surrogate or `nan`/`inf`."""

import string
import subprocess
import sys
from pathlib import Path
from typing import Any, get_args, get_origin, get_type_hints

import pytest
import typer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.core import TyperArgument
from typer.testing import CliRunner

from semsearch.cli import app as cli_app
from semsearch.indexer.encoders import Encoder, EncoderSpec
from tests.live_server import REPO

# What Python makes of the bytes b"\xff\xfe" on a command line (surrogateescape).
BAD_ARGUMENT = b"\xff\xfe".decode("utf-8", "surrogateescape")


# --- the listed cases -----------------------------------------------------------------
@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, encoder: Encoder) -> CliRunner:
    """A runner whose commands get the session's model (no load) and no SEMSEARCH_*."""
    for name in ("SEMSEARCH_INDEX_DIR", "SEMSEARCH_MODEL", "SEMSEARCH_DEVICE",
                 "SEMSEARCH_BACKEND"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(EncoderSpec, "load", lambda spec: encoder)
    return CliRunner()


def _said(text: str) -> str:
    """`text` without white space and the error panel's side borders: the console wraps
    long lines, and long paths."""
    return "".join(text.replace("│", " ").split())


def _exits_2_saying(result: Any, message: str) -> None:
    """Exit 2 (a usage error or a refused file), no traceback, and `message` shown."""
    assert result.exit_code == 2, (result.exit_code, result.output, result.exception)
    assert isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    assert _said(message) in _said(result.output), result.output


NOT_UTF8 = "not valid UTF-8 (the byte 0xff at position 0)"
NOT_UNICODE = "not valid Unicode text (a lone surrogate at position 1)"


@pytest.mark.parametrize(("arguments", "name", "says"), [
    (["search", BAD_ARGUMENT], "query", NOT_UTF8),
    (["search", "bread", "--path-prefix", BAD_ARGUMENT], "--path-prefix", NOT_UTF8),
    (["search", "bread", "--path-glob", "a\ud800"], "--path-glob", NOT_UNICODE),
    (["search", "bread", "--type", "md", "--type", BAD_ARGUMENT], "--type", NOT_UTF8),
    (["stats", "--index-dir", BAD_ARGUMENT + "/index"], "--index-dir", NOT_UTF8),
    (["embed", "bread", BAD_ARGUMENT], "texts", NOT_UTF8),
    (["embed", "bread", "--model", BAD_ARGUMENT], "--model", NOT_UTF8),
    (["similarity", "bread", BAD_ARGUMENT], "texts", NOT_UTF8),
    (["classify", BAD_ARGUMENT, "--label", "food", "--label", "sport"], "texts", NOT_UTF8),
    (["classify", "bread", "--label", "food", "--label", BAD_ARGUMENT], "--label", NOT_UTF8),
    (["search", "bread", "--min-score", "nan"], "--min-score", "nan is not a finite number"),
    (["search", "bread", "--min-score", "-inf"], "--min-score",
     "-inf is not a finite number"),
    (["classify", "bread", "--label", "a", "--label", "b", "--temperature", "inf"],
     "--temperature", "inf is not a finite number"),
])
def test_cli_arguments_that_are_not_text_or_finite_exit_2_naming_them(
    cli: CliRunner, search_index: tuple[Path, Path], arguments: list[str], name: str,
    says: str
) -> None:
    # A real index: without the check, the query would reach the model's tokenizer.
    index = ["--index-dir", str(search_index[1])] if arguments[0] == "search" else []
    result = cli.invoke(cli_app, [*arguments, *index])
    _exits_2_saying(result, f"Invalid value for '{name}': {says}")


@pytest.mark.parametrize(("option", "line"), [
    ("--pairs-file", '["bread", "a\\ud800b"]'),
    ("--pairs-file", '{"a": "\\udcff", "b": "bread"}'),
    ("--examples", '{"text": "a\\ud800b", "label": "food"}'),
    ("--examples", '{"text": "bread", "label": "\\ud800"}'),
])
def test_cli_files_with_text_that_is_not_unicode_exit_2_naming_the_line(
    cli: CliRunner, tmp_path: Path, option: str, line: str
) -> None:
    path = tmp_path / "input.jsonl"
    path.write_text(f'{{"text": "fine", "label": "sport"}}\n{line}\n'
                    if option == "--examples" else f"{line}\n", encoding="utf-8")
    command = ["classify", "bread"] if option == "--examples" else ["similarity"]
    result = cli.invoke(cli_app, [*command, option, str(path)])
    line_number = 2 if option == "--examples" else 1
    _exits_2_saying(result, f"{path}:{line_number}: not valid Unicode text")


def test_cli_eval_query_file_with_text_that_is_not_unicode_exits_2(
    cli: CliRunner, search_index: tuple[Path, Path], tmp_path: Path
) -> None:
    queries = tmp_path / "queries.jsonl"
    queries.write_text('{"query": "a\\ud800b", "relevant": ["cooking/bread.md"]}\n',
                       encoding="utf-8")
    result = cli.invoke(cli_app, ["eval", "--queries", str(queries), "--index-dir",
                                  str(search_index[1])])
    _exits_2_saying(result, f"{queries}:1: not valid Unicode text")


@pytest.mark.slow
def test_a_real_command_line_with_bytes_that_are_not_utf8_exits_2(
    search_index: tuple[Path, Path]
) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "semsearch", "search", b"\xff\xfe", "--index-dir",
         str(search_index[1])], cwd=REPO, capture_output=True, timeout=300, check=False)
    stderr = result.stderr.decode("utf-8", "replace")
    assert result.returncode == 2, stderr
    assert "Traceback" not in stderr and "'query'" in stderr and "0xff" in stderr, stderr
    assert result.stdout == b""


# --- the class, generated from the commands' own parameters -----------------------------
# The long-running commands are left out: they would serve if the check ever let one by.
LONG_RUNNING = {"serve", "mcp", "watch"}
SAFE_TEXT = st.text(string.ascii_letters + "é中 ", max_size=4)
BAD_VALUES = {
    "text": st.tuples(SAFE_TEXT, st.characters(categories=["Cs"]), SAFE_TEXT).map("".join),
    "number": st.sampled_from(["nan", "inf", "-inf", "NaN", "Infinity", "1e309"]),
}


def _commands() -> dict[str, Any]:
    return dict(typer.main.get_command(cli_app).commands)  # type: ignore[attr-defined]


def _kinds(command: Any, parameter: Any) -> set[Any]:
    """The types the command's function takes `parameter` as: {str}, {Path}, {int}..."""
    annotation = get_type_hints(command.callback)[parameter.name]
    kinds = {get_origin(kind) or kind for kind in get_args(annotation) or (annotation,)}
    return kinds | {inner for kind in get_args(annotation) for inner in get_args(kind)}


def _checked_parameters() -> list[tuple[str, str, str]]:
    """(command, parameter name, "text" or "number") of every text, path or float
    parameter of the quick commands."""
    checked = []
    for name, command in sorted(_commands().items()):
        for parameter in command.params if name not in LONG_RUNNING else []:
            kinds = _kinds(command, parameter)
            if kinds & {str, Path} or float in kinds:
                checked.append((name, parameter.name, "number" if float in kinds else "text"))
    return checked


def _argv(command: str, chosen: str, value: str, folder: Path) -> tuple[list[str], str]:
    """The command line of `command` with parameter `chosen` set to `value` and its other
    required arguments set to plain values (a folder for a path); and how an error
    names `chosen`."""
    options, positionals, shown = [], [], ""
    for parameter in _commands()[command].params:
        if parameter.name == chosen:
            given_value = value
            shown = (parameter.name if isinstance(parameter, TyperArgument)
                     else parameter.opts[0])
        elif parameter.required:
            given_value = str(folder) if Path in _kinds(_commands()[command], parameter) \
                else "bread"
        else:
            continue
        if isinstance(parameter, TyperArgument):
            positionals.append(given_value)
        else:
            options += [parameter.opts[0], given_value]
    return [command, *options, *positionals], shown


def test_the_generated_command_lines_cover_the_text_commands() -> None:
    chosen = {(command, name) for command, name, _ in _checked_parameters()}
    assert {("search", "query"), ("embed", "texts"), ("similarity", "texts"),
            ("classify", "texts"), ("classify", "label"), ("search", "index_dir"),
            ("similarity", "pairs_file"), ("search", "min_score"),
            ("classify", "temperature")} <= chosen


@settings(max_examples=50, derandomize=True, deadline=None, database=None,
          suppress_health_check=list(HealthCheck))
@given(chosen=st.sampled_from(_checked_parameters()), data=st.data())
def test_generated_cli_arguments_that_are_not_text_or_finite_exit_2_naming_them(
    cli: CliRunner, tmp_path: Path, chosen: tuple[str, str, str], data: st.DataObject
) -> None:
    command, name, kind = chosen
    argv, shown = _argv(command, name, data.draw(BAD_VALUES[kind]), tmp_path)
    _exits_2_saying(cli.invoke(cli_app, argv), f"Invalid value for '{shown}'")
