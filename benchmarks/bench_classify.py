"""Accuracy of `search.text_tools` classification on benchmarks/classify_set.jsonl.

Zero-shot: each label given by its name alone, then by a one-line description.
Few-shot: k examples per label drawn at random (stratified), the rest classified; repeated
over `--repeats` seeds, reported as mean ± sd, for the logistic-regression head (at several
C) and for nearest centroid. Log-loss is reported too, since the temperature and C change
the probabilities but not the zero-shot argmax.

    python benchmarks/bench_classify.py [--repeats 20] [--device cpu]
"""

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from semsearch.indexer.encoders import Encoder, EncoderSpec  # noqa: E402
from semsearch.search import text_tools  # noqa: E402
from semsearch.settings import DEFAULT_MODEL  # noqa: E402

DATA = Path(__file__).with_name("classify_set.jsonl")
DESCRIPTIONS = {
    "sports": "sport: matches, athletes, teams, races and competitions",
    "politics": "politics: government, elections, parliament and diplomacy",
    "technology": "technology: computers, software, gadgets and the internet",
    "food": "food and cooking: recipes, ingredients, restaurants and baking",
    "health": "health and medicine: illness, doctors, hospitals and wellbeing",
}


class CachedEncoder:
    """The real encoder (any backend), remembering each text's vector so that repeated
    splits stay cheap."""

    def __init__(self, encoder: Encoder) -> None:
        self.inner = encoder
        self.model_name, self.device, self.backend = (encoder.model_name, encoder.device,
                                                      encoder.backend)
        self.dimension, self.max_tokens = encoder.dimension, encoder.max_tokens
        self.tokenizer = encoder.tokenizer
        self._cache: dict[str, NDArray[np.float32]] = {}

    def encode(self, texts: list[str], batch_size: int = 64) -> NDArray[np.float32]:
        missing = [t for t in dict.fromkeys(texts) if t not in self._cache]
        if missing:
            self._cache.update(zip(missing, self.inner.encode(missing, batch_size),
                                   strict=True))
        return np.stack([self._cache[t] for t in texts])


def _score(results: list[text_tools.Classification], truth: list[str]) -> tuple[float, float]:
    accuracy = sum(r.label == t for r, t in zip(results, truth, strict=True)) / len(truth)
    log_loss = -sum(math.log(max(r.scores[t], 1e-12))
                    for r, t in zip(results, truth, strict=True)) / len(truth)
    return accuracy, log_loss


def zero_shot(encoder: CachedEncoder, texts: list[str], truth: list[str]) -> None:
    print("zero-shot (all texts)")
    print(f"  {'labels as':<14}{'temperature':>12}{'accuracy':>10}{'log-loss':>10}")
    for kind, labels in (("names", {n: n for n in DESCRIPTIONS}), ("descriptions", DESCRIPTIONS)):
        for temperature in (0.01, 0.02, 0.03, 0.05, 0.1):
            results = text_tools.classify_zero_shot(encoder, texts, labels, temperature)
            accuracy, log_loss = _score(results, truth)
            print(f"  {kind:<14}{temperature:>12}{accuracy:>10.3f}{log_loss:>10.3f}")


def few_shot(encoder: CachedEncoder, texts: list[str], truth: list[str], repeats: int) -> None:
    print(f"few-shot (k examples per label, the rest classified; {repeats} random splits)")
    print(f"  {'k':>3}  {'method':<18}{'accuracy':>16}{'log-loss':>16}")
    by_label: dict[str, list[int]] = {}
    for i, label in enumerate(truth):
        by_label.setdefault(label, []).append(i)
    methods = [("centroid", None), ("logistic", 1.0), ("logistic", 10.0), ("logistic", 100.0),
               ("logistic", 1000.0)]
    default_c = text_tools.LOGISTIC_C
    for k in (1, 2, 4, 8):
        for method, c in methods:
            accuracies, losses = [], []
            for seed in range(repeats):
                rng = np.random.default_rng(seed)
                train = [int(i) for rows in by_label.values()
                         for i in rng.choice(rows, size=k, replace=False)]
                test = [i for i in range(len(texts)) if i not in set(train)]
                text_tools.LOGISTIC_C = c or default_c  # side by side in one run
                results = text_tools.classify_few_shot(
                    encoder, [texts[i] for i in test], [(texts[i], truth[i]) for i in train],
                    method=method)
                accuracy, log_loss = _score(results, [truth[i] for i in test])
                accuracies.append(accuracy)
                losses.append(log_loss)
            text_tools.LOGISTIC_C = default_c
            name = method + (f" C={c:g}" if c else "")
            print(f"  {k:>3}  {name:<18}{np.mean(accuracies):>9.3f} ± {np.std(accuracies):.3f}"
                  f"{np.mean(losses):>9.3f} ± {np.std(losses):.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--backend", default="torch", help="torch, onnx or onnx-int8")
    args = parser.parse_args()
    rows = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines() if line]
    texts, truth = [r["text"] for r in rows], [r["label"] for r in rows]
    encoder = CachedEncoder(EncoderSpec(DEFAULT_MODEL, args.backend or "torch",
                                        args.device).load())
    print(f"{len(texts)} texts, {len(set(truth))} labels, model {DEFAULT_MODEL} "
          f"({args.backend} on {args.device})")
    zero_shot(encoder, texts, truth)
    few_shot(encoder, texts, truth, args.repeats)


if __name__ == "__main__":
    main()
