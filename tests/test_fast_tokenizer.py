"""indexer.encoders.fast_tokenizer: the ONNX backend's tokenizer answers like the Hugging
Face fast tokenizer of the same export (ids, offsets, word ids, truncation), without
transformers."""

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from semsearch.indexer.encoders import EncoderSpec
from semsearch.indexer.encoders.fast_tokenizer import FastTokenizer
from semsearch.indexer.encoders.onnx_export import TOKENIZER_DIR
from semsearch.indexer.encoders.onnx_runtime import OnnxEncoder
from semsearch.settings import DEFAULT_MODEL

LONG = " ".join(f"Sentence {i} says that Zorblax-7 enzymes cleave cellulose at 4 °C."
                for i in range(120))  # about 2,000 tokens: past every limit
TEXTS = [
    "How do I repair a flat bicycle tyre?",
    "绿茶的冲泡方法。水温应该在八十度左右，先用热水温杯，再放入茶叶。",
    "Crème brûlée, naïve café — don't panic!  Tabs\tand\nnew lines 🚲 e-mail: a@b.co",
    LONG,
    "",
]


@pytest.fixture(scope="module")
def export_dir(onnx_cache_dir: Path) -> Path:
    encoder = EncoderSpec(DEFAULT_MODEL, "onnx", "cpu", onnx_cache_dir).load()
    assert isinstance(encoder, OnnxEncoder)
    return encoder.export_dir / TOKENIZER_DIR


@pytest.fixture(scope="module")
def ours(export_dir: Path) -> FastTokenizer:
    return FastTokenizer.from_folder(export_dir)


@pytest.fixture(scope="module")
def theirs(export_dir: Path) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(export_dir)


@pytest.mark.parametrize("text", TEXTS)
@pytest.mark.parametrize("special", [False, True])
def test_one_text_as_the_chunker_calls_it(ours: FastTokenizer, theirs: Any, text: str,
                                          special: bool) -> None:
    mine = ours(text, add_special_tokens=special, return_offsets_mapping=True, verbose=False)
    hf = theirs(text, add_special_tokens=special, return_offsets_mapping=True, verbose=False)
    for field in ("input_ids", "attention_mask", "token_type_ids"):
        assert mine[field] == list(hf[field])
    assert mine["offset_mapping"] == [tuple(pair) for pair in hf["offset_mapping"]]
    assert mine.word_ids() == hf.word_ids()


def test_long_text_is_not_cut_unless_asked(ours: FastTokenizer, theirs: Any) -> None:
    assert len(ours(LONG, add_special_tokens=False)["input_ids"]) > 1000
    for limit in (None, 16, 256):
        options: dict[str, Any] = {"max_length": limit} if limit else {}
        mine = ours(TEXTS, add_special_tokens=True, truncation=True, **options)
        hf = theirs(TEXTS, add_special_tokens=True, truncation=True, **options)
        assert mine["input_ids"] == [list(ids) for ids in hf["input_ids"]]
    assert ours.model_max_length == theirs.model_max_length
    assert ours.pad_token_id == theirs.pad_token_id


def test_lists_give_one_row_per_text(ours: FastTokenizer, theirs: Any) -> None:
    mine = ours(TEXTS, add_special_tokens=False, verbose=False)
    hf = theirs(TEXTS, add_special_tokens=False, verbose=False)
    assert mine["input_ids"] == [list(ids) for ids in hf["input_ids"]]
    assert [ours(text, add_special_tokens=False)["input_ids"] for text in TEXTS] == \
        mine["input_ids"]
    assert set(mine) == {"input_ids", "attention_mask", "token_type_ids"}
    assert mine.word_ids(1) == hf.word_ids(1)


def test_an_option_it_does_not_have_is_an_error(ours: FastTokenizer) -> None:
    with pytest.raises(TypeError, match="padding"):
        ours(TEXTS, padding=True)  # type: ignore[call-arg]


def test_it_loads_neither_transformers_nor_torch(export_dir: Path) -> None:
    code = ("import sys; from pathlib import Path\n"
            "from semsearch.indexer.encoders.fast_tokenizer import FastTokenizer\n"
            f"t = FastTokenizer.from_folder(Path({str(export_dir)!r}))\n"
            "print(t('hello world', return_offsets_mapping=True)['offset_mapping'])\n"
            "print(sorted({'torch', 'transformers'} & set(sys.modules)))\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60, check=True)
    assert result.stdout.split("\n")[:2] == ["[(0, 0), (0, 5), (6, 11), (0, 0)]", "[]"]
