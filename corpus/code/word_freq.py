"""Count the most frequent words in one or more text files.

A small command-line utility: it reads UTF-8 text, splits it into words,
drops common English stop words, and prints the most frequent words with their
counts. It is written with the standard library only.

Example:

    $ python word_freq.py --top 5 essay.txt notes.txt
    sourdough      14
    starter        11
    flour           9
    water           8
    feeding         6
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path

# Words so common that they say little about what a text is about.
# fmt: off
STOP_WORDS = frozenset(
    {
        "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "from",
        "has", "have", "in", "is", "it", "its", "of", "on", "or", "that", "the",
        "their", "there", "this", "to", "was", "were", "will", "with", "you", "your",
    }
)
# fmt: on

# A word is a run of letters, optionally with inner apostrophes ("don't").
WORD_RE = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)*")


def tokenize(text: str) -> Iterator[str]:
    """Yield the lower-cased words of ``text`` in order.

    >>> list(tokenize("The cat's hat, the CAT!"))
    ['the', "cat's", 'hat', 'the', 'cat']
    """
    for match in WORD_RE.finditer(text):
        yield match.group(0).lower()


def count_words(
    lines: Iterable[str], *, min_length: int = 2, keep_stop_words: bool = False
) -> Counter[str]:
    """Count words across ``lines``.

    Words shorter than ``min_length`` are ignored, and so are stop words unless
    ``keep_stop_words`` is true. Reading line by line keeps memory use flat even
    for very large files.
    """
    counts: Counter[str] = Counter()
    for line in lines:
        for word in tokenize(line):
            if len(word) < min_length:
                continue
            if not keep_stop_words and word in STOP_WORDS:
                continue
            counts[word] += 1
    return counts


def read_lines(paths: list[Path]) -> Iterator[str]:
    """Yield lines from each file in turn, or from standard input if none given."""
    if not paths:
        yield from sys.stdin
        return
    for path in paths:
        # errors="replace" keeps one bad byte from aborting a whole run.
        with path.open(encoding="utf-8", errors="replace") as handle:
            yield from handle


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Show the most frequent words in text files.")
    parser.add_argument("files", nargs="*", type=Path, help="files to read (default: stdin)")
    parser.add_argument("--top", type=int, default=20, help="how many words to show")
    parser.add_argument("--min-length", type=int, default=2, help="ignore shorter words")
    parser.add_argument("--keep-stop-words", action="store_true", help="count 'the', 'and', ...")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        counts = count_words(
            read_lines(args.files),
            min_length=args.min_length,
            keep_stop_words=args.keep_stop_words,
        )
    except FileNotFoundError as exc:
        print(f"word_freq: {exc.filename}: no such file", file=sys.stderr)
        return 1
    width = max((len(word) for word, _ in counts.most_common(args.top)), default=0)
    for word, count in counts.most_common(args.top):
        print(f"{word:<{width}}  {count:>6}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
