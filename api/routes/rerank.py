"""POST /rerank: texts ranked against a query, in the shape of Cohere's and Jina's rerank
APIs or of Text Embeddings Inference's. The ranking is `search.rerank.rerank_texts`; the
scorer is the server's (SEMSEARCH_RERANK_SCORER) and every answer names it."""

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Response

from semsearch.api import examples
from semsearch.api.deps import get_searcher, get_settings
from semsearch.api.rerank_schemas import (
    CohereRerankResponse,
    CohereRerankResult,
    RerankBody,
    RerankDocumentOut,
    TeiRank,
    TeiRerankRequest,
)
from semsearch.api.tool_schemas import TeiErrorResponse
from semsearch.search.rerank import rerank_texts
from semsearch.search.searcher import Searcher
from semsearch.settings import Settings

router = APIRouter(tags=["tools"])
SCORER_HEADER = "X-Semsearch-Scorer"


@router.post(
    "/rerank", response_model=CohereRerankResponse | list[TeiRank],
    response_model_exclude_none=True,
    responses={
        200: {"headers": {SCORER_HEADER: {
            "description": "what scored: cross-encoder or cosine",
            "schema": {"type": "string", "enum": ["cross-encoder", "cosine"]}}}},
        413: {"model": TeiErrorResponse,
              "description": "TEI's form, `truncate: false`: a text longer than the scorer "
                             "reads"},
        503: {"description": "SEMSEARCH_RERANK_SCORER=cross-encoder and it cannot be loaded"},
    })
def rerank(request: Annotated[RerankBody, Body(openapi_examples=examples.RERANK)],
           searcher: Annotated[Searcher, Depends(get_searcher)],
           settings: Annotated[Settings, Depends(get_settings)],
           response: Response) -> CohereRerankResponse | list[TeiRank]:
    """Rank texts by relevance to `query`, best first.

    Cohere's and Jina's `{query, documents, top_n, return_documents}` answers
    `{results: [{index, relevance_score, document}], model, scorer}`; TEI's
    `{query, texts, raw_scores, return_text, truncate}` answers `[{index, score, text}]`.
    The `X-Semsearch-Scorer` header names the scorer in both.
    """
    reranker = searcher.text_reranker(settings.rerank_scorer)
    if isinstance(request, TeiRerankRequest):
        ranking = rerank_texts(request.query, request.texts, searcher.encoder, reranker,
                               truncate=request.truncate)
        response.headers[SCORER_HEADER] = ranking.scorer
        return [TeiRank(index=r.index, score=r.raw_score if request.raw_scores else r.score,
                        text=request.texts[r.index] if request.return_text else None)
                for r in ranking.results]
    texts = request.texts()
    ranking = rerank_texts(request.query, texts, searcher.encoder, reranker,
                           top_n=request.top_n)
    response.headers[SCORER_HEADER] = ranking.scorer
    return CohereRerankResponse(model=ranking.model, scorer=ranking.scorer, results=[
        CohereRerankResult(index=r.index, relevance_score=r.score,
                           document=RerankDocumentOut(text=texts[r.index])
                           if request.return_documents else None)
        for r in ranking.results])
