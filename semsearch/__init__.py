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
    "SearchOptions": "semsearch.search.options",
    "Filters": "semsearch.search.options",
    "Mode": "semsearch.search.options",
    "Hit": "semsearch.search.hits",
    "Highlight": "semsearch.search.hits",
    "SearchResponse": "semsearch.search.hits",
    "DocumentView": "semsearch.search.hits",
    "build_context": "semsearch.search.context",
    "EncoderSpec": "semsearch.indexer.encoders",
    "IndexManifest": "semsearch.indexer.manifest",
    "index_stats": "semsearch.indexer.stats",
    "sync_folder": "semsearch.indexer.sync",
    "SyncJob": "semsearch.indexer.sync",
    "SyncOptions": "semsearch.indexer.sync",
    "SyncReport": "semsearch.indexer.sync",
    "create_app": "semsearch.api.app",
    "Settings": "semsearch.settings",
    "Client": "semsearch.client",
    "AsyncClient": "semsearch.client",
}

__all__ = [
    "AsyncClient", "Client", "DocumentView", "EncoderSpec", "Filters", "Highlight", "Hit",
    "IndexManifest", "Mode", "SearchOptions", "SearchResponse", "Searcher", "Settings",
    "SyncJob", "SyncOptions", "SyncReport", "__version__", "build_context", "create_app",
    "index_stats", "sync_folder",
]

if TYPE_CHECKING:
    from semsearch.api.app import create_app
    from semsearch.client import AsyncClient, Client
    from semsearch.indexer.encoders import EncoderSpec
    from semsearch.indexer.manifest import IndexManifest
    from semsearch.indexer.stats import index_stats
    from semsearch.indexer.sync import SyncJob, SyncOptions, SyncReport, sync_folder
    from semsearch.search.context import build_context
    from semsearch.search.hits import DocumentView, Highlight, Hit, SearchResponse
    from semsearch.search.options import Filters, Mode, SearchOptions
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
