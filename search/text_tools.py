"""Text tools over an `Encoder`: embed, compare and classify short texts.

Every vector here is L2-normalised (the encoder's own output), so a dot product is the
cosine similarity, in [-1, 1]. These are the functions behind `POST /embed`,
`/similarity`, `/classify`, `/v1/embeddings` and the matching CLI commands.
"""

import base64
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from semsearch.indexer.encoders import Encoder
from semsearch.search.errors import InvalidQueryError, TextTooLongError

# Zero-shot and nearest-centroid probabilities are softmax(cosine / temperature). Cosines
# of one text to different labels differ by a few tenths at most; 0.03 turns a lead of
# 0.1 into odds of about 28 to 1, and gave the lowest log-loss on
# benchmarks/classify_set.jsonl (0.02 to 0.05 were close; accuracy does not depend on it).
DEFAULT_TEMPERATURE = 0.03
# Below this, cosine / temperature could overflow float64; 0.001 is already a hard argmax.
MIN_TEMPERATURE = 0.001
# Inverse regularisation of the few-shot logistic regression. Unit-length features are
# small, so scikit-learn's default C=1 leaves every probability near uniform; 100 keeps
# the accuracy of C=1..1000 and much better calibrated probabilities
# (benchmarks/bench_classify.py).
LOGISTIC_C = 100.0

Method = Literal["auto", "logistic", "centroid"]
METHODS: tuple[str, ...] = ("auto", "logistic", "centroid")


@dataclass(frozen=True)
class Classification:
    """The label chosen for one text, its probability, and every label's probability."""

    label: str
    probability: float
    scores: dict[str, float]


# --- embed and compare ------------------------------------------------------------------
def embed(encoder: Encoder, texts: Sequence[str], truncate: bool = True) -> NDArray[np.float32]:
    """Unit vectors of `texts`, one row each, in order.

    The model reads each text's first `encoder.max_tokens` tokens; with `truncate` False a
    longer text is refused instead (see `check_token_limit`).

    Raises:
        InvalidQueryError: no texts, or an empty one.
        TextTooLongError: `truncate` is False and a text is longer than the model reads.
    """
    _check_texts(texts, "texts")
    if not truncate:
        check_token_limit(encoder, texts)
    return encoder.encode(list(texts))


def similarity(encoder: Encoder, a: str, b: str) -> float:
    """Cosine similarity of two texts."""
    return float(pair_similarities(encoder, [(a, b)])[0])


def pair_similarities(encoder: Encoder,
                      pairs: Sequence[tuple[str, str]]) -> NDArray[np.float32]:
    """Cosine similarity of each (a, b) pair, in order; every text is embedded once."""
    if not pairs:
        raise InvalidQueryError("no pairs given; send at least one [a, b] pair")
    for position, pair in enumerate(pairs):
        if any(not text.strip() for text in pair):
            raise InvalidQueryError(f"pairs[{position}] holds an empty text; both need content")
    firsts = [a for a, _ in pairs]
    seconds = [b for _, b in pairs]
    unique = list(dict.fromkeys(firsts + seconds))
    vectors = encoder.encode(unique)
    row = {text: i for i, text in enumerate(unique)}
    left = vectors[[row[a] for a in firsts]]
    right = vectors[[row[b] for b in seconds]]
    return np.einsum("ij,ij->i", left, right).astype(np.float32)


def similarity_matrix(encoder: Encoder, queries: Sequence[str],
                      documents: Sequence[str]) -> NDArray[np.float32]:
    """Cosine of every query (rows) to every document (columns): shape (queries, documents)."""
    _check_texts(queries, "queries")
    _check_texts(documents, "documents")
    vectors = encoder.encode(list(queries) + list(documents))
    return (vectors[:len(queries)] @ vectors[len(queries):].T).astype(np.float32)


# --- classify ---------------------------------------------------------------------------
def classify_zero_shot(encoder: Encoder, texts: Sequence[str], labels: Mapping[str, str],
                       temperature: float = DEFAULT_TEMPERATURE) -> list[Classification]:
    """Pick, for each text, the label whose description is most similar to it.

    Args:
        labels: label name -> description (the name itself is a fine description).
        temperature: probabilities are softmax(cosine / temperature) over the labels.

    Raises:
        InvalidQueryError: no texts, fewer than two labels, an empty description, or a
            temperature that is not positive.
    """
    _check_texts(texts, "texts")
    _check_temperature(temperature)
    names = list(labels)
    if len(names) < 2:
        raise InvalidQueryError(f"give at least two labels to choose from, not {len(names)}")
    _check_texts([labels[name] for name in names], "label descriptions")
    vectors = encoder.encode(list(texts) + [labels[name] for name in names])
    cosines = vectors[:len(texts)] @ vectors[len(texts):].T
    return _results(names, _softmax(cosines / temperature))


def classify_few_shot(encoder: Encoder, texts: Sequence[str],
                      examples: Sequence[tuple[str, str]], method: Method | str = "auto",
                      temperature: float = DEFAULT_TEMPERATURE) -> list[Classification]:
    """Label each text from labelled examples (text, label).

    Args:
        method: "logistic" fits a logistic regression on the examples' embeddings;
            "centroid" scores softmax(cosine to each label's mean vector / temperature);
            "auto" is logistic unless some label has a single example, then centroid.
        temperature: used by the centroid method only.

    Raises:
        InvalidQueryError: no texts or examples, fewer than two labels, an unknown method.
    """
    _check_texts(texts, "texts")
    _check_texts([text for text, _ in examples], "examples")
    _check_temperature(temperature)
    labels = [label for _, label in examples]
    names = list(dict.fromkeys(labels))
    if len(names) < 2:
        raise InvalidQueryError(
            f"the examples name {len(names)} label(s); give examples of at least two")
    if any(not name.strip() for name in names):
        raise InvalidQueryError("an example has an empty label")
    method = choose_method(method, labels)
    vectors = encoder.encode(list(texts) + [text for text, _ in examples])
    queries, known = vectors[:len(texts)], vectors[len(texts):]
    if method == "centroid":
        probabilities = _centroid_probabilities(queries, known, labels, names, temperature)
    else:
        probabilities = _logistic_probabilities(queries, known, labels, names)
    return _results(names, probabilities)


def choose_method(method: Method | str, labels: Sequence[str]) -> Literal["logistic", "centroid"]:
    """The method "auto" stands for with these example labels; others pass through."""
    if method == "centroid":
        return "centroid"
    if method == "logistic":
        return "logistic"
    if method != "auto":
        raise InvalidQueryError(f"unknown method {method!r}; use one of {', '.join(METHODS)}")
    counts = Counter(labels)
    return "logistic" if min(counts.values(), default=0) >= 2 else "centroid"


def _centroid_probabilities(queries: NDArray[np.float32], known: NDArray[np.float32],
                            labels: list[str], names: list[str],
                            temperature: float) -> NDArray[np.float64]:
    by_label = np.array(labels)
    centroids = np.stack([known[by_label == name].mean(axis=0) for name in names])
    norms = np.linalg.norm(centroids, axis=1, keepdims=True)
    centroids = centroids / np.maximum(norms, 1e-12)  # cosine, not a shrunken dot product
    return _softmax((queries @ centroids.T) / temperature)


def _logistic_probabilities(queries: NDArray[np.float32], known: NDArray[np.float32],
                            labels: list[str], names: list[str]) -> NDArray[np.float64]:
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=LOGISTIC_C, max_iter=1000)
    model.fit(known, labels)
    # scikit-learn orders its columns by sorted class; put them back in the caller's order.
    column = {str(name): i for i, name in enumerate(model.classes_)}
    predicted = model.predict_proba(queries)
    return np.asarray(predicted[:, [column[name] for name in names]], dtype=np.float64)


def _results(names: list[str], probabilities: NDArray[np.float64]) -> list[Classification]:
    results = []
    for row in probabilities:
        best = int(np.argmax(row))
        results.append(Classification(
            label=names[best], probability=float(row[best]),
            scores={name: float(p) for name, p in zip(names, row, strict=True)}))
    return results


def _softmax(logits: NDArray[np.floating]) -> NDArray[np.float64]:
    shifted = np.asarray(logits, dtype=np.float64)
    shifted = shifted - shifted.max(axis=1, keepdims=True)
    exponentials = np.exp(shifted)
    return np.asarray(exponentials / exponentials.sum(axis=1, keepdims=True))


# --- OpenAI-compatible embeddings -------------------------------------------------------
def model_names(model_name: str) -> list[str]:
    """Names a client may use for `model_name`: itself and its last path part.

    "sentence-transformers/all-MiniLM-L6-v2" answers to that and to "all-MiniLM-L6-v2";
    `accepts_model_name` compares them without regard to case.
    """
    short = model_name.rstrip("/").rsplit("/", 1)[-1]
    return list(dict.fromkeys([model_name, short]))


def accepts_model_name(model_name: str, requested: str) -> bool:
    """Whether `requested` names the model `model_name` (see `model_names`)."""
    wanted = requested.strip().casefold()
    return any(name.casefold() == wanted for name in model_names(model_name))


def count_tokens(encoder: Encoder, texts: Sequence[str]) -> list[int]:
    """Tokens the model reads of each text: with [CLS] and [SEP], cut at its limit."""
    if not texts:
        return []
    encoded = encoder.tokenizer(list(texts), add_special_tokens=True, truncation=True,
                                max_length=encoder.max_tokens + 2)
    return [len(ids) for ids in encoded["input_ids"]]


@dataclass(frozen=True)
class EmbeddingBatch:
    """Vectors of some texts, and how many tokens of each text the model read."""

    vectors: NDArray[np.float32]
    token_counts: list[int]


def embed_with_usage(encoder: Encoder, texts: Sequence[str],
                     dimensions: int | None = None) -> EmbeddingBatch:
    """`embed`, cut to `dimensions` (see `truncate_dimensions`), with token counts.

    Raises:
        InvalidQueryError: no texts, an empty one, or `dimensions` out of range; the
            dimensions are checked before any text is embedded.
    """
    if dimensions is not None:
        _check_dimensions(encoder.dimension, dimensions)
    vectors = embed(encoder, texts)
    if dimensions is not None:
        vectors = truncate_dimensions(vectors, dimensions)
    return EmbeddingBatch(vectors, count_tokens(encoder, texts))


def check_token_limit(encoder: Encoder, texts: Sequence[str], what: str = "inputs") -> None:
    """Refuse texts the model would cut (Text Embeddings Inference's `truncate: false`).

    Tokens are counted with [CLS] and [SEP] and without any cut; the model reads at most
    `encoder.max_tokens` + 2 of them.

    Raises:
        TextTooLongError: a text holds more; the message names the first and its count.
    """
    if not texts:
        return
    limit = encoder.max_tokens + 2
    encoded = encoder.tokenizer(list(texts), add_special_tokens=True, truncation=False)
    for position, ids in enumerate(encoded["input_ids"]):
        if len(ids) > limit:
            raise TextTooLongError(
                f"{what}[{position}] has {len(ids)} tokens; the model reads at most {limit}: "
                "shorten it, or send \"truncate\": true to have it cut")


def truncate_dimensions(vectors: NDArray[np.float32], dimensions: int) -> NDArray[np.float32]:
    """Keep the first `dimensions` components of each row and rescale it to unit length.

    This is what OpenAI does for `dimensions`; it suits models trained for it
    (Matryoshka), and loses quality on others such as all-MiniLM-L6-v2.

    Raises:
        InvalidQueryError: `dimensions` is below 1 or above the vectors' width.
    """
    width = vectors.shape[1]
    _check_dimensions(width, dimensions)
    if dimensions == width:
        return vectors
    kept = vectors[:, :dimensions]
    norms = np.linalg.norm(kept, axis=1, keepdims=True)
    return np.ascontiguousarray(kept / np.maximum(norms, 1e-12), dtype=np.float32)


def to_base64(vector: NDArray[np.float32]) -> str:
    """A vector as base64 of its little-endian float32 bytes (OpenAI's "base64" format)."""
    return base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode("ascii")


# --- checks -----------------------------------------------------------------------------
def _check_texts(texts: Sequence[str], what: str) -> None:
    if not texts:
        raise InvalidQueryError(f"no {what} given; send at least one")
    for position, text in enumerate(texts):
        if not text.strip():
            raise InvalidQueryError(f"{what}[{position}] is empty; every text needs content")


def _check_temperature(temperature: float) -> None:
    if not (temperature >= MIN_TEMPERATURE and np.isfinite(temperature)):
        raise InvalidQueryError(
            f"temperature must be a finite number of at least {MIN_TEMPERATURE}, "
            f"not {temperature}")


def _check_dimensions(width: int, dimensions: int) -> None:
    if not 1 <= dimensions <= width:
        raise InvalidQueryError(
            f"dimensions must be between 1 and the model's {width}, not {dimensions}")
