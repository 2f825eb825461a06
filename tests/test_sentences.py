"""indexer.sentences: whole sentences across soft wraps, exact offsets, headings marked."""

from semsearch.indexer.sentences import split_sentences


def _texts(text: str, headings: tuple[str, ...] = ()) -> list[str]:
    return [text[s.start:s.end] for s in split_sentences(text, headings)]


def test_english_sentences() -> None:
    text = "  Hello world. How are you?  Fine!\nNext line without stop"
    assert _texts(text) == ["Hello world.", "How are you?", "Fine!", "Next line without stop"]


def test_chinese_sentences_need_no_space() -> None:
    text = "今天天气很好。我们去公园吧！你来吗？好的"
    assert _texts(text) == ["今天天气很好。", "我们去公园吧！", "你来吗？", "好的"]


def test_blank_text_has_no_sentence() -> None:
    assert split_sentences("") == []
    assert split_sentences("   \n ") == []


def test_soft_wrapped_lines_join_with_exact_offsets() -> None:
    text = ("The tower was built of granite blocks\nand the lamp was first lit on 14 October\n"
            "1871. It still\nstands.\n\nA new paragraph")
    sentences = split_sentences(text)
    assert _texts(text) == [
        "The tower was built of granite blocks\nand the lamp was first lit on 14 October\n1871.",
        "It still\nstands.", "A new paragraph"]
    assert sentences[1].start == text.index("It still")
    assert sentences[1].end == text.index("stands.") + len("stands.")


def test_restructuredtext_title_and_soft_wraps() -> None:
    text = ("Compound interest\n=================\n\nA nominal rate of 5 percent compounded\n"
            "monthly corresponds to an\neffective annual rate of about 5.12 percent.\n")
    sentences = split_sentences(text)
    assert [(text[s.start:s.end], s.heading) for s in sentences] == [
        ("Compound interest", True), ("=================", True),
        ("A nominal rate of 5 percent compounded\nmonthly corresponds to an\neffective annual "
         "rate of about 5.12 percent.", False)]


def test_list_items_blank_lines_and_a_final_colon_end_sentences() -> None:
    text = "Steps to follow:\n- Filter hard water\n- Descale the kettle\nwith vinegar\n\nDone"
    assert _texts(text) == ["Steps to follow:", "- Filter hard water",
                            "- Descale the kettle\nwith vinegar", "Done"]


def test_a_colon_wrapped_inside_a_sentence_does_not_end_it() -> None:
    text = ("Pour twice the coffee's weight in water. This is the bloom:\n"
            "fresh coffee releases gas for 30 to 45 seconds.\nNext, pour the rest:\n- slowly")
    assert _texts(text) == [
        "Pour twice the coffee's weight in water.",
        "This is the bloom:\nfresh coffee releases gas for 30 to 45 seconds.",
        "Next, pour the rest:", "- slowly"]


def test_initials_and_abbreviations_do_not_end_a_sentence() -> None:
    text = ("In 1975 John C. Bogle\nfounded Vanguard, e.g. its first fund. Dr. Smith agreed. "
            "The price is 5.12 dollars. It rose.")
    assert _texts(text) == ["In 1975 John C. Bogle\nfounded Vanguard, e.g. its first fund.",
                            "Dr. Smith agreed.", "The price is 5.12 dollars.", "It rose."]


def test_a_short_pdf_heading_line_is_not_joined_to_the_body() -> None:
    text = ("The colony\nA honey bee colony has one queen and many workers.\n"
            "Why costs matter\nThe yearly cost of a fund is its expense ratio.")
    sentences = split_sentences(text)
    assert [(text[s.start:s.end], s.heading) for s in sentences] == [
        ("The colony", True), ("A honey bee colony has one queen and many workers.", False),
        ("Why costs matter", True), ("The yearly cost of a fund is its expense ratio.", False)]


def test_given_headings_are_marked_wherever_they_stand() -> None:
    text = "Greens and browns\nAdd two parts browns to one of greens."
    assert [s.heading for s in split_sentences(text, ("Compost", "Greens and browns"))] == \
        [True, False]
