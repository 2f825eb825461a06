"""A context for a chat model: the best passages for a question, within a token budget.

Steps: search for `k` chunks; merge those of one document that overlap or are
neighbours into one passage (`search.passages`); fold passages whose text another one
already holds into its citation; then number the passages best first and pack them
into one string, `[1] citation line`, then the passage's text, blank line between.

Budget: tokens are counted with the index model's own tokenizer (no special tokens),
over the whole context string, markers and citation lines included, so the answer
never holds more than `token_budget` of those tokens. A chat model's tokenizer counts
differently, so leave it a margin. The first passage that does not fit whole is cut at
the last sentence end that fits (`sentence_ends`); if not even its first sentence fits,
it is dropped. Packing stops there: lower-ranked passages never slip in after a cut.
"""

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any

from semsearch.search.errors import InvalidQueryError
from semsearch.search.options import Mode, SearchOptions
from semsearch.search.passages import Passage, fold_duplicates, merge_hits

if TYPE_CHECKING:  # the type only: building a context needs no FAISS of its own
    from semsearch.search.searcher import Searcher

MAX_TOKEN_BUDGET = 32_768
DEFAULT_TOKEN_BUDGET = 2_000
PASSAGE_SEPARATOR = "\n\n"
TITLE_CHARS = 100  # longer titles are cut in citation lines

TokenCounter = Callable[[Sequence[str]], list[int]]

# Where a cut may end a passage: after . ! ? (and closing quotes, brackets, emphasis)
# before a space, after Chinese 。！？, or at the end of a paragraph. Not at every line
# break, unlike the chunker: Markdown and PDF text break lines inside sentences.
_CUT_AFTER = re.compile(r"[.!?][\"'’”)\]*_]*(?=\s)|[。！？]+[”’」』）)]*|\S(?=[ \t]*\n[ \t]*\n)")


@dataclass
class ContextResult:
    """The packed context and its passages; `passages[i]` is marker `[i + 1]`.

    `note` says in words why the context is empty or shorter than asked for, else None.
    """

    question: str
    context: str
    passages: list[Passage]
    token_count: int
    token_budget: int
    score_kind: str
    note: str | None
    timings_ms: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def token_counter(tokenizer: Any) -> TokenCounter:
    """Count the tokens of each text with a Hugging Face tokenizer, no special tokens."""
    def count(texts: Sequence[str]) -> list[int]:
        encoded = tokenizer(list(texts), add_special_tokens=False, verbose=False)
        return [len(ids) for ids in encoded["input_ids"]]

    return count


def citation_line(number: int, passage: Passage) -> str:
    """`[n] path, "title", p. 3, chars 120-560 (same text also in: other/path)`.

    A PDF passage names every page its text spans: `p. 3`, or `pp. 3-4`.
    """
    source = passage.source
    parts = [f"[{number}] {source.path}"]
    # A title the text opens with (a .txt file's first line, a heading) is no news.
    if source.title and source.title not in passage.text[:len(source.title) + 8]:
        title = source.title if len(source.title) <= TITLE_CHARS else (
            source.title[:TITLE_CHARS - 1] + "…")
        parts.append(f'"{title}"')
    last_page = passage.last_page
    if passage.page is not None and last_page is not None:
        parts.append(f"p. {passage.page}" if last_page == passage.page else
                     f"pp. {passage.page}-{last_page}")
    parts.append(f"chars {source.start}-{source.end}")
    line = ", ".join(parts)
    if passage.also_in:
        line += f" (same text also in: {', '.join(s.path for s in passage.also_in)})"
    return line


def format_passage(number: int, passage: Passage) -> str:
    return f"{citation_line(number, passage)}\n{passage.text}"


def pack(passages: Sequence[Passage], token_budget: int,
         count_tokens: TokenCounter) -> tuple[list[Passage], str, int]:
    """Number `passages` in order and join them until `token_budget` is reached.

    Each block is counted once and the counts added up, which is exact for tokenizers
    that split at whitespace (WordPiece, the index models'); the joined string is then
    counted whole, and packed again to a smaller target should the joins have cost more.

    Returns:
        The passages kept (the last one possibly cut at a sentence end, marked
        `truncated`), the context string and its token count, within the budget.
    """
    target = token_budget
    while target >= 1:
        kept, context = _pack_to(passages, target, count_tokens)
        tokens = count_tokens([context])[0]
        if tokens <= token_budget:
            return kept, context, tokens
        target -= tokens - token_budget
    return [], "", 0


def _pack_to(passages: Sequence[Passage], target: int,
             count_tokens: TokenCounter) -> tuple[list[Passage], str]:
    separator = count_tokens([PASSAGE_SEPARATOR])[0]
    kept: list[Passage] = []
    used = 0
    for passage in passages:  # counted one by one: the budget often ends early
        size = count_tokens([format_passage(len(kept) + 1, passage)])[0]
        room = target - used - (separator if kept else 0)
        if size <= room:
            kept.append(passage)
            used += size + (separator if len(kept) > 1 else 0)
            continue
        cut = _cut_to_fit(passage, len(kept) + 1, room, count_tokens)
        if cut is not None:
            kept.append(cut)
        break
    kept = [replace(passage, number=number) for number, passage in enumerate(kept, 1)]
    return kept, PASSAGE_SEPARATOR.join(format_passage(p.number, p) for p in kept)


def _cut_to_fit(passage: Passage, number: int, room: int,
                count_tokens: TokenCounter) -> Passage | None:
    """The longest run of `passage`'s leading whole sentences whose block fits `room`."""
    ends = sentence_ends(passage.text)

    def fits(sentences: int) -> bool:
        candidate = format_passage(number, _shortened(passage, ends[sentences - 1]))
        return count_tokens([candidate])[0] <= room

    low, high = 0, len(ends)  # binary search for the most sentences that fit
    while low < high:
        middle = (low + high + 1) // 2
        if fits(middle):
            low = middle
        else:
            high = middle - 1
    return _shortened(passage, ends[low - 1]) if low else None


def sentence_ends(text: str) -> list[int]:
    """Offsets where `text` may be cut after a whole sentence, its own end left out."""
    return sorted({match.end() for match in _CUT_AFTER.finditer(text)} - {len(text)})


def _shortened(passage: Passage, length: int) -> Passage:
    end = passage.start + length
    return replace(passage, text=passage.text[:length], end=end, truncated=True,
                   page_breaks=tuple(b for b in passage.page_breaks if b < end))


def build_context(searcher: "Searcher", question: str, options: SearchOptions | None = None,
                  token_budget: int = DEFAULT_TOKEN_BUDGET) -> ContextResult:
    """Search for `question` and pack the best passages into `token_budget` tokens.

    Args:
        options: as for `Searcher.search` (highlights are not needed and skipped);
            `options.k` chunks are retrieved before merging, so the context holds at
            most that many, and a chunk under `options.min_score` never enters it, even
            when the budget has room.
        token_budget: most tokens of the index model's tokenizer in `context`,
            1 to MAX_TOKEN_BUDGET.

    Raises:
        InvalidQueryError: empty question, budget out of range.
    """
    if not 1 <= token_budget <= MAX_TOKEN_BUDGET:
        raise InvalidQueryError(
            f"token_budget must be between 1 and {MAX_TOKEN_BUDGET}, not {token_budget}")
    options = replace(options or SearchOptions(), highlight=False)
    response = searcher.search(question, options)
    started = time.perf_counter()
    hits = response.results
    pages = searcher.chunk_pages([hit.chunk_id for hit in hits if hit.page is not None])
    passages = fold_duplicates(merge_hits(hits, pages))
    count_tokens = token_counter(searcher.encoder.tokenizer)
    kept, context, token_count = pack(passages, token_budget, count_tokens)
    timings = dict(response.timings_ms)
    timings["pack"] = round((time.perf_counter() - started) * 1000, 2)
    timings["total"] = round(timings.get("total", 0.0) + timings["pack"], 2)
    kind = hits[0].score_kind if hits else _score_kind(options.mode, options.rerank)
    return ContextResult(
        question=question, context=context, passages=kept,
        token_count=token_count, token_budget=token_budget, score_kind=kind,
        note=_note(len(hits), len(passages), kept, token_budget, options.min_score,
                   _gate_kind(options.mode, options.rerank)),
        timings_ms=timings)


def _score_kind(mode: Mode, rerank: bool) -> str:
    if rerank:
        return "cross-encoder"
    return {Mode.DENSE: "cosine", Mode.LEXICAL: "bm25", Mode.HYBRID: "fused"}[mode]


def _gate_kind(mode: Mode, rerank: bool) -> str:
    """What `min_score` is compared with (see `Searcher.search`)."""
    return "bm25" if mode == Mode.LEXICAL and not rerank else (
        "cross-encoder" if rerank else "cosine")


def _note(hit_count: int, passage_count: int, kept: list[Passage], token_budget: int,
          min_score: float | None, gate_kind: str) -> str | None:
    if hit_count == 0 and min_score is not None:
        return (f"no passage scored at least min_score={min_score} ({gate_kind}); "
                "the context is empty rather than padded with weak passages")
    if hit_count == 0:
        return "no passage matched the question (with these filters and mode)"
    if not kept:
        return (f"token_budget={token_budget} cannot hold the best passage's citation line "
                "and first sentence; raise token_budget")
    left_out = passage_count - len(kept)
    if left_out or kept[-1].truncated:
        cut = "; the last one was cut at a sentence end" if kept[-1].truncated else ""
        return (f"{len(kept)} of {passage_count} passages fit in token_budget="
                f"{token_budget}{cut}")
    return None
