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
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import NamedTuple

from engine.text.dialect import Dialect
from engine.text.numbers import StatedAmount, find_amounts

DEFAULT_FILLERS: dict[str, tuple[str, ...]] = {
    "zh": ("嗯", "呃", "唔", "呣"),  # not 额: it is also the 额 of 余额, 金额
    "en": ("um", "umm", "er", "erm", "hmm"),
}
# Kept although they are punctuation: they are part of amounts and words. "@" names whom a
# written post tags ("@工信部", "@FCC"): tagging a regulator is itself an escalation, and
# without the mark a rule could not tell it from a mention of its name.
_KEEP_BETWEEN_DIGITS = frozenset(".,:")
_KEEP_ALWAYS = "%‰‱'@"
# "#" ends a clause too: in a written thread a #tag is not part of the sentence before it
# ("#315曝光台# 乱扣费"). "@" is kept, and opens a clause of its own (`_mentions`).
_CLAUSE_END_RE = re.compile("[，。！？；,.!?;…\n、#＃]")
_QUESTION_RE = re.compile("[?？]")
# Sentence-final particles that make a Chinese clause a question even without "？".
_QUESTION_PARTICLES = "吗么"
# A call's turns are folded and cut into match text together, joined by TURN_BREAK. The cut
# leaves CLAUSE_BREAK (QUESTION_BREAK after "？") where a clause ended, so clauses are read
# later, only for the turns a rule looks at. Transcripts never hold these control characters:
# the loaders turn them into spaces, and so does `_clean` here.
TURN_BREAK = "\x1f"
CLAUSE_BREAK = "\x1e"
QUESTION_BREAK = "\x1d"
_BREAKS_RE = re.compile("[\x1d-\x1f]")


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


@lru_cache(maxsize=1)
def _t2s_needed() -> re.Pattern[str]:
    """Finds a character the traditional → simplified table changes: `str.translate` with a
    dict is slow, and most turns hold none."""
    return re.compile("[" + "".join(re.escape(chr(code)) for code in sorted(_t2s_table())) + "]")


def _to_simplified(text: str) -> str:
    """The text in simplified characters. Speech recognition's odd traditional character is
    replaced on its own (a call's text with three of them: ~8 us against ~106 us for
    `translate`, which looks up every character). A text whose 32 characters from the first
    traditional one are a quarter or more traditional is translated whole."""
    needed = _t2s_needed()
    first = needed.search(text)
    if first is None:
        return text
    sample = text[first.start() : first.start() + 32]
    if len(needed.findall(sample)) * 4 > len(sample):
        return text.translate(_t2s_table())
    return needed.sub(_simplified_char, text)


def _simplified_char(match: re.Match[str]) -> str:
    return _t2s_table()[ord(match.group())]


class FoldedText(NamedTuple):
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


# Full-width forms and the ideographic space: NFKC makes each one ASCII character.
_FULL_WIDTH_RE = re.compile("[\u3000\uff01-\uff5e]")


def _nfkc(text: str) -> str:
    """NFKC, quickly for the usual Chinese turn whose only unnormalised characters are
    full-width punctuation: those are replaced one by one, and if the result is normalised it
    is the NFKC of the text (their decompositions are those ASCII characters)."""
    if unicodedata.is_normalized("NFKC", text):
        return text
    present = set(_FULL_WIDTH_RE.findall(text))
    if present:
        simple = text
        for char in present:
            simple = simple.replace(char, unicodedata.normalize("NFKC", char))
        if unicodedata.is_normalized("NFKC", simple):
            return simple
    return unicodedata.normalize("NFKC", text)


def fold(text: str) -> FoldedText:
    """Fold one turn; when NFKC keeps the length (almost always: full-width "，" becomes ","
    one for one), the whole turn is folded in C and positions stay one to one."""
    table = _t2s_table()
    nfkc = _nfkc(text)
    if len(nfkc) == len(text):
        folded = _to_simplified(nfkc).lower()
        if len(folded) == len(text):
            return FoldedText(folded, None, len(text))
    pieces: list[str] = []
    origin: list[int] = []
    for index, char in enumerate(text):
        out = unicodedata.normalize("NFKC", char).translate(table).lower()
        pieces.append(out)
        origin.extend([index] * len(out))
    return FoldedText("".join(pieces), tuple(origin), len(text))


class NormalizedTurn:
    """One turn ready for matching, with everything needed to point back at the original.

    `text` (the match text) is made for every turn; its clauses and the map back to the
    folded text are worked out the first time a rule asks, from `marked`.
    """

    __slots__ = (
        "_amounts", "_clauses", "_folded", "_normalizer", "_originals", "_segments", "marked",
        "original", "text",
    )

    def __init__(
        self,
        normalizer: Normalizer,
        original: str,
        folded: FoldedText | str,
        marked: str,
        text: str,
    ) -> None:
        self.original = original
        self._folded = folded  # a FoldedText, or just its text when it maps one to one
        self.marked = marked  # the match text with CLAUSE_BREAK / QUESTION_BREAK left in
        self.text = text
        self._normalizer = normalizer
        self._clauses: tuple[tuple[int, ...], frozenset[int]] | None = None
        self._segments: tuple[tuple[int, int], ...] | None = None
        self._amounts: tuple[StatedAmount, ...] | None = None
        self._originals: dict[tuple[int, int], tuple[int, int]] | None = None

    @property
    def folded(self) -> FoldedText:
        """The turn after NFKC, traditional → simplified and lower-casing."""
        folded = self._folded
        if isinstance(folded, str):
            folded = self._folded = FoldedText(folded, None, len(folded))
        return folded

    @property
    def folded_text(self) -> str:
        """`folded.text`, without building the map back when it is one to one."""
        folded = self._folded
        return folded if isinstance(folded, str) else folded.text

    @property
    def amounts(self) -> tuple[StatedAmount, ...]:
        """Money amounts said in the turn, at folded positions (read the first time asked)."""
        if self._amounts is None:
            self._amounts = tuple(find_amounts(self.folded_text))
        return self._amounts

    @property
    def clause_starts(self) -> tuple[int, ...]:
        """Match positions where a clause begins (always holds 0)."""
        return (self._clauses or self._read_clauses())[0]

    @property
    def question_clauses(self) -> frozenset[int]:
        """Indexes into `clause_starts` of the clauses that ask."""
        return (self._clauses or self._read_clauses())[1]

    @property
    def segments(self) -> tuple[tuple[int, int], ...]:
        """Sorted (match position, folded position) pairs: each starts a run copied one to one."""
        if self._segments is None:
            self._segments = self._normalizer.segments(self.folded_text)
        return self._segments

    def _read_clauses(self) -> tuple[tuple[int, ...], frozenset[int]]:
        starts = [0]
        questions: set[int] = set()
        marked = self.marked
        at = -1
        dropped = 0
        while True:
            at = _next_break(marked, at + 1)
            if at < 0:
                break
            length = at - dropped
            dropped += 1
            asks = marked[at] == QUESTION_BREAK
            if length > starts[-1]:
                if asks:
                    questions.add(len(starts) - 1)
                starts.append(length)
            elif asks and len(starts) > 1:
                questions.add(len(starts) - 2)
        text = self.text
        if starts[-1] >= len(text) and len(starts) > 1:
            starts.pop()
        if self._normalizer.asks_by_particle and ("吗" in text or "么" in text or "吧" in text):
            starts, questions = _particle_questions(text, starts, questions)
        if "@" in text:
            starts, questions = _mentions(text, starts, questions)
        self._clauses = (tuple(starts), frozenset(questions))
        return self._clauses

    def to_folded(self, position: int) -> int:
        """Folded position of a match-text position."""
        segments = self.segments
        index = bisect_right(segments, (position, 1 << 62)) - 1
        match_at, folded_at = segments[max(index, 0)]
        return folded_at + (position - match_at)

    def to_original(self, start: int, end: int) -> tuple[int, int]:
        """The original span of match-text span [start, end).

        Remembered per turn: a turn the memo keeps is a line said call after call, and rules
        ask it for the same spans each time (of 69,225 spans asked in the bench's 5,000
        calls, 18,216 were distinct)."""
        originals = self._originals
        if originals is None:
            originals = self._originals = {}
        span = originals.get((start, end))
        if span is None:
            span = originals[(start, end)] = self._find_original(start, end)
        return span

    def _find_original(self, start: int, end: int) -> tuple[int, int]:
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


def _next_break(marked: str, start: int) -> int:
    clause = marked.find(CLAUSE_BREAK, start)
    question = marked.find(QUESTION_BREAK, start)
    if clause < 0:
        return question
    return clause if question < 0 else min(clause, question)


# …and the tags 是吧/对吧 ("十五一个月是吧 那行吧 开吧 我同意": the tag asks, the rest answers)
_PARTICLE_RE = re.compile(f"[{_QUESTION_PARTICLES}]|(?<=[是对])吧")
# 么 closing a word, not a sentence: 什么/怎么 ask only at a clause's end, the others never.
_WORD_ME_ENDING = "什怎"
_WORD_ME_NEVER = "这那多要"


def _particle_asks(text: str, at: int, clause_starts: set[int]) -> bool:
    """Whether the 吗/么 at `at` ends a question."""
    if text[at] != "么" or at == 0:
        return True
    before = text[at - 1]
    if before in _WORD_ME_NEVER:
        return False
    if before in _WORD_ME_ENDING:
        return at + 1 >= len(text) or at + 1 in clause_starts
    return True


def _mentions(
    text: str, starts: list[int], questions: set[int]
) -> tuple[list[int], set[int]]:
    """An @-mention opens a clause of its own, "@" kept in it: in "没人管 @工信部" or "…no reply
    @ Consumer Council I paid…" the tag is not part of the sentence before it."""
    cuts = {i for i, ch in enumerate(text) if ch == "@" and i}
    if cuts <= set(starts):
        return starts, questions
    return _cut(text, starts, questions, cuts)


def _cut(
    text: str, starts: list[int], questions: set[int], cuts: set[int], asking: Sequence[int] = ()
) -> tuple[list[int], set[int]]:
    """The clauses cut again at `cuts`: each asking clause stays asking in the part that holds
    its end, and so does each part that ends at one of `asking` (a question's end)."""
    boundaries = sorted(set(starts) | {c for c in cuts if c < len(text)})
    ends = [starts[i + 1] if i + 1 < len(starts) else len(text) for i in questions]
    return boundaries, {bisect_right(boundaries, e - 1) - 1 for e in [*ends, *asking]}


def _particle_questions(
    text: str, starts: list[int], questions: set[int]
) -> tuple[list[int], set[int]]:
    """Close a clause after 吗/么 and mark it a question (unpunctuated speech recognition).

    The 么 of 什么/怎么 asks only where it ends a clause ("你说什么"), and that of 这么/那么/
    多么/要么 never: "您什么都不用管" and "这么便宜" go on, one clause."""
    clause_starts = set(starts)
    ends = [m.end() for m in _PARTICLE_RE.finditer(text)
            if _particle_asks(text, m.start(), clause_starts)]
    if not ends:
        return starts, questions
    return _cut(text, starts, questions, set(ends), ends)


def _clean(text: str) -> str:
    """The text with the break characters (which are separators anyway) made spaces."""
    return _BREAKS_RE.sub(" ", text) if _BREAKS_RE.search(text) else text


def _spaces(match: re.Match[str]) -> str:
    return " " * (match.end() - match.start())


def _latin(char: str) -> bool:
    return char.isascii() and char.isalnum()


class Normalizer:
    """Normalises turns and phrases of one language the same way; built once per rule pack."""

    def __init__(
        self, language: str, fillers: Iterable[str] | None = None, dialect: Dialect | None = None
    ) -> None:
        self.language = language
        # Dialect words read as Mandarin, same length, before fillers are dropped: "唔要" is
        # "不要" while a lone "唔" stays a filler (engine/text/dialect.py).
        self.dialect = dialect
        words = tuple(DEFAULT_FILLERS.get(language, ()) if fillers is None else fillers)
        cjk = sorted({w for w in words if not w.isascii()}, key=len, reverse=True)
        latin = sorted({w.lower() for w in words if w.isascii()}, key=len, reverse=True)
        # Punctuation, spaces and symbols other than the kept ones (and the turn break).
        parts = [f"[^\\w{_KEEP_ALWAYS}{TURN_BREAK}]"]
        latin_words = r"\b(?:" + "|".join(re.escape(w) for w in latin) + r")\b"
        # Fillers of one kind only are first blanked out (same length, so positions stay):
        # a run of separators is then one character class, which `re` scans many times
        # faster than an alternation. Both kinds together keep the alternation.
        self._single_fillers: tuple[str, ...] = ()
        self._latin_fillers: re.Pattern[str] | None = None
        if cjk and not latin and all(len(w) == 1 for w in cjk):
            self._single_fillers = tuple(cjk)
        elif latin and not cjk:
            self._latin_fillers = re.compile(latin_words)
        else:
            if cjk:
                parts.append("|".join(re.escape(w) for w in cjk))
            if latin:
                parts.append(latin_words)
        if len(parts) == 1:
            # A lone space between two Latin letters or digits is kept as it is, so a run of
            # one character class passes over it: three runs in four of an English call,
            # which _marked and segments would otherwise each look at in Python.
            runs = f"{parts[0]}(?!(?<=[A-Za-z0-9] )(?=[A-Za-z0-9@])){parts[0]}*"
        else:
            runs = "(?:" + "|".join(parts) + ")+"
        self._separator = re.compile(f"({runs})")
        self.asks_by_particle = language == "zh"
        self._cuts: dict[str, str] = {}
        self._phrases: dict[str, str] = {}

    def normalize(self, text: str) -> NormalizedTurn:
        """The match text of one turn, with its maps and clauses."""
        return self.normalize_call((text,))[0]

    def normalize_call(self, texts: Sequence[str]) -> list[NormalizedTurn]:
        """Every turn of a call, folded and cut in one pass over the whole call."""
        joined = TURN_BREAK.join(texts)
        cleaned = texts
        if (
            joined.count(TURN_BREAK) != len(texts) - 1
            or CLAUSE_BREAK in joined
            or QUESTION_BREAK in joined
        ):
            cleaned = [_clean(t) for t in texts]
            joined = TURN_BREAK.join(cleaned)
        whole = fold(joined)
        folded = whole.text.split(TURN_BREAK) if whole.origin is None else []
        if len(folded) == len(texts) and all(
            len(f) == len(t) for f, t in zip(folded, texts, strict=True)
        ):
            folds: list[FoldedText] | list[str] = folded
            source = whole.text
            if self.dialect is not None:
                source = self.dialect.apply(source)
                if source is not whole.text:
                    folds = source.split(TURN_BREAK)
        else:  # NFKC or lower-casing changed a length: fold turn by turn, with maps
            folds = [fold(t) for t in cleaned]
            if self.dialect is not None:
                folds = [f._replace(text=self.dialect.apply(f.text)) for f in folds]
            source = TURN_BREAK.join(f.text for f in folds)
        marked = self._marked(source)
        marks = marked.split(TURN_BREAK)
        texts_out = marked.replace(CLAUSE_BREAK, "").replace(QUESTION_BREAK, "").split(TURN_BREAK)
        return [
            NormalizedTurn(self, original, f, m, t)
            for original, f, m, t in zip(texts, folds, marks, texts_out, strict=True)
        ]

    def _blanked(self, source: str) -> str:
        """The text with its fillers made spaces (see __init__)."""
        for filler in self._single_fillers:
            if filler in source:
                source = source.replace(filler, " ")
        if self._latin_fillers is not None and self._latin_fillers.search(source):
            source = self._latin_fillers.sub(_spaces, source)
        return source

    def _cut_of(self, run: str) -> str:
        """What a run of separators becomes (besides a space between Latin words)."""
        cut = ""
        if _CLAUSE_END_RE.search(run):
            cut = QUESTION_BREAK if _QUESTION_RE.search(run) else CLAUSE_BREAK
        if len(self._cuts) < 4096:
            self._cuts[run] = cut
        return cut

    def _marked(self, source: str) -> str:
        """The text with every run of separators cut: to nothing, to a clause mark, and with a
        space first when it stood between two Latin words. `re.split` finds the runs in C;
        only runs next to a Latin letter or digit need a look at their neighbours."""
        parts = self._separator.split(self._blanked(source))
        cuts = self._cuts
        for index in range(1, len(parts), 2):
            run = parts[index]
            before = parts[index - 1][-1:]
            if before.isalnum() and (before.isascii() or before.isdigit()):
                after = parts[index + 1][:1]
                if after.isalnum() or after == "@":
                    if len(run) == 1 and run in _KEEP_BETWEEN_DIGITS and before.isdigit() \
                            and after.isdigit():
                        continue  # 5.5, 1,000, 10:30
                    # two Latin words (or a word and a tag: "go to @fcc") stay two
                    if before.isascii() and after.isascii():
                        if run == " ":
                            continue
                        cut = cuts.get(run)
                        parts[index] = " " + (self._cut_of(run) if cut is None else cut)
                        continue
            cut = cuts.get(run)
            parts[index] = self._cut_of(run) if cut is None else cut
        return "".join(parts)

    def segments(self, source: str) -> tuple[tuple[int, int], ...]:
        """The map from match-text positions to folded positions of one turn."""
        segments: list[tuple[int, int]] = [(0, 0)]
        length = 0
        kept_from = 0
        size = len(source)
        for run in self._separator.finditer(self._blanked(source)):
            start, end = run.span()
            before = source[start - 1] if start else ""
            after = source[end] if end < size else ""
            if end - start == 1:
                chunk = source[start]
                if chunk in _KEEP_BETWEEN_DIGITS and before.isdigit() and after.isdigit():
                    continue
            length += start - kept_from
            if _latin(before) and (_latin(after) or after == "@"):
                segments.append((length, start))
                length += 1
            kept_from = end
            if segments[-1][0] == length:
                segments[-1] = (length, end)  # nothing kept since: the later run wins
            else:
                segments.append((length, end))
        return tuple(segments)

    def phrase(self, phrase: str) -> str:
        """A rule phrase in the same shape as the match text it is searched in."""
        shaped = self._phrases.get(phrase)
        if shaped is None:
            shaped = self.normalize(phrase).text
            if len(self._phrases) < 4096:
                self._phrases[phrase] = shaped
        return shaped
