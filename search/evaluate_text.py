"""Model quality without an index: similarity of scored text pairs, and classification of
labelled texts (`semsearch eval --pairs FILE` and `--labelled FILE`).

Pairs are scored as sentence-transformers' `EmbeddingSimilarityEvaluator` scores them: the
Spearman and Pearson correlation of each pair's cosine similarity with its gold score.
Labelled texts are classified with `text_tools`: zero-shot with the labels' names as their
descriptions, and few-shot by stratified k-fold cross-validation; each scored by accuracy
and macro-F1.
"""

import json
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from semsearch.indexer.encoders import Encoder
from semsearch.search import text_tools
from semsearch.search.evaluate import DatasetError

DEFAULT_FOLDS = 5
# Shuffles the texts before they are dealt into folds: the same file gives the same folds.
FOLD_SEED = 0


@dataclass(frozen=True)
class ScoredPair:
    """Two texts and how similar a person judged them (any scale; STS uses 0 to 5)."""

    text_a: str
    text_b: str
    score: float


@dataclass(frozen=True)
class PairCorrelation:
    """How well the model's cosine similarities rank and track the gold scores."""

    pairs: int
    spearman: float
    pearson: float


@dataclass(frozen=True)
class ClassificationScores:
    """Accuracy and macro-F1 (the unweighted mean of each label's F1) of one method."""

    method: str
    accuracy: float
    macro_f1: float


@dataclass(frozen=True)
class LabelledScores:
    """Zero-shot and cross-validated few-shot classification of a labelled file."""

    texts: int
    labels: dict[str, int]
    folds: int
    zero_shot: ClassificationScores
    few_shot: ClassificationScores


# --- files ------------------------------------------------------------------------------
def load_pairs(path: Path) -> list[ScoredPair]:
    """Read `text_a<TAB>text_b<TAB>score` lines (a first line that is not scored is a
    header), or JSONL `{"text_a": .., "text_b": .., "score": ..}` (a .jsonl file, or one
    whose first line is an object).

    Raises:
        DatasetError: the file is missing, unreadable, or a line is malformed (named by
            number), or it holds fewer than two pairs.
    """
    lines = _numbered_lines(path)
    as_json = path.suffix == ".jsonl" or (bool(lines) and lines[0][1].lstrip()[:1] == "{")
    pairs = []
    fields: Sequence[object]
    for position, (number, line) in enumerate(lines):
        if as_json:
            row = _json_object(path, number, line)
            fields = [row.get("text_a"), row.get("text_b"), row.get("score")]
            want = 'want {"text_a": "..", "text_b": "..", "score": N}'
        else:
            fields = line.split("\t")
            want = f"want text_a<TAB>text_b<TAB>score, not {len(fields)} field(s)"
            if position == 0 and len(fields) == 3 and _number(fields[2]) is None:
                continue  # a header line
        if len(fields) != 3 or not all(isinstance(text, str) for text in fields[:2]):
            raise DatasetError(f"{path}:{number}: {want}")
        text_a, text_b, score = str(fields[0]), str(fields[1]), _number(fields[2])
        if score is None:
            raise DatasetError(f"{path}:{number}: the score {fields[2]!r} is not a number")
        if not text_a.strip() or not text_b.strip():
            raise DatasetError(f"{path}:{number}: a text is empty; both need content")
        pairs.append(ScoredPair(text_a, text_b, score))
    if len(pairs) < 2:
        raise DatasetError(f"{path}: {len(pairs)} pair(s); a correlation needs at least two")
    return pairs


def load_labelled(path: Path) -> list[tuple[str, str]]:
    """Read (text, label) pairs: JSONL `{"text": .., "label": ..}` (a .jsonl file, or one
    whose first line is an object), or `text<TAB>label` lines (a first line
    `text<TAB>label` is a header).

    Raises:
        DatasetError: the file is missing, unreadable, or a line is malformed (named by
            number).
    """
    lines = _numbered_lines(path)
    as_json = path.suffix == ".jsonl" or (bool(lines) and lines[0][1].lstrip()[:1] == "{")
    examples = []
    for position, (number, line) in enumerate(lines):
        if as_json:
            row = _json_object(path, number, line)
            text, label = row.get("text"), row.get("label")
            want = 'want {"text": "..", "label": ".."}'
        else:
            if position == 0 and line.strip().casefold() == "text\tlabel":
                continue
            fields = line.split("\t")
            text, label = fields if len(fields) == 2 else (None, None)
            want = f"want text<TAB>label, not {len(fields)} field(s)"
        if isinstance(label, int) and not isinstance(label, bool):
            label = str(label)
        if not isinstance(text, str) or not isinstance(label, str):
            raise DatasetError(f"{path}:{number}: {want}")
        if not text.strip() or not label.strip():
            raise DatasetError(f"{path}:{number}: the text or the label is empty")
        examples.append((text, label.strip()))
    return examples


def _numbered_lines(path: Path) -> list[tuple[int, str]]:
    if not path.is_file():
        raise DatasetError(f"no file at {path}")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise DatasetError(f"cannot read {path} as UTF-8 text: {error}") from error
    return [(number, line) for number, line in enumerate(text.splitlines(), 1) if line.strip()]


def _json_object(path: Path, number: int, line: str) -> dict[str, Any]:
    try:
        row = json.loads(line)
    except json.JSONDecodeError as error:
        raise DatasetError(f"{path}:{number}: not JSON: {error}") from error
    if not isinstance(row, dict):
        raise DatasetError(f"{path}:{number}: want a JSON object, not {type(row).__name__}")
    return row


def _number(value: object) -> float | None:
    """A finite float from a number or numeric string; None for anything else."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


# --- scoring ----------------------------------------------------------------------------
def correlate_pairs(encoder: Encoder, pairs: Sequence[ScoredPair]) -> PairCorrelation:
    """Spearman and Pearson correlation of each pair's cosine similarity with its score,
    as `EmbeddingSimilarityEvaluator` computes them (scipy's `spearmanr`, `pearsonr`).

    Raises:
        DatasetError: fewer than two pairs, or every gold score (or every cosine) equal,
            where a correlation is undefined.
    """
    from scipy.stats import pearsonr, spearmanr

    if len(pairs) < 2:
        raise DatasetError(f"{len(pairs)} pair(s); a correlation needs at least two")
    gold = np.array([pair.score for pair in pairs], dtype=np.float64)
    if np.ptp(gold) == 0:
        raise DatasetError(f"every pair has the score {gold[0]:g}; a correlation needs "
                           "pairs judged differently")
    cosines = text_tools.pair_similarities(
        encoder, [(pair.text_a, pair.text_b) for pair in pairs]).astype(np.float64)
    if np.ptp(cosines) == 0:
        raise DatasetError("the model gives every pair the same cosine; nothing to correlate")
    return PairCorrelation(pairs=len(pairs), spearman=float(spearmanr(gold, cosines)[0]),
                           pearson=float(pearsonr(gold, cosines)[0]))


def score_labelled(encoder: Encoder, examples: Sequence[tuple[str, str]],
                   folds: int = DEFAULT_FOLDS,
                   method: text_tools.Method | str = "auto") -> LabelledScores:
    """Classify every text zero-shot (the labels' names as descriptions) and, by stratified
    k-fold cross-validation, few-shot from the other folds' texts; score both.

    Args:
        folds: at most this many folds; fewer when a label has fewer texts.
        method: few-shot method (see `text_tools.classify_few_shot`); "auto" is chosen
            per fold, and the report names every method used.

    Raises:
        DatasetError: fewer than two labels, a label with a single text, or folds < 2.
        InvalidQueryError: an unknown method.
    """
    labels = [label for _, label in examples]
    counts = Counter(labels)
    if len(counts) < 2:
        raise DatasetError(f"{len(counts)} label(s); classification needs at least two")
    rare = sorted(name for name, count in counts.items() if count < 2)
    if rare:
        raise DatasetError(f"label(s) {', '.join(map(repr, rare))} have a single text; "
                           "cross-validation needs at least two of each")
    if folds < 2:
        raise DatasetError(f"folds must be at least 2, not {folds}")
    text_tools.choose_method(method, labels)  # an unknown method fails before any work
    texts = [text for text, _ in examples]
    names = list(counts)
    once = _EmbeddedOnce(encoder, texts + names)
    zero_shot = text_tools.classify_zero_shot(once, texts, {name: name for name in names})
    used_folds = min(folds, min(counts.values()))
    predicted, methods = _cross_validate(once, examples, used_folds, method)
    return LabelledScores(
        texts=len(examples), labels=dict(counts), folds=used_folds,
        zero_shot=_scores("zero-shot", labels, [r.label for r in zero_shot], names),
        few_shot=_scores("+".join(sorted(methods)), labels, predicted, names))


def _cross_validate(encoder: Encoder, examples: Sequence[tuple[str, str]], folds: int,
                    method: text_tools.Method | str) -> tuple[list[str], set[str]]:
    """Each text's label as predicted from the other folds, and the methods used."""
    from sklearn.model_selection import StratifiedKFold

    labels = [label for _, label in examples]
    predicted = [""] * len(examples)
    methods: set[str] = set()
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=FOLD_SEED)
    for train, test in splitter.split(np.zeros(len(labels)), labels):
        known = [examples[i] for i in train]
        used = text_tools.choose_method(method, [label for _, label in known])
        methods.add(used)
        results = text_tools.classify_few_shot(encoder, [examples[i][0] for i in test],
                                               known, used)
        for index, result in zip(test, results, strict=True):
            predicted[index] = result.label
    return predicted, methods


def _scores(method: str, gold: list[str], predicted: list[str],
            names: list[str]) -> ClassificationScores:
    from sklearn.metrics import accuracy_score, f1_score

    return ClassificationScores(
        method=method, accuracy=float(accuracy_score(gold, predicted)),
        macro_f1=float(f1_score(gold, predicted, labels=names, average="macro",
                                zero_division=0)))


class _EmbeddedOnce:
    """`encoder`, embedding each of `texts` once up front: the folds reuse the vectors."""

    def __init__(self, encoder: Encoder, texts: list[str]) -> None:
        self.model_name, self.device, self.backend = (encoder.model_name, encoder.device,
                                                      encoder.backend)
        self._encoder = encoder
        unique = list(dict.fromkeys(texts))
        self._rows = dict(zip(unique, encoder.encode(unique), strict=True))

    @property
    def dimension(self) -> int:
        return self._encoder.dimension

    @property
    def max_tokens(self) -> int:
        return self._encoder.max_tokens

    @property
    def tokenizer(self) -> Any:
        return self._encoder.tokenizer

    def encode(self, texts: list[str], batch_size: int = 64) -> NDArray[np.float32]:
        missing = [text for text in dict.fromkeys(texts) if text not in self._rows]
        if missing:
            self._rows.update(zip(missing, self._encoder.encode(missing, batch_size),
                                  strict=True))
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.stack([self._rows[text] for text in texts]).astype(np.float32)
