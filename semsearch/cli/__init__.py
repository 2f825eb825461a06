"""The `semsearch` command: a thin layer over the indexer, search and api packages.

Typer (on click) gives typed options and help; rich draws progress bars and tables.
Each command parses its options, makes one library call and prints the result; domain
errors become one-line messages and exit code 2 in one place (`common.domain_errors`).
"""

import logging

from semsearch.cli import index, tools
from semsearch.cli.common import app

__all__ = ["app", "index", "main", "tools"]


def main() -> None:
    """Entry point of the `semsearch` console script."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    # pypdf logs every oddity of a broken file; the skip reason already says what matters.
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    app()
