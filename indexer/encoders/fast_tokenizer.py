"""`FastTokenizer`: a model's `tokenizer.json`, run by the `tokenizers` library, answering
the calls the chunker and the text tools make of a Hugging Face fast tokenizer.

The ONNX backend uses it instead of `transformers.AutoTokenizer`, whose import pulls in
torch: a Hugging Face fast tokenizer is this very Rust tokenizer behind a Python layer, so
ids, offsets and word ids are the same (tests/test_onnx.py compares them).
"""

import json
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from tokenizers import Encoding, Tokenizer

TOKENIZER_FILE = "tokenizer.json"
CONFIG_FILE = "tokenizer_config.json"


class Encoded(Mapping[str, Any]):
    """What one call returns, like Hugging Face's `BatchEncoding`: `encoded["input_ids"]`
    is a list of ids for one text, a list of such lists for a list of texts."""

    def __init__(self, encodings: list[Encoding], single: bool, offsets: bool) -> None:
        self._encodings = encodings
        self._single = single
        self._fields: dict[str, Any] = {
            "input_ids": self._each(lambda e: list(e.ids)),
            "token_type_ids": self._each(lambda e: list(e.type_ids)),
            "attention_mask": self._each(lambda e: list(e.attention_mask)),
        }
        if offsets:
            self._fields["offset_mapping"] = self._each(lambda e: list(e.offsets))

    def _each(self, field: Any) -> Any:
        values = [field(encoding) for encoding in self._encodings]
        return values[0] if self._single else values

    def __getitem__(self, key: str) -> Any:
        return self._fields[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._fields)

    def __len__(self) -> int:
        return len(self._fields)

    def word_ids(self, batch_index: int = 0) -> list[int | None]:
        """The word each token belongs to (None for special tokens), of text `batch_index`."""
        return list(self._encodings[batch_index].word_ids)


class FastTokenizer:
    """A `tokenizers.Tokenizer` called the way Hugging Face fast tokenizers are called.

    Never changes after it is made (each truncation length has its own copy), so one
    instance serves every thread.

    Attributes:
        model_max_length: where `truncation=True` cuts without a `max_length`.
        pad_token_id: the id of the padding token.
    """

    def __init__(self, tokenizer: Tokenizer, model_max_length: int, pad_token_id: int) -> None:
        self._plain = _configured(tokenizer, None)
        self._truncating: dict[int, Tokenizer] = {}
        self._lock = threading.Lock()
        self.model_max_length = model_max_length
        self.pad_token_id = pad_token_id

    @classmethod
    def from_folder(cls, folder: Path) -> "FastTokenizer":
        """The tokenizer saved (`save_pretrained`) in `folder`: its tokenizer.json, with
        the maximum length and padding token of its tokenizer_config.json."""
        tokenizer = Tokenizer.from_file(str(folder / TOKENIZER_FILE))
        config_path = folder / CONFIG_FILE
        config = json.loads(config_path.read_text()) if config_path.is_file() else {}
        pad = config.get("pad_token")
        if isinstance(pad, dict):
            pad = pad.get("content")
        pad_id = tokenizer.token_to_id(pad) if isinstance(pad, str) else None
        return cls(tokenizer, int(config.get("model_max_length") or 512), pad_id or 0)

    def __call__(self, text: str | list[str], *, add_special_tokens: bool = True,
                 truncation: bool = False, max_length: int | None = None,
                 return_offsets_mapping: bool = False, verbose: bool = True) -> Encoded:
        """Tokenize one text or a list of them.

        Args:
            text: a string, or a list of strings (then every field is a list per text).
            add_special_tokens: add [CLS] and [SEP] (or the model's own).
            truncation: cut each text at `max_length` tokens, special tokens included
                (default: `model_max_length`).
            return_offsets_mapping: add "offset_mapping", (start, end) characters per token.
            verbose: accepted for compatibility; this tokenizer never warns.
        """
        del verbose
        tokenizer = self._tokenizer((max_length or self.model_max_length) if truncation else None)
        single = isinstance(text, str)
        texts = [text] if isinstance(text, str) else list(text)
        encodings = tokenizer.encode_batch(texts, add_special_tokens=add_special_tokens)
        return Encoded(encodings, single, return_offsets_mapping)

    def truncating(self, max_length: int) -> Tokenizer:
        """The underlying tokenizer, cut at `max_length` tokens (special ones included)."""
        return self._tokenizer(max_length)

    def _tokenizer(self, max_length: int | None) -> Tokenizer:
        if max_length is None:
            return self._plain
        with self._lock:
            if max_length not in self._truncating:
                self._truncating[max_length] = _configured(self._plain, max_length)
            return self._truncating[max_length]


def _configured(tokenizer: Tokenizer, max_length: int | None) -> Tokenizer:
    """A copy of `tokenizer` that never pads and cuts at `max_length` (None: never).

    A saved tokenizer.json may carry the padding or truncation it was last used with.
    """
    copy = Tokenizer.from_str(tokenizer.to_str())
    copy.no_padding()
    if max_length is None:
        copy.no_truncation()
    else:
        copy.enable_truncation(max_length=max_length)
    return copy
