"""End to end: /embed, /similarity, /classify and /v1/embeddings on a live uvicorn server,
also through the official `openai` client."""

from collections.abc import Iterator

import httpx
import numpy as np
import openai
import pytest

from semsearch.api.tool_schemas import MAX_MATRIX_CELLS, MAX_TEXT_CHARS, MAX_TEXTS
from semsearch.indexer.encoders import Encoder, EncoderSpec
from semsearch.indexer.sync import SyncOptions, sync_folder
from semsearch.search import text_tools
from semsearch.settings import DEFAULT_MODEL
from tests.live_server import start_server, stop_server

API_KEY = "tools-key-456"
ROUTES = ["/embed", "/similarity", "/classify", "/v1/embeddings"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, encoder: Encoder) -> Iterator[str]:
    root = tmp_path_factory.mktemp("tools-docs")
    (root / "note.txt").write_text("A short note about sourdough bread.", encoding="utf-8")
    index_dir = tmp_path_factory.mktemp("tools-index")
    sync_folder(root, index_dir, EncoderSpec.of(encoder), SyncOptions())
    process, base = start_server(index_dir, {"SEMSEARCH_API_KEY": API_KEY})
    yield base
    stop_server(process)


@pytest.fixture(scope="module")
def client(server: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server, timeout=60,
                      headers={"Authorization": f"Bearer {API_KEY}"}) as http:
        yield http


def _messages(response: httpx.Response) -> str:
    assert response.status_code == 422, response.text
    return " | ".join(error["msg"] for error in response.json()["detail"])


@pytest.mark.parametrize("route", ROUTES)
def test_every_tool_route_needs_the_key(server: str, route: str) -> None:
    body = {"texts": ["hello"], "a": "x", "b": "y", "labels": ["p", "q"], "input": "hello",
            "model": DEFAULT_MODEL}
    assert httpx.post(server + route, json=body, timeout=60).status_code == 401
    wrong = {"Authorization": "Bearer wrong"}
    assert httpx.post(server + route, json=body, headers=wrong, timeout=60).status_code == 401


def test_embed_returns_the_models_unit_vectors(client: httpx.Client, encoder: Encoder) -> None:
    texts = ["a cat on the mat", "quarterly earnings rose"]
    body = client.post("/embed", json={"texts": texts}).json()
    assert body["model"] == DEFAULT_MODEL and body["dimension"] == encoder.dimension
    np.testing.assert_allclose(np.array(body["embeddings"]), encoder.encode(texts), atol=1e-5)


@pytest.mark.parametrize(("body", "message"), [
    ({"texts": []}, "at least 1 item"),
    ({"texts": ["ok", "  "]}, "the text is empty"),
    ({"texts": ["x" * (MAX_TEXT_CHARS + 1)]}, f"at most {MAX_TEXT_CHARS} characters"),
    ({"texts": ["x"] * (MAX_TEXTS + 1)}, f"at most {MAX_TEXTS} items"),
    ({"texts": ["x"], "model": "other"}, "Extra inputs are not permitted"),
])
def test_embed_rejects_bad_bodies(client: httpx.Client, body: dict, message: str) -> None:
    assert message in _messages(client.post("/embed", json=body))


def test_similarity_of_two_texts(client: httpx.Client, encoder: Encoder) -> None:
    a, b = "How do I fix a flat bike tyre?", "Repairing a punctured bicycle wheel"
    body = client.post("/similarity", json={"a": a, "b": b}).json()
    assert body == {"score": pytest.approx(text_tools.similarity(encoder, a, b), abs=1e-5)}


def test_similarity_of_pairs_and_matrix(client: httpx.Client, encoder: Encoder) -> None:
    pairs = [["cat", "dog"], ["a car", "an automobile"]]
    body = client.post("/similarity", json={"pairs": pairs}).json()
    assert set(body) == {"scores"} and len(body["scores"]) == 2
    assert body["scores"][1] > body["scores"][0]
    queries, documents = ["bread", "bikes"], ["sourdough", "flat tyre", "Mars"]
    body = client.post("/similarity", json={"queries": queries, "documents": documents}).json()
    np.testing.assert_allclose(np.array(body["scores"]),
                               text_tools.similarity_matrix(encoder, queries, documents),
                               atol=1e-5)


@pytest.mark.parametrize(("body", "message"), [
    ({}, "exactly one of {a, b}, {pairs} or {queries, documents}; got none"),
    ({"a": "x", "b": "y", "pairs": [["p", "q"]]}, "got {a, b}, {pairs}"),
    ({"a": "x"}, "{a, b} go together"),
    ({"queries": ["q"]}, "{queries, documents} go together"),
    ({"pairs": [["a", "b"], ["only one"]]}, "pairs[1] must be a list of two texts"),
    ({"pairs": []}, "at least 1 item"),
    ({"queries": ["q"] * 101, "documents": ["d"] * 100},
     f"queries x documents is 10100; at most {MAX_MATRIX_CELLS}"),
])
def test_similarity_rejects_bad_bodies(client: httpx.Client, body: dict, message: str) -> None:
    assert message in _messages(client.post("/similarity", json=body))


def test_classify_zero_shot_with_names_and_descriptions(client: httpx.Client) -> None:
    texts = ["The striker scored twice in the derby.", "Parliament passed the budget."]
    for labels in (["sports", "politics", "cooking"],
                   {"sports": "sport and games", "politics": "government and elections",
                    "cooking": "recipes and food"}):
        body = client.post("/classify", json={"texts": texts, "labels": labels}).json()
        assert body["method"] == "zero-shot"
        assert [r["label"] for r in body["results"]] == ["sports", "politics"]
        first = body["results"][0]
        assert list(first["scores"]) == ["sports", "politics", "cooking"]
        assert sum(first["scores"].values()) == pytest.approx(1.0)
        assert first["probability"] == first["scores"]["sports"]


def test_classify_few_shot_in_both_forms(client: httpx.Client) -> None:
    texts = ["The goalkeeper saved a penalty.", "Preheat the oven and grease the tin."]
    by_label = {"sports": ["a tennis final", "the marathon runners"],
                "cooking": ["simmer the sauce", "knead the dough"]}
    body = client.post("/classify", json={"texts": texts, "labels": by_label}).json()
    assert body["method"] == "logistic"
    assert [r["label"] for r in body["results"]] == ["sports", "cooking"]
    examples = [{"text": "a tennis final", "label": "sports"},
                {"text": "simmer the sauce", "label": "cooking"}]
    body = client.post("/classify", json={"texts": texts, "examples": examples}).json()
    assert body["method"] == "centroid"  # one example per label
    assert [r["label"] for r in body["results"]] == ["sports", "cooking"]


@pytest.mark.parametrize(("body", "message"), [
    ({"texts": ["x"]}, "send exactly one of `labels`"),
    ({"texts": ["x"], "labels": ["a", "b"], "examples": [{"text": "t", "label": "a"}]},
     "send exactly one of `labels`"),
    ({"texts": ["x"], "labels": {"a": "desc", "b": ["example"]}}, "mixes descriptions"),
    ({"texts": ["x"], "labels": ["a", "a"]}, "appears twice"),
    ({"texts": ["x"], "labels": ["only"]}, "1 label(s) given; give at least two"),
    ({"texts": ["x"], "labels": {"a": ["t", "u"]}}, "1 label(s) given; give at least two"),
    ({"texts": ["x"], "examples": [{"text": "t", "label": "a"}]}, "give at least two"),
    ({"texts": ["x"], "labels": {"a": ["t"], "b": []}}, "empty list of examples"),
    ({"texts": ["x"], "labels": ["a", "b"], "method": "logistic"}, "labelled examples only"),
    ({"texts": ["x"], "labels": [f"l{i}" for i in range(101)]}, "101 labels; at most 100"),
    ({"texts": ["x"], "examples": [{"text": "t", "label": "a"}] * 1001}, "at most 1000 items"),
    ({"texts": ["x"], "examples": [{"text": "t", "label": f"l{i}"} for i in range(101)]},
     "the examples name 101 labels; at most 100"),
    ({"texts": ["x"], "labels": ["a", "b"], "temperature": 0}, "greater than or equal to 0.001"),
    ({"texts": ["x"], "labels": ["a", "b"], "temperature": 1e-300},
     "greater than or equal to 0.001"),
    ({"texts": ["x"], "labels": ["a", "b"], "method": "svm"}, "'auto', 'logistic' or"),
])
def test_classify_rejects_bad_bodies(client: httpx.Client, body: dict, message: str) -> None:
    assert message in _messages(client.post("/classify", json=body))




# --- /v1/embeddings ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def openai_client(server: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=server + "/v1", api_key=API_KEY, max_retries=0, timeout=60)


@pytest.mark.parametrize("encoding_format", ["float", "base64"])
def test_openai_client_gets_the_models_vectors(openai_client: openai.OpenAI, encoder: Encoder,
                                               encoding_format: str) -> None:
    texts = ["The quick brown fox", "jumps over the lazy dog", "长城是中国古代的军事防御工程"]
    # The client asks for base64 unless told otherwise, and decodes it itself.
    kwargs = {"encoding_format": encoding_format} if encoding_format == "float" else {}
    response = openai_client.embeddings.create(input=texts, model="all-MiniLM-L6-v2",
                                               **kwargs)  # type: ignore[arg-type]
    assert response.model == DEFAULT_MODEL
    assert [item.index for item in response.data] == [0, 1, 2]
    vectors = np.array([item.embedding for item in response.data])
    np.testing.assert_allclose(vectors, encoder.encode(texts), atol=1e-5)
    tokens = sum(text_tools.count_tokens(encoder, texts))
    assert response.usage.prompt_tokens == response.usage.total_tokens == tokens


def test_raw_base64_is_little_endian_float32(client: httpx.Client, encoder: Encoder) -> None:
    body = client.post("/v1/embeddings", json={"input": "hello world", "model": DEFAULT_MODEL,
                                               "encoding_format": "base64"}).json()
    assert body["object"] == "list" and body["data"][0]["object"] == "embedding"
    assert body["data"][0]["embedding"] == text_tools.to_base64(encoder.encode(["hello world"])[0])
    assert body["usage"] == {"prompt_tokens": 4, "total_tokens": 4}


def test_openai_dimensions_truncate_and_renormalise(openai_client: openai.OpenAI,
                                                    encoder: Encoder) -> None:
    response = openai_client.embeddings.create(input="a single string", model=DEFAULT_MODEL,
                                               dimensions=64, encoding_format="float")
    vector = np.array(response.data[0].embedding)
    assert vector.shape == (64,) and np.linalg.norm(vector) == pytest.approx(1.0, abs=1e-5)
    full = encoder.encode(["a single string"])[0][:64]
    np.testing.assert_allclose(vector, full / np.linalg.norm(full), atol=1e-5)
    with pytest.raises(openai.UnprocessableEntityError, match="between 1 and the model's 384"):
        openai_client.embeddings.create(input="x", model=DEFAULT_MODEL, dimensions=385)


def test_openai_unknown_model_is_404_model_not_found(openai_client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        openai_client.embeddings.create(input="x", model="text-embedding-3-small")
    error = caught.value.body
    assert isinstance(error, dict)
    assert error["code"] == "model_not_found" and error["param"] == "model"
    assert "all-MiniLM-L6-v2" in error["message"]


def test_openai_errors_take_openai_shape_with_the_message(server: str) -> None:
    keyless = openai.OpenAI(base_url=server + "/v1", api_key="wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        keyless.embeddings.create(input="x", model=DEFAULT_MODEL)
    response = httpx.post(server + "/v1/embeddings", timeout=60,
                          json={"input": [1, 2], "model": DEFAULT_MODEL},
                          headers={"Authorization": f"Bearer {API_KEY}"})
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error" and error["param"] == "input"
    assert error["message"].startswith("input: Value error, token-id arrays are not supported")


def test_openai_token_ids_are_refused(openai_client: openai.OpenAI) -> None:
    for token_input in ([101, 7592, 102], [[101, 7592, 102]]):
        with pytest.raises(openai.UnprocessableEntityError, match="token-id arrays"):
            openai_client.embeddings.create(input=token_input, model=DEFAULT_MODEL)


@pytest.mark.parametrize(("body", "message"), [
    ({"input": "", "model": DEFAULT_MODEL}, "at least 1 character"),
    ({"input": [], "model": DEFAULT_MODEL}, "input holds 0 strings"),
    ({"input": ["x"] * (MAX_TEXTS + 1), "model": DEFAULT_MODEL},
     f"input holds {MAX_TEXTS + 1} strings"),
    ({"input": "x"}, "Field required"),
    ({"input": "x", "model": DEFAULT_MODEL, "encoding_format": "int8"}, "'float' or 'base64'"),
])
def test_openai_rejects_bad_bodies(client: httpx.Client, body: dict, message: str) -> None:
    assert message in _messages(client.post("/v1/embeddings", json=body))
