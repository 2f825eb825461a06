"""The conventions other servers' clients expect: GET /v1/models (through the official
`openai` client), Text Embeddings Inference's /embed, POST /rerank in Cohere's, Jina's and
TEI's shapes, and an OpenAPI schema whose key and examples work from /docs.

HTTP tests run on a live uvicorn server whose cross-encoder cannot load (a missing local
path, as when the hub is out of reach), so `auto` ranks by cosine there; the cross-encoder
path runs on one trained here (tests/test_rerank.py's), in process.
"""

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import openai
import pytest
from starlette.testclient import TestClient

from semsearch.api.app import create_app
from semsearch.api.rerank_schemas import MAX_RERANK_TEXTS
from semsearch.api.tool_schemas import MAX_TEXTS
from semsearch.indexer.encoders import Encoder, EncoderSpec
from semsearch.indexer.encoders.cross_encoder import Reranker, RerankerLoadError
from semsearch.indexer.sync import SyncOptions, sync_folder
from semsearch.search.errors import InvalidQueryError, TextTooLongError
from semsearch.search.rerank import _sigmoid, rerank_texts
from semsearch.search.searcher import Searcher
from semsearch.settings import DEFAULT_MODEL, Settings
from tests.live_server import start_server, stop_server
from tests.test_rerank import MARKER, _train_cross_encoder

API_KEY = "conventions-key-789"
DOCS = {
    "tea.md": "# Green tea\n\nSteep green tea at about 80 degrees for two to three minutes.",
    "bike.txt": "Bicycle repair.\n\nTo fix a flat tyre, patch the inner tube.",
}
QUERY = "how do I brew green tea"
TEXTS = ["Replace a bicycle chain once it has stretched.",
         "Steep green tea at about 80 degrees for two to three minutes.",
         "The Perseverance rover landed in Jezero crater."]
LONG = "word " * 400  # 402 tokens: over the 256 the bundled model reads, under 512


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory: pytest.TempPathFactory, encoder: Encoder) -> Path:
    root = tmp_path_factory.mktemp("conventions-docs")
    for path, text in DOCS.items():
        (root / path).write_text(text, encoding="utf-8")
    index = tmp_path_factory.mktemp("conventions-index")
    sync_folder(root, index, EncoderSpec.of(encoder), SyncOptions())
    return index


@pytest.fixture(scope="module")
def server(index_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    # An absolute path of several parts is never taken for a hub name: it fails at once.
    missing = tmp_path_factory.mktemp("no-cross-encoder") / "nope"
    process, base = start_server(index_dir, {"SEMSEARCH_API_KEY": API_KEY,
                                             "SEMSEARCH_RERANK_MODEL": str(missing)})
    yield base
    log = stop_server(process)
    assert "Exception in ASGI application" not in log, log[-3000:]
    assert "rerank scorer auto: no cross-encoder" in log  # the fallback is logged


@pytest.fixture(scope="module")
def client(server: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server, timeout=120,
                      headers={"Authorization": f"Bearer {API_KEY}"}) as http:
        yield http


@pytest.fixture(scope="module")
def cross_encoder_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """tests/test_rerank.py's cross-encoder: a passage with "pineapple" is relevant."""
    path = tmp_path_factory.mktemp("conventions-cross-encoder")
    _train_cross_encoder(path)
    return path


@pytest.fixture(scope="module")
def reranker(cross_encoder_path: Path) -> Reranker:
    return Reranker(str(cross_encoder_path), "cpu")


def _messages(response: httpx.Response) -> str:
    assert response.status_code == 422, response.text
    return " | ".join(error["msg"] for error in response.json()["detail"])


# --- GET /v1/models ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def openai_client(server: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=server + "/v1", api_key=API_KEY, max_retries=0, timeout=60)


def test_openai_client_lists_the_index_model(openai_client: openai.OpenAI) -> None:
    models = list(openai_client.models.list())
    assert [m.id for m in models] == [DEFAULT_MODEL]
    assert models[0].object == "model" and models[0].owned_by == "semsearch"
    assert models[0].created > 1_600_000_000  # the index's last sync
    # The id listed is one /v1/embeddings accepts.
    response = openai_client.embeddings.create(input="tea", model=models[0].id,
                                               encoding_format="float")
    assert response.model == DEFAULT_MODEL


@pytest.mark.parametrize("name", [DEFAULT_MODEL, "all-MiniLM-L6-v2", "ALL-minilm-l6-v2"])
def test_openai_client_retrieves_the_model_by_any_of_its_names(
        openai_client: openai.OpenAI, name: str) -> None:
    model = openai_client.models.retrieve(name)
    assert model.id == DEFAULT_MODEL and model.object == "model"


def test_an_unknown_model_is_404_in_openai_shape(openai_client: openai.OpenAI,
                                                 client: httpx.Client) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        openai_client.models.retrieve("text-embedding-3-small")
    error = caught.value.body
    assert isinstance(error, dict)
    assert error["code"] == "model_not_found" and error["param"] == "model"
    assert error["type"] == "invalid_request_error" and "all-MiniLM-L6-v2" in error["message"]
    body = client.get("/v1/models/org/other-model").json()
    assert body["error"]["message"].startswith("The model 'org/other-model' does not exist")


def test_models_need_the_key(server: str) -> None:
    for path in ("/v1/models", "/v1/models/all-MiniLM-L6-v2"):
        assert httpx.get(server + path, timeout=60).status_code == 401
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=server + "/v1", api_key="wrong", max_retries=0).models.list()


# --- /embed in Text Embeddings Inference's shape ----------------------------------------
def test_tei_embed_answers_a_bare_list_of_vectors(client: httpx.Client,
                                                  encoder: Encoder) -> None:
    single = client.post("/embed", json={"inputs": "green tea"})
    assert single.status_code == 200
    np.testing.assert_allclose(np.array(single.json()), encoder.encode(["green tea"]),
                               atol=1e-5)
    texts = ["green tea", "a flat tyre"]
    batch = client.post("/embed", json={"inputs": texts, "normalize": True,
                                        "truncate": False}).json()
    assert isinstance(batch, list) and len(batch) == 2
    np.testing.assert_allclose(np.array(batch), encoder.encode(texts), atol=1e-5)
    # Our own form is unchanged beside it.
    ours = client.post("/embed", json={"texts": texts}).json()
    assert ours["model"] == DEFAULT_MODEL
    np.testing.assert_allclose(np.array(ours["embeddings"]), np.array(batch), atol=1e-6)


def test_tei_embed_refuses_an_over_long_input_unless_truncate(client: httpx.Client,
                                                              encoder: Encoder) -> None:
    refused = client.post("/embed", json={"inputs": ["short", LONG]})
    assert refused.status_code == 413  # what TEI answers
    body = refused.json()
    assert body["error_type"] == "Validation"
    assert body["error"] == body["detail"] == (
        'inputs[1] has 402 tokens; the model reads at most 256: shorten it, or send '
        '"truncate": true to have it cut')
    cut = client.post("/embed", json={"inputs": [LONG], "truncate": True})
    assert cut.status_code == 200
    np.testing.assert_allclose(np.array(cut.json()), encoder.encode([LONG]), atol=1e-5)
    # Our own form keeps cutting as it always has.
    assert client.post("/embed", json={"texts": [LONG]}).status_code == 200


@pytest.mark.parametrize(("body", "message"), [
    ({"inputs": "x", "normalize": False}, "normalize: false is not available"),
    ({"inputs": []}, "at least 1 item"),
    ({"inputs": ["x"] * (MAX_TEXTS + 1)}, f"at most {MAX_TEXTS} items"),
    ({"inputs": ["ok", " "]}, "the text is empty"),
    ({"inputs": "x", "prompt_name": "query"}, "Extra inputs are not permitted"),
    ({"inputs": "x", "texts": ["y"]}, "Extra inputs are not permitted"),
])
def test_tei_embed_rejects_bad_bodies(client: httpx.Client, body: dict[str, Any],
                                      message: str) -> None:
    response = client.post("/embed", json=body)
    assert message in _messages(response)
    assert response.json()["detail"][0]["loc"][:2] == ["body", "tei"]  # read as TEI's form


# --- POST /rerank, by cosine (the live server's cross-encoder does not load) ------------
def _cosines(encoder: Encoder, query: str, texts: list[str]) -> np.ndarray:
    vectors = encoder.encode([query, *texts])
    return vectors[1:] @ vectors[0]


def test_cohere_rerank_by_cosine(client: httpx.Client, encoder: Encoder) -> None:
    response = client.post("/rerank", json={
        "query": QUERY, "documents": [TEXTS[0], {"text": TEXTS[1]}, TEXTS[2]],
        "top_n": 2, "return_documents": True, "model": "rerank-english-v3.0"})
    assert response.status_code == 200, response.text
    assert response.headers["x-semsearch-scorer"] == "cosine"
    body = response.json()
    assert body["scorer"] == "cosine" and body["model"] == DEFAULT_MODEL
    cosines = _cosines(encoder, QUERY, TEXTS)
    best = list(np.argsort(-cosines)[:2])
    assert [r["index"] for r in body["results"]] == best and best[0] == 1
    for result in body["results"]:
        assert result["relevance_score"] == pytest.approx(cosines[result["index"]], abs=1e-5)
        assert result["document"] == {"text": TEXTS[result["index"]]}
    plain = client.post("/rerank", json={"query": QUERY, "documents": TEXTS}).json()
    assert len(plain["results"]) == 3 and "document" not in plain["results"][0]


def test_tei_rerank_by_cosine(client: httpx.Client, encoder: Encoder) -> None:
    response = client.post("/rerank", json={"query": QUERY, "texts": TEXTS,
                                            "return_text": True, "raw_scores": True})
    assert response.status_code == 200, response.text
    assert response.headers["x-semsearch-scorer"] == "cosine"
    ranks = response.json()
    cosines = _cosines(encoder, QUERY, TEXTS)
    assert [r["index"] for r in ranks] == list(np.argsort(-cosines))
    for rank in ranks:
        assert rank["score"] == pytest.approx(cosines[rank["index"]], abs=1e-5)
        assert rank["text"] == TEXTS[rank["index"]]
    # raw_scores changes nothing for a cosine; return_text false leaves `text` out.
    plain = client.post("/rerank", json={"query": QUERY, "texts": TEXTS}).json()
    assert [set(r) for r in plain] == [{"index", "score"}] * 3
    assert [r["score"] for r in plain] == pytest.approx([r["score"] for r in ranks])


def test_tei_rerank_refuses_an_over_long_text_unless_truncate(client: httpx.Client) -> None:
    refused = client.post("/rerank", json={"query": QUERY, "texts": ["tea", LONG]})
    assert refused.status_code == 413
    assert refused.json()["error"].startswith("texts[1] has 402 tokens")
    assert client.post("/rerank", json={"query": QUERY, "texts": ["tea", LONG],
                                        "truncate": True}).status_code == 200
    # Cohere's form cuts, as Cohere does.
    assert client.post("/rerank", json={"query": QUERY,
                                        "documents": [LONG]}).status_code == 200


@pytest.mark.parametrize(("body", "message"), [
    ({"query": QUERY, "documents": []}, "at least 1 item"),
    ({"query": QUERY, "documents": ["x"] * (MAX_RERANK_TEXTS + 1)},
     f"at most {MAX_RERANK_TEXTS} items"),
    ({"query": QUERY, "texts": ["x"] * (MAX_RERANK_TEXTS + 1)},
     f"at most {MAX_RERANK_TEXTS} items"),
    ({"query": " ", "documents": ["x"]}, "the text is empty"),
    ({"query": QUERY, "documents": [{"text": "x", "title": "t"}]}, "Extra inputs"),
    ({"query": QUERY, "documents": ["x"], "top_n": 0}, "greater than or equal to 1"),
    ({"query": QUERY, "documents": ["x"], "rank_fields": ["text"]}, "Extra inputs"),
    ({"query": QUERY, "texts": ["x"], "top_n": 1}, "Extra inputs"),
    ({"query": "x" * 10_001, "texts": ["x"]}, "at most 10000 characters"),
    ({"query": QUERY}, "Field required"),
])
def test_rerank_rejects_bad_bodies(client: httpx.Client, body: dict[str, Any],
                                   message: str) -> None:
    assert message in _messages(client.post("/rerank", json=body))


def test_rerank_needs_the_key(server: str) -> None:
    body = {"query": QUERY, "documents": ["x"]}
    assert httpx.post(server + "/rerank", json=body, timeout=60).status_code == 401


# --- the cross-encoder and the scorer rule ----------------------------------------------
def test_rerank_texts_by_the_cross_encoder(encoder: Encoder, reranker: Reranker) -> None:
    texts = [TEXTS[1], f"A field of {MARKER}s in the sun.", TEXTS[0]]
    ranking = rerank_texts(QUERY, texts, encoder, reranker)
    assert ranking.scorer == "cross-encoder" and ranking.model == reranker.model_name
    assert ranking.results[0].index == 1  # the model was taught that pineapples matter
    logits = reranker.logits(QUERY, texts)
    assert [r.index for r in ranking.results] == list(np.argsort(-logits))
    for result in ranking.results:
        assert result.raw_score == pytest.approx(logits[result.index], abs=1e-5)
        assert result.score == pytest.approx(1 / (1 + np.exp(-logits[result.index])), abs=1e-5)
    # This model was saved with a sigmoid: its own scores are the probabilities.
    np.testing.assert_allclose(reranker.score(QUERY, texts), _sigmoid(logits), atol=1e-5)
    assert len(rerank_texts(QUERY, texts, encoder, reranker, top_n=2).results) == 2


def test_rerank_texts_checks_lengths_only_when_asked(encoder: Encoder,
                                                     reranker: Reranker) -> None:
    too_long = "word " * 600  # over the cross-encoder's 512 with the query
    with pytest.raises(TextTooLongError, match=r"the query with texts\[1\] has 6\d\d tokens; "
                                               r"the cross-encoder reads at most 512"):
        rerank_texts(QUERY, ["tea", too_long], encoder, reranker, truncate=False)
    assert len(rerank_texts(QUERY, ["tea", too_long], encoder, reranker).results) == 2
    # By cosine the limit is the embedding model's, for the query too.
    with pytest.raises(TextTooLongError, match=r"query\[0\] has 402 tokens"):
        rerank_texts(LONG, ["tea"], encoder, None, truncate=False)
    for query, texts in (("", ["x"]), ("q", []), ("q", ["x", "  "])):
        with pytest.raises(InvalidQueryError):
            rerank_texts(query, texts, encoder, None)


def test_scorer_rule(index_dir: Path, encoder: Encoder, cross_encoder_path: Path,
                     tmp_path: Path) -> None:
    loaded = Searcher(index_dir, EncoderSpec.of(encoder), rerank_model=str(cross_encoder_path))
    missing = Searcher(index_dir, EncoderSpec.of(encoder), rerank_model=str(tmp_path / "no"))
    try:
        assert loaded.text_reranker("auto") is loaded.reranker
        assert loaded.text_reranker("cross-encoder") is loaded.reranker
        assert loaded.text_reranker("cosine") is None
        assert missing.text_reranker("auto") is None
        assert missing.text_reranker("auto") is None  # decided once, not retried
        assert missing.text_reranker("cosine") is None
        with pytest.raises(RerankerLoadError):
            missing.text_reranker("cross-encoder")
    finally:
        loaded.close()
        missing.close()


def test_rerank_route_with_the_cross_encoder(index_dir: Path, cross_encoder_path: Path,
                                             reranker: Reranker) -> None:
    texts = [TEXTS[1], f"{MARKER.title()} plants grow in tropical fields."]
    logits = reranker.logits(QUERY, texts)
    settings = Settings(index_dir=index_dir, rerank_model=str(cross_encoder_path),
                        rerank_scorer="cross-encoder")
    with TestClient(create_app(settings)) as http:
        cohere = http.post("/rerank", json={"query": QUERY, "documents": texts})
        assert cohere.headers["x-semsearch-scorer"] == "cross-encoder"
        body = cohere.json()
        assert body["scorer"] == "cross-encoder" and body["model"] == str(cross_encoder_path)
        assert [r["index"] for r in body["results"]] == [1, 0]
        assert [r["relevance_score"] for r in body["results"]] == pytest.approx(
            _sigmoid(logits)[[1, 0]].tolist(), abs=1e-5)
        raw = http.post("/rerank", json={"query": QUERY, "texts": texts, "raw_scores": True})
        assert raw.headers["x-semsearch-scorer"] == "cross-encoder"
        assert [r["score"] for r in raw.json()] == pytest.approx(logits[[1, 0]].tolist(),
                                                                 abs=1e-5)
        long_pair = http.post("/rerank", json={"query": QUERY, "texts": ["word " * 600]})
        assert long_pair.status_code == 413


def test_a_required_cross_encoder_that_cannot_load_is_503(index_dir: Path,
                                                          tmp_path: Path) -> None:
    settings = Settings(index_dir=index_dir, rerank_model=str(tmp_path / "nope"),
                        rerank_scorer="cross-encoder")
    with TestClient(create_app(settings)) as http:
        response = http.post("/rerank", json={"query": QUERY, "documents": ["tea"]})
        assert response.status_code == 503
        assert "Cannot load cross-encoder" in response.json()["detail"]


# --- OpenAPI: the key and the examples work from /docs ----------------------------------
def test_openapi_declares_the_bearer_key(client: httpx.Client, server: str) -> None:
    schema = client.get("/openapi.json").json()
    scheme = schema["components"]["securitySchemes"]["apiKey"]
    assert scheme["type"] == "http" and scheme["scheme"] == "bearer"
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            needs_key = path != "/health"
            assert ("security" in operation) == needs_key, (method, path)
            if needs_key:
                assert operation["security"] == [{"apiKey": []}]
    # Declaring the scheme changed nothing about enforcement.
    assert httpx.post(server + "/search", json={"query": "tea"}, timeout=60).status_code == 401
    assert client.post("/search", json={"query": "tea"}).status_code == 200


def _examples(schema: dict[str, Any]) -> Iterator[tuple[str, str, str, Any]]:
    """(method, path, example name, body) of every example of a request body."""
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            if "requestBody" in operation:
                content = operation["requestBody"]["content"]["application/json"]
                for name, example in content.get("examples", {}).items():
                    yield method, path, name, example["value"]


def test_every_post_operation_has_an_example(client: httpx.Client) -> None:
    schema = client.get("/openapi.json").json()
    posts = {path for path, operations in schema["paths"].items() if "post" in operations}
    assert posts >= {"/search", "/search/batch", "/context", "/index", "/embed",
                     "/similarity", "/classify", "/rerank", "/v1/embeddings"}
    with_examples = {path for method, path, _, _ in _examples(schema) if method == "post"}
    assert with_examples == posts


def test_every_example_answers_2xx(client: httpx.Client) -> None:
    schema = client.get("/openapi.json").json()
    answered = []
    for method, path, name, body in _examples(schema):
        response = client.request(method, path, json=body)
        assert 200 <= response.status_code < 300, (path, name, response.text)
        answered.append((path, name))
        if path == "/index":  # it started a sync of the index's folder: let it finish
            for _ in range(600):
                if not client.get("/index/status").json()["running"]:
                    break
                time.sleep(0.1)
    assert ("/embed", "tei") in answered and ("/rerank", "cohere") in answered
    # The model example of GET /v1/models/{model} names the index's model.
    model = schema["paths"]["/v1/models/{model}"]["get"]["parameters"][0]
    for example in model["examples"].values():
        assert client.get(f"/v1/models/{example['value']}").status_code == 200
