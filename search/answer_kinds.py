"""What kind of answer a question asks for, and whether a sentence holds one.

"When was it launched" is answered by a date, "how tall is it" by a length, "what
temperature" by degrees, "why" by a reason: a sentence that holds what the question asks
for is a better highlight than one that only repeats the question's words. Each kind is
a pattern over the question (its question phrase) and a pattern over a sentence (the
evidence). A question of no known kind has no evidence to look for.
"""

import re
from dataclasses import dataclass

# A number: digits, an English number word, or a Chinese numeral (not 一, which starts
# many words that are not numbers).
_NUMBER = (r"(?:\d|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve"
           r"|fifteen|twenty|thirty|forty|fifty|sixty|hundred|thousand|million|billion"
           r"|half|dozen|a few|several)\b|[二三四五六七八九十百千万亿两半])")
_TEMPERATURE = rf"{_NUMBER}[\d.,]*\s*(?:°|℃|℉|degrees?\b|度)"
_LENGTH = (rf"{_NUMBER}[\d.,]*\s*(?:k?m\b|cm\b|mm\b|(?:kilo|centi|milli)?met(?:re|er)s?\b"
           r"|feet\b|foot\b|ft\b|miles?\b|inch(?:es)?\b|米|公里|千米|厘米)")
_DURATION = (rf"{_NUMBER}[\d.,]*\s*(?:(?:to|or|-|–)\s*[\d.,]+\s*)?(?:seconds?|minutes?|hours?"
             r"|days?|weeks?|months?|years?|decades?|秒|分钟|小时|天|周|个月|年)")
_DATE = (r"\b(?:1\d{3}|20\d{2})s?\b|\b(?:\d{1,2}(?:st|nd|rd|th)\s+)?centur(?:y|ies)\b"
         r"|\b(?:BC|AD|BCE|CE)\b|\b(?:January|February|March|April|May|June|July|August"
         r"|September|October|November|December|spring|summer|autumn|winter)\b"
         r"|\d+\s*年|世纪|[明清唐宋元汉秦隋]朝|年间|末年|初年|[春夏秋冬]季|清明|谷雨|立[春夏秋冬]")
_RATIO = (rf"{_NUMBER}[\d.,]*\s*[:：比]\s*\d|\bparts?\b[^.;]*\bto\b|\bto one\b|\bper\b"
          r"|比例")
_SHARE = (rf"{_NUMBER}[\d.,]*\s*(?:%|percent\b|per cent\b)|\b(?:half|third|quarters?"
          r"|fifths?|majority|most)\b|百分之|[一二三四五六七八九]成")
_REASON = (r"\b(?:because|since|so that|due to|as a result|therefore|thus|which is why"
           r"|that is why|caus(?:e|es|ed|ing)|lead(?:s)? to)\b|因为|由于|所以|因此|来自|导致"
           # a sentence that refers back to the one before it goes on explaining it
           r"|^(?:It|They|This|That|These|Those|Such)\b|^(?:这|它|这些|那些)")


@dataclass(frozen=True)
class AnswerKind:
    """A kind of answer: its name, and the pattern of a sentence that holds one."""

    name: str
    evidence: re.Pattern[str]


# (question phrase, kind), most specific first among phrases that start at one place.
_KINDS = [
    (r"\b(?:what|which)\s+(?:\w+\s+){0,2}?temperatures?\b|\bhow (?:hot|cold|warm)\b"
     r"|多少度|温度|水温", AnswerKind("temperature", re.compile(_TEMPERATURE, re.I))),
    (r"\bhow (?:tall|high|far|deep|wide)\b|\b(?:what|which)\s+(?:\w+\s+){0,2}?"
     r"(?:altitude|height|distance|depth|length)s?\b|多高|多远|多深|多长|长度|里程",
     AnswerKind("length", re.compile(rf"{_LENGTH}|{_DURATION}", re.I))),
    (r"\bhow long\b|\bhow often\b|多久|多长时间",
     AnswerKind("duration", re.compile(rf"{_DURATION}|{_LENGTH}", re.I))),
    (r"\bwhen\b|\bwhat year\b|\bwhich year\b|\bwhat century\b|什么时候|哪一?年|何时",
     AnswerKind("date", re.compile(_DATE, re.I))),
    (r"\b(?:what|which)\s+(?:\w+\s+){0,2}?ratio\b|\bratio\b|比例",
     AnswerKind("ratio", re.compile(_RATIO, re.I))),
    (r"\b(?:what|which)\s+(?:\w+\s+){0,2}?(?:share|percentage|proportion|fraction)\b",
     AnswerKind("share", re.compile(_SHARE, re.I))),
    (r"\bhow (?:many|much|big|large|old|heavy|fast)\b|\bnumber of\b|多少|几",
     AnswerKind("number", re.compile(_NUMBER, re.I))),
    (r"\bwhy\b|为什么|为何|因为什么",
     AnswerKind("reason", re.compile(_REASON, re.M))),
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


def holds_answer(kind: AnswerKind, text: str, start: int, end: int) -> bool:
    """Whether the sentence `text[start:end]` holds an answer of `kind`."""
    return kind.evidence.search(text[start:end]) is not None
