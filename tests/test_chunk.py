"""indexer.chunk: token limits measured by the real tokenizer, exact offsets, coverage,
headings, pages, overlap, and whole sentences."""

import random

import pytest

from semsearch.indexer.chunk import chunk_document
from semsearch.indexer.documents import Chunk, PageSpan, ParsedDocument
from semsearch.indexer.encoders import Encoder
from semsearch.indexer.parse import parse_document
from semsearch.indexer.sentences import split_sentences

ENGLISH = " ".join(
    f"Sentence {i} explains how the indexer splits long documents into passages. "
    f"It measures every passage in model tokens, never in characters!"
    + ("\n\n" if i % 4 == 3 else " ")
    for i in range(40)
)
CHINESE = "".join(
    f"第{i}句话说明了索引器如何把很长的文档切成小段。它用模型的词元来计算长度！真的吗？"
    for i in range(60)
)
CODE = "\n".join(
    f"def function_{i}(argument_{i}, *options):\n"
    f"    result = compute_something_complicated(argument_{i}, options, retries={i})\n"
    f"    return {{'index': {i}, 'value': result.transform().normalise()}}\n"
    for i in range(40)
)
_WORDS = ["unbelievable", "internationalization", "photosynthesis", "serendipity",
          "antidisestablishmentarianism", "quixotic", "electroencephalography", "the", "a",
          "zyxwvut", "qwertyuiop", "hyperparameterization", "floccinaucinihilipilification"]
ENORMOUS = " ".join(random.Random(7).choice(_WORDS) for _ in range(3000))


def _tokens(encoder: Encoder, text: str) -> int:
    return len(encoder.tokenizer(text, add_special_tokens=False)["input_ids"])


def _check_invariants(document: ParsedDocument, chunks: list[Chunk], encoder: Encoder,
                      max_tokens: int) -> None:
    text = document.text
    assert chunks
    assert [c.ordinal for c in chunks] == list(range(len(chunks)))
    covered = [False] * len(text)
    for chunk in chunks:
        assert text[chunk.start:chunk.end] == chunk.text
        assert chunk.text == chunk.text.strip()
        assert _tokens(encoder, chunk.text) <= max_tokens, chunk.text
        for i in range(chunk.start, chunk.end):
            covered[i] = True
    missed = [i for i, char in enumerate(text) if not char.isspace() and not covered[i]]
    assert missed == []
    starts = [c.start for c in chunks]
    assert starts == sorted(starts)


@pytest.mark.parametrize("max_tokens", [16, 40, 128])
@pytest.mark.parametrize(
    ("name", "text"),
    [("english", ENGLISH), ("chinese", CHINESE), ("code", CODE), ("enormous", ENORMOUS)],
)
def test_no_chunk_over_limit_and_offsets_exact(
    encoder: Encoder, name: str, text: str, max_tokens: int
) -> None:
    document = ParsedDocument(text=text, title=name, format="text")
    chunks = chunk_document(document, encoder.tokenizer, max_tokens, max_tokens // 4)
    _check_invariants(document, chunks, encoder, max_tokens)
    assert len(chunks) > 1


@pytest.mark.parametrize("text", [ENGLISH, CHINESE, ENORMOUS])
def test_model_limit(encoder: Encoder, text: str) -> None:
    """At the model's own limit no chunk is truncated by the encoder."""
    document = ParsedDocument(text=text, title="t", format="text")
    chunks = chunk_document(document, encoder.tokenizer, encoder.max_tokens, 32)
    _check_invariants(document, chunks, encoder, encoder.max_tokens)


def test_token_count_matches_tokenizer(encoder: Encoder) -> None:
    document = ParsedDocument(text=ENGLISH, title="t", format="text")
    for chunk in chunk_document(document, encoder.tokenizer, 50, 0):
        assert chunk.token_count == _tokens(encoder, chunk.text)


def test_short_text_is_one_chunk(encoder: Encoder) -> None:
    document = ParsedDocument(text="  Just one line.\n", title="t", format="text")
    chunks = chunk_document(document, encoder.tokenizer, 200, 32)
    assert len(chunks) == 1
    assert chunks[0].text == "Just one line."
    assert (chunks[0].start, chunks[0].end) == (2, 16)
    assert chunks[0].page is None and chunks[0].headings == ()


def test_markdown_headings_recorded_and_never_crossed(encoder: Encoder) -> None:
    body = "This paragraph has some words in it. " * 6
    text = (f"# Guide\n\n{body}\n\n## Install\n\n{body}\n\n### Linux\n\n{body}\n\n"
            f"## Usage\n\n{body}\n")
    document = parse_document("guide.md", text.encode())
    chunks = chunk_document(document, encoder.tokenizer, 40, 10)
    _check_invariants(document, chunks, encoder, 40)
    seen = {c.headings for c in chunks}
    assert seen == {("Guide",), ("Guide", "Install"), ("Guide", "Install", "Linux"),
                    ("Guide", "Usage")}
    section_starts = {s.start for s in document.sections}
    for chunk in chunks:
        # A chunk never runs over the start of a later section.
        assert not any(chunk.start < start < chunk.end for start in section_starts)
    for section in document.sections:
        assert section.start in {c.start for c in chunks}


def test_page_recorded(encoder: Encoder) -> None:
    pages = [f"Page {n} text. " + "More words on this page. " * 8 for n in (1, 2, 3)]
    text = "\n\n".join(pages)
    page_starts = [0, len(pages[0]) + 2, len(pages[0]) + len(pages[1]) + 4]
    document = ParsedDocument(text=text, title="t", format="pdf", page_starts=page_starts)
    chunks = chunk_document(document, encoder.tokenizer, 24, 0)
    _check_invariants(document, chunks, encoder, 24)
    for chunk in chunks:
        expected = max(n for n, start in enumerate(page_starts, 1) if start <= chunk.start)
        assert chunk.page == expected
        # Every character of the chunk lies on the page its page breaks say.
        pages = PageSpan(chunk.page, chunk.page_breaks)
        for offset in range(chunk.start, chunk.end):
            assert pages.page_at(offset) == max(
                n for n, start in enumerate(page_starts, 1) if start <= offset)
    assert {c.page for c in chunks} == {1, 2, 3}
    assert any(chunk.page_breaks for chunk in chunks)  # some chunk runs over a page end


def _sentences(count: int) -> str:
    return " ".join(f"Short sentence number {i} here." for i in range(count))


def test_overlap_shares_text_between_neighbours(encoder: Encoder) -> None:
    document = ParsedDocument(text=_sentences(40), title="t", format="text")
    chunks = chunk_document(document, encoder.tokenizer, 40, 16)
    _check_invariants(document, chunks, encoder, 40)
    assert len(chunks) > 2
    for before, after in zip(chunks, chunks[1:], strict=False):
        assert after.start < before.end
        assert after.start > before.start
        shared = document.text[after.start:before.end]
        assert shared and shared in before.text and after.text.startswith(shared)


def test_no_overlap_when_zero(encoder: Encoder) -> None:
    document = ParsedDocument(text=_sentences(40), title="t", format="text")
    chunks = chunk_document(document, encoder.tokenizer, 40, 0)
    _check_invariants(document, chunks, encoder, 40)
    assert len(chunks) > 2
    for before, after in zip(chunks, chunks[1:], strict=False):
        assert after.start >= before.end


def test_overlap_never_crosses_a_heading(encoder: Encoder) -> None:
    text = f"# One\n\n{_sentences(12)}\n\n# Two\n\n{_sentences(12)}\n"
    document = parse_document("two.md", text.encode())
    chunks = chunk_document(document, encoder.tokenizer, 40, 16)
    second = document.sections[1].start
    for chunk in chunks:
        if chunk.headings == ("Two",):
            assert chunk.start >= second
        else:
            assert chunk.end <= second


def test_invalid_limit_rejected(encoder: Encoder) -> None:
    document = ParsedDocument(text="text", title="t", format="text")
    with pytest.raises(ValueError):
        chunk_document(document, encoder.tokenizer, 0, 0)


def test_chunks_never_cut_a_soft_wrapped_sentence(encoder: Encoder) -> None:
    # Hard-wrapped prose: a line break inside a paragraph is not a place to cut.
    words = ["the", "keeper", "climbed", "the", "tower", "stairs", "and", "lit", "the",
             "great", "lamp", "again"]
    lines = [" ".join(words[(i % 4):(i % 4) + 8]) for i in range(40)]
    text = "\n".join(f"{line}." if i % 3 == 2 else line for i, line in enumerate(lines)) + "\n"
    document = parse_document("wrapped.txt", text.encode())
    chunks = chunk_document(document, encoder.tokenizer, 40, 0)
    _check_invariants(document, chunks, encoder, 40)
    sentences = split_sentences(document.text)
    assert len(chunks) > 3
    assert {c.start for c in chunks} <= {s.start for s in sentences}
    assert {c.end for c in chunks} <= {s.end for s in sentences}
    assert all(chunk.text.endswith(".") for chunk in chunks[:-1])


def test_a_heading_line_starts_a_chunk_once_the_chunk_is_half_full(encoder: Encoder) -> None:
    # A plain text's sections are not parsed, but its heading lines are seen: a section
    # starts a chunk of its own instead of ending the one before.
    body = " ".join(f"Sentence {i} of the step says what to do next." for i in range(3))
    text = "\n\n".join(f"Step {n}: Do thing {n}\n\n{body}" for n in range(1, 7)) + "\n"
    document = parse_document("steps.txt", text.encode())
    chunks = chunk_document(document, encoder.tokenizer, 60, 16)
    _check_invariants(document, chunks, encoder, 60)
    heading_starts = {text.index(f"Step {n}:") for n in range(1, 7)}
    assert {chunk.start for chunk in chunks} <= heading_starts
    assert all(chunk.text.startswith("Step ") for chunk in chunks)


def test_code_is_not_cut_at_lines_that_look_like_headings(encoder: Encoder) -> None:
    # Each statement stands alone, without a full stop, as a title would in prose.
    code = "\n\n".join(f"value_{i} = compute(value_{i - 1}, {i})" for i in range(1, 120))
    document = parse_document("code.py", code.encode())
    chunks = chunk_document(document, encoder.tokenizer, 128, 0)
    _check_invariants(document, chunks, encoder, 128)
    # Packed near the limit, not cut at the first such line past half of it.
    assert sum(chunk.token_count for chunk in chunks[:-1]) / (len(chunks) - 1) > 112
