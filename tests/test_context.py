"""search/context.py and search/passages.py: merging, folding, packing within a token
budget, the min_score gate, citations; and POST /context on a live server."""

from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from semsearch.indexer.chunk import chunk_document
from semsearch.indexer.documents import PageSpan, ParsedDocument
from semsearch.indexer.encoders import Encoder, EncoderSpec
from semsearch.indexer.sync import SyncOptions, sync_folder
from semsearch.search.context import (
    MAX_TOKEN_BUDGET,
    build_context,
    citation_line,
    pack,
    token_counter,
)
from semsearch.search.errors import InvalidQueryError
from semsearch.search.hits import ChunkView, DocumentView, Hit
from semsearch.search.options import SearchOptions
from semsearch.search.passages import (
    Passage,
    document_text,
    fold_duplicates,
    joined_page_breaks,
    merge_hits,
)
from semsearch.search.searcher import Searcher
from tests.helpers import PDF_QUESTION
from tests.live_server import start_server, stop_server

PRESS_QUESTION = "how did the printing press spread across Europe"
API_KEY = "context-key"


def _tokens(encoder: Encoder, text: str) -> int:
    return len(encoder.tokenizer(text, add_special_tokens=False)["input_ids"])


def _hit(chunk_id: int, doc_id: int, start: int, text: str, score: float,
         ordinal: int = 0) -> Hit:
    return Hit(chunk_id=chunk_id, doc_id=doc_id, path=f"doc{doc_id}.txt", title="",
               ordinal=ordinal, text=text, page=None, start=start, end=start + len(text),
               headings=[],
               score=score, score_kind="cosine")


def _passage(text: str, path: str = "a.txt", score: float = 1.0) -> Passage:
    return Passage(text=text, doc_id=1, path=path, title="", page=None, start=0,
                   end=len(text), score=score, chunk_ids=(1,))


# --- passages: pure functions ---------------------------------------------------------

def test_document_text_keeps_every_chunk_at_its_offsets(encoder: Encoder) -> None:
    text = ("First paragraph. It has two sentences.\n\n" * 6
            + "A last line without a full stop\n")
    chunks = chunk_document(ParsedDocument(text=text, title="t", format="txt"),
                            encoder.tokenizer, max_tokens=16, overlap_tokens=6)
    assert len(chunks) > 3
    assert any(b.start < a.end for a, b in zip(chunks, chunks[1:], strict=False))
    view = DocumentView(doc_id=1, path="t.txt", title="t", format="txt", size=len(text),
                        mtime=0.0, chunks=[ChunkView(c.ordinal, c.ordinal, c.text, c.start,
                                                     c.end, c.page, list(c.headings))
                                           for c in chunks])
    joined = document_text(view)
    for chunk in chunks:
        assert joined[chunk.start:chunk.end] == chunk.text
    # Only the unstored whitespace between chunks may differ.
    assert joined.split() == text.split()


def test_overlapping_hits_of_one_document_merge_into_their_union() -> None:
    text = "Alpha one. Beta two. Gamma three. Delta four."
    first, second = _hit(1, 7, 0, text[0:20], 0.5), _hit(2, 7, 11, text[11:33], 0.9)
    passages = merge_hits([second, first])
    assert len(passages) == 1
    passage = passages[0]
    assert passage.text == text[0:33]
    assert (passage.source.start, passage.source.end) == (0, 33)
    assert passage.source.score == 0.9 and set(passage.source.chunk_ids) == {1, 2}


def test_neighbours_merge_over_the_gap_but_distant_chunks_do_not() -> None:
    text = "Alpha one.\n\nBeta two. Gamma three. Delta four."
    a = _hit(1, 7, 0, text[0:10], 0.8, ordinal=0)
    merged = merge_hits([a, _hit(2, 7, 12, text[12:21], 0.7, ordinal=1)])
    assert [p.text for p in merged] == ["Alpha one.\n\nBeta two."]
    apart = merge_hits([a, _hit(2, 7, 12, text[12:21], 0.7, ordinal=2)])
    assert [p.text for p in apart] == ["Alpha one.", "Beta two."]
    other_document = merge_hits([a, _hit(2, 8, 12, text[12:21], 0.7, ordinal=1)])
    assert len(other_document) == 2


def test_duplicate_text_is_kept_once_with_both_citations() -> None:
    best = _passage("The same words.\nAnd more.", "copy1.txt", 0.9)
    same = _passage("The  same words. And more.", "copy2.txt", 0.8)
    inside = _passage("The same words.", "quote.txt", 0.7)
    other = _passage("Something else.", "b.txt", 0.6)
    kept = fold_duplicates([best, same, inside, other])
    assert kept == [best, other]
    assert [s.path for s in best.also_in] == ["copy2.txt", "quote.txt"]
    assert "same text also in: copy2.txt, quote.txt" in citation_line(1, best)


def test_pack_cuts_the_first_passage_that_does_not_fit_and_stops() -> None:
    def words(texts: Sequence[str]) -> list[int]:
        return [len(text.split()) for text in texts]

    long = _passage("One two three. Four five\nsix. Seven eight\nnine.", "long.txt")
    short = _passage("Tiny.", "short.txt")
    # "[1] long.txt, chars 0-N" is 4 words; the first two sentences are 6 more.
    kept, context, _ = pack([long, short], 11, words)
    assert [p.text for p in kept] == ["One two three. Four five\nsix."]
    assert kept[0].truncated and kept[0].source.end == len("One two three. Four five\nsix.")
    # A line break inside a sentence is no place to cut.
    assert [p.text for p in pack([long], 9, words)[0]] == ["One two three."]
    assert words([context])[0] <= 11 and "Tiny" not in context  # nothing slipped in after a cut
    assert pack([long, short], 3, words) == ([], "", 0)


def test_pack_stays_within_budget_when_joins_cost_tokens() -> None:
    def joins_cost_five(texts: Sequence[str]) -> list[int]:
        """Words, plus five for each join of two blocks: adding up blocks undercounts."""
        return [len(text.split()) + 5 * text.count("\n\n[") for text in texts]

    passages = [_passage(f"Passage {n} says one thing. And then another.", f"{n}.txt")
                for n in range(1, 6)]
    for budget in range(1, 60):
        kept, context, tokens = pack(passages, budget, joins_cost_five)
        assert joins_cost_five([context]) == [tokens] and tokens <= budget
        assert context.count("[") == len(kept)
    assert len(pack(passages, 59, joins_cost_five)[0]) == 3  # 3 blocks of 12 words and 2 joins: 46


def test_page_breaks_of_chunks_joined_into_a_passage() -> None:
    # Overlapping chunks each show the break they hold; it is taken once.
    assert joined_page_breaks([(0, PageSpan(1, (40,))), (30, PageSpan(1, (40, 90)))]) == (40, 90)
    # A page that begins in the gap between two chunks begins where the second starts.
    assert joined_page_breaks([(0, PageSpan(1)), (52, PageSpan(2))]) == (52,)
    # An empty page 3 between: it begins where page 4 does.
    assert joined_page_breaks([(0, PageSpan(2)), (60, PageSpan(4))]) == (60, 60)
    assert joined_page_breaks([(0, PageSpan(None)), (9, PageSpan(None))]) == ()


def test_a_passage_cites_the_pages_its_text_spans() -> None:
    def words(texts: Sequence[str]) -> list[int]:
        return [len(text.split()) for text in texts]

    text = "One two three. Four five six."  # page 2 begins at "Four", offset 15
    hit = _hit(1, 7, 0, text, 0.9)
    (passage,) = merge_hits([hit], {1: PageSpan(1, (15,))})
    assert (passage.page, passage.last_page, passage.page_breaks) == (1, 2, (15,))
    assert citation_line(1, passage) == "[1] doc7.txt, pp. 1-2, chars 0-29"
    # Cut to fit the budget, it keeps page 1's sentence and cites page 1 alone.
    (cut,), context, _ = pack([passage], 10, words)
    assert (cut.text, cut.last_page, cut.page_breaks) == ("One two three.", 1, ())
    assert context.startswith("[1] doc7.txt, p. 1, chars 0-14\n")
    # A chunk without known pages (an index older than page breaks): its hit's page.
    (old,) = merge_hits([replace(hit, page=2)])
    assert (old.page, old.last_page) == (2, 2) and ", p. 2, " in citation_line(1, old)


def test_context_cites_the_pages_of_a_pdf_passage(pdf_index: Path, encoder: Encoder) -> None:
    """The chunk starts on page 1 and the answer is on page 2: the citation names both."""
    searcher = Searcher(pdf_index, EncoderSpec.of(encoder))
    try:
        result = build_context(searcher, PDF_QUESTION, SearchOptions(k=3), token_budget=500)
    finally:
        searcher.close()
    (passage,) = result.passages
    assert "whale oil" in passage.text
    assert (passage.page, passage.last_page, len(passage.page_breaks)) == (1, 2, 1)
    first_line = result.context.splitlines()[0]
    assert first_line.startswith("[1] logbook.pdf, ") and ", pp. 1-2, chars " in first_line
    assert result.to_dict()["passages"][0]["page_breaks"] == passage.page_breaks


# --- build_context over the shared search index ---------------------------------------

@pytest.mark.parametrize("budget", [1, 20, 60, 120, 250, 600, 4000])
def test_token_budget_is_never_exceeded(search_searcher: Searcher, encoder: Encoder,
                                        budget: int) -> None:
    result = build_context(search_searcher, PRESS_QUESTION, SearchOptions(k=8), token_budget=budget)
    assert result.token_count == _tokens(encoder, result.context) <= budget
    assert token_counter(encoder.tokenizer)([result.context]) == [result.token_count]


def test_chunks_of_one_document_become_one_passage_with_exact_offsets(
        search_searcher: Searcher) -> None:
    result = build_context(search_searcher, PRESS_QUESTION, SearchOptions(k=8), token_budget=4000)
    press = [p for p in result.passages if p.source.path == "history/printing_press.md"]
    assert len(press) == 1 and len(press[0].source.chunk_ids) >= 2
    passage = press[0]
    view = search_searcher.document(passage.source.doc_id)
    assert view is not None
    for chunk in view.chunks:
        if chunk.chunk_id in passage.source.chunk_ids:
            offset = chunk.start - passage.source.start
            assert passage.text[offset:offset + len(chunk.text)] == chunk.text
    assert len(passage.text) == passage.source.end - passage.source.start
    assert "The printing press spread quickly across Europe." in passage.text


def test_passages_are_numbered_with_citations_in_the_context(
        search_searcher: Searcher) -> None:
    result = build_context(search_searcher, PRESS_QUESTION, SearchOptions(k=5), token_budget=4000)
    assert result.passages and result.note is None
    position = 0
    for number, passage in enumerate(result.passages, 1):
        line = citation_line(number, passage)
        assert line.startswith(f"[{number}] {passage.source.path}")
        assert f"chars {passage.source.start}-{passage.source.end}" in line
        position = result.context.index(f"{line}\n{passage.text}", position)
    scores = [p.source.score for p in result.passages]
    assert scores == sorted(scores, reverse=True)
    as_json = result.to_dict()["passages"][0]
    assert as_json["number"] == 1 and as_json["path"] == result.passages[0].source.path
    assert {"title", "page", "start", "end", "score", "chunk_ids", "also_in"} <= set(as_json)


def test_a_passage_that_does_not_fit_is_cut_at_a_sentence_end(
        search_searcher: Searcher) -> None:
    whole = build_context(search_searcher, PRESS_QUESTION, SearchOptions(k=8), token_budget=4000)
    first = whole.passages[0]
    cut = build_context(search_searcher, PRESS_QUESTION, SearchOptions(k=8), token_budget=80)
    assert len(cut.passages) == 1 and cut.passages[0].truncated
    text = cut.passages[0].text
    assert first.text.startswith(text) and len(text) < len(first.text)
    assert text.endswith(".")
    assert cut.passages[0].source.end == first.source.start + len(text)
    assert "1 of" in (cut.note or "") and "cut at a sentence end" in (cut.note or "")


def test_min_score_gate_never_pads_with_weak_passages(search_searcher: Searcher) -> None:
    empty = build_context(search_searcher, "quantum chromodynamics on a lattice",
            SearchOptions(mode="dense", min_score=0.9), token_budget=4000)
    assert empty.passages == [] and empty.context == "" and empty.token_count == 0
    assert empty.note is not None and "min_score=0.9" in empty.note
    gated = build_context(search_searcher, PRESS_QUESTION,
            SearchOptions(mode="dense", min_score=0.3, k=20), token_budget=4000)
    assert gated.passages and all(p.source.score >= 0.3 for p in gated.passages)
    ungated = build_context(search_searcher, PRESS_QUESTION,
            SearchOptions(mode="dense", k=20), token_budget=4000)
    assert len(ungated.passages) > len(gated.passages)


def test_budget_too_small_for_anything_says_so(search_searcher: Searcher) -> None:
    result = build_context(search_searcher, PRESS_QUESTION, token_budget=1)
    assert result.passages == [] and result.context == ""
    assert result.note is not None and "token_budget=1" in result.note


@pytest.mark.parametrize("budget", [0, MAX_TOKEN_BUDGET + 1])
def test_budget_out_of_range_is_refused(search_searcher: Searcher, budget: int) -> None:
    with pytest.raises(InvalidQueryError, match="token_budget must be between 1 and 32768"):
        build_context(search_searcher, PRESS_QUESTION, token_budget=budget)


# --- duplicates in a real index -------------------------------------------------------

def test_duplicate_files_give_one_passage_citing_both(
        tmp_path: Path, encoder: Encoder) -> None:
    note = ("Kettle descaling. Fill the kettle with equal parts vinegar and water, boil it, "
            "leave it for an hour and rinse it twice.\n")
    root = tmp_path / "docs"
    for path, text in {"home/kettle.txt": note, "backup/kettle.txt": note,
                       "home/oven.txt": "Oven cleaning. Baking soda paste overnight.\n"}.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text, encoding="utf-8")
    sync_folder(root, tmp_path / "index", EncoderSpec.of(encoder), SyncOptions())
    searcher = Searcher(tmp_path / "index", EncoderSpec.of(encoder))
    try:
        result = build_context(searcher, "how do I descale a kettle", SearchOptions(k=3))
    finally:
        searcher.close()
    kettle = result.passages[0]
    assert {kettle.source.path, *(s.path for s in kettle.also_in)} == {
        "home/kettle.txt", "backup/kettle.txt"}
    assert result.context.count("Fill the kettle") == 1
    assert "same text also in:" in result.context


# --- POST /context ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def server(search_index: tuple[Path, Path]) -> Iterator[str]:
    process, base = start_server(search_index[1], {"SEMSEARCH_API_KEY": API_KEY})
    yield base
    stop_server(process)


def _client(base: str) -> httpx.Client:
    return httpx.Client(base_url=base, headers={"Authorization": f"Bearer {API_KEY}"},
                        timeout=60)


def test_context_over_http(server: str, encoder: Encoder) -> None:
    body = {"question": PRESS_QUESTION, "k": 6, "token_budget": 150,
            "filters": {"path_prefix": "history/"}}
    response = _client(server).post("/context", json=body)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["passages"][0]["path"] == "history/printing_press.md"
    assert answer["passages"][0]["number"] == 1
    assert answer["context"].startswith("[1] history/printing_press.md")
    assert answer["token_count"] == _tokens(encoder, answer["context"]) <= 150
    assert httpx.post(server + "/context", json=body).status_code == 401


@pytest.mark.parametrize("body", [
    {"question": "x", "token_budget": 0},
    {"question": "x", "token_budget": MAX_TOKEN_BUDGET + 1},
    {"question": "x" * 2001},
    {"question": "x", "k": 101},
    {"question": "   "},
    {"question": "x", "mode": "fuzzy"},
    {"question": "x", "min_score": "nan"},
    {"question": "x", "group_by": "document"},
])
def test_context_limits_are_422(server: str, body: dict[str, object]) -> None:
    response = _client(server).post("/context", json=body)
    assert response.status_code == 422, response.text


def test_context_with_nothing_above_min_score_over_http(server: str) -> None:
    answer = _client(server).post("/context", json={
        "question": "quantum chromodynamics on a lattice", "mode": "dense",
        "min_score": 0.9}).json()
    assert answer["passages"] == [] and answer["context"] == ""
    assert "min_score=0.9" in answer["note"]
