"""GET /health, GET /stats, POST /index, GET /index/status, GET /documents/{id}."""

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Body, Depends, HTTPException
from fastapi import Path as PathParameter

from semsearch.api import examples
from semsearch.api.deps import get_searcher, get_settings, get_sync, require_admin
from semsearch.api.schemas import IndexRequest
from semsearch.indexer.background import BackgroundSync, SyncStatus
from semsearch.indexer.milvus_stats import store_manifest, store_stats
from semsearch.indexer.stats import IndexStats
from semsearch.indexer.walk import printable_path, resolve_inside
from semsearch.search.hits import DocumentView
from semsearch.search.searcher import Searcher
from semsearch.settings import Settings

router = APIRouter()
health_router = APIRouter()
SearcherDep = Annotated[Searcher, Depends(get_searcher)]
SyncDep = Annotated[BackgroundSync, Depends(get_sync)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
# SQLite ids are positive 64-bit integers; a larger number is a 422, not an overflow.
DocId = Annotated[int, PathParameter(ge=1, le=2**63 - 1, description="a document's id")]


@health_router.get("/health", tags=["meta"])
def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/stats", response_model=IndexStats, tags=["meta"])
def stats(searcher: SearcherDep, settings: SettingsDep) -> IndexStats:
    """Counts, settings and skipped files of the index."""
    return store_stats(searcher.index_dir, settings.milvus_target())


@router.post("/index", response_model=SyncStatus, status_code=202, tags=["index"],
             dependencies=[Depends(require_admin)])
def start_index(request: Annotated[IndexRequest, Body(openapi_examples=examples.INDEX)],
                searcher: SearcherDep, sync: SyncDep,
                settings: SettingsDep) -> SyncStatus:
    """Start syncing the index's folder (or `path`) in the background; answers at once.

    `path` must lie inside SEMSEARCH_ROOTS (default: the index's own folder), else 403.
    """
    recorded_root = searcher.reader.manifest.root
    roots = settings.roots or ([Path(recorded_root)] if recorded_root else [])
    root = resolve_inside(Path(request.path or recorded_root), roots)
    try:
        is_folder = root.is_dir()
    except OSError:  # a name too long, a permission: no folder we can sync
        is_folder = False
    if not is_folder:
        raise HTTPException(422, f"not a folder: {printable_path(str(root))}")
    if recorded_root and root != Path(recorded_root):
        raise HTTPException(
            409, f"this index holds the folder {recorded_root}; a server syncs only that one")
    return _committed(sync.start(root), searcher, settings)


@router.get("/index/status", response_model=SyncStatus, tags=["index"])
def index_status(sync: SyncDep, searcher: SearcherDep, settings: SettingsDep) -> SyncStatus:
    """The background sync's progress or last result, and the committed generation."""
    return _committed(sync.status(), searcher, settings)


def _committed(status: SyncStatus, searcher: Searcher, settings: Settings) -> SyncStatus:
    status.generation = store_manifest(searcher.index_dir,
                                       settings.milvus_target()).generation
    return status


@router.get("/documents/{doc_id}", response_model=DocumentView, tags=["documents"])
def document(doc_id: DocId, searcher: SearcherDep) -> DocumentView:
    view = searcher.document(doc_id)
    if view is None:
        raise HTTPException(404, f"no document with id {doc_id}")
    return view
