"""The text tools: embed, similarity and classify (over `semsearch.search.text_tools`)."""

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from semsearch.cli.common import (
    JsonOption,
    app,
    domain_errors,
    fail,
    out,
    settings_with,
)
from semsearch.indexer.text_validity import lone_surrogate

ModelOption = Annotated[str | None, typer.Option(
    "--model", help="Model name or path (env SEMSEARCH_MODEL); not with --index-dir.")]
DeviceOption = Annotated[str | None, typer.Option(help="cuda, mps or cpu (default: best)")]
BackendOption = Annotated[str | None, typer.Option(
    help="torch, onnx (fp32) or onnx-int8 (env SEMSEARCH_BACKEND); default: the index's own "
    "with --index-dir, else onnx on the CPU and torch on a GPU")]
ToolIndexDirOption = Annotated[Path | None, typer.Option(
    "--index-dir", help="Use the model this index was built with.")]



def tool_encoder(index_dir: Path | None, model: str | None, device: str | None,
                  backend: str | None) -> Any:
    """The model (and backend) of `index_dir` when given, else the configured ones."""
    from semsearch.indexer.stats import read_manifest

    if index_dir is not None and model is not None:
        raise fail("give --model or --index-dir (which uses the index's model), not both")
    settings = settings_with(model=model, device=device, backend=backend)
    spec = settings.encoder_spec(settings.model if index_dir is None else None)
    if index_dir is not None:
        manifest = read_manifest(index_dir)
        manifest.check(index_dir, backend=spec.backend)
        spec = spec.with_record(manifest.model, manifest.backend)
    return spec.load()


def _read_lines(path: Path) -> list[str]:
    try:
        return [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    except (OSError, UnicodeDecodeError) as error:
        raise fail(f"cannot read {path}: {error}") from error


def _read_pairs(path: Path) -> list[tuple[str, str]]:
    """Lines of `a<TAB>b`, or JSON `[a, b]` / `{"a": ..., "b": ...}`."""
    pairs = []
    for number, line in enumerate(_read_lines(path), 1):
        try:
            value = json.loads(line) if line.lstrip()[:1] in "[{" else line.split("\t")
            pair = (value["a"], value["b"]) if isinstance(value, dict) else tuple(value)
        except (ValueError, KeyError) as error:
            raise fail(f"{path}:{number}: not a pair: {error}") from error
        if len(pair) != 2 or not all(isinstance(text, str) for text in pair):
            raise fail(f"{path}:{number}: want `a<TAB>b`, [a, b] or {{\"a\": .., \"b\": ..}}")
        pairs.append(_unicode_texts(path, number, pair[0], pair[1]))
    return pairs


def _read_examples(path: Path) -> list[tuple[str, str]]:
    """JSONL lines of {"text": ..., "label": ...}."""
    examples = []
    for number, line in enumerate(_read_lines(path), 1):
        try:
            row = json.loads(line)
            text, label = str(row["text"]), str(row["label"])
        except (ValueError, KeyError, TypeError) as error:
            raise fail(f"{path}:{number}: want {{\"text\": .., \"label\": ..}}: "
                        f"{error}") from error
        examples.append(_unicode_texts(path, number, text, label))
    return examples


def _unicode_texts(path: Path, number: int, first: str, second: str) -> tuple[str, str]:
    """The two texts of line `number`; a JSON escape of a lone surrogate (`\\ud800`)
    makes no text: exit 2 naming the line."""
    for text in (first, second):
        position = lone_surrogate(text)
        if position is not None:
            raise fail(f"{path}:{number}: not valid Unicode text (a lone surrogate at "
                       f"position {position})")
    return first, second


def _echo_json(value: object) -> None:
    typer.echo(json.dumps(value, ensure_ascii=False))


@app.command()
def embed(
    texts: Annotated[list[str], typer.Argument(help="Texts to embed.")],
    index_dir: ToolIndexDirOption = None, model: ModelOption = None,
    device: DeviceOption = None, backend: BackendOption = None, as_json: JsonOption = False,
) -> None:
    """Print the unit vectors of TEXTS (full vectors with --json)."""
    from semsearch.search import text_tools

    with domain_errors():
        encoder = tool_encoder(index_dir, model, device, backend)
        vectors = text_tools.embed(encoder, texts)
    if as_json:
        _echo_json({"model": encoder.model_name, "dimension": encoder.dimension,
                    "embeddings": vectors.tolist()})
        return
    for text, vector in zip(texts, vectors, strict=True):
        head = ", ".join(f"{x:.4f}" for x in vector[:4])
        out.print(f"[{head}, …] ({len(vector)} dims)  {text[:60]}", markup=False)


@app.command()
def similarity(
    texts: Annotated[list[str] | None, typer.Argument(help="A B: two texts.")] = None,
    pairs_file: Annotated[Path | None, typer.Option(
        help="Pairs, one a line: a<TAB>b, or JSON [a, b] or {\"a\", \"b\"}.")] = None,
    queries_file: Annotated[Path | None, typer.Option(
        help="Matrix form: queries, one a line (with --documents-file).")] = None,
    documents_file: Annotated[Path | None, typer.Option(
        help="Matrix form: documents, one a line.")] = None,
    index_dir: ToolIndexDirOption = None, model: ModelOption = None,
    device: DeviceOption = None, backend: BackendOption = None, as_json: JsonOption = False,
) -> None:
    """Cosine similarity of A and B, of each pair in a file, or of queries x documents."""
    from semsearch.search import text_tools

    forms = [bool(texts), pairs_file is not None,
             queries_file is not None or documents_file is not None]
    if sum(forms) != 1 or (texts and len(texts) != 2) or (
            forms[2] and (queries_file is None or documents_file is None)):
        raise fail("give two texts A B, or --pairs-file, or --queries-file with "
                    "--documents-file")
    pairs = _read_pairs(pairs_file) if pairs_file else []
    queries = _read_lines(queries_file) if queries_file else []
    documents = _read_lines(documents_file) if documents_file else []
    with domain_errors():
        encoder = tool_encoder(index_dir, model, device, backend)
        if texts:
            scores: Any = text_tools.similarity(encoder, texts[0], texts[1])
        elif pairs_file is not None:
            scores = text_tools.pair_similarities(encoder, pairs).tolist()
        else:
            scores = text_tools.similarity_matrix(encoder, queries, documents).tolist()
    if as_json:
        _echo_json({"score": scores} if texts else {"scores": scores})
    elif texts:
        out.print(f"{scores:.4f}")
    elif pairs_file is not None:
        for (a, b), score in zip(pairs, scores, strict=True):
            out.print(f"{score:.4f}  {a[:40]}  |  {b[:40]}", markup=False)
    else:
        table = Table("query", *(d[:20] for d in documents))
        for query, row in zip(queries, scores, strict=True):
            table.add_row(query[:40], *(f"{s:.3f}" for s in row))
        out.print(table)


@app.command()
def classify(
    texts: Annotated[list[str], typer.Argument(help="Texts to classify.")],
    label: Annotated[list[str] | None, typer.Option(
        help="Zero-shot label: NAME or NAME=DESCRIPTION (repeat).")] = None,
    examples: Annotated[Path | None, typer.Option(
        help="Few-shot: JSONL of {\"text\": .., \"label\": ..}.")] = None,
    method: Annotated[str, typer.Option(help="Few-shot: auto, logistic or centroid.")] = "auto",
    temperature: Annotated[float | None, typer.Option(
        help="Softmax temperature of zero-shot and centroid [0.03].")] = None,
    index_dir: ToolIndexDirOption = None, model: ModelOption = None,
    device: DeviceOption = None, backend: BackendOption = None, as_json: JsonOption = False,
) -> None:
    """Label TEXTS zero-shot (--label) or from labelled examples (--examples)."""
    from semsearch.search import text_tools

    if bool(label) == (examples is not None):
        raise fail("give --label (repeat it) or --examples FILE.jsonl, not both or neither")
    if label and method != "auto":
        raise fail("--method applies to --examples only")
    chosen_temperature = text_tools.DEFAULT_TEMPERATURE if temperature is None else temperature
    with domain_errors():
        encoder = tool_encoder(index_dir, model, device, backend)
        used: str
        if examples is not None:
            labelled = _read_examples(examples)
            used = text_tools.choose_method(method, [name for _, name in labelled])
            results = text_tools.classify_few_shot(encoder, texts, labelled, used,
                                                   chosen_temperature)
        else:
            descriptions = dict(_parse_label(item) for item in label or [])
            used = "zero-shot"
            results = text_tools.classify_zero_shot(encoder, texts, descriptions,
                                                    chosen_temperature)
    if as_json:
        _echo_json({"method": used, "results": [vars(r) for r in results]})
        return
    for text, result in zip(texts, results, strict=True):
        out.print(f"{result.label}  {result.probability:.3f}  {text[:60]}", markup=False)


def _parse_label(item: str) -> tuple[str, str]:
    name, _, description = item.partition("=")
    return name.strip(), description.strip() or name.strip()
