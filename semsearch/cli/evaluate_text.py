"""`semsearch eval --pairs FILE` and `--labelled FILE`: the model alone, no index
(over `semsearch.search.evaluate_text`). `semsearch eval` itself lives in cli/index.py."""

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from rich.table import Table

from semsearch.cli.common import domain_errors, fail, out
from semsearch.cli.tools import tool_encoder


def evaluate_model(pairs: Path | None, labelled: Path | None, *, index_dir: Path | None,
                   model: str | None, backend: str | None, folds: int | None,
                   method: str | None, as_json: bool) -> None:
    """Print the correlation of `pairs`, or the classification scores of `labelled`
    (exactly one is given), with the model of `index_dir` or `model` or the configured one."""
    from semsearch.search import evaluate_text

    if pairs is not None and (folds is not None or method is not None):
        raise fail("--folds and --method apply to --labelled only")
    with domain_errors():
        if pairs is not None:
            scored = evaluate_text.load_pairs(pairs)
            encoder = tool_encoder(index_dir, model, None, backend)
            correlation = evaluate_text.correlate_pairs(encoder, scored)
        else:
            assert labelled is not None
            examples = evaluate_text.load_labelled(labelled)
            encoder = tool_encoder(index_dir, model, None, backend)
            scores = evaluate_text.score_labelled(
                encoder, examples, evaluate_text.DEFAULT_FOLDS if folds is None else folds,
                method or "auto")
    result: Any = correlation if pairs is not None else scores
    if as_json:
        out.print_json(json.dumps({"model": encoder.model_name, "backend": encoder.backend,
                                   **asdict(result)}, ensure_ascii=False))
        return
    out.print(f"model {encoder.model_name} ({encoder.backend})", markup=False)
    if pairs is not None:
        table = Table("pairs", "Spearman", "Pearson", title="cosine vs gold score")
        table.add_row(str(correlation.pairs), f"{correlation.spearman:.4f}",
                      f"{correlation.pearson:.4f}")
    else:
        counts = ", ".join(f"{name} {count}" for name, count in scores.labels.items())
        out.print(f"{scores.texts} texts: {counts}", markup=False)
        table = Table("method", "accuracy", "macro-F1")
        table.add_row("zero-shot (label names)", f"{scores.zero_shot.accuracy:.4f}",
                      f"{scores.zero_shot.macro_f1:.4f}")
        table.add_row(f"few-shot {scores.few_shot.method}, {scores.folds}-fold CV",
                      f"{scores.few_shot.accuracy:.4f}", f"{scores.few_shot.macro_f1:.4f}")
    out.print(table)


def refuse_other_options(text_mode: bool, *, model_options: bool,
                         retrieval_options: bool) -> None:
    """Refuse the options of the other kind of evaluation (exit 2)."""
    if text_mode and retrieval_options:
        raise fail("--mode, --rerank, --split and --ignore-identical-ids apply to a DATASET "
                   "or --queries only")
    if not text_mode and model_options:
        raise fail("--model, --folds and --method apply to --pairs and --labelled only")
