"""GET /health, GET /stats, POST /index, GET /index/status, GET /documents/{id}."""

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException

from api.deps import get_searcher, get_sync
from api.schemas import DocumentOut, IndexRequest, IndexStatusOut, StatsOut
from indexer.background import BackgroundSync
from indexer.stats import index_stats
from search.searcher import Searcher

router = APIRouter()
health_router = APIRouter()
SearcherDep = Annotated[Searcher, Depends(get_searcher)]
SyncDep = Annotated[BackgroundSync, Depends(get_sync)]


@health_router.get("/health", tags=["meta"])
def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/stats", response_model=StatsOut, tags=["meta"])
def stats(searcher: SearcherDep) -> StatsOut:
    return StatsOut.model_validate(index_stats(searcher.index_dir))


def _status_out(sync: BackgroundSync) -> IndexStatusOut:
    status = sync.status()
    values = vars(status).copy()
    values["last_report"] = status.last_report.to_dict() if status.last_report else None
    return IndexStatusOut.model_validate(values)


@router.post("/index", response_model=IndexStatusOut, status_code=202, tags=["index"])
def start_index(request: IndexRequest, searcher: SearcherDep, sync: SyncDep) -> IndexStatusOut:
    """Start syncing the index's folder (or `path`) in the background; answers at once."""
    recorded_root = str(index_stats(searcher.index_dir)["root"])
    root = Path(request.path or recorded_root)
    if not root.is_dir():
        raise HTTPException(422, f"not a folder: {root}")
    if recorded_root and root.resolve() != Path(recorded_root):
        raise HTTPException(
            409, f"this index holds the folder {recorded_root}; a server syncs only that one")
    sync.start(root)
    return _status_out(sync)


@router.get("/index/status", response_model=IndexStatusOut, tags=["index"])
def index_status(sync: SyncDep) -> IndexStatusOut:
    return _status_out(sync)


@router.get("/documents/{doc_id}", response_model=DocumentOut, tags=["documents"])
def document(doc_id: int, searcher: SearcherDep) -> DocumentOut:
    view = searcher.document(doc_id)
    if view is None:
        raise HTTPException(404, f"no document with id {doc_id}")
    return DocumentOut.model_validate(view.to_dict())
