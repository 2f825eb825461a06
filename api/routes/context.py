"""POST /context: the best passages for a question, packed for a chat model."""

from typing import Annotated

from fastapi import APIRouter, Body, Depends

from semsearch.api import examples
from semsearch.api.context_schemas import ContextRequest
from semsearch.api.deps import get_searcher
from semsearch.search.context import ContextResult, build_context
from semsearch.search.searcher import Searcher

router = APIRouter(tags=["context"])
SearcherDep = Annotated[Searcher, Depends(get_searcher)]


@router.post("/context", response_model=ContextResult)
def context(request: Annotated[ContextRequest, Body(openapi_examples=examples.CONTEXT)],
            searcher: SearcherDep) -> ContextResult:
    """Passages for `question` within `token_budget` tokens, numbered [1], [2]… with
    their citations, and the ready-to-paste `context` string."""
    return build_context(searcher, request.question, request.to_options(),
                         request.token_budget)
