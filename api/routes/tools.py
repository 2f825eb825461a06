"""POST /embed, POST /similarity and POST /classify: text tools over the index's model."""

from typing import Annotated

from fastapi import APIRouter, Body, Depends

from semsearch.api import examples
from semsearch.api.deps import get_searcher
from semsearch.api.tool_schemas import (
    ClassificationOut,
    ClassifyRequest,
    ClassifyResponse,
    EmbedBody,
    EmbedResponse,
    SimilarityRequest,
    SimilarityResponse,
    TeiEmbedRequest,
    TeiEmbedResponse,
    TeiErrorResponse,
)
from semsearch.indexer.encoders import Encoder
from semsearch.search import text_tools
from semsearch.search.searcher import Searcher

router = APIRouter(tags=["tools"])


def get_encoder(searcher: Annotated[Searcher, Depends(get_searcher)]) -> Encoder:
    """The model the index was built with, already loaded by the searcher."""
    return searcher.encoder


EncoderDep = Annotated[Encoder, Depends(get_encoder)]


@router.post("/embed", response_model=EmbedResponse | TeiEmbedResponse, responses={
    413: {"model": TeiErrorResponse, "description": "TEI's form, `truncate: false`: an "
          "input longer than the model reads"}})
def embed(request: Annotated[EmbedBody, Body(openapi_examples=examples.EMBED)],
          encoder: EncoderDep) -> EmbedResponse | TeiEmbedResponse:
    """Unit vectors of the texts from the index's model (cosine = dot product).

    `{texts}` answers `{model, dimension, embeddings}`; Text Embeddings Inference's
    `{inputs, normalize, truncate}` answers a bare list of vectors, as TEI does.
    """
    if isinstance(request, TeiEmbedRequest):
        return text_tools.embed(encoder, request.texts(), request.truncate).tolist()
    vectors = text_tools.embed(encoder, request.texts)
    return EmbedResponse(model=encoder.model_name, dimension=encoder.dimension,
                         embeddings=vectors.tolist())


@router.post("/similarity", response_model=SimilarityResponse, response_model_exclude_none=True)
def similarity(request: Annotated[SimilarityRequest, Body(openapi_examples=examples.SIMILARITY)],
               encoder: EncoderDep) -> SimilarityResponse:
    """Cosine similarity of {a, b}, of each of {pairs}, or of {queries} x {documents}."""
    if request.a is not None and request.b is not None:
        return SimilarityResponse(score=text_tools.similarity(encoder, request.a, request.b))
    if request.pairs is not None:
        return SimilarityResponse(
            scores=text_tools.pair_similarities(encoder, request.pairs).tolist())
    assert request.queries is not None and request.documents is not None  # the validator's
    matrix = text_tools.similarity_matrix(encoder, request.queries, request.documents)
    return SimilarityResponse(scores=matrix.tolist())


@router.post("/classify", response_model=ClassifyResponse)
def classify(request: Annotated[ClassifyRequest, Body(openapi_examples=examples.CLASSIFY)],
             encoder: EncoderDep) -> ClassifyResponse:
    """Zero-shot from label descriptions, or few-shot from labelled examples."""
    examples = request.labelled_examples()
    method: str
    if examples:
        method = text_tools.choose_method(request.method, [label for _, label in examples])
        results = text_tools.classify_few_shot(encoder, request.texts, examples, method,
                                               request.temperature)
    else:
        method = "zero-shot"
        results = text_tools.classify_zero_shot(encoder, request.texts,
                                                request.label_descriptions(),
                                                request.temperature)
    return ClassifyResponse(method=method, results=[
        ClassificationOut(label=r.label, probability=r.probability, scores=r.scores)
        for r in results])
