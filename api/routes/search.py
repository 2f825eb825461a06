"""POST /search and POST /search/batch."""

from typing import Annotated

from fastapi import APIRouter, Depends

from semsearch.api.deps import get_searcher
from semsearch.api.schemas import (
    BatchSearchRequest,
    BatchSearchResponseOut,
    FiltersIn,
    SearchOptions,
    SearchRequest,
    SearchResponseOut,
)
from semsearch.search.hits import Filters, SearchResponse
from semsearch.search.searcher import Searcher

router = APIRouter(tags=["search"])
SearcherDep = Annotated[Searcher, Depends(get_searcher)]


def to_filters(filters: FiltersIn | None) -> Filters | None:
    if filters is None:
        return None
    return Filters(
        path_prefix=filters.path_prefix,
        path_glob=filters.path_glob,
        file_types=tuple(filters.file_types),
        modified_after=filters.modified_after.timestamp() if filters.modified_after else None,
        modified_before=filters.modified_before.timestamp() if filters.modified_before else None,
    )


def _options(request: SearchOptions) -> dict[str, object]:
    return {"k": request.k, "mode": request.mode, "rerank": request.rerank,
            "filters": to_filters(request.filters), "group_by": request.group_by,
            "min_score": request.min_score}


def _out(response: SearchResponse) -> SearchResponseOut:
    return SearchResponseOut.model_validate(response.to_dict())


@router.post("/search", response_model=SearchResponseOut)
def search(request: SearchRequest, searcher: SearcherDep) -> SearchResponseOut:
    """Top-k chunks for one query."""
    return _out(searcher.search(request.query, **_options(request)))  # type: ignore[arg-type]


@router.post("/search/batch", response_model=BatchSearchResponseOut)
def search_batch(request: BatchSearchRequest, searcher: SearcherDep) -> BatchSearchResponseOut:
    """Top-k chunks for each of many queries, embedded together."""
    responses = searcher.search_batch(request.queries, **_options(request))  # type: ignore[arg-type]
    return BatchSearchResponseOut(responses=[_out(r) for r in responses])
