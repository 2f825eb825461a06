"""search/text_tools.py: embed, similarity, classify and the OpenAI helpers, on the real model."""

import base64

import numpy as np
import pytest

from semsearch.indexer.encoders import Encoder
from semsearch.search import text_tools
from semsearch.search.errors import InvalidQueryError

LABELS = {"sport": "sport: football, tennis, athletes and matches",
          "cooking": "cooking: recipes, baking and food",
          "computers": "computers: software, programming and hardware"}
TEXTS = ["The striker scored in the final minute of the match.",
         "Knead the dough and bake the bread for forty minutes.",
         "The program crashed because of a null pointer in the parser."]
TRUTH = ["sport", "cooking", "computers"]
EXAMPLES = [("The goalkeeper saved a penalty.", "sport"),
            ("She won the tennis final in three sets.", "sport"),
            ("Simmer the sauce and season it with salt.", "cooking"),
            ("Whisk the eggs with sugar for the cake.", "cooking"),
            ("Install the update and restart the server.", "computers"),
            ("The compiler rejected the function signature.", "computers")]


def test_embed_gives_the_encoders_unit_vectors(encoder: Encoder) -> None:
    vectors = text_tools.embed(encoder, ["one text", "another text"])
    assert vectors.shape == (2, encoder.dimension) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(vectors, encoder.encode(["one text", "another text"]), atol=1e-6)


@pytest.mark.parametrize("texts", [[], ["fine", "   "], [""]])
def test_embed_rejects_no_or_empty_texts(encoder: Encoder, texts: list[str]) -> None:
    with pytest.raises(InvalidQueryError, match="no texts|empty"):
        text_tools.embed(encoder, texts)


def test_paraphrases_are_more_similar_than_unrelated_texts(encoder: Encoder) -> None:
    question = "How do I fix a flat bicycle tyre?"
    paraphrase = text_tools.similarity(encoder, question, "Repairing a punctured bike wheel")
    unrelated = text_tools.similarity(encoder, question, "The central bank raised interest rates")
    assert paraphrase > unrelated + 0.2
    assert text_tools.similarity(encoder, question, question) == pytest.approx(1.0, abs=1e-5)


def test_pair_similarities_match_one_by_one(encoder: Encoder) -> None:
    pairs = [("cat", "dog"), ("a car", "an automobile"), ("cat", "stock market"), ("cat", "dog")]
    scores = text_tools.pair_similarities(encoder, pairs)
    assert scores.shape == (4,)
    expected = [text_tools.similarity(encoder, a, b) for a, b in pairs]
    np.testing.assert_allclose(scores, expected, atol=1e-5)
    assert scores[1] > scores[2] and scores[0] == pytest.approx(scores[3])


def test_pair_similarities_reject_no_pairs_and_empty_texts(encoder: Encoder) -> None:
    with pytest.raises(InvalidQueryError, match="no pairs"):
        text_tools.pair_similarities(encoder, [])
    with pytest.raises(InvalidQueryError, match=r"pairs\[1\]"):
        text_tools.pair_similarities(encoder, [("a", "b"), ("c", " ")])


def test_similarity_matrix_is_queries_by_documents(encoder: Encoder) -> None:
    queries = ["bread recipe", "bike repair"]
    documents = ["sourdough starter and flour", "patch the inner tube", "Mars rover landing"]
    matrix = text_tools.similarity_matrix(encoder, queries, documents)
    assert matrix.shape == (2, 3)
    np.testing.assert_allclose(matrix, encoder.encode(queries) @ encoder.encode(documents).T,
                               atol=1e-5)
    assert matrix[0].argmax() == 0 and matrix[1].argmax() == 1
    with pytest.raises(InvalidQueryError, match="no documents"):
        text_tools.similarity_matrix(encoder, queries, [])


def test_zero_shot_picks_the_described_label(encoder: Encoder) -> None:
    results = text_tools.classify_zero_shot(encoder, TEXTS, LABELS)
    assert [r.label for r in results] == TRUTH
    for result in results:
        assert list(result.scores) == list(LABELS)  # the caller's order
        assert sum(result.scores.values()) == pytest.approx(1.0)
        assert result.probability == max(result.scores.values())


def test_lower_temperature_is_more_confident(encoder: Encoder) -> None:
    sharp = text_tools.classify_zero_shot(encoder, TEXTS[:1], LABELS, temperature=0.01)[0]
    soft = text_tools.classify_zero_shot(encoder, TEXTS[:1], LABELS, temperature=1.0)[0]
    assert sharp.label == soft.label == "sport"
    assert sharp.probability > soft.probability
    assert soft.probability < 0.5  # at T=1 cosines a few tenths apart are nearly uniform


def test_the_lowest_temperature_still_gives_probabilities(encoder: Encoder) -> None:
    result = text_tools.classify_zero_shot(encoder, TEXTS[:1], LABELS,
                                           temperature=text_tools.MIN_TEMPERATURE)[0]
    assert all(np.isfinite(list(result.scores.values())))
    assert result.label == "sport" and result.probability == pytest.approx(1.0)


def test_zero_shot_errors(encoder: Encoder) -> None:
    with pytest.raises(InvalidQueryError, match="at least two labels"):
        text_tools.classify_zero_shot(encoder, TEXTS, {"sport": "sport"})
    with pytest.raises(InvalidQueryError, match="label descriptions"):
        text_tools.classify_zero_shot(encoder, TEXTS, {"sport": "sport", "food": " "})
    for temperature in (0, 0.0009, float("nan"), float("inf")):
        with pytest.raises(InvalidQueryError, match="temperature"):
            text_tools.classify_zero_shot(encoder, TEXTS, LABELS, temperature=temperature)
    with pytest.raises(InvalidQueryError, match="no texts"):
        text_tools.classify_zero_shot(encoder, [], LABELS)


@pytest.mark.parametrize("method", ["logistic", "centroid", "auto"])
def test_few_shot_learns_from_examples(encoder: Encoder, method: str) -> None:
    results = text_tools.classify_few_shot(encoder, TEXTS, EXAMPLES, method)
    assert [r.label for r in results] == TRUTH
    for result in results:
        assert list(result.scores) == ["sport", "cooking", "computers"]  # first-seen order
        assert sum(result.scores.values()) == pytest.approx(1.0)


def test_auto_uses_centroid_when_a_label_has_one_example() -> None:
    assert text_tools.choose_method("auto", ["a", "a", "b", "b"]) == "logistic"
    assert text_tools.choose_method("auto", ["a", "a", "b"]) == "centroid"
    assert text_tools.choose_method("logistic", ["a", "b"]) == "logistic"
    with pytest.raises(InvalidQueryError, match="unknown method"):
        text_tools.choose_method("svm", ["a", "b"])


def test_few_shot_with_one_example_per_label(encoder: Encoder) -> None:
    examples = [EXAMPLES[0], EXAMPLES[2], EXAMPLES[4]]
    results = text_tools.classify_few_shot(encoder, TEXTS, examples)
    assert [r.label for r in results] == TRUTH


def test_few_shot_errors(encoder: Encoder) -> None:
    with pytest.raises(InvalidQueryError, match="at least two"):
        text_tools.classify_few_shot(encoder, TEXTS, [("a", "x"), ("b", "x")])
    with pytest.raises(InvalidQueryError, match="no examples"):
        text_tools.classify_few_shot(encoder, TEXTS, [])
    with pytest.raises(InvalidQueryError, match="empty label"):
        text_tools.classify_few_shot(encoder, TEXTS, [("a", "x"), ("b", " ")])
    with pytest.raises(InvalidQueryError, match="unknown method"):
        text_tools.classify_few_shot(encoder, TEXTS, EXAMPLES, method="svm")


def test_model_names_and_aliases() -> None:
    full = "sentence-transformers/all-MiniLM-L6-v2"
    assert text_tools.model_names(full) == [full, "all-MiniLM-L6-v2"]
    assert text_tools.model_names("/models/my-model/") == ["/models/my-model/", "my-model"]
    assert text_tools.accepts_model_name(full, "all-minilm-l6-v2")
    assert text_tools.accepts_model_name(full, full)
    assert not text_tools.accepts_model_name(full, "text-embedding-3-small")
    assert not text_tools.accepts_model_name(full, "sentence-transformers")


def test_count_tokens_counts_special_tokens_and_stops_at_the_limit(encoder: Encoder) -> None:
    counts = text_tools.count_tokens(encoder, ["hello world", "word " * 5000])
    assert counts == [4, encoder.max_tokens + 2]  # [CLS] hello world [SEP]; cut at the limit
    assert text_tools.count_tokens(encoder, []) == []


def test_truncate_dimensions_keeps_a_prefix_of_unit_length() -> None:
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(3, 10)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    cut = text_tools.truncate_dimensions(vectors, 4)
    assert cut.shape == (3, 4)
    np.testing.assert_allclose(np.linalg.norm(cut, axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(cut * np.linalg.norm(vectors[:, :4], axis=1, keepdims=True),
                               vectors[:, :4], atol=1e-6)
    assert text_tools.truncate_dimensions(vectors, 10) is vectors
    for bad in (0, 11):
        with pytest.raises(InvalidQueryError, match="between 1 and the model's 10"):
            text_tools.truncate_dimensions(vectors, bad)


def test_embed_with_usage(encoder: Encoder) -> None:
    batch = text_tools.embed_with_usage(encoder, ["hello world", "a cat"], dimensions=16)
    assert batch.vectors.shape == (2, 16)
    assert batch.token_counts == text_tools.count_tokens(encoder, ["hello world", "a cat"])
    with pytest.raises(InvalidQueryError, match="dimensions"):
        text_tools.embed_with_usage(encoder, ["hello"], dimensions=encoder.dimension + 1)


def test_to_base64_is_little_endian_float32() -> None:
    vector = np.array([1.0, -0.5, 0.25], dtype=np.float32)
    decoded = np.frombuffer(base64.b64decode(text_tools.to_base64(vector)), dtype="<f4")
    np.testing.assert_array_equal(decoded, vector)
    assert text_tools.to_base64(vector) == "AACAPwAAAL8AAIA+"
