"""Errors raised while searching."""


class SearchError(Exception):
    """Base class of every error the search package raises on purpose."""


class InvalidQueryError(SearchError):
    """The query or its options cannot be answered as given."""


class TextTooLongError(InvalidQueryError):
    """A text holds more tokens than the model reads, and the caller asked not to cut it."""
