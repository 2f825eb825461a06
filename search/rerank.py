"""Reranking: the cross-encoder's score replaces each hit's (`rerank_hits`, the search
pipeline's last stage), and `rerank_texts` ranks texts a caller sends (POST /rerank),
by the cross-encoder or, without one, by the index model's cosine."""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from semsearch.indexer.encoders import Encoder
from semsearch.indexer.encoders.cross_encoder import Reranker
from semsearch.search import text_tools
from semsearch.search.errors import InvalidQueryError, TextTooLongError
from semsearch.search.hits import Hit

# What scores texts sent to rerank: "auto" is the cross-encoder when it loads, else the
# cosine of the index model's vectors (Searcher.text_reranker decides, once).
RerankScorer = Literal["auto", "cross-encoder", "cosine"]
# What did score them: the answer names it.
Scorer = Literal["cross-encoder", "cosine"]


def rerank_hits(reranker: Reranker, query: str, hits: list[Hit]) -> list[Hit]:
    """`hits` rescored by `reranker` (each leg's score kept in `scores`), best first."""
    scores = reranker.score(query, [hit.text for hit in hits])
    for hit, score in zip(hits, scores.tolist(), strict=True):
        hit.scores["cross_encoder"] = score
        hit.score, hit.score_kind = score, "cross-encoder"
    return sorted(hits, key=lambda hit: -hit.score)


@dataclass(frozen=True)
class RankedText:
    """One text's place in a ranking.

    Attributes:
        index: its position in the texts given.
        score: the cross-encoder's probability of relevance (the sigmoid of its logit,
            in [0, 1]), or the cosine (in [-1, 1]).
        raw_score: the cross-encoder's logit, or the cosine again (it has no other).
    """

    index: int
    score: float
    raw_score: float


@dataclass(frozen=True)
class TextRanking:
    """Texts ranked best first, by which scorer and model."""

    scorer: Scorer
    model: str
    results: list[RankedText]


def rerank_texts(query: str, texts: Sequence[str], encoder: Encoder,
                 reranker: Reranker | None, top_n: int | None = None,
                 truncate: bool = True) -> TextRanking:
    """Rank `texts` by relevance to `query`, best first (ties keep the order given).

    Args:
        encoder: the index's model; it scores by cosine when `reranker` is None.
        reranker: the cross-encoder, or None to score by cosine.
        top_n: keep this many of the best; None keeps all.
        truncate: False refuses a text the scorer would cut, as Text Embeddings
            Inference does, instead of scoring what fits.

    Raises:
        InvalidQueryError: an empty query or text, no texts, or `top_n` below 1.
        TextTooLongError: `truncate` is False and the scorer would cut a text.
    """
    _check_request(query, texts, top_n)
    if not truncate:
        _check_token_limits(query, texts, encoder, reranker)
    if reranker is None:
        vectors = encoder.encode([query, *texts])
        cosines = (vectors[1:] @ vectors[0]).astype(np.float32)
        return _ranking("cosine", encoder.model_name, cosines, cosines, top_n)
    logits = reranker.logits(query, list(texts))
    return _ranking("cross-encoder", reranker.model_name, _sigmoid(logits), logits, top_n)


def _ranking(scorer: Scorer, model: str, scores: NDArray[np.float32],
             raw: NDArray[np.float32], top_n: int | None) -> TextRanking:
    order = np.argsort(-raw, kind="stable")[:top_n]
    return TextRanking(scorer, model, [RankedText(int(i), float(scores[i]), float(raw[i]))
                                       for i in order])


def _check_request(query: str, texts: Sequence[str], top_n: int | None) -> None:
    if not query.strip():
        raise InvalidQueryError("the query is empty")
    if not texts:
        raise InvalidQueryError("no texts to rank; send at least one")
    for position, text in enumerate(texts):
        if not text.strip():
            raise InvalidQueryError(f"texts[{position}] is empty; every text needs content")
    if top_n is not None and top_n < 1:
        raise InvalidQueryError(f"top_n must be at least 1, not {top_n}")


def _check_token_limits(query: str, texts: Sequence[str], encoder: Encoder,
                        reranker: Reranker | None) -> None:
    if reranker is None:  # query and texts are embedded one by one
        text_tools.check_token_limit(encoder, [query], "query")
        text_tools.check_token_limit(encoder, texts, "texts")
        return
    limit = reranker.max_tokens
    for position, count in enumerate(reranker.count_tokens(query, list(texts))):
        if count > limit:
            raise TextTooLongError(
                f"the query with texts[{position}] has {count} tokens; the cross-encoder "
                f"reads at most {limit}: shorten them, or send \"truncate\": true to have "
                "them cut")


def _sigmoid(logits: NDArray[np.float32]) -> NDArray[np.float32]:
    # exp(-log(1 + e^-x)), which neither overflows nor loses the tails.
    return np.exp(-np.logaddexp(0.0, -logits.astype(np.float64))).astype(np.float32)
