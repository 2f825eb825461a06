"""POST /search and POST /search/batch."""

from typing import Annotated

from fastapi import APIRouter, Body, Depends

from semsearch.api import examples
from semsearch.api.deps import get_searcher
from semsearch.api.schemas import BatchSearchRequest, SearchRequest
from semsearch.search.hits import BatchSearchResponse, SearchResponse
from semsearch.search.searcher import Searcher

router = APIRouter(tags=["search"])
SearcherDep = Annotated[Searcher, Depends(get_searcher)]


@router.post("/search", response_model=SearchResponse)
def search(request: Annotated[SearchRequest, Body(openapi_examples=examples.SEARCH)],
           searcher: SearcherDep) -> SearchResponse:
    """Top-k chunks for one query."""
    return searcher.search(request.query, request.to_options())


@router.post("/search/batch", response_model=BatchSearchResponse)
def search_batch(
        request: Annotated[BatchSearchRequest, Body(openapi_examples=examples.SEARCH_BATCH)],
        searcher: SearcherDep) -> BatchSearchResponse:
    """Top-k chunks for each of many queries, embedded together."""
    return BatchSearchResponse(searcher.search_batch(request.queries, request.to_options()))
