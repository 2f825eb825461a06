"""`RequestModel`, the base of every request body: the one place where the text and the
numbers of a request are made valid or refused, before any route sees them.

JSON parsers accept what no model should see. `"\\ud800"` is valid JSON but not Unicode
text (a lone surrogate, which no tokenizer or UTF-8 encoder takes); Python's json also
reads the bytes of an encoded surrogate (ED A0 80) as one. `NaN`, `Infinity` and `1e309`
are read as floats that are not finite. Each is refused with a 422 whose error names the
field: `query: not valid Unicode text (a lone surrogate at position 3)`, or pydantic's
`Input should be a finite number` at the field's location. api/errors.py writes those
errors as strict JSON even when they echo the refused value.
"""

from typing import Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from semsearch.indexer.text_validity import lone_surrogate


def refuse_invalid_text(value: Any, where: str) -> None:
    """Raise a validation error naming `where` when `value` is, or holds (in list items,
    dict keys and values, at any depth), a string with a lone surrogate.

    `where` grows with the path: `texts[2]`, `filters.path_prefix`, `labels (a key)`.
    """
    pending: list[tuple[str, Any]] = [(where, value)]
    while pending:  # a loop, not recursion: a body may nest as deep as the parser allows
        place, item = pending.pop()
        if isinstance(item, str):
            position = lone_surrogate(item)
            if position is not None:
                raise PydanticCustomError(
                    "unicode_text",
                    "{where}: not valid Unicode text (a lone surrogate at position {position})",
                    {"where": place, "position": position})
        elif isinstance(item, dict):  # keys first, then values; each in order
            inside = [(f"{place}.{key}", inner) for key, inner in item.items()]
            pending += reversed([*((f"{place} (a key)", key) for key in item), *inside])
        elif isinstance(item, list | tuple):
            pending += reversed([(f"{place}[{index}]", inner)
                                 for index, inner in enumerate(item)])


def _valid_text(value: Any, info: ValidationInfo) -> Any:
    refuse_invalid_text(value, info.field_name or "value")
    return value


# For a field outside a RequestModel (an MCP tool's argument): the same check.
ValidText = BeforeValidator(_valid_text)


class RequestModel(BaseModel):
    """Unknown fields are refused (a model may set `extra="ignore"`), numbers must be
    finite, and no string anywhere in a field may hold a lone surrogate."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    @field_validator("*", mode="before")
    @classmethod
    def _unicode_text(cls, value: Any, info: ValidationInfo) -> Any:
        return _valid_text(value, info)
