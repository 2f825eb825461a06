"""The rerank stage: the cross-encoder's score replaces each hit's, best first."""

from semsearch.indexer.encoders.cross_encoder import Reranker
from semsearch.search.hits import Hit


def rerank_hits(reranker: Reranker, query: str, hits: list[Hit]) -> list[Hit]:
    """`hits` rescored by `reranker` (each leg's score kept in `scores`), best first."""
    scores = reranker.score(query, [hit.text for hit in hits])
    for hit, score in zip(hits, scores.tolist(), strict=True):
        hit.scores["cross_encoder"] = score
        hit.score, hit.score_kind = score, "cross-encoder"
    return sorted(hits, key=lambda hit: -hit.score)
