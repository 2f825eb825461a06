"""How well a passage of a chunk answers a query: its query terms, weighted by rarity,
and the kind of answer the query asks for (`search.highlight` chooses by these scores)."""

import math
import re
from collections import Counter
from collections.abc import Iterable

from semsearch.indexer.sentences import Sentence
from semsearch.search.answer_kinds import AnswerKind, answer_sentences

# Another chunk of a document shows instead of the one ranked best only when its passage
# holds this many times the terms' weight: retrieval ranked the shown chunk on all of its
# text, a passage's terms are weaker evidence. 1.25 to 2 scored alike on
# corpus/eval/highlights.jsonl (grouped); 1 (the best passage anywhere) lost 2 of 60 hybrid.
OTHER_CHUNK_MARGIN = 1.5
# A term's count in a sentence saturates as in BM25 (k1): a second `moon` counts, less.
TERM_SATURATION = 1.2
# A highlight of two sentences is at most this long, so it stays a thing read at a glance.
PAIR_CHARACTERS = 400
_WORD_CHAR = re.compile(r"\w")
_BLANK_LINE = re.compile(r"\n[ \t]*\n")


def term_weights(found: list[dict[int, Counter[str]]], sentences: int) -> dict[str, float]:
    """Each term's weight: BM25's inverse document frequency, the sentences of all the
    chunks standing for the documents (terms held by no sentence left out)."""
    held = Counter(term for by_sentence in found for counts in by_sentence.values()
                   for term in counts)
    return {term: math.log(1 + (sentences - count + 0.5) / (count + 0.5))
            for term, count in held.items()}


class PassageScorer:
    """Scores passages of one or two sentences: weighted terms, and the answer asked for.

    Holding a decisive kind of answer (`AnswerKind.decisive`) comes first; a weaker kind
    counts as much as a typical term (the mean weight of the terms found).
    """

    def __init__(self, weights: dict[str, float], kind: AnswerKind | None) -> None:
        self.weights = weights
        self.kind = kind
        self.answer_weight = sum(weights.values()) / len(weights) if weights else 0.0

    def best_passages(self, text: str, sentences: tuple[Sentence, ...],
                      found: dict[int, Counter[str]]
                      ) -> tuple[tuple[bool, float], list[tuple[int, int]]]:
        """The best passages that start at a body sentence holding a term (or a decisive
        answer): their score (a decisive answer held, then the terms' and the weaker
        answer's weight) and their spans, the best first then any that score as much (a
        tie); no spans when none does."""
        answers = answer_sentences(self.kind, text, sentences) if self.kind is not None \
            else (False,) * len(sentences)
        decisive = self.kind is not None and self.kind.decisive
        starts = set(found) | {index for index, held in enumerate(answers) if held and decisive}
        scored: list[tuple[tuple[bool, float, int, int], tuple[int, int]]] = []
        for index in sorted(starts):
            if sentences[index].heading:
                continue
            last = index + 1 if self._runs_on(text, sentences, found, answers, index) \
                else index
            for end in range(index, last + 1):
                held: Counter[str] = Counter()
                for part in range(index, end + 1):
                    held.update(found.get(part, Counter()))
                answered = any(answers[index:end + 1])
                score = self._score(held, answered and not decisive)
                # Then fewer sentences, then the earlier.
                scored.append(((answered and decisive, round(score, 9), index - end, -index),
                               (sentences[index].start, sentences[end].end)))
        if not scored:
            return (False, 0.0), []
        scored.sort(reverse=True)
        best = scored[0][0][:2]
        tied = [span for key, span in scored if key[:2] == best]
        if len(tied) > 1:  # the one naming a query term nearest its start: it is about it
            lowered = text.lower()
            tied.sort(key=lambda span: first_term_offset(lowered, span, self.weights))
        return best, tied

    def _score(self, held: Counter[str], answers: bool) -> float:
        terms = sum(self.weights[term] * count * (TERM_SATURATION + 1)
                    / (count + TERM_SATURATION) for term, count in held.items())
        return terms + (self.answer_weight if answers else 0.0)

    def _runs_on(self, text: str, sentences: tuple[Sentence, ...],
                 found: dict[int, Counter[str]], answers: tuple[bool, ...],
                 index: int) -> bool:
        """Whether sentence `index` and the next of its paragraph may be one passage: this
        one holds query terms that the next lacks, and the next holds other terms or the
        answer this one lacks, each part worth a typical term at least (the subject,
        then what is said of it); or this one ends in a colon (it introduces the next)."""
        after = index + 1
        if after >= len(sentences) or sentences[after].heading \
                or _BLANK_LINE.search(text, sentences[index].end, sentences[after].start) \
                or sentences[after].end - sentences[index].start > PAIR_CHARACTERS:
            return False
        if text[sentences[index].end - 1] in ":：":
            return True
        first, second = set(found.get(index, ())), set(found.get(after, ()))
        gives = sum(self.weights[term] for term in first - second)
        adds = sum(self.weights[term] for term in second - first) + (
            self.answer_weight if answers[after] and not answers[index] else 0.0)
        return min(gives, adds) >= self.answer_weight > 0


def clearly_better(key: tuple[bool, float], than: tuple[bool, float]) -> bool:
    """Whether a passage scored `key` in a lower ranked chunk beats the best one so far,
    scored `than`: it keeps any decisive answer, and holds `OTHER_CHUNK_MARGIN` times the
    terms' weight, or as much and the decisive answer the other lacks."""
    (decisive, score), (best_decisive, best_score) = key, than
    if best_decisive and not decisive:
        return False
    return score > OTHER_CHUNK_MARGIN * best_score or (
        decisive and not best_decisive and score >= best_score)


def first_term_offset(lowered: str, span: tuple[int, int], terms: Iterable[str]) -> int:
    """How far into `lowered[span[0]:span[1]]` a word starting with one of `terms` first
    stands (its length when none does)."""
    start, end = span
    lead = end - start
    for term in terms:
        at = lowered.find(term, start, start + lead)
        while at >= 0 and at > start and _WORD_CHAR.match(lowered, at - 1):
            at = lowered.find(term, at + 1, start + lead)
        if at >= 0:
            lead = at - start
    return lead
