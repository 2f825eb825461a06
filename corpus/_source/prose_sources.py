"""Read the corpus generator's sources: the list in documents.toml and the prose files.

The markup of the prose is described at the top of documents.toml.
"""

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, cast, get_args

SOURCE_DIR = Path(__file__).resolve().parent
MANIFEST = SOURCE_DIR / "documents.toml"
PROSE_DIR = SOURCE_DIR / "prose"

DocumentKind = Literal["pdf", "docx", "text"]
Language = Literal["en", "zh"]
BlockKind = Literal["h1", "h2", "h3", "p", "ul", "table", "pagebreak"]
KINDS = get_args(DocumentKind)
LANGUAGES = get_args(Language)
HEADINGS: dict[str, BlockKind] = {"#": "h1", "##": "h2", "###": "h3"}


class CorpusSourceError(Exception):
    """documents.toml or a prose file cannot be turned into its corpus file."""


@dataclass(frozen=True)
class CorpusDocument:
    """One entry of documents.toml: which corpus file to write, from which prose, and how.

    `output` is relative to the corpus folder, `source` to the prose folder. `title` and
    `language` serve PDFs and DOCX; `encoding` and `bom` serve texts.
    """

    kind: DocumentKind
    output: str
    source: str
    title: str = ""
    language: Language = "en"
    encoding: str = "utf-8"
    bom: bool = False


@dataclass(frozen=True)
class Block:
    """One block of prose: a heading, a paragraph, a bullet list, a table or a page break."""

    kind: BlockKind
    text: str = ""
    items: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)


def load_documents(manifest: Path = MANIFEST) -> list[CorpusDocument]:
    """The documents listed in `manifest`, in its order of tables: [[pdf]], [[docx]], [[text]].

    Raises:
        CorpusSourceError: an unknown table, key or language.
    """
    tables = tomllib.loads(manifest.read_text(encoding="utf-8"))
    documents = []
    for kind, entries in tables.items():
        if kind not in KINDS:
            raise CorpusSourceError(f"{manifest}: unknown table [[{kind}]]; use one of {KINDS}")
        for entry in entries:
            try:
                document = CorpusDocument(kind=cast(DocumentKind, kind), **entry)
            except TypeError as error:
                raise CorpusSourceError(
                    f"{manifest}: bad [[{kind}]] entry {entry}: {error}"
                ) from error
            if document.language not in LANGUAGES:
                raise CorpusSourceError(
                    f"{manifest}: {document.output}: language "
                    f"{document.language!r}; use one of {LANGUAGES}"
                )
            documents.append(document)
    return documents


def read_prose(prose_dir: Path, source: str) -> str:
    """The UTF-8 text of `prose_dir/source`, CRLF line ends (a Windows checkout) made LF.

    Raises:
        CorpusSourceError: the file is missing, unreadable or not UTF-8.
    """
    path = prose_dir / source
    try:
        return path.read_bytes().decode("utf-8").replace("\r\n", "\n")
    except (OSError, UnicodeDecodeError) as error:
        raise CorpusSourceError(f"cannot read prose {path}: {error}") from error


def parse_markup(markup: str, joiner: str = " ") -> list[Block]:
    """Split prose into blocks, which are separated by blank lines.

    A paragraph's or bullet item's lines are joined with `joiner`: a space for English,
    nothing for Chinese, which puts no spaces between words.
    """
    blocks = []
    for raw in markup.strip().split("\n\n"):
        lines = [line.rstrip() for line in raw.strip("\n").splitlines()]
        if not lines:
            continue
        first = lines[0]
        marker = first.split(" ", 1)[0]
        if first == "[pagebreak]":
            blocks.append(Block("pagebreak"))
        elif marker in HEADINGS and first.startswith(marker + " "):
            blocks.append(Block(HEADINGS[marker], first[len(marker) + 1 :].strip()))
        elif first.startswith("- "):
            blocks.append(Block("ul", items=_bullet_items(lines, joiner)))
        elif first.startswith("|"):
            blocks.append(Block("table", rows=_table_rows(lines)))
        else:
            blocks.append(Block("p", joiner.join(line.strip() for line in lines)))
    return blocks


def _bullet_items(lines: list[str], joiner: str) -> list[str]:
    items: list[str] = []
    for line in lines:
        if line.startswith("- "):
            items.append(line[2:].strip())
        else:
            items[-1] += joiner + line.strip()
    return items


def _table_rows(lines: list[str]) -> list[list[str]]:
    rows = [[cell.strip() for cell in line.strip().strip("|").split("|")] for line in lines]
    # a Markdown separator row ("| --- | :-: |") is there only so the prose renders as a table
    return [row for row in rows if not all(cell and set(cell) <= set("-:") for cell in row)]
