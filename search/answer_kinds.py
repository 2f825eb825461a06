"""What kind of answer a question asks for, and which sentences hold one.

"When was it launched" is answered by a date, "how tall is it" by a length, "what
temperature" by degrees, "why" by a reason: a sentence that holds what the question asks
for is a better highlight than one that only repeats the question's words. Each kind is
a pattern over the question (its question phrase) and, over a sentence, the words that
make the evidence: a unit after a number ("49 metres", "90 to 96 °C"), a year or a
season, a word like "because". Words are looked up in sets after one scan of the text
(regular expressions with many alternatives, tried at every character, cost a
millisecond a chunk); Chinese evidence, inside runs of characters, is a short pattern.
"""

import re
from bisect import bisect_right
from dataclasses import dataclass
from functools import lru_cache

from semsearch.indexer.sentences import Sentence

_TOKEN = re.compile(r"\w+|[°℃℉%:：]")
_NUMBER_WORDS = frozenset({
    "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
    "twelve", "fifteen", "twenty", "thirty", "forty", "fifty", "sixty", "hundred",
    "thousand", "million", "billion", "half", "dozen", "few", "several"})
_MONTHS_AND_SEASONS = frozenset({
    "january", "february", "march", "april", "may", "june", "july", "august", "september",
    "october", "november", "december", "spring", "summer", "autumn", "winter", "century",
    "centuries", "bc", "ad", "bce"})
_YEAR = re.compile(r"(?:1\d{3}|20\d{2})s?$")
# A unit counts when a number stands this many words before it at most ("30 to 45
# seconds", "24 to 27 degrees Celsius").
_UNIT_REACH = 3
_REFERS_BACK = re.compile(r"(?:It|They|This|That|These|Those|Such)\b|这|它|那些")


@dataclass(frozen=True)
class AnswerKind:
    """A kind of answer, and what in a sentence holds one.

    Attributes:
        name: what it is called.
        units: words that hold the answer after a number ("metres").
        words: words that hold it alone ("because"; for `dates`, years count too).
        chinese: a pattern of the answer in Chinese text, or "".
        numbers: any number holds it.
        dates: a year, a month, a season holds it.
        decisive: a question of this kind is answered only by a sentence that holds one
            (a temperature); otherwise holding one is weaker evidence (any number).
        refers_back: a sentence that begins by referring to the one before it ("They
            produce carbon monoxide") holds one: it goes on explaining.
    """

    name: str
    units: frozenset[str] = frozenset()
    words: frozenset[str] = frozenset()
    chinese: str = ""
    numbers: bool = False
    dates: bool = False
    decisive: bool = True
    refers_back: bool = False


_DURATIONS = frozenset({
    "second", "seconds", "minute", "minutes", "hour", "hours", "day", "days", "week",
    "weeks", "month", "months", "year", "years", "decade", "decades"})
_LENGTHS = frozenset({
    "m", "km", "cm", "mm", "metre", "metres", "meter", "meters", "kilometre", "kilometres",
    "kilometer", "kilometers", "feet", "foot", "ft", "mile", "miles", "inch", "inches"})
_CHINESE_LENGTH = r"[0-9二三四五六七八九十百千万两半]+\s*(?:米|公里|千米|厘米)"
_CHINESE_DURATION = r"[0-9二三四五六七八九十百千万两半]+\s*(?:秒|分钟|小时|天|周|个月|年)"

# (question phrase, kind), most specific first among phrases that start at one place.
_KINDS = [
    (r"\b(?:what|which)\s+(?:\w+\s+){0,2}?temperatures?\b|\bhow (?:hot|cold|warm)\b"
     r"|多少度|温度|水温",
     AnswerKind("temperature", units=frozenset({"°", "℃", "℉", "degree", "degrees"}),
                chinese=r"\d+\s*(?:℃|度)")),
    (r"\bhow (?:tall|high|far|deep|wide)\b|\b(?:what|which)\s+(?:\w+\s+){0,2}?"
     r"(?:altitude|height|distance|depth|length)s?\b|多高|多远|多深|多长|长度|里程",
     AnswerKind("length", units=_LENGTHS | _DURATIONS,
                chinese=f"{_CHINESE_LENGTH}|{_CHINESE_DURATION}")),
    (r"\bhow long\b|\bhow often\b|多久|多长时间",
     AnswerKind("duration", units=_DURATIONS | _LENGTHS,
                chinese=f"{_CHINESE_DURATION}|{_CHINESE_LENGTH}")),
    (r"\bwhen\b|\bwhat year\b|\bwhich year\b|\bwhat century\b|什么时候|哪一?年|何时",
     AnswerKind("date", dates=True,
                chinese=r"\d+\s*年|世纪|[明清唐宋元汉秦隋]朝|年间|末年|初年|[春夏秋冬]季|清明|立[春夏秋冬]")),
    (r"\b(?:what|which)\s+(?:\w+\s+){0,2}?ratio\b|\bratio\b|比例",
     AnswerKind("ratio", units=frozenset({":", "：", "parts", "part", "per"}),
                chinese=r"\d+\s*[:：比]\s*\d")),
    (r"\b(?:what|which)\s+(?:\w+\s+){0,2}?(?:share|percentage|proportion|fraction)\b",
     AnswerKind("share", units=frozenset({"%", "percent"}),
                words=frozenset({"half", "third", "thirds", "quarter", "quarters", "fifth",
                                 "majority", "most"}),
                chinese=r"百分之|[一二三四五六七八九]成")),
    (r"\bhow (?:many|much|big|large|old|heavy|fast)\b|\bnumber of\b|多少|几",
     AnswerKind("number", numbers=True, chinese=r"[0-9二三四五六七八九十百千万亿两]",
                decisive=False)),
    (r"\bwhy\b|\bwhat (?:causes|caused|makes)\b|为什么|为何|因为什么",
     AnswerKind("reason", words=frozenset({"because", "since", "therefore", "thus", "hence",
                                           "due", "cause", "causes", "caused", "causing"}),
                chinese=r"因为|由于|所以|因此|来自|导致", decisive=False, refers_back=True)),
    # A yes-or-no question is answered by a sentence that affirms or denies, and the denial
    # of a common belief is what such a question is most often after.
    (r"^\s*(?:can|could|is|are|was|were|do|does|did|will|would|should|has|have)\b"
     r"|[吗么][？?]?\s*$",
     AnswerKind("yes or no", words=frozenset({
         "not", "no", "never", "cannot", "however", "but", "although", "though", "myth",
         "misconception", "only", "indeed", "yes"}),
         chinese=r"不|没有|但|却|虽然|并非|其实|很难|误解", decisive=False)),
]
_QUESTIONS = [(re.compile(question, re.I), kind) for question, kind in _KINDS]


def answer_kind(query: str) -> AnswerKind | None:
    """The kind of answer `query` asks for: the kind whose question phrase starts first
    in it (the longer phrase, then the earlier kind, at one place), or None."""
    found = []
    for order, (question, kind) in enumerate(_QUESTIONS):
        match = question.search(query)
        if match:
            found.append((match.start(), -len(match.group(0)), order, kind))
    return min(found, key=lambda entry: entry[:3])[3] if found else None


@lru_cache(maxsize=4096)
def answer_sentences(kind: AnswerKind, text: str,
                     sentences: tuple[Sentence, ...]) -> tuple[bool, ...]:
    """Which of the `sentences` of `text` hold an answer of `kind` (remembered, as the
    same chunks come back for the same kind of question)."""
    starts = [sentence.start for sentence in sentences]
    held = [False] * len(sentences)
    for at in _evidence(kind, text):
        index = bisect_right(starts, at) - 1
        if index >= 0 and at < sentences[index].end:
            held[index] = True
    if kind.refers_back:
        for index, sentence in enumerate(sentences):
            held[index] = held[index] or _REFERS_BACK.match(text, sentence.start) is not None
    return tuple(held)


def _evidence(kind: AnswerKind, text: str) -> list[int]:
    """Where in `text` an answer of `kind` stands (the offsets of its words)."""
    tokens = _tokens(text)
    places = []
    if kind.numbers:
        places += [at for at, word in tokens if word[:1].isdigit() or word in _NUMBER_WORDS]
    if kind.dates:
        places += [at for at, word in tokens if word in _MONTHS_AND_SEASONS
                   or (word[:1].isdigit() and _YEAR.match(word))]
    if kind.words:
        places += [at for at, word in tokens if word in kind.words]
    if kind.units:
        places += [at for position, (at, word) in enumerate(tokens) if word in kind.units
                   and any(_is_number(before) for _, before
                           in tokens[max(0, position - _UNIT_REACH):position])]
    if kind.chinese and not text.isascii():
        places.extend(match.start() for match in re.finditer(kind.chinese, text))
    return places


@lru_cache(maxsize=4096)
def _tokens(text: str) -> list[tuple[int, str]]:
    """The words of `text` (and the signs °, %, :), lower-cased, with their offsets."""
    lowered = text.lower()
    if len(lowered) != len(text):  # lower-casing moved offsets: one word at a time
        return [(match.start(), match.group(0).lower()) for match in _TOKEN.finditer(text)]
    return [(match.start(), match.group(0)) for match in _TOKEN.finditer(lowered)]


def _is_number(word: str) -> bool:
    return word[:1].isdigit() or word in _NUMBER_WORDS
