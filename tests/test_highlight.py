"""Highlights: offsets that point at the exact text, and the choice of sentence."""

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from semsearch.indexer.documents import PageSpan
from semsearch.indexer.encoders import Encoder, EncoderSpec
from semsearch.indexer.sentences import split_sentences
from semsearch.search.highlight import (
    SEMANTIC_CHARACTERS,
    SEMANTIC_SENTENCES,
    highlight_chunks,
    highlight_documents,
    on_pages,
    query_terms,
    stem,
)
from semsearch.search.hits import Highlight
from semsearch.search.options import Mode, SearchOptions
from semsearch.search.searcher import Searcher
from tests.helpers import PDF_PAGES, PDF_QUESTION, SEARCH_DOCS

QUERIES = [
    ("zorblax cellulose", Mode.LEXICAL),
    ("zorblax cellulose", Mode.HYBRID),
    ("fix a punctured bike wheel", Mode.DENSE),
    ("fix a punctured bike wheel", Mode.HYBRID),
    ("who spread printing across Europe", Mode.HYBRID),
    ("明朝重修长城", Mode.LEXICAL),
    ("高铁的速度", Mode.HYBRID),
    ("mars rover life", Mode.DENSE),  # an HTML file: its text is not the file's bytes
]


def _document_text(searcher: Searcher, doc_id: int) -> dict[int, str]:
    """The document's text as {offset: character}, put together from its chunks."""
    view = searcher.document(doc_id)
    assert view is not None
    characters: dict[int, str] = {}
    for chunk in view.chunks:
        assert chunk.end - chunk.start == len(chunk.text)
        for offset, character in enumerate(chunk.text, chunk.start):
            # Overlapping chunks agree on the text they share.
            assert characters.setdefault(offset, character) == character
    return characters


@pytest.mark.parametrize("query, mode", QUERIES)
def test_highlight_offsets_point_at_the_text(search_searcher: Searcher, query: str,
                                             mode: Mode) -> None:
    hits = search_searcher.search(query, SearchOptions(k=3, mode=mode)).results
    assert hits
    for hit in hits:
        assert hit.highlights
        document = _document_text(search_searcher, hit.doc_id)
        for highlight in hit.highlights:
            assert hit.start <= highlight.start < highlight.end <= hit.end
            assert highlight.text == hit.text[highlight.start - hit.start:
                                              highlight.end - hit.start]
            assert highlight.text == "".join(
                document[i] for i in range(highlight.start, highlight.end))
            assert highlight.text == highlight.text.strip()
            if not hit.path.endswith(".html"):  # plain formats keep the file's text as is
                assert highlight.text == SEARCH_DOCS[hit.path][highlight.start:highlight.end]


@pytest.mark.parametrize("query, mode, path, sentence", [
    ("zorblax cellulose", Mode.LEXICAL, "biology/zorblax.txt",
     "Zorblax breaks down cellulose at very low temperatures."),
    ("glue a patch on the hole", Mode.HYBRID, "cycling/flat_tyre.md",
     "Glue a rubber patch over the hole, let it dry, then refit the tube and inflate the "
     "tyre."),
    ("明朝重修", Mode.LEXICAL, "zh/great_wall.txt",
     "明朝时长城被大规模重修，今天看到的大部分长城都是明长城。"),
])
def test_highlight_is_the_sentence_holding_the_query_words(
        search_searcher: Searcher, query: str, mode: Mode, path: str, sentence: str) -> None:
    hit = search_searcher.search(query, SearchOptions(k=1, mode=mode)).results[0]
    assert hit.path == path
    assert [h.text for h in hit.highlights] == [sentence]
    start = SEARCH_DOCS[path].index(sentence)
    assert (hit.highlights[0].start, hit.highlights[0].end) == (start, start + len(sentence))


def test_highlight_without_shared_words_falls_back_to_meaning(
        search_searcher: Searcher) -> None:
    # No word of the query is in the document; the semantic fallback picks the sentence.
    hit = search_searcher.search("mending a puncture", SearchOptions(k=1, mode="dense")).results[0]
    assert hit.path == "cycling/flat_tyre.md"
    assert len(hit.highlights) == 1
    assert hit.highlights[0].text in hit.text


# --- highlight_chunks on its own ---------------------------------------------------------

ENGLISH = "Cats sleep a lot. Dogs bark at night! Birds sing in the morning?"


def _best(query: str, text: str, offset: int = 0,
          embed: Callable[[list[str]], np.ndarray] | None = None,
          query_vector: np.ndarray | None = None) -> list[Highlight]:
    """The highlight of one chunk."""
    (highlights,) = highlight_chunks(query, [(text, offset)], embed, query_vector)
    return highlights


def test_best_sentence_has_most_query_terms() -> None:
    highlights = _best("why do dogs bark", ENGLISH, 100)
    assert highlights == [Highlight(text="Dogs bark at night!", start=118, end=137)]
    assert ENGLISH[18:37] == "Dogs bark at night!"


def test_more_distinct_terms_win_over_the_first_match() -> None:
    text = "The morning is cold. Birds sing in the morning sun."
    highlights = _best("birds singing in the morning", text)
    assert [h.text for h in highlights] == ["Birds sing in the morning sun."]
    assert highlights[0].start == text.index("Birds")


def test_ties_go_to_the_first_sentence() -> None:
    text = "Tea is green. Tea is black."
    assert [h.text for h in _best("tea", text)] == ["Tea is green."]


def test_ties_go_to_the_sentence_naming_a_query_term_first() -> None:
    # Without the model, a tie goes to the sentence that is about the term: it names it
    # nearest its start (the "tea" inside "Steamed" starts no word).
    text = "Steamed rice waits while the kettle heats water for the tea. Tea leaves unfurl."
    assert [h.text for h in _best("tea", text)] == ["Tea leaves unfurl."]


def test_stemming_meets_other_forms() -> None:
    text = "The water boils. She brewed the leaves for three minutes."
    highlights = _best("brewing", text, 5)
    assert [h.text for h in highlights] == ["She brewed the leaves for three minutes."]
    assert highlights[0].start == 5 + text.index("She")
    text = "Cells were grown. Bone induction followed the implant."
    assert _best("inductive biomaterials", text)[0].text == \
        "Bone induction followed the implant."


def test_no_shared_term_and_no_model_gives_the_first_sentence() -> None:
    assert _best("giraffe", ENGLISH) == [Highlight(text="Cats sleep a lot.", start=0, end=17)]
    # A query of stop words alone has no terms at all.
    assert _best("the of and", ENGLISH) == [
        Highlight(text="Cats sleep a lot.", start=0, end=17)]


def _fake_model(rows: dict[str, list[float]], seen: list[list[str]]
                ) -> Callable[[list[str]], np.ndarray]:
    """An `embed` that returns fixed rows by text and records each call's texts."""
    def embed(texts: list[str]) -> np.ndarray:
        seen.append(list(texts))
        return np.array([rows.get(text, [0.0, 0.0]) for text in texts], dtype=np.float32)

    return embed


GIRAFFE = np.array([1.0, 0.0], dtype=np.float32)  # the query's vector, known to the search


def test_no_shared_term_asks_the_model() -> None:
    # The sentences are embedded, never the query: its vector is the search's.
    seen: list[list[str]] = []
    embed = _fake_model({"Cats sleep a lot.": [0.1, 0.9], "Dogs bark at night!": [0.2, 0.8],
                         "Birds sing in the morning?": [0.9, 0.1]}, seen)
    highlights = _best("giraffe", ENGLISH, 10, embed, GIRAFFE)
    assert seen == [["Cats sleep a lot.", "Dogs bark at night!", "Birds sing in the morning?"]]
    assert highlights == [Highlight(text="Birds sing in the morning?", start=10 + 38,
                                    end=10 + 64)]


def test_without_the_query_vector_the_model_is_not_asked() -> None:
    # A lexical search embeds no query: its highlights never ask the model.
    def fail(texts: list[str]) -> np.ndarray:
        raise AssertionError("the model must not be called")

    assert _best("giraffe", ENGLISH, 0, fail) == [
        Highlight(text="Cats sleep a lot.", start=0, end=17)]
    text = "Blossom end rot has a cause in the soil. Blossom end rot was caused by watering."
    assert [h.text for h in _best("what causes blossom end rot", text, 0, fail)] == [
        "Blossom end rot has a cause in the soil."]


def test_the_model_reads_a_long_passage_around_its_first_term() -> None:
    # Past SEMANTIC_CHARACTERS a passage is cut, from a little before its query term.
    filler = "word " * 60
    text = f"A giraffe is tall. {filler}then the giraffe ate leaves {filler}end."
    seen: list[list[str]] = []
    highlight_chunks("giraffe", [(text, 0)], _fake_model({}, seen), GIRAFFE)
    (read,) = seen  # the two sentences tie
    assert read[0] == "A giraffe is tall."
    assert len(read[1]) == SEMANTIC_CHARACTERS
    assert "then the giraffe ate leaves" in read[1]


def test_model_is_not_asked_when_a_term_matches_or_one_sentence() -> None:
    def fail(texts: list[str]) -> np.ndarray:
        raise AssertionError("the model must not be called")

    assert _best("bird", ENGLISH, 0, fail)[0].text == "Birds sing in the morning?"
    assert _best("giraffe", "Just one sentence here.", 0, fail) == [
        Highlight(text="Just one sentence here.", start=0, end=23)]


def test_semantic_fallback_is_bounded_and_batched() -> None:
    # Many chunks without a query word, each of many sentences: one model call, of at
    # most SEMANTIC_SENTENCES sentences, for the top hit only.
    text = " ".join(f"Sentence number {i} is here." for i in range(10))
    chunks = [(text, 1000 * n) for n in range(8)]
    seen: list[list[str]] = []
    results = highlight_chunks("giraffe", chunks, _fake_model({}, seen), GIRAFFE)
    assert len(seen) == 1
    assert len(seen[0]) == SEMANTIC_SENTENCES
    assert [len(h) for h in results] == [1] * len(chunks)
    assert {h[0].text for h in results[1:]} == {"Sentence number 0 is here."}


def test_the_model_is_not_asked_when_the_top_hit_shares_a_word() -> None:
    def fail(texts: list[str]) -> np.ndarray:
        raise AssertionError("the model must not be called")

    chunks = [("Giraffes eat leaves. They are tall.", 0), (ENGLISH, 100)]
    results = highlight_chunks("giraffe", chunks, fail)
    assert [h[0].text for h in results] == ["Giraffes eat leaves.", "Cats sleep a lot."]
    for (chunk, offset), (highlight,) in zip(chunks, results, strict=True):
        assert chunk[highlight.start - offset:highlight.end - offset] == highlight.text


def test_whitespace_is_trimmed_and_empty_text_has_no_highlight() -> None:
    text = "  \n First line here.\n\n  Second line, with cheese.  \n"
    highlights = _best("cheese", text)
    assert [h.text for h in highlights] == ["Second line, with cheese."]
    assert text[highlights[0].start:highlights[0].end] == "Second line, with cheese."
    assert _best("x", "") == []
    assert _best("x", " \n\t ", 7) == []
    assert highlight_chunks("x", []) == []


def test_chinese_sentence_by_segmented_terms() -> None:
    text = "长城是中国古代的军事防御工程。明朝时长城被大规模重修。高铁很快。"
    highlights = _best("明朝重修", text, 10)
    assert highlights == [Highlight(text="明朝时长城被大规模重修。", start=25, end=37)]
    assert text[15:27] == "明朝时长城被大规模重修。"
    assert _best("高铁", text)[0].text == "高铁很快。"


def test_mixed_chinese_and_english() -> None:
    text = "Green tea is mild. 绿茶的冲泡方法很简单。Coffee is strong."
    assert _best("怎么泡绿茶", text)[0].text == "绿茶的冲泡方法很简单。"


def test_query_terms() -> None:
    assert query_terms("What is the brewing of Teas?") == {"brew", "tea"}
    assert query_terms("the of and") == set()
    assert query_terms("") == set()
    assert query_terms("怎么泡绿茶") >= {"绿茶"}


@pytest.mark.parametrize("word, expected", [
    ("brewing", "brew"), ("brewed", "brew"), ("boxes", "box"), ("cats", "cat"),
    ("sing", "sing"), ("bus", "bus"), ("is", "is"), ("绿茶", "绿茶"),
    ("inductive", "induct"), ("induction", "induct"), ("properties", "proper"),
])
def test_stem(word: str, expected: str) -> None:
    assert stem(word) == expected


def test_highlight_reconstruction_helper_sees_whole_documents(search_searcher: Searcher,
                                                               search_index: tuple[Path, Path]
                                                               ) -> None:
    """The chunks of a plain-text file cover its text, whitespace aside."""
    hit = search_searcher.search("printing press", SearchOptions(k=1, mode="lexical")).results[0]
    characters = _document_text(search_searcher, hit.doc_id)
    original = SEARCH_DOCS[hit.path]
    assert all(original[i] == c for i, c in characters.items())
    assert {i for i, c in enumerate(original) if not c.isspace()} <= set(characters)


# --- pages (PDF) ----------------------------------------------------------------------

def test_each_highlight_gets_the_page_it_starts_on() -> None:
    first, second = Highlight("On page one.", 10, 22), Highlight("On page two.", 60, 72)
    assert on_pages([first, second], PageSpan(3, (50,))) == [
        Highlight("On page one.", 10, 22, page=3), Highlight("On page two.", 60, 72, page=4)]
    assert on_pages([first], PageSpan(None)) == [first]  # no pages outside PDFs
    # An empty page between: two breaks at one offset.
    assert on_pages([second], PageSpan(1, (50, 50))) == [
        Highlight("On page two.", 60, 72, page=3)]


def test_a_pdf_hit_cites_the_page_of_its_highlight(pdf_index: Path, encoder: Encoder) -> None:
    searcher = Searcher(pdf_index, EncoderSpec.of(encoder))
    try:
        for mode in Mode:
            (hit,) = searcher.search(PDF_QUESTION, SearchOptions(k=1, mode=mode)).results
            chunk_pages = searcher.chunk_pages([hit.chunk_id])[hit.chunk_id]
            # One chunk holds both pages: it starts on page 1, the answer is on page 2.
            assert chunk_pages.page == 1 and len(chunk_pages.breaks) == 1
            assert PDF_PAGES[0].split(".")[0] in hit.text and "whale oil" in hit.text
            (highlight,) = hit.highlights
            assert highlight.text.startswith("The lamp burned whale oil")
            assert (highlight.page, hit.page) == (2, 2), mode
            assert hit.to_dict()["highlights"][0]["page"] == 2
    finally:
        searcher.close()


# --- whole sentences and headings (indexer/sentences.py) -------------------------------

SOFT_WRAPPED = (
    "## Water temperature and quality\n"
    "\n"
    "Cold water extracts too little. Water just off the boil, roughly 90 to 96 °C,\n"
    "suits most methods, and soft water tastes\n"
    "cleaner than hard.\n"
    "\n"
    "- Filter hard water\n"
    "- Descale the kettle\n"
)


def test_soft_wrapped_lines_join_into_one_sentence_with_exact_offsets() -> None:
    (highlight,) = _best("what water temperature suits brewing", SOFT_WRAPPED, 40)
    sentence = ("Water just off the boil, roughly 90 to 96 °C,\nsuits most methods, and soft "
                "water tastes\ncleaner than hard.")
    assert highlight.text == sentence
    assert SOFT_WRAPPED[highlight.start - 40:highlight.end - 40] == highlight.text


def test_a_pdf_layout_line_is_not_a_sentence_end() -> None:
    text = ("part of the leaf. Blossom end rot is\na calcium deficiency in the fruit, but it is"
            " usually caused by irregular\nwatering.\nMulch keeps soil moist.")
    (highlight,) = _best("what causes blossom end rot", text)
    assert highlight.text.startswith("Blossom end rot is\na calcium")
    assert highlight.text.endswith("irregular\nwatering.")
    assert text[highlight.start:highlight.end] == highlight.text


@pytest.mark.parametrize("text, query, headings", [
    ("## Water temperature\n\nKeep the water near 93 degrees for brewing.",
     "water temperature", ()),
    ("Greens and browns\n=================\n\nAdd two parts browns to one of greens.",
     "greens and browns", ()),
    ("Kubernetes Basics:\nKubernetes was released in 2014.", "kubernetes basics", ()),
    ("Build an emergency fund\n\nA fund covers costs such as a car repair.",
     "emergency fund", ()),
    ("Greens and browns\nAdd two parts browns to one of greens.", "greens browns",
     ("Compost", "Greens and browns")),
])
def test_a_heading_line_is_not_chosen_over_the_body(text: str, query: str,
                                                    headings: tuple[str, ...]) -> None:
    (highlights,) = highlight_chunks(query, [(text, 0)], headings=[headings])
    assert [h.text for h in highlights] == [text.split("\n")[-1]]


def test_a_heading_alone_stands_in_only_without_a_body() -> None:
    text = "## Water temperature\n\nSoft is better than hard."
    assert _best("water temperature", text)[0].text == "Soft is better than hard."
    assert _best("water temperature", "## Water temperature")[0].text == \
        "## Water temperature"
    sentences = split_sentences(text)
    assert [s.heading for s in sentences] == [True, False]


def test_a_question_for_a_quantity_prefers_a_sentence_with_a_number() -> None:
    text = "The bloom releases gas from the coffee. The bloom should last 30 to 45 seconds."
    assert _best("how long should the bloom last", text)[0].text == \
        "The bloom should last 30 to 45 seconds."
    # Not a question for a quantity: ties go to the first sentence.
    assert _best("why does the bloom matter", text)[0].text == \
        "The bloom releases gas from the coffee."
    # The number only breaks ties: more shared terms still win.
    text = "Bloom 30 seconds. The bloom releases coffee gas."
    assert _best("how much gas does the coffee bloom release", text)[0].text == \
        "The bloom releases coffee gas."


# --- the sentence that answers -----------------------------------------------------------

def test_a_sentence_holding_the_kind_of_answer_beats_a_neighbour_with_more_terms() -> None:
    text = ("Microbes raise the temperature in the centre to 55 to 65 degrees Celsius. "
            "Turning the heap moves the outer material into the hot core of the compost heap.")
    assert _best("how hot does a compost heap get", text)[0].text == \
        "Microbes raise the temperature in the centre to 55 to 65 degrees Celsius."


def test_the_subject_and_the_answer_after_it_make_one_highlight() -> None:
    text = ("Bridges carried the channel. The most famous is the Pont du Gard, built in the "
            "first century AD. It stands about 49 metres high. Its blocks have no mortar.")
    (highlight,) = _best("how tall is the Pont du Gard", text, 7)
    assert highlight.text == ("The most famous is the Pont du Gard, built in the first "
                              "century AD. It stands about 49 metres high.")
    assert text[highlight.start - 7:highlight.end - 7] == highlight.text


def test_a_reason_that_refers_back_runs_on_from_the_statement() -> None:
    text = ("Pitch the tent on flat ground. Never use a stove inside a tent. They give off "
            "carbon monoxide, a gas you cannot smell. Air the tent each morning.")
    assert _best("why should you never run a stove inside a tent", text)[0].text == (
        "Never use a stove inside a tent. They give off carbon monoxide, a gas you cannot "
        "smell.")


def test_a_term_in_every_sentence_weighs_less_than_a_rare_one() -> None:
    # 是, 的 and 中国 are everywhere; 辣椒 and 传入 tell the sentences apart.
    text = "花椒是中国原产的香料。川菜的特点是麻辣。辣椒大约在明朝末年传入中国。豆瓣是川菜的灵魂。"
    assert _best("辣椒是什么时候传入中国的", text)[0].text == "辣椒大约在明朝末年传入中国。"
    text = ("The aqueducts of Rome carried water. Rome had eleven. The Aqua Marcia was the "
            "longest aqueduct. Rome still uses one.")
    assert _best("which was the longest aqueduct of Rome", text)[0].text == \
        "The Aqua Marcia was the longest aqueduct."


def test_the_body_answers_rather_than_the_title() -> None:
    text = "## 龙井茶的采摘\n\n龙井茶最好在清明节前采摘，这时的芽叶最嫩。"
    assert _best("龙井茶什么时候采摘最好", text)[0].text == \
        "龙井茶最好在清明节前采摘，这时的芽叶最嫩。"
    text = "Orrin-3\n\nThe drone flies at an altitude of 120 metres."
    assert _best("what altitude does Orrin-3 fly at", text)[0].text == \
        "The drone flies at an altitude of 120 metres."


def test_a_tie_on_the_top_hit_is_settled_by_meaning() -> None:
    text = "Blossom end rot has a cause in the soil. Blossom end rot was caused by watering."
    seen: list[list[str]] = []
    embed = _fake_model({"Blossom end rot has a cause in the soil.": [0.0, 1.0],
                         "Blossom end rot was caused by watering.": [0.9, 0.1]}, seen)
    chunks = [(text, 0), (text, 500)]
    results = highlight_chunks("what causes blossom end rot", chunks, embed,
                               np.array([1.0, 0.0], dtype=np.float32))
    assert seen == [["Blossom end rot has a cause in the soil.",
                     "Blossom end rot was caused by watering."]]
    # The top hit asks the model; the next keeps the first of its tied sentences.
    assert [h[0].text for h in results] == ["Blossom end rot was caused by watering.",
                                             "Blossom end rot has a cause in the soil."]


def test_a_sentence_two_chunks_share_shows_in_the_better_ranked_chunk() -> None:
    # Overlapping chunks of one document hold the same tied sentence: it is embedded
    # once, so its two places tie exactly and the first (better ranked) chunk shows it,
    # whatever the last bits of a matrix product at another row would say.
    shared = "Blossom end rot was caused by watering."
    seen: list[list[str]] = []
    noisy = _fake_model({"Blossom end rot has a cause in the soil.": [0.0, 1.0],
                         shared: [0.9, 0.1]}, seen)

    def embed(texts: list[str]) -> np.ndarray:
        rows = noisy(texts)
        return rows + np.arange(len(texts), dtype=np.float32)[:, None] * 1e-4

    first = f"Blossom end rot has a cause in the soil. {shared}"
    documents = [[(first, 0), (f"{shared} Blossom end rot has a cause in the soil.", 41)]]
    ((index, (highlight,)),) = highlight_documents(
        "what causes blossom end rot", documents, embed,
        np.array([1.0, 0.0], dtype=np.float32))
    assert seen == [["Blossom end rot has a cause in the soil.", shared]]
    assert (index, highlight.text, highlight.start) == (0, shared, 41)


def test_a_yes_or_no_question_gets_the_belief_and_its_denial() -> None:
    text = ("长城修建于多个朝代。有一种流行的说法，认为在太空中用肉眼能看到长城。"
            "长城宽度只有几米，在近地轨道上用肉眼很难分辨。长城是世界遗产。")
    assert _best("在太空中能用肉眼看到长城吗", text)[0].text == (
        "有一种流行的说法，认为在太空中用肉眼能看到长城。长城宽度只有几米，在近地轨道上用肉眼很难分辨。")


# --- a lexical search never asks the model ------------------------------------------------

def test_a_lexical_search_never_asks_the_model(search_searcher: Searcher,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    # The two zorblax-enzyme sentences tie: hybrid settles that by meaning (the query's
    # vector is at hand), lexical by the first query term's place, without the model.
    # "repairing" is in a title only: no body sentence holds it.
    asked: list[list[str]] = []
    embed = search_searcher._embeddings.embed

    def counted(texts: list[str]) -> np.ndarray:
        asked.append(list(texts))
        return embed(texts)

    monkeypatch.setattr(search_searcher._embeddings, "embed", counted)
    for query in ("zorblax enzyme", "printing press", "repairing", "长城"):
        for group_by in (None, "document"):
            options = SearchOptions(k=5, mode=Mode.LEXICAL, group_by=group_by)
            assert search_searcher.search(query, options).results
    assert asked == []
    search_searcher.search("zorblax enzyme", SearchOptions(k=5, mode=Mode.HYBRID))
    query, sentences = asked  # the query itself, then its tied sentences
    assert query == ["zorblax enzyme"] and len(sentences) == 2


# --- a hit that stands for its document (grouped search) ----------------------------------

@pytest.mark.parametrize("mode", list(Mode))
def test_grouped_hits_agree_with_their_highlights(search_searcher: Searcher,
                                                  mode: Mode) -> None:
    for query in ("steam printing press", "who spread printing across Europe",
                  "glue a patch on the hole", "明朝重修长城"):
        options = SearchOptions(k=5, mode=mode, group_by="document")
        for hit in search_searcher.search(query, options).results:
            view = search_searcher.document(hit.doc_id)
            assert view is not None
            (chunk,) = [c for c in view.chunks if c.chunk_id == hit.chunk_id]
            assert (chunk.ordinal, chunk.text, chunk.start, chunk.end) == (
                hit.ordinal, hit.text, hit.start, hit.end)
            for highlight in hit.highlights:
                assert hit.start <= highlight.start < highlight.end <= hit.end
                assert hit.text[highlight.start - hit.start:highlight.end - hit.start] == \
                    highlight.text


def test_a_lower_ranked_chunk_shows_only_when_clearly_better() -> None:
    top = "Bees live in hives. The hive is warm."
    answer = "A worker bee born in summer lives five weeks."
    slightly = "The bee hive keeps bees."
    # The answer's chunk holds far more of the query's weight: it shows, as chunk 1.
    ((index, (highlight,)),) = highlight_documents(
        "how long does a worker bee live in summer", [[(top, 0), (answer, 200)]])
    assert (index, highlight.text, highlight.start) == (1, answer, 200)
    # A chunk as good as the top one, or a little better, does not.
    ((index, (highlight,)),) = highlight_documents("bee hive", [[(top, 0), (slightly, 200)]])
    assert (index, highlight.text) == (0, "Bees live in hives.")
    # A blank document has nothing to show.
    assert highlight_documents("bee", [[(" ", 0)]]) == [(0, [])]
