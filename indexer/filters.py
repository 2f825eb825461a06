"""Which documents a search may return: a plain value, turned into SQL by the store."""

from dataclasses import dataclass


@dataclass(frozen=True)
class DocumentFilter:
    """Which documents a search may return; applied inside every leg, before `k` is cut.

    Attributes:
        path_prefix: keep paths (relative to the indexed folder) that start with this.
        path_glob: keep paths matching this glob (SQLite GLOB: `*` also crosses `/`).
        file_types: keep these extensions (`pdf` or `.pdf`).
        modified_after / modified_before: Unix times bounding the file's mtime.
    """

    path_prefix: str | None = None
    path_glob: str | None = None
    file_types: tuple[str, ...] = ()
    modified_after: float | None = None
    modified_before: float | None = None

    def is_empty(self) -> bool:
        return self == DocumentFilter()
