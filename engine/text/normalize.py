"""Text normalisation: match on folded text, report evidence in the customer's own words.

Two levels, each with a map back to the original turn:

* the **folded** text — NFKC (full-width → half-width), traditional → simplified Chinese,
  lower case. Amounts and dates are read from it, because it keeps "5.5元" intact.
* the **match** text — the folded text without punctuation, spaces between Chinese
  characters and fillers ("嗯", "呃", "um"), so "绝对，呃，免费" matches "绝对免费". Clause
  boundaries and questions are remembered for negation and question checks.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

DEFAULT_FILLERS: dict[str, tuple[str, ...]] = {
    "zh": ("嗯", "呃", "唔", "呣"),  # not 额: it is also the 额 of 余额, 金额
    "en": ("um", "umm", "er", "erm", "hmm"),
}
# Kept although they are punctuation: they are part of amounts and words.
_KEEP_BETWEEN_DIGITS = frozenset(".,:")
_KEEP_ALWAYS = frozenset("%‰‱'")
_CLAUSE_END_RE = re.compile("[，。！？；,.!?;…\n、]")
_QUESTION_RE = re.compile("[?？]")
# Sentence-final particles that make a Chinese clause a question even without "？".
_QUESTION_PARTICLES = "吗么"


@lru_cache(maxsize=1)
def _t2s_table() -> dict[int, str]:
    """Traditional → simplified, character by character, so spans stay one-to-one.

    Built once from OpenCC's own data; phrase-level conversion would change lengths.
    """
    import opencc

    converter = opencc.OpenCC("t2s")
    table: dict[int, str] = {}
    for first, last in ((0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF)):
        chars = "".join(chr(code) for code in range(first, last + 1))
        converted = converter.convert(chars)
        if len(converted) != len(chars):  # never seen; fall back to one call per character
            converted = "".join(converter.convert(c) or c for c in chars)
        table.update(
            {ord(a): b for a, b in zip(chars, converted, strict=False) if a != b and len(b) == 1}
        )
    table[ord("’")] = "'"
    table[ord("‘")] = "'"
    return table


@dataclass(frozen=True)
class FoldedText:
    """Text after NFKC, traditional → simplified and lower-casing."""

    text: str
    # origin[i]: index in the original of folded character i; None when the mapping is 1:1.
    origin: tuple[int, ...] | None
    original_length: int

    def to_original(self, start: int, end: int) -> tuple[int, int]:
        """The original span of folded span [start, end)."""
        if self.origin is None:
            return start, end
        if start >= end:
            at = self.origin[start] if start < len(self.origin) else self.original_length
            return at, at
        return self.origin[start], self.origin[end - 1] + 1


def fold(text: str) -> FoldedText:
    """Fold one turn; when NFKC keeps the length (almost always: full-width "，" becomes ","
    one for one), the whole turn is folded in C and positions stay one to one."""
    table = _t2s_table()
    nfkc = text if unicodedata.is_normalized("NFKC", text) else unicodedata.normalize("NFKC", text)
    if len(nfkc) == len(text):
        folded = nfkc.translate(table).lower()
        if len(folded) == len(text):
            return FoldedText(folded, None, len(text))
    pieces: list[str] = []
    origin: list[int] = []
    for index, char in enumerate(text):
        out = unicodedata.normalize("NFKC", char).translate(table).lower()
        pieces.append(out)
        origin.extend([index] * len(out))
    return FoldedText("".join(pieces), tuple(origin), len(text))


@dataclass(frozen=True)
class NormalizedTurn:
    """One turn ready for matching, with everything needed to point back at the original."""

    original: str
    folded: FoldedText
    text: str  # the match text
    # Sorted (match position, folded position) pairs: each starts a run copied one to one.
    segments: tuple[tuple[int, int], ...]
    clause_starts: tuple[int, ...]  # match positions where a clause begins (always has 0)
    question_clauses: frozenset[int]  # indexes into clause_starts of clauses that ask

    def to_folded(self, position: int) -> int:
        """Folded position of a match-text position."""
        index = bisect_right(self.segments, (position, 1 << 62)) - 1
        match_at, folded_at = self.segments[max(index, 0)]
        return folded_at + (position - match_at)

    def to_original(self, start: int, end: int) -> tuple[int, int]:
        """The original span of match-text span [start, end)."""
        if start >= end:
            at = self.folded.to_original(self.to_folded(start), self.to_folded(start))[0]
            return at, at
        first = self.to_folded(start)
        last = self.to_folded(end - 1)
        return self.folded.to_original(first, last + 1)

    def clause_of(self, position: int) -> int:
        """Index of the clause holding a match-text position."""
        return bisect_right(self.clause_starts, position) - 1

    def clause_start(self, position: int) -> int:
        return self.clause_starts[self.clause_of(position)]

    def is_question_at(self, position: int) -> bool:
        return self.clause_of(position) in self.question_clauses


class Normalizer:
    """Normalises turns and phrases of one language the same way; built once per rule pack."""

    def __init__(self, language: str, fillers: Iterable[str] | None = None) -> None:
        self.language = language
        words = tuple(DEFAULT_FILLERS.get(language, ()) if fillers is None else fillers)
        cjk = sorted({w for w in words if not w.isascii()}, key=len, reverse=True)
        latin = sorted({w.lower() for w in words if w.isascii()}, key=len, reverse=True)
        parts = [r"[^\w%‰‱']"]  # punctuation, spaces and symbols other than the kept ones
        if cjk:
            parts.append("|".join(re.escape(w) for w in cjk))
        if latin:
            parts.append(r"\b(?:" + "|".join(re.escape(w) for w in latin) + r")\b")
        self._separator = re.compile("(?:" + "|".join(parts) + ")+")
        self._particle = re.compile(f"[{_QUESTION_PARTICLES}]") if language == "zh" else None

    def normalize(self, text: str) -> NormalizedTurn:
        """The match text of one turn, with its maps and clauses."""
        folded = fold(text)
        source = folded.text
        pieces: list[str] = []
        segments: list[tuple[int, int]] = [(0, 0)]
        clause_starts = [0]
        questions: set[int] = set()
        length = 0
        kept_from = 0
        size = len(source)
        for run in self._separator.finditer(source):
            start, end = run.span()
            before = source[start - 1] if start else ""
            after = source[end] if end < size else ""
            if end - start == 1:
                chunk = source[start]
                if (chunk in _KEEP_BETWEEN_DIGITS and before.isdigit() and after.isdigit()) or (
                    chunk == "_" and before and after
                ):
                    continue
            if start > kept_from:
                pieces.append(source[kept_from:start])
                length += start - kept_from
            # Two Latin words stay two words: the run becomes one space.
            if before.isascii() and before.isalnum() and after.isascii() and after.isalnum():
                pieces.append(" ")
                segments.append((length, start))
                length += 1
            if _CLAUSE_END_RE.search(source, start, end):
                asks = _QUESTION_RE.search(source, start, end) is not None
                if length > clause_starts[-1]:
                    if asks:
                        questions.add(len(clause_starts) - 1)
                    clause_starts.append(length)
                elif asks and len(clause_starts) > 1:
                    questions.add(len(clause_starts) - 2)
            kept_from = end
            if segments[-1][0] == length:
                segments[-1] = (length, end)  # nothing kept since: the later run wins
            else:
                segments.append((length, end))
        pieces.append(source[kept_from:])
        match_text = "".join(pieces)
        if clause_starts[-1] >= len(match_text) and len(clause_starts) > 1:
            clause_starts.pop()
        if self._particle is not None and ("吗" in match_text or "么" in match_text):
            clause_starts, questions = self._particle_questions(
                match_text, clause_starts, questions
            )
        return NormalizedTurn(
            original=text,
            folded=folded,
            text=match_text,
            segments=tuple(segments),
            clause_starts=tuple(clause_starts),
            question_clauses=frozenset(questions),
        )

    def _particle_questions(
        self, text: str, starts: list[int], questions: set[int]
    ) -> tuple[list[int], set[int]]:
        """Close a clause after 吗/么 and mark it a question (unpunctuated speech recognition)."""
        ends = [m.end() for m in self._particle.finditer(text)] if self._particle else []
        if not ends:
            return starts, questions
        boundaries = sorted(set(starts) | {e for e in ends if e < len(text)})
        clause_ends = [starts[i + 1] if i + 1 < len(starts) else len(text) for i in questions]
        asked = {bisect_right(boundaries, e - 1) - 1 for e in clause_ends + ends}
        return boundaries, asked

    def phrase(self, phrase: str) -> str:
        """A rule phrase in the same shape as the match text it is searched in."""
        return self.normalize(phrase).text
