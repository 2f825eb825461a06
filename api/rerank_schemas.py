"""Request and response models of POST /rerank, in the two shapes rerank clients send:
Cohere's and Jina's `{query, documents}`, and Text Embeddings Inference's `{query, texts}`.

Every limit is checked by pydantic before a model sees a text (422 naming the field).
"""

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Discriminator, Field, Tag

from semsearch.api.request_model import RequestModel
from semsearch.api.tool_schemas import Text

MAX_RERANK_TEXTS = 1_000  # documents (or texts) per request, Cohere's recommended most


class RerankDocumentIn(RequestModel):
    text: Text


class CohereRerankRequest(RequestModel):
    """Cohere's and Jina's body; `documents` are strings or `{"text"}` objects."""

    query: Text
    documents: list[Text | RerankDocumentIn] = Field(
        ..., min_length=1, max_length=MAX_RERANK_TEXTS,
        description=f"1 to {MAX_RERANK_TEXTS} texts; longer ones are cut to what the scorer "
                    "reads")
    top_n: int | None = Field(None, ge=1, le=MAX_RERANK_TEXTS,
                              description="keep the best n (default: all)")
    return_documents: bool = Field(False, description="echo each document's text")
    model: str | None = Field(
        None, max_length=500, description="accepted and ignored: the server's scorer "
        "(SEMSEARCH_RERANK_SCORER) ranks; the answer's `model` and `scorer` say which ran")

    def texts(self) -> list[str]:
        return [d if isinstance(d, str) else d.text for d in self.documents]


class TeiRerankRequest(RequestModel):
    """Text Embeddings Inference's body; the answer is a bare list, best first."""

    query: Text
    texts: list[Text] = Field(..., min_length=1, max_length=MAX_RERANK_TEXTS,
                              description=f"1 to {MAX_RERANK_TEXTS} texts")
    raw_scores: bool = Field(False, description="the cross-encoder's logits instead of their "
                             "sigmoid; no effect on cosine scores")
    return_text: bool = Field(False, description="echo each text")
    truncate: bool = Field(False, description="false (TEI's default): a text longer than the "
                           "scorer reads is refused with 413; true: its first tokens count")


def _rerank_shape(body: Any) -> str:
    """Which form a /rerank body is: TEI's has `texts`, Cohere's `documents`."""
    if isinstance(body, TeiRerankRequest) or (isinstance(body, dict) and "texts" in body):
        return "tei"
    return "cohere"


# One route, two bodies: errors name the form the body was read as ("cohere" or "tei").
RerankBody = Annotated[Annotated[CohereRerankRequest, Tag("cohere")]
                       | Annotated[TeiRerankRequest, Tag("tei")], Discriminator(_rerank_shape)]


class RerankDocumentOut(BaseModel):
    text: str


class CohereRerankResult(BaseModel):
    index: int = Field(description="the document's position in the request")
    relevance_score: float = Field(description="cross-encoder: the sigmoid of its logit, in "
                                   "[0, 1]; cosine: the cosine, in [-1, 1]")
    document: RerankDocumentOut | None = Field(None, description="with return_documents")


class CohereRerankResponse(BaseModel):
    results: list[CohereRerankResult] = Field(description="best first")
    model: str = Field(description="the cross-encoder, or the index's embedding model")
    scorer: Literal["cross-encoder", "cosine"]


class TeiRank(BaseModel):
    index: int = Field(description="the text's position in the request")
    score: float = Field(description="cross-encoder: the sigmoid of its logit (the logit "
                         "with raw_scores); cosine: the cosine")
    text: str | None = Field(None, description="with return_text")
