"""Request and response models of the text tools and of `/v1/embeddings`.

Every limit below is checked by pydantic before the model sees a text; a request over one
gets a 422 that names the field and the limit.
"""

from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    field_validator,
    model_validator,
)

from semsearch.api.request_model import RequestModel
from semsearch.search.text_tools import DEFAULT_TEMPERATURE, MIN_TEMPERATURE

MAX_TEXTS = 256  # texts per request (/embed, /classify, /v1/embeddings), queries of a matrix
MAX_TEXT_CHARS = 10_000  # characters per text; the model reads at most its first 256 tokens
MAX_LABELS = 100
MAX_LABEL_CHARS = 200  # characters per label name
MAX_EXAMPLES = 1_000  # labelled examples per /classify request, all labels together
MAX_PAIRS = 256
MAX_DOCUMENTS = 1_000  # documents of a similarity matrix
MAX_MATRIX_CELLS = 10_000  # queries x documents


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("the text is empty; every text needs content")
    return value


Text = Annotated[str, Field(min_length=1, max_length=MAX_TEXT_CHARS), AfterValidator(_not_blank)]
LabelName = Annotated[str, Field(min_length=1, max_length=MAX_LABEL_CHARS),
                      AfterValidator(_not_blank)]


# --- /embed -----------------------------------------------------------------------------
class EmbedRequest(RequestModel):
    texts: list[Text] = Field(..., min_length=1, max_length=MAX_TEXTS,
                              description=f"1 to {MAX_TEXTS} texts")


class EmbedResponse(BaseModel):
    model: str
    dimension: int
    embeddings: list[list[float]] = Field(description="unit vectors, one per text, in order")


class TeiEmbedRequest(RequestModel):
    """Text Embeddings Inference's body; the answer is a bare list of vectors, as TEI's."""

    inputs: Text | Annotated[list[Text], Field(min_length=1, max_length=MAX_TEXTS)] = Field(
        ..., description=f"a string or 1 to {MAX_TEXTS} strings")
    normalize: bool = Field(True, description="true only: this server's vectors are always "
                            "unit length (the index is cosine); false is refused with 422")
    truncate: bool = Field(False, description="false (TEI's default): an input longer than "
                           "the model reads is refused with 413; true: its first tokens count")

    @field_validator("normalize")
    @classmethod
    def _normalised_only(cls, value: bool) -> bool:
        if not value:
            raise ValueError("normalize: false is not available: this server's model returns "
                             "unit vectors only (L2-normalised, as the index's cosine needs); "
                             "send true or leave it out")
        return value

    def texts(self) -> list[str]:
        return [self.inputs] if isinstance(self.inputs, str) else list(self.inputs)


def _embed_shape(body: Any) -> str:
    """Which form an /embed body is: TEI's has `inputs`, ours `texts`."""
    if isinstance(body, TeiEmbedRequest) or (isinstance(body, dict) and "inputs" in body):
        return "tei"
    return "semsearch"


# One route, two bodies: errors name the form the body was read as ("semsearch" or "tei").
EmbedBody = Annotated[Annotated[EmbedRequest, Tag("semsearch")]
                      | Annotated[TeiEmbedRequest, Tag("tei")], Discriminator(_embed_shape)]
TeiEmbedResponse = list[list[float]]


# --- /similarity ------------------------------------------------------------------------
class SimilarityRequest(RequestModel):
    """Exactly one form: {a, b}; {pairs}; or {queries, documents} (a matrix)."""

    a: Text | None = None
    b: Text | None = None
    pairs: list[tuple[Text, Text]] | None = Field(None, min_length=1, max_length=MAX_PAIRS)
    queries: list[Text] | None = Field(None, min_length=1, max_length=MAX_TEXTS)
    documents: list[Text] | None = Field(None, min_length=1, max_length=MAX_DOCUMENTS)

    @field_validator("pairs", mode="before")
    @classmethod
    def _two_per_pair(cls, value: Any) -> Any:
        if isinstance(value, list):
            for position, pair in enumerate(value):
                if not isinstance(pair, list) or len(pair) != 2:
                    raise ValueError(f"pairs[{position}] must be a list of two texts, [a, b]")
        return value

    @model_validator(mode="after")
    def _one_form(self) -> "SimilarityRequest":
        forms = {"{a, b}": (self.a, self.b), "{pairs}": (self.pairs,),
                 "{queries, documents}": (self.queries, self.documents)}
        given = [name for name, fields in forms.items() if any(f is not None for f in fields)]
        if len(given) != 1:
            raise ValueError("send exactly one of {a, b}, {pairs} or {queries, documents}; "
                             f"got {', '.join(given) if given else 'none'}")
        incomplete = [name for name in given if any(f is None for f in forms[name])]
        if incomplete:
            raise ValueError(f"{incomplete[0]} go together: send both fields")
        if self.queries is not None and self.documents is not None:
            cells = len(self.queries) * len(self.documents)
            if cells > MAX_MATRIX_CELLS:
                raise ValueError(f"queries x documents is {cells}; at most {MAX_MATRIX_CELLS} "
                                 "per request: split the documents over several requests")
        return self


class SimilarityResponse(BaseModel):
    score: float | None = Field(None, description="cosine of a and b")
    scores: list[float] | list[list[float]] | None = Field(
        None, description="one cosine per pair, or a queries x documents matrix")


# --- /classify --------------------------------------------------------------------------
class ExampleIn(RequestModel):
    text: Text
    label: LabelName


class ClassifyRequest(RequestModel):
    """`labels` as names or {name: description} classify zero-shot; labelled examples,
    as `examples` or `labels` {name: [texts]}, classify few-shot."""

    texts: list[Text] = Field(..., min_length=1, max_length=MAX_TEXTS)
    labels: list[LabelName] | dict[LabelName, Text | list[Text]] | None = Field(
        None, description="[names], {name: description} or {name: [example texts]}")
    examples: list[ExampleIn] | None = Field(None, min_length=1, max_length=MAX_EXAMPLES)
    method: Literal["auto", "logistic", "centroid"] = Field(
        "auto", description="few-shot only: auto is logistic unless a label has one example")
    temperature: float = Field(DEFAULT_TEMPERATURE, ge=MIN_TEMPERATURE, le=100,
                               description="softmax temperature of zero-shot and centroid")

    @model_validator(mode="after")
    def _one_kind(self) -> "ClassifyRequest":
        if (self.labels is None) == (self.examples is None):
            raise ValueError("send exactly one of `labels` (names, {name: description} or "
                             "{name: [example texts]}) or `examples` ([{text, label}])")
        labels = self.labels or {}
        if len(labels) > MAX_LABELS:
            raise ValueError(f"{len(labels)} labels; at most {MAX_LABELS}")
        if isinstance(labels, list) and len(set(labels)) != len(labels):
            raise ValueError("a label name appears twice; give each label once")
        if isinstance(labels, dict):
            kinds = {isinstance(value, list) for value in labels.values()}
            if len(kinds) > 1:
                raise ValueError("labels mixes descriptions and example lists; use one kind")
        if isinstance(self.labels, dict) and any(v == [] for v in self.labels.values()):
            raise ValueError("a label has an empty list of examples; give it at least one")
        examples = len(self.labelled_examples())
        if examples > MAX_EXAMPLES:
            raise ValueError(f"{examples} examples; at most {MAX_EXAMPLES}")
        names = {label for _, label in self.labelled_examples()} or set(labels)
        if len(names) < 2:
            raise ValueError(f"{len(names)} label(s) given; give at least two to choose from")
        if len(names) > MAX_LABELS:
            raise ValueError(f"the examples name {len(names)} labels; at most {MAX_LABELS}")
        if self.method != "auto" and not examples:
            raise ValueError("`method` applies to labelled examples only, not to descriptions")
        return self

    def label_descriptions(self) -> dict[str, str]:
        """{name: description} for zero-shot; empty when the request holds examples."""
        if isinstance(self.labels, list):
            return {name: name for name in self.labels}
        if isinstance(self.labels, dict):
            return {k: v for k, v in self.labels.items() if isinstance(v, str)}
        return {}

    def labelled_examples(self) -> list[tuple[str, str]]:
        """(text, label) pairs for few-shot; empty when the request holds descriptions."""
        if self.examples is not None:
            return [(example.text, example.label) for example in self.examples]
        if isinstance(self.labels, dict):
            return [(text, name) for name, value in self.labels.items()
                    if isinstance(value, list) for text in value]
        return []


class ClassificationOut(BaseModel):
    label: str
    probability: float
    scores: dict[str, float] = Field(description="every label's probability")


class ClassifyResponse(BaseModel):
    method: Literal["zero-shot", "logistic", "centroid"]
    results: list[ClassificationOut] = Field(description="one per text, in order")


# --- /v1/embeddings (OpenAI's format) ---------------------------------------------------
class OpenAIEmbeddingRequest(RequestModel):
    # Unknown fields are ignored, as OpenAI-style clients may send more than we read.
    model_config = ConfigDict(extra="ignore")

    input: Text | list[Text] = Field(..., description=f"a string or 1 to {MAX_TEXTS} strings")
    model: str = Field(..., max_length=500, description="the index's model name or short name")
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: int | None = Field(None, ge=1, description="at most the model's dimension; "
                                   "fewer truncates and renormalises")
    user: str | None = Field(None, max_length=500, description="accepted and ignored")

    @field_validator("input", mode="before")
    @classmethod
    def _no_token_ids(cls, value: Any) -> Any:
        if isinstance(value, int) or (isinstance(value, list) and any(
                isinstance(item, int | list) for item in value)):
            raise ValueError("token-id arrays are not supported (this model has its own "
                             "tokenizer); send the text as a string or a list of strings")
        if isinstance(value, list) and not 1 <= len(value) <= MAX_TEXTS:
            raise ValueError(f"input holds {len(value)} strings; send 1 to {MAX_TEXTS}")
        return value

    def texts(self) -> list[str]:
        return [self.input] if isinstance(self.input, str) else list(self.input)


class OpenAIEmbedding(BaseModel):
    object: Literal["embedding"] = "embedding"
    index: int
    embedding: list[float] | str = Field(description="floats, or base64 of float32 LE")


class OpenAIUsage(BaseModel):
    prompt_tokens: int
    total_tokens: int


class OpenAIEmbeddingList(BaseModel):
    object: Literal["list"] = "list"
    data: list[OpenAIEmbedding]
    model: str
    usage: OpenAIUsage


class OpenAIError(BaseModel):
    message: str
    type: str
    param: str | None
    code: str | None


class TeiErrorResponse(BaseModel):
    """Text Embeddings Inference's error, with `detail` as our other routes have it. A body
    over SEMSEARCH_MAX_BODY_BYTES, refused before any route, has `detail` only."""

    error: str | None = Field(None, description="TEI's message: the same as `detail`")
    error_type: Literal["Validation"] | None = Field(None, description="TEI's error type")
    detail: str


class OpenAIErrorResponse(BaseModel):
    error: OpenAIError
    detail: str | list[dict[str, Any]] = Field(
        description="what the other routes would answer: a message, or pydantic's errors")


# --- /v1/models -------------------------------------------------------------------------
class OpenAIModel(BaseModel):
    id: str = Field(description="the name /v1/embeddings accepts as `model`")
    object: Literal["model"] = "model"
    created: int = Field(description="Unix time of the index's last sync (0 before any): "
                         "a local model records no creation time")
    owned_by: str


class OpenAIModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[OpenAIModel]
