"""Whether a Python string is text that UTF-8 can hold.

A `str` may carry lone surrogates (U+D800 to U+DFFF, unpaired), which are not Unicode
text: JSON parsers turn an escaped `"\\ud800"` into one, and Python hands over bytes
that are not UTF-8 (in file names, command lines, environment variables) as U+DC80 to
U+DCFF (the surrogateescape error handler). No UTF-8 encoder, tokenizer or SQLite takes
them, so every edge that reads text from outside refuses them first.
"""

# Python's surrogateescape writes the undecodable byte 0xNN as U+DC00 + 0xNN.
_ESCAPED_BYTES = range(0xDC80, 0xDD00)


def lone_surrogate(text: str) -> int | None:
    """The position of the first lone surrogate in `text`; None if it is valid text."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        return error.start
    return None


def escaped_byte(character: str) -> int | None:
    """The byte that surrogateescape wrote as `character` (0x80 to 0xFF), else None."""
    return ord(character) - 0xDC00 if ord(character) in _ESCAPED_BYTES else None
