"""The JSON of `semsearch.client`'s requests and answers, and its one error type.

Requests: one `Call` per route; a search's options come from the library's own
`SearchOptions` through `options_body`, which sends only what the API accepts.
`filters_from_json` reads the API's `filters` object back into `Filters` (for adapters
whose users write filters as JSON, such as the LangChain retriever).

Answers: `from_json` builds a (nested) dataclass from its JSON form out of the
dataclass's own fields and type hints (`list[X]`, `tuple[X, ...]`, `dict[str, X]`,
`X | None`, enums, nested dataclasses). JSON keys the dataclass lacks are ignored, and a
field the JSON lacks keeps its default, so it keeps working as fields are added on
either side.
"""

import dataclasses
import operator
import os
import types
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Any, Generic, TypeVar, Union, get_args, get_origin, get_type_hints

import httpx

from semsearch.search.hits import DocumentView, SearchResponse
from semsearch.search.options import Filters, SearchOptions

if TYPE_CHECKING:
    from semsearch.search.context import ContextResult

T = TypeVar("T")

# The SearchOptions fields each route accepts; rerank_candidates and highlight are the
# server's choice, and POST /context takes no group_by (it merges per document itself).
SEARCH_FIELDS = ("k", "mode", "rerank", "filters", "group_by", "min_score")
CONTEXT_FIELDS = ("k", "mode", "rerank", "filters", "min_score")
_TIMES = ("modified_after", "modified_before")


class ClientError(Exception):
    """A request that failed: refused (4xx) or failed (5xx) by the server, no answer
    (connection refused, timeout), or an answer this client cannot read.

    Attributes:
        status_code: the HTTP status; None when no answer came.
        detail: the server's reason (its `detail`), else the message itself.
    """

    def __init__(self, message: str, status_code: int | None = None,
                 detail: str | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.detail = message if detail is None else detail


@dataclasses.dataclass(frozen=True)
class Call(Generic[T]):
    """One request: method, path, JSON body (None: none), and how to read the answer."""

    method: str
    path: str
    body: dict[str, Any] | None
    parse: Callable[[Any], T]


def filters_body(filters: Filters) -> dict[str, Any] | None:
    """The API's `filters` object: the fields that are set; times stay Unix seconds."""
    values = {name: list(value) if isinstance(value, tuple) else value
              for name, value in dataclasses.asdict(filters).items()
              if value is not None and value != ()}
    return values or None


def filters_from_json(value: Mapping[str, Any] | Filters | None) -> Filters:
    """`Filters` from the API's JSON form (times as Unix seconds, ISO 8601 or datetime).

    Raises:
        ValueError: an unknown filter name, or a time that is none of those.
    """
    if value is None:
        return Filters()
    if isinstance(value, Filters):
        return value
    values = {name: given for name, given in value.items() if given is not None}
    unknown = set(values) - {field.name for field in dataclasses.fields(Filters)}
    if unknown:
        raise ValueError(f"unknown filters: {', '.join(sorted(unknown))}")
    if "file_types" in values:
        kinds = values["file_types"]
        values["file_types"] = (kinds,) if isinstance(kinds, str) else tuple(kinds)
    for name in _TIMES:
        if name in values:
            values[name] = _unix_time(values[name])
    return Filters(**values)


def _unix_time(value: float | str | datetime) -> float:
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, int | float):
        return float(value)
    try:
        return float(value)
    except ValueError:
        return datetime.fromisoformat(value).timestamp()  # ValueError if it is no time


def options_body(options: SearchOptions | None, names: Sequence[str]) -> dict[str, Any]:
    """The `names` fields of `options` (default: `SearchOptions()`) as JSON, unset
    (None) ones left out."""
    chosen = options if options is not None else SearchOptions()
    values: dict[str, Any] = {
        "k": chosen.k, "mode": str(chosen.mode.value), "rerank": chosen.rerank,
        "filters": filters_body(chosen.filters), "group_by": chosen.group_by,
        "min_score": chosen.min_score}
    return {name: values[name] for name in names if values[name] is not None}


def _texts(texts: Sequence[str], what: str) -> list[str]:
    if isinstance(texts, str):
        raise TypeError(f"{what} must be a list of strings, not one string")
    return list(texts)


def health() -> Call[dict[str, Any]]:
    return Call("GET", "/health", None, dict)


def stats() -> Call[dict[str, Any]]:
    return Call("GET", "/stats", None, dict)


def search(query: str, options: SearchOptions | None) -> Call[SearchResponse]:
    body = {"query": query, **options_body(options, SEARCH_FIELDS)}
    return Call("POST", "/search", body, lambda data: from_json(SearchResponse, data))


def search_batch(queries: Sequence[str],
                 options: SearchOptions | None) -> Call[list[SearchResponse]]:
    body = {"queries": _texts(queries, "queries"), **options_body(options, SEARCH_FIELDS)}
    return Call("POST", "/search/batch", body,
                lambda data: [from_json(SearchResponse, one) for one in data["responses"]])


def context(question: str, options: SearchOptions | None,
            token_budget: int | None) -> "Call[ContextResult]":
    body = {"question": question, **options_body(options, CONTEXT_FIELDS)}
    if token_budget is not None:
        body["token_budget"] = token_budget
    return Call("POST", "/context", body, _context_result)


def _context_result(data: Mapping[str, Any]) -> "ContextResult":
    # Imported here: semsearch.search.context imports the Searcher, and with it FAISS.
    from semsearch.search.context import ContextResult

    return from_json(ContextResult, data)


def document(doc_id: int) -> Call[DocumentView]:
    return Call("GET", f"/documents/{operator.index(doc_id)}", None,
                lambda data: from_json(DocumentView, data))


def embeddings(texts: Sequence[str]) -> Call[list[list[float]]]:
    return Call("POST", "/embed", {"texts": _texts(texts, "texts")},
                lambda data: [list(vector) for vector in data["embeddings"]])


def sync(path: str | os.PathLike[str] | None) -> Call[dict[str, Any]]:
    body = {"path": os.fspath(path)} if path is not None else {}
    return Call("POST", "/index", body, dict)


def sync_status() -> Call[dict[str, Any]]:
    return Call("GET", "/index/status", None, dict)


def error_for(call: Call[Any], response: httpx.Response) -> ClientError:
    """The ClientError of an error answer: `POST /search answered 422: <reason>`."""
    detail = _detail(response)
    return ClientError(f"{call.method} {call.path} answered {response.status_code}: {detail}",
                       response.status_code, detail)


def _detail(response: httpx.Response) -> str:
    """The server's reason: its `detail` string, or its validation errors in one line."""
    try:
        body = response.json()
    except ValueError:
        return response.text.strip() or response.reason_phrase
    detail = body.get("detail") if isinstance(body, dict) else None
    if isinstance(detail, str):
        return detail
    if isinstance(detail, list) and all(isinstance(e, dict) for e in detail):
        return "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', [])[1:]) or 'body'}: {e.get('msg', e)}"
            for e in detail)
    return response.text.strip() or response.reason_phrase


def from_json(cls: type[T], data: Mapping[str, Any]) -> T:
    """Build the dataclass `cls` from its JSON form (see the module's docstring).

    Raises:
        TypeError: `data` is no object, or lacks a field `cls` requires.
    """
    if not isinstance(data, Mapping):
        raise TypeError(f"{cls.__name__}: expected a JSON object, got {type(data).__name__}")
    hints = get_type_hints(cls)
    values: dict[str, Any] = {}
    for field in dataclasses.fields(cls):  # type: ignore[arg-type]
        if not field.init:
            continue
        hint = hints.get(field.name, Any)
        if field.name in data:
            values[field.name] = convert(hint, data[field.name])
    return cls(**values)


def convert(hint: Any, value: Any) -> Any:
    """`value`, read from JSON, as the type `hint` describes."""
    origin, args = get_origin(hint), get_args(hint)
    if value is None or hint is Any:
        return value
    if origin in (Union, types.UnionType):
        options = [a for a in args if a is not type(None)]
        chosen = next((a for a in options if _fits(a, value)), options[0])
        return convert(chosen, value)
    if _dataclass_of(hint) is not None:
        return from_json(hint, value)
    if origin in (list, set, frozenset, Sequence) and args:
        items = [convert(args[0], item) for item in value]
        return items if origin in (list, Sequence) else origin(items)
    if origin is tuple and args:
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(convert(args[0], item) for item in value)
        return tuple(convert(a, item) for a, item in zip(args, value, strict=False))
    if origin in (dict, Mapping) and len(args) == 2:
        return {key: convert(args[1], item) for key, item in value.items()}
    if isinstance(hint, type) and issubclass(hint, Enum):
        return hint(value)
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def _dataclass_of(hint: Any) -> type | None:
    """The dataclass `hint` names, alone or as `X | None`; else None."""
    args = [a for a in get_args(hint) if a is not type(None)]
    if get_origin(hint) in (Union, types.UnionType) and len(args) == 1:
        hint = args[0]
    return hint if isinstance(hint, type) and dataclasses.is_dataclass(hint) else None


def _fits(hint: Any, value: Any) -> bool:
    """Whether a JSON `value` can be of the type `hint` (to pick a union's member)."""
    base = get_origin(hint) or hint
    if _dataclass_of(hint) is not None or base in (dict, Mapping):
        return isinstance(value, dict)
    if base in (list, tuple, set, frozenset, Sequence):
        return isinstance(value, list)
    if base is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    return isinstance(base, type) and isinstance(value, base)
