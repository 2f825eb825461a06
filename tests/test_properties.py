"""Property-based tests (hypothesis) of the chunker and the highlighter, with the real
tokenizer: for any text (CJK, emoji, combining marks, whitespace runs, headings), chunks
map back to the text exactly, never exceed the token limit when re-tokenized, and drop no
visible character; highlights lie inside their chunk and are one or two of its sentences."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from semsearch.indexer.chunk import chunk_document
from semsearch.indexer.documents import ParsedDocument, Section
from semsearch.indexer.encoders import Encoder
from semsearch.indexer.sentences import split_sentences
from semsearch.search.highlight import highlight_chunks

PIECES = st.one_of(
    st.sampled_from(["the", "indexer", "photosynthesis", "floccinaucinihilipilification",
                     "naïve", "café", "Straße", "résumé", "e\u0301", "a\u0308\u0301",
                     "中文", "索引器把文档切成小段", "日本語の文章", "한국어", "😀", "👩‍👩‍👧",
                     "🇫🇷", "x" * 60, "http://example.com/a?b=c", "3.14159", "—", "…"]),
    st.sampled_from([" ", "  ", "\n", "\n\n", "\t", " \n \n ", "\u3000", "\u00a0",
                     "\u200b", "   \n\n\n   "]),
    st.sampled_from([".", "!", "?", ";", ":", "。", "！", "？", "”", ")", "\""]),
    st.sampled_from(["\n# Heading\n", "\n## Sub heading\n"]),
    st.text(max_size=12),
)
TEXTS = st.lists(PIECES, max_size=60).map("".join)
PROPERTY_SETTINGS = settings(max_examples=200, deadline=None, derandomize=True,
                             suppress_health_check=[HealthCheck.too_slow,
                                                    HealthCheck.data_too_large])


def _document(text: str) -> ParsedDocument:
    """Plain text, with a section at every markdown heading (a hard boundary)."""
    sections = []
    offset = text.find("\n#")
    while offset != -1:
        sections.append(Section(start=offset + 1, path=(f"h{offset}",)))
        offset = text.find("\n#", offset + 1)
    return ParsedDocument(text=text, title="", format="text", sections=sections)


@PROPERTY_SETTINGS
@given(text=TEXTS, max_tokens=st.integers(4, 48), overlap=st.integers(0, 12))
def test_chunks_map_back_fit_and_cover(encoder: Encoder, text: str, max_tokens: int,
                                       overlap: int) -> None:
    document = _document(text)
    chunks = chunk_document(document, encoder.tokenizer, max_tokens, overlap)
    assert [c.ordinal for c in chunks] == list(range(len(chunks)))
    covered = [False] * len(text)
    for chunk in chunks:
        assert text[chunk.start:chunk.end] == chunk.text
        assert chunk.text and chunk.text == chunk.text.strip()
        assert chunk.token_count <= max_tokens
        tokens = encoder.tokenizer(chunk.text, add_special_tokens=False)["input_ids"]
        assert len(tokens) <= max_tokens, (chunk.text, len(tokens))
        for i in range(chunk.start, chunk.end):
            covered[i] = True
    missed = [text[i] for i, char in enumerate(text) if not char.isspace() and not covered[i]]
    assert missed == []
    assert [c.start for c in chunks] == sorted(c.start for c in chunks)


@PROPERTY_SETTINGS
@given(text=TEXTS)
def test_sentences_are_trimmed_ordered_spans(text: str) -> None:
    spans = [(sentence.start, sentence.end) for sentence in split_sentences(text)]
    for (_, end), (next_start, _) in zip(spans, spans[1:], strict=False):
        assert end <= next_start
    for start, end in spans:
        assert 0 <= start < end <= len(text)
        assert text[start:end] == text[start:end].strip()
    inside = {i for start, end in spans for i in range(start, end)}
    assert all(char.isspace() or i in inside for i, char in enumerate(text))


@settings(max_examples=60, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(query=TEXTS.filter(lambda q: q.strip() != ""),
       chunks=st.lists(st.tuples(TEXTS, st.integers(0, 10_000)), min_size=1, max_size=5))
def test_highlights_are_sentences_of_their_chunk(encoder: Encoder, query: str,
                                                 chunks: list[tuple[str, int]]) -> None:
    results = highlight_chunks(query, chunks, encoder.encode)
    assert len(results) == len(chunks)
    for (text, offset), highlights in zip(chunks, results, strict=True):
        # Highlights are one whole sentence, or two that follow each other (soft-wrapped
        # lines joined: indexer/sentences.py).
        sentences = split_sentences(text)
        spans = [(s.start, s.end) for s in sentences] + [
            (first.start, second.end)
            for first, second in zip(sentences, sentences[1:], strict=False)]
        assert len(highlights) == (1 if spans else 0)
        for highlight in highlights:
            assert offset <= highlight.start < highlight.end <= offset + len(text)
            assert text[highlight.start - offset:highlight.end - offset] == highlight.text
            assert (highlight.start - offset, highlight.end - offset) in spans
        for highlight in highlight_chunks(query, [(text, offset)])[0]:  # no model
            assert (highlight.start - offset, highlight.end - offset) in spans
            assert text[highlight.start - offset:highlight.end - offset] == highlight.text


@pytest.mark.parametrize("text", ["", " \n\t ", "\u200b", "。", "a"])
def test_edge_texts(encoder: Encoder, text: str) -> None:
    chunks = chunk_document(_document(text), encoder.tokenizer, 8, 2)
    assert all(text[c.start:c.end] == c.text for c in chunks)
    assert bool(chunks) == bool(text.strip())
