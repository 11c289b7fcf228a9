"""Matchers: named phrase lists and patterns, searched in one automaton pass per turn.

A matcher is what a compliance officer names ("explicit_acceptance", "fee_disclosure"):
phrases and regexes said by a speaker, with exceptions. Matches are negation-aware by
default ("不同意" never counts as "同意"), can skip questions ("你能保证吗？"), and can
tolerate speech-recognition homophones ("自费" for "资费").
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import ahocorasick_rs
import re2

from engine.rules.problems import Location
from engine.text.normalize import NormalizedTurn, Normalizer
from engine.text.pinyin import homophone_key

SPEAKER_CHOICES = ("agent", "customer", "any")


@dataclass(frozen=True)
class Matcher:
    """A named set of phrases and patterns, compiled from a rule file."""

    name: str
    location: Location
    speaker: str | None  # "agent", "customer", or None for anyone
    phrases: tuple[str, ...] = ()
    patterns: tuple[str, ...] = ()  # RE2 syntax, matched against the normalised text
    exceptions: tuple[str, ...] = ()  # phrases that cancel a match they overlap
    negation: bool = True  # a negated match ("不同意", "don't agree") does not count
    questions: bool = True  # a match inside a question counts
    homophones: bool = False  # Chinese phrases also match by toneless pinyin
    # A match does not count when the same turn also says one of these ("好的，我考虑一下").
    unless_turn_says: tuple[str, ...] = ()
    # A match counts only as a reply: the named matcher matched in the `reply_within`
    # turns before it ("同意" answering "您同意办理吗？", not "您是机主吗？").
    replies_to: str | None = None
    reply_within: int = 2
    # Also match the call's own product name (from its metadata), e.g. "定向流量包".
    product_name: bool = False


@dataclass(frozen=True, order=True)
class Hit:
    """Where a matcher matched: a span of a turn's match text."""

    turn: int
    start: int
    end: int


@dataclass(frozen=True)
class Negation:
    """Words that negate what follows them within a clause, per language."""

    # group 1: look-alikes that do not negate; group 2: negators. Python's re is safe here:
    # the pattern is an alternation of escaped words, never a rule author's regex.
    pattern: re.Pattern[str]
    window: int  # characters (Chinese) or words (English) looked back from a match
    by_words: bool


DEFAULT_NEGATION: dict[str, tuple[tuple[str, ...], tuple[str, ...], int]] = {
    # (negators, look-alikes that are not negation, window)
    "zh": (
        ("没有", "不要", "不用", "不想", "不是", "不", "没", "别", "未", "无", "非", "勿", "甭"),
        ("不好意思", "不错", "没错", "不客气", "没关系", "不仅", "无论", "非常", "不管"),
        4,
    ),
    "en": (
        (
            "not",
            "no",
            "never",
            "n't",
            "dont",
            "didnt",
            "wont",
            "cant",
            "cannot",
            "nor",
            "neither",
            "without",
            "refuse",
        ),
        ("no problem", "not only", "no doubt", "never mind"),
        3,
    ),
}


def compile_negation(
    language: str, words: Sequence[str], not_negation: Sequence[str], window: int
) -> Negation:
    """The negation detector of a pack: longest look-alikes win over the negators they hold."""

    def alternation(items: Sequence[str]) -> str:
        ordered = sorted(set(items), key=len, reverse=True)
        return "|".join(re.escape(w) for w in ordered) or "(?!)"

    by_words = language == "en"
    if by_words:
        pattern = rf"(\b(?:{alternation(not_negation)})\b)|((?:\b|n't)(?:{alternation(words)})\b)"
    else:
        pattern = f"({alternation(not_negation)})|({alternation(words)})"
    return Negation(re.compile(pattern), window, by_words)


def is_negated(negation: Negation, turn: NormalizedTurn, start: int) -> bool:
    """An odd number of negators just before the match, in its clause, negates it."""
    clause_start = turn.clause_start(start)
    before = turn.text[clause_start:start]
    if negation.by_words:
        words = before.split()
        before = " ".join(words[-negation.window :])
    else:
        before = before[-negation.window :]
    if not before:
        return False
    count = sum(1 for m in negation.pattern.finditer(before) if m.group(2))
    return count % 2 == 1


def _needs_word_edges(phrase: str) -> tuple[bool, bool]:
    return (
        phrase[:1].isascii() and phrase[:1].isalnum(),
        phrase[-1:].isascii() and phrase[-1:].isalnum(),
    )


def _at_word_edges(text: str, start: int, end: int, edges: tuple[bool, bool]) -> bool:
    """Latin phrases match whole words only: "no" is not in "know"."""
    if edges[0] and start > 0 and text[start - 1].isascii() and text[start - 1].isalnum():
        return False
    return not (edges[1] and end < len(text) and text[end].isascii() and text[end].isalnum())


MATCH, EXCEPTION, VETO = "match", "except", "veto"


@dataclass(frozen=True)
class _Entry:
    matcher: int  # index into PhraseIndex.matchers
    role: str  # MATCH, EXCEPTION (cancels an overlapping match) or VETO (cancels the turn)
    edges: tuple[bool, bool]


@dataclass
class _SpeakerTables:
    """What one speaker's turns are searched with: only the matchers that listen to them."""

    exact: ahocorasick_rs.AhoCorasick | None
    exact_entries: list[list[_Entry]]
    sounds: ahocorasick_rs.AhoCorasick | None
    sound_entries: list[list[_Entry]]
    regexes: list[tuple[int, re2._Regexp]]
    regex_set: object | None  # re2.Set: one pass says which regexes can match at all
    product_matchers: list[int]


class PhraseIndex:
    """Every phrase of a rule pack in one Aho-Corasick automaton per speaker (plus one for
    homophones), and every regex behind one RE2 set, so a turn is searched in a few passes
    whatever the number of rules."""

    def __init__(
        self, matchers: Sequence[Matcher], normalizer: Normalizer, negation: Negation
    ) -> None:
        self.matchers = tuple(matchers)
        self.negation = negation
        self.normalizer = normalizer
        exact: dict[str, list[_Entry]] = defaultdict(list)
        sounds: dict[str, list[_Entry]] = defaultdict(list)
        regexes: list[tuple[int, re2._Regexp]] = []
        self._options = re2.Options()
        self._options.log_errors = False
        for index, matcher in enumerate(self.matchers):
            roles = (
                (matcher.phrases, MATCH),
                (matcher.exceptions, EXCEPTION),
                (matcher.unless_turn_says, VETO),
            )
            for phrases, role in roles:
                for phrase in phrases:
                    key = normalizer.phrase(phrase)
                    if not key:
                        continue
                    entry = _Entry(index, role, _needs_word_edges(key))
                    exact[key].append(entry)
                    if matcher.homophones and role == MATCH and not key.isascii():
                        sounds[homophone_key(key)].append(entry)
            for pattern in matcher.patterns:
                regexes.append((index, re2.compile("(?i)" + pattern, self._options)))
        self.regexes = regexes
        self._tables = {
            speaker: self._tables_for(speaker, exact, sounds, regexes)
            for speaker in ("agent", "customer", "unknown")
        }
        self._reply_order = _reply_order(self.matchers)
        self._index_by_name = {m.name: i for i, m in enumerate(self.matchers)}

    def _listens(self, index: int, speaker: str) -> bool:
        wanted = self.matchers[index].speaker
        return wanted is None or wanted == speaker

    def _tables_for(
        self,
        speaker: str,
        exact: dict[str, list[_Entry]],
        sounds: dict[str, list[_Entry]],
        regexes: list[tuple[int, re2._Regexp]],
    ) -> _SpeakerTables:
        def keep(table: dict[str, list[_Entry]]) -> dict[str, list[_Entry]]:
            kept = {
                k: [e for e in v if self._listens(e.matcher, speaker)] for k, v in table.items()
            }
            return {k: v for k, v in kept.items() if v}

        exact_kept = keep(exact)
        sounds_kept = {k: v for k, v in keep(sounds).items() if k not in exact_kept}
        mine = [(i, r) for i, r in regexes if self._listens(i, speaker)]
        regex_set = None
        if mine:
            regex_set = re2.Set.SearchSet(self._options)
            for _, regex in mine:
                regex_set.Add(regex.pattern)
            regex_set.Compile()
        return _SpeakerTables(
            exact=_automaton(list(exact_kept)),
            exact_entries=list(exact_kept.values()),
            sounds=_automaton(list(sounds_kept)),
            sound_entries=list(sounds_kept.values()),
            regexes=mine,
            regex_set=regex_set,
            product_matchers=[
                i
                for i, m in enumerate(self.matchers)
                if m.product_name and self._listens(i, speaker)
            ],
        )

    def candidates(
        self, text: str, speaker: str, product_key: str
    ) -> tuple[dict[int, list[tuple[int, int]]], dict[int, list[tuple[int, int]]], set[int]]:
        """Raw spans of one turn per matcher, before negation and questions: matches,
        exception spans, and the matchers vetoed for the whole turn."""
        tables = self._tables.get(speaker) or self._tables["unknown"]
        hits: dict[int, list[tuple[int, int]]] = defaultdict(list)
        cancels: dict[int, list[tuple[int, int]]] = defaultdict(list)
        vetoed: set[int] = set()
        if tables.exact is not None:
            _collect(tables.exact, tables.exact_entries, text, text, hits, cancels, vetoed)
        if tables.sounds is not None:
            _collect(
                tables.sounds,
                tables.sound_entries,
                homophone_key(text),
                text,
                hits,
                cancels,
                vetoed,
            )
        if tables.regex_set is not None:
            for position in tables.regex_set.Match(text) or ():
                index, regex = tables.regexes[position]
                hits[index].extend(m.span() for m in regex.finditer(text) if m.end() > m.start())
        if product_key and tables.product_matchers:
            at = text.find(product_key)
            if at >= 0:
                for index in tables.product_matchers:
                    hits[index].append((at, at + len(product_key)))
        return hits, cancels, vetoed

    def scan(
        self,
        turns: Sequence[NormalizedTurn],
        speakers: Sequence[str],
        product_name: str | None = None,
    ) -> dict[str, list[Hit]]:
        """Hits of every matcher in a call's turns (speaker, exceptions, negation applied)."""
        found: dict[int, list[Hit]] = defaultdict(list)
        product_key = self.normalizer.phrase(product_name) if product_name else ""
        for number, (turn, speaker) in enumerate(zip(turns, speakers, strict=False)):
            if not turn.text:
                continue
            hits, cancels, vetoed = self.candidates(turn.text, speaker, product_key)
            for index, spans in hits.items():
                if index in vetoed:
                    continue
                matcher = self.matchers[index]
                against = cancels.get(index)
                for start, end in sorted(set(spans)) if len(spans) > 1 else spans:
                    if against and any(s < end and start < e for s, e in against):
                        continue
                    if not matcher.questions and turn.is_question_at(start):
                        continue
                    if matcher.negation and is_negated(self.negation, turn, start):
                        continue
                    found[index].append(Hit(number, start, end))
        for index in self._reply_order:
            matcher = self.matchers[index]
            target = self._index_by_name.get(matcher.replies_to or "")
            asked = {h.turn for h in found.get(target, [])} if target is not None else set()
            found[index] = [
                h
                for h in found.get(index, [])
                if any(h.turn - matcher.reply_within <= t < h.turn for t in asked)
            ]
        return {self.matchers[i].name: sorted(h) for i, h in found.items() if h}


def _collect(
    automaton: ahocorasick_rs.AhoCorasick,
    entries: list[list[_Entry]],
    searched: str,
    text: str,
    hits: dict[int, list[tuple[int, int]]],
    cancels: dict[int, list[tuple[int, int]]],
    vetoed: set[int],
) -> None:
    for pattern, start, end in automaton.find_matches_as_indexes(searched, overlapping=True):
        for entry in entries[pattern]:
            if (entry.edges[0] or entry.edges[1]) and not _at_word_edges(
                text, start, end, entry.edges
            ):
                continue
            if entry.role == MATCH:
                hits[entry.matcher].append((start, end))
            elif entry.role == EXCEPTION:
                cancels[entry.matcher].append((start, end))
            else:
                vetoed.add(entry.matcher)


def _reply_order(matchers: Sequence[Matcher]) -> list[int]:
    """Matchers that reply to others, each after the one it replies to (no cycles: the
    compiler rejects them)."""
    by_name = {m.name: i for i, m in enumerate(matchers)}
    order: list[int] = []
    placed: set[int] = set()

    def place(index: int, trail: frozenset[int]) -> None:
        if index in placed or index in trail:
            return
        target = matchers[index].replies_to
        if target is not None and target in by_name:
            place(by_name[target], trail | {index})
        if target is not None:
            order.append(index)
        placed.add(index)

    for index in range(len(matchers)):
        place(index, frozenset())
    return order


def reply_cycle(matchers: dict[str, Matcher], start: str) -> list[str] | None:
    """The chain of `replies_to` from a matcher back to itself, if there is one."""
    chain = [start]
    current = matchers[start].replies_to
    while current is not None and current in matchers:
        if current in chain:
            return [*chain[chain.index(current) :], current]
        chain.append(current)
        current = matchers[current].replies_to
    return None


def _automaton(keys: list[str]) -> ahocorasick_rs.AhoCorasick | None:
    if not keys:
        return None
    return ahocorasick_rs.AhoCorasick(keys, matchkind=ahocorasick_rs.MatchKind.Standard)
