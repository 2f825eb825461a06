"""search.answer_kinds: the kind of answer a question asks for, and the sentences holding one."""

import pytest

from semsearch.indexer.sentences import split_sentences
from semsearch.search.answer_kinds import answer_kind, answer_sentences


@pytest.mark.parametrize("query, kind", [
    ("what water temperature should I brew coffee at", "temperature"),
    ("how hot does a compost heap get", "temperature"),
    ("泡绿茶用多少度的水", "temperature"),
    ("how tall is the Pont du Gard", "length"),
    ("中国高铁营业里程有多长", "length"),
    ("how long should the bloom last", "duration"),
    ("when was the first index fund launched", "date"),
    ("二十四式简化太极拳是哪一年编成的", "date"),
    ("what ratio of browns to greens should a heap have", "ratio"),
    ("泡绿茶的茶水比例是多少", "ratio"),  # 比例 comes before 多少
    ("what share of active volcanoes lie on the Ring of Fire", "share"),
    ("how many eggs does a queen lay", "number"),
    ("why is a sharp knife safer", "reason"),
    ("what causes blossom end rot", "reason"),
    ("鱼香肉丝为什么叫鱼香", "reason"),
    ("在太空中能用肉眼看到长城吗", "yes or no"),
    ("can you see the Great Wall from space", "yes or no"),
])
def test_the_question_phrase_names_the_kind(query: str, kind: str) -> None:
    found = answer_kind(query)
    assert found is not None and found.name == kind


@pytest.mark.parametrize("query", ["what is a Python wheel", "git rebase", "", "长城"])
def test_a_question_of_no_known_kind_has_none(query: str) -> None:
    assert answer_kind(query) is None


def _held(query: str, text: str) -> list[str]:
    kind = answer_kind(query)
    assert kind is not None
    sentences = tuple(split_sentences(text))
    return [text[s.start:s.end]
            for s, held in zip(sentences, answer_sentences(kind, text, sentences), strict=True)
            if held]


def test_a_unit_holds_the_answer_only_after_a_number() -> None:
    text = ("Measure the temperature in degrees. Keep it near 24 to 27 degrees Celsius. "
            "Water boils at 100 °C.")
    assert _held("what temperature should a starter be kept at", text) == [
        "Keep it near 24 to 27 degrees Celsius.", "Water boils at 100 °C."]
    text = "It stands about 49 metres high. The metres were measured twice."
    assert _held("how tall is it", text) == ["It stands about 49 metres high."]


def test_dates_ratios_and_shares() -> None:
    assert _held("when was it launched", "It came later. In 1976 it was launched.") == [
        "In 1976 it was launched."]
    assert _held("what ratio of tea to water", "Tea matters. Use 1:50 by weight.") == [
        "Use 1:50 by weight."]
    assert _held("泡绿茶的茶水比例是多少", "第二，掌握茶水比例。常见的比例约为1:50。") == [
        "常见的比例约为1:50。"]
    assert _held("what share of volcanoes", "Volcanoes erupt. It holds three quarters.") == [
        "It holds three quarters."]


def test_a_reason_is_a_causal_word_or_a_sentence_that_refers_back() -> None:
    text = ("Never use a stove inside a tent. They give off carbon monoxide. Tents burn "
            "because nylon melts. The end.")
    assert _held("why not use a stove in a tent", text) == [
        "They give off carbon monoxide.", "Tents burn because nylon melts."]


def test_a_yes_or_no_is_a_sentence_that_denies_or_affirms() -> None:
    text = "有一种说法认为长城在太空中能看到。长城宽度只有几米，很难分辨。长城很长。"
    assert _held("在太空中能用肉眼看到长城吗", text) == ["长城宽度只有几米，很难分辨。"]
    text = "Some say the wall is visible from orbit. It is not, as it is narrow. It is long."
    assert _held("can you see the wall from orbit", text) == [
        "It is not, as it is narrow."]
