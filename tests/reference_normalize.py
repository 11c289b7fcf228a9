"""The first normaliser, one turn at a time in a plain loop: the reference the whole-call
normaliser (`Normalizer.normalize_call`) must agree with, character for character.

It shares no code with the engine: its fold and its filler words are written out here, so
a change to either in engine/text/normalize.py shows as a disagreement, not as a reference
that moved with it.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from dataclasses import dataclass
from functools import cache

# The filler words the bundled normaliser drops (not 额: it is the 额 of 余额, 金额).
FILLERS: dict[str, tuple[str, ...]] = {
    "zh": ("嗯", "呃", "唔", "呣"),
    "en": ("um", "umm", "er", "erm", "hmm"),
}
# The Chinese characters folded to simplified: the BMP's unified ideographs, extension A
# and the compatibility ideographs.
_HAN = ((0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF))
_APOSTROPHES = {"\u2019": "'", "\u2018": "'"}


@cache
def _opencc_t2s():
    import opencc

    return opencc.OpenCC("t2s")


@cache
def _simplified(char: str) -> str:
    """One character in simplified Chinese, asked of OpenCC alone (the engine builds a table)."""
    if char in _APOSTROPHES:
        return _APOSTROPHES[char]
    if not any(first <= ord(char) <= last for first, last in _HAN):
        return char
    converted = _opencc_t2s().convert(char)
    return converted if len(converted) == 1 else char


def reference_fold(text: str) -> str:
    """NFKC, simplified characters, lower case: of the whole turn when that keeps its length
    (so positions stay one to one), else character by character."""
    whole = unicodedata.normalize("NFKC", text)
    if len(whole) == len(text):
        folded = "".join(_simplified(c) for c in whole).lower()
        if len(folded) == len(text):
            return folded
    return "".join("".join(_simplified(c) for c in unicodedata.normalize("NFKC", char)).lower()
                   for char in text)


_CLAUSE_END_RE = re.compile("[，。！？；,.!?;…\n、]")
_QUESTION_RE = re.compile("[?？]")


@dataclass(frozen=True)
class ReferenceTurn:
    text: str
    segments: tuple[tuple[int, int], ...]
    clause_starts: tuple[int, ...]
    question_clauses: frozenset[int]


def reference_normalize(language: str, text: str) -> ReferenceTurn:
    words = FILLERS.get(language, ())
    cjk = sorted({w for w in words if not w.isascii()}, key=len, reverse=True)
    latin = sorted({w.lower() for w in words if w.isascii()}, key=len, reverse=True)
    parts = [r"[^\w%‰‱']"]
    if cjk:
        parts.append("|".join(re.escape(w) for w in cjk))
    if latin:
        parts.append(r"\b(?:" + "|".join(re.escape(w) for w in latin) + r")\b")
    separator = re.compile("(?:" + "|".join(parts) + ")+")
    source = reference_fold(text)
    pieces: list[str] = []
    segments = [(0, 0)]
    clause_starts = [0]
    questions: set[int] = set()
    length = kept_from = 0
    for run in separator.finditer(source):
        start, end = run.span()
        before = source[start - 1] if start else ""
        after = source[end] if end < len(source) else ""
        if end - start == 1 and source[start] in ".,:" and before.isdigit() and after.isdigit():
            continue
        if start > kept_from:
            pieces.append(source[kept_from:start])
            length += start - kept_from
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
            segments[-1] = (length, end)
        else:
            segments.append((length, end))
    pieces.append(source[kept_from:])
    match_text = "".join(pieces)
    if clause_starts[-1] >= len(match_text) and len(clause_starts) > 1:
        clause_starts.pop()
    if language == "zh" and any(p in match_text for p in "吗么吧"):
        # 吗 and 么 close a question, and so do the tags 是吧/对吧; not the 么 of 什么, 怎么,
        # 这么, 那么, 多么, 要么 inside the turn
        ends = [m.end() for m in re.finditer("[吗么]|(?<=[是对])吧", match_text)
                if not (m.group() == "么" and m.start() > 0
                        and match_text[m.start() - 1] in "什怎这那多要"
                        and m.end() < len(match_text))]
        boundaries = sorted(set(clause_starts) | {e for e in ends if e < len(match_text)})
        clause_ends = [clause_starts[i + 1] if i + 1 < len(clause_starts) else len(match_text)
                       for i in questions]
        questions = {bisect_right(boundaries, e - 1) - 1 for e in clause_ends + ends}
        clause_starts = boundaries
    return ReferenceTurn(match_text, tuple(segments), tuple(clause_starts), frozenset(questions))
