"""Helpers shared by the test modules (imported as `tests.helpers`)."""

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from semsearch.indexer.encoders import DEFAULT_MODEL, Encoder, EncoderSpec
from semsearch.indexer.encoders.spec import LoadedEncoders
from semsearch.indexer.store import Store


class _CallLoader(LoadedEncoders):
    """Hands every load of a spec to `load`: a test sees when, and whether, the model is
    loaded, and can hand back any encoder."""

    def __init__(self, load: Callable[[], Encoder]) -> None:
        super().__init__()
        self.load = load

    def get(self, spec: EncoderSpec) -> Encoder:
        return self.load()


def spec_loading(load: Callable[[], Encoder], model: str = DEFAULT_MODEL,
                 backend: str = "torch") -> EncoderSpec:
    """A spec of `model` on `backend` (CPU) whose load calls `load`."""
    return EncoderSpec(model=model, backend=backend, device="cpu",  # type: ignore[arg-type]
                       keep=_CallLoader(load))


# A tiny folder: planted answers in English and Chinese, a long document that makes
# several chunks, and files of several types and ages for the filters.
SEARCH_OLD_MTIME = 1_000_000_000.0  # 2001
SEARCH_NEW_MTIME = 1_700_000_000.0  # 2023
SEARCH_MTIME_CUT = 1_300_000_000.0  # 2011, between the two

SEARCH_DOCS: dict[str, str] = {
    "biology/zorblax.txt": (
        "The zorblax enzyme was first isolated from deep sea sponges. "
        "Zorblax breaks down cellulose at very low temperatures. "
        "Researchers hope the zorblax enzyme will make biofuel production cheaper.\n"
    ),
    "cycling/flat_tyre.md": (
        "# Repairing a flat bicycle tyre\n\n"
        "When your bicycle tyre goes flat, take the wheel off the frame. "
        "Lever the inner tube out and pump it up to find the leak. "
        "Glue a rubber patch over the hole, let it dry, then refit the tube and inflate the tyre.\n"
    ),
    "cooking/bread.md": (
        "# Sourdough bread\n\n"
        "A sourdough starter ferments flour and water with wild yeast. "
        "Feed the starter daily and bake the loaf in a hot oven when the dough has doubled.\n"
    ),
    "cooking/pasta.txt": (
        "Cooking pasta at home.\n"
        "Bring a large pot of salted water to a rolling boil, add the spaghetti and stir. "
        "Drain it when it is al dente and toss it with the tomato sauce.\n"
    ),
    "astronomy/mars.html": (
        "<html><head><title>Mars rovers</title></head><body><h1>Mars rovers</h1>"
        "<p>The Perseverance rover landed in Jezero crater in 2021 to look for signs of "
        "ancient microbial life on the red planet.</p></body></html>"
    ),
    "finance/budget.txt": (
        "Household budget.\n"
        "Write down every expense for a month, then set a spending limit for groceries, "
        "rent and transport, and move what is left into a savings account.\n"
    ),
    "code/fibonacci.py": (
        "def fibonacci(n):\n"
        "    \"\"\"Return the n-th Fibonacci number, computed iteratively.\"\"\"\n"
        "    a, b = 0, 1\n"
        "    for _ in range(n):\n"
        "        a, b = b, a + b\n"
        "    return a\n"
    ),
    "zh/green_tea.txt": (
        "绿茶的冲泡方法。水温应该在八十度左右，先用热水温杯，再放入茶叶。"
        "冲泡两到三分钟就可以饮用。好的绿茶汤色清澈，香气清新。\n"
    ),
    "zh/great_wall.txt": (
        "长城的历史。长城是中国古代的军事防御工程。秦始皇统一六国以后，把各国的城墙连接起来。"
        "明朝时长城被大规模重修，今天看到的大部分长城都是明长城。\n"
    ),
    "zh/high_speed_rail.txt": (
        "中国的高铁。中国高铁网络是世界上最长的高速铁路系统。复兴号列车的最高运营时速达到三百五十公里。"
        "乘坐高铁从北京到上海只需要四个多小时。\n"
    ),
    "history/printing_press.md": (
        "# The printing press\n\n"
        "Johannes Gutenberg built the first European printing press with movable metal type "
        "around 1440 in Mainz. His press combined a screw press, oil based ink and a hand "
        "mould for casting letters in large numbers.\n\n"
        "The printing press spread quickly across Europe. By 1500 printing shops in more "
        "than two hundred cities had produced millions of books, and the price of a book "
        "fell so far that merchants and students could own them.\n\n"
        "Historians credit the printing press with speeding up the Reformation, the "
        "Scientific Revolution and the growth of literacy, because the same text could now "
        "reach thousands of readers without copying errors.\n\n"
        "Later presses were driven by steam. In the nineteenth century rotary printing "
        "presses printed newspapers on continuous rolls of paper at great speed.\n"
    ),
    "gardening/roses.txt": (
        "Pruning roses.\n"
        "Cut rose bushes back in late winter, just above an outward facing bud, and remove "
        "dead or crossing stems so air can move through the plant.\n"
    ),
    "gardening/tomatoes.txt": (
        "Growing tomatoes.\n"
        "Plant tomato seedlings deep in rich soil after the last frost, water them at the "
        "base and tie the stems to stakes as they grow.\n"
    ),
}
# Files dated 2001; every other file is dated 2023.
SEARCH_OLD_DOCS = frozenset({"gardening/roses.txt", "gardening/tomatoes.txt"})
# Small chunks, so that the long document makes several.
SEARCH_SYNC_OPTIONS_KW = {"chunk_tokens": 64, "chunk_overlap": 8}


def search_write_docs(root: Path, docs: dict[str, str]) -> None:
    """Write `docs` under `root` with the fixed mtimes of the search tests."""

    for path, text in docs.items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        mtime = SEARCH_OLD_MTIME if path in SEARCH_OLD_DOCS else SEARCH_NEW_MTIME
        os.utime(target, (mtime, mtime))


# A two-page PDF whose one chunk starts on page 1 while the answer to PDF_QUESTION is the
# sentence on page 2 (tests/test_highlight.py, tests/test_context.py).
PDF_PAGES = [
    "The lighthouse keeper's logbook. The keeper climbed the tower every evening at dusk. "
    "Storms came often in the autumn months.",
    "The lamp burned whale oil until 1890, when kerosene replaced it.",
]
PDF_QUESTION = "which oil did the lamp burn before kerosene"


def make_pdf(pages: list[str]) -> bytes:
    """A PDF with a text layer, one page per text (fpdf2, the dev extra)."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("Helvetica", size=12)
    for text in pages:
        pdf.add_page()
        pdf.multi_cell(0, 10, text=text)
    return bytes(pdf.output())


def count_parses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The paths the sync's planner parses from now on, in order (it still parses them)."""
    import semsearch.indexer.plan as plan

    parsed: list[str] = []
    real_parse = plan.parse_document

    def parse(path: str, data: bytes):  # type: ignore[no-untyped-def]
        parsed.append(path)
        return real_parse(path, data)

    monkeypatch.setattr(plan, "parse_document", parse)
    return parsed


@contextmanager
def readonly_store(index_dir: Path) -> Iterator[Store]:
    """The index's store opened read-only, closed on leaving the block."""
    store = Store.open_readonly(index_dir)
    try:
        yield store
    finally:
        store.close()
