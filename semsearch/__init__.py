"""semsearch: semantic, lexical and hybrid search over your own documents.

The public door. Every name below is loaded on first use, so `import semsearch` costs
no torch, faiss or onnxruntime:

    from semsearch import Searcher, SearchOptions, Filters, sync_folder, create_app
"""

from importlib import import_module
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

try:
    __version__ = version("semsearch")
except PackageNotFoundError:  # run from a source tree that was never installed
    __version__ = "0.0.0"

# Public name -> the module that defines it.
_EXPORTS = {
    "Searcher": "semsearch.search.searcher",
    "Filters": "semsearch.search.hits",
    "Hit": "semsearch.search.hits",
    "Highlight": "semsearch.search.hits",
    "Mode": "semsearch.search.hits",
    "SearchResponse": "semsearch.search.hits",
    "DocumentView": "semsearch.search.hits",
    "sync_folder": "semsearch.indexer.sync",
    "SyncOptions": "semsearch.indexer.sync",
    "SyncReport": "semsearch.indexer.sync",
    "create_app": "semsearch.api.app",
    "Settings": "semsearch.settings",
}

__all__ = [*_EXPORTS, "__version__"]

if TYPE_CHECKING:
    from semsearch.api.app import create_app
    from semsearch.indexer.sync import SyncOptions, SyncReport, sync_folder
    from semsearch.search.hits import (
        DocumentView,
        Filters,
        Highlight,
        Hit,
        Mode,
        SearchResponse,
    )
    from semsearch.search.searcher import Searcher
    from semsearch.settings import Settings


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'semsearch' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value  # once loaded, a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
