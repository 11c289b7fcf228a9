"""Matchers: named phrase lists and patterns, searched in one automaton pass per turn.

A matcher is what a compliance officer names ("explicit_acceptance", "fee_disclosure"):
phrases and regexes said by a speaker, with exceptions. Matches are negation-aware by
default ("不同意" never counts as "同意"), can skip questions ("你能保证吗？"), and can
tolerate speech-recognition homophones ("自费" for "资费").
"""

from __future__ import annotations

import re
import threading
from bisect import bisect_right
from collections import OrderedDict, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import ahocorasick_rs
import re2
from re2 import _re2

from engine.frozen import named_from_tuple
from engine.rules.problems import Location
from engine.rules.templates import Template
from engine.text.acts import ActReader
from engine.text.clauses import Clause, ClauseReader
from engine.text.english import phrase_variants
from engine.text.normalize import NormalizedTurn, Normalizer
from engine.text.pinyin import homophone_key

SPEAKER_CHOICES = ("agent", "customer", "any")
ABOUT_CHOICES = ("speaker", "anyone")
TIME_CHOICES = ("now", "any")
_UNANCHORED = re2._Anchor.UNANCHORED


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
    # Phrases with slots ("不要{adv?}再{打给我|给我打}"), searched with the regexes.
    templates: tuple[Template, ...] = ()
    # English: "the/your/my account" interchangeable; "cancel" also matches "cancelled".
    determiners: bool = False
    lemmas: bool = False
    # English: "don't" also matches "dont", as speech recognition often writes it.
    apostrophes: bool = False
    # Clause scope (engine/text/clauses.py): whether a match counts in a clause that is the
    # if-part of a conditional, about a third party, narrating the past, or reported speech.
    conditional: bool = True
    about: str = "anyone"  # "speaker": not in a clause about a third party ("我邻居…")
    time: str = "any"  # "now": not in a clause narrating the past ("去年…", "last year")
    reported: bool = True
    # A match does not count when its own clause also says one of these.
    unless_clause_says: tuple[str, ...] = ()

    @property
    def scoped(self) -> bool:
        """Whether a match's clause must be read to know if it counts."""
        return (not self.conditional or self.about != "anyone" or self.time != "any"
                or not self.reported or bool(self.unless_clause_says))

    def out_of_scope(self, clause: Clause) -> str | None:
        """Why a match in this clause does not count (None: it counts)."""
        if not self.conditional and clause.conditional:
            return "conditional"
        if self.about == "speaker" and clause.about == "other":
            return "about other"
        if self.time == "now" and clause.past:
            return "past"
        if not self.reported and clause.reported:
            return "reported"
        return None
    # Matching by example (engine/rules/similar.py): clauses scored against these sentences,
    # trained against `unlike` and ordinary call lines; a hit at `threshold` or above.
    like: tuple[str, ...] = ()
    unlike: tuple[str, ...] = ()
    threshold: float | None = None
    # Only in turns of one of these dialogue act types ("offer", "tag_question"...).
    acts: tuple[str, ...] = ()


class Hit(NamedTuple):
    """Where a matcher matched: a span of a turn's match text."""

    turn: int
    start: int
    end: int


_NO_VETOES: frozenset[int] = frozenset()


@dataclass(frozen=True)
class Negation:
    """Words that negate what follows them within a clause, per language."""

    # group 1: look-alikes that do not negate; group 2: negators. Python's re is safe here:
    # the pattern is an alternation of escaped words, never a rule author's regex.
    pattern: re.Pattern[str]
    window: int  # characters (Chinese) or words (English) looked back from a match
    by_words: bool
    # The negators as plain substrings: where none occurs just before a match (nearly
    # always), it is not negated, and its clause need not be worked out.
    hint: re.Pattern[str]


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
        # "n't" negates inside its word (don't, can't, isn't): no word edge before it.
        pattern = (rf"(\b(?:{alternation(not_negation)})\b)"
                   rf"|(\b(?:{alternation(words)})\b|n't\b)")
    else:
        pattern = f"({alternation(not_negation)})|({alternation(words)})"
    return Negation(re.compile(pattern), window, by_words, re.compile(alternation(words)))


_WORDS_REACH = 64  # characters looked at for the English hint before the exact check


def is_negated(
    negation: Negation, turn: NormalizedTurn, start: int, clauses: ClauseReader | None = None
) -> bool:
    """An odd number of negators just before the match, in its clause, negates it. With a
    clause reader, a clause also ends at a conditional or connective: "不需要的话|回复TD退订"
    and "要不然|我就投诉" negate nothing after the cut."""
    text = turn.text
    if negation.by_words:
        region = text[max(0, start - _WORDS_REACH) : start]
        # Words are one space apart: with more spaces than the window, the region holds it.
        if (start <= _WORDS_REACH or region.count(" ") > negation.window) and (
            negation.hint.search(region) is None
        ):
            return False
    elif negation.hint.search(text, max(0, start - negation.window), start) is None:
        return False
    clause_start = turn.clause_start(start)
    if clauses is not None:
        clause_start = max(clause_start, clauses.start_at(turn, start))
    before = turn.text[clause_start:start]
    if negation.by_words:
        words = before.split()
        before = " ".join(words[-negation.window :])
    else:
        before = before[-negation.window :]
    if not before:
        return False
    count = sum(1 for m in negation.pattern.finditer(before)
                if m.group(2) and not (not negation.by_words and _a_not_a(before, m)))
    return count % 2 == 1


def _variants(normalizer: Normalizer, matcher: Matcher, key: str) -> tuple[str, ...]:
    """A normalised phrase and the forms it also matches: English determiners and
    inflections, dialect words (engine/text/english.py, engine/text/dialect.py)."""
    if not key:
        return ()
    keys: tuple[str, ...] = (key,)
    if matcher.determiners or matcher.lemmas or matcher.apostrophes:
        keys = phrase_variants(key, matcher.determiners, matcher.lemmas, matcher.apostrophes)
    dialect = normalizer.dialect
    if dialect is not None and dialect.variants:
        keys = tuple(dict.fromkeys(v for k in keys for v in dialect.phrase_variants(k)))
    return keys


def _sounds_alike(key: str) -> bool:
    """Phrases matched by sound: two Chinese characters or more ("退订" heard as "退定");
    one character alone sounds like too many others (行 / 型 / 星)."""
    return not key.isascii() and sum(1 for c in key if "\u4e00" <= c <= "\u9fff") >= 2
def _a_not_a(text: str, match: re.Match[str]) -> bool:
    """The 不/没 of an A-not-A question (是不是, 有没有, 要不要) asks; it does not negate."""
    start = match.start(2)
    return (start > 0 and text[start] in "不没"
            and text[start - 1 : start] == text[start + 1 : start + 2])


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


MATCH, EXCEPTION, VETO, CLAUSE_VETO = "match", "except", "veto", "clause veto"
# Distinct turns (speaker and text) whose hits a pack remembers, per process: ~1.2 KB each.
TURNS_KEPT = 16384


@dataclass(frozen=True)
class _Entry:
    matcher: int  # index into PhraseIndex.matchers
    # MATCH, EXCEPTION (cancels an overlapping match), VETO (cancels the turn) or CLAUSE_VETO
    # (cancels the matches in its clause)
    role: str
    edges: tuple[bool, bool]


class _Entries:
    """What one phrase of an automaton stands for; `plain` lists the matchers when it is
    only a match for each (the usual case) without word edges to check."""

    __slots__ = ("entries", "plain")

    def __init__(self, entries: list[_Entry]) -> None:
        self.entries = entries
        simple = all(e.role == MATCH and not (e.edges[0] or e.edges[1]) for e in entries)
        self.plain = tuple(e.matcher for e in entries) if simple else None


@dataclass
class _SpeakerTables:
    """What one speaker's turns are searched with: only the matchers that listen to them."""

    exact: ahocorasick_rs.AhoCorasick | None
    exact_entries: list[_Entries]
    sounds: ahocorasick_rs.AhoCorasick | None
    sound_entries: list[_Entries]
    regexes: list[tuple[int, re2._Regexp]]
    # RE2 sets, each with the position of its first regex in `regexes`: one pass of each
    # says which regexes can match at all. One set, unless the regexes overflow its budget.
    regex_sets: list[tuple[int, object]]
    product_matchers: list[int]
    # The same regexes for a speaker's turns searched together, one turn per line: `^` and
    # `$` then hold at each turn's edges. Patterns that name the text's own edges (\A, \z)
    # cannot be searched that way and are run turn by turn.
    joined_regexes: list[re2._Regexp | None]


class PhraseIndex:
    """Every phrase of a rule pack in one Aho-Corasick automaton per speaker (plus one for
    homophones), and every regex behind one RE2 set, so a turn is searched in a few passes
    whatever the number of rules."""

    def __init__(
        self,
        matchers: Sequence[Matcher],
        normalizer: Normalizer,
        negation: Negation,
        clauses: ClauseReader | None = None,
        acts: ActReader | None = None,
    ) -> None:
        self.matchers = tuple(matchers)
        self.negation = negation
        self.normalizer = normalizer
        self.clauses = clauses if clauses is not None else ClauseReader(normalizer.language)
        self.acts = acts  # types the turns where a matcher restricted by `acts:` matched
        exact: dict[str, list[_Entry]] = defaultdict(list)
        sounds: dict[str, list[_Entry]] = defaultdict(list)
        regexes: list[tuple[int, re2._Regexp]] = []
        self._options = regex_options()
        for index, matcher in enumerate(self.matchers):
            roles = (
                (matcher.phrases, MATCH),
                (matcher.exceptions, EXCEPTION),
                (matcher.unless_turn_says, VETO),
                (matcher.unless_clause_says, CLAUSE_VETO),
            )
            for phrases, role in roles:
                for phrase in phrases:
                    for key in _variants(normalizer, matcher, normalizer.phrase(phrase)):
                        entry = _Entry(index, role, _needs_word_edges(key))
                        exact[key].append(entry)
                        if matcher.homophones and role == MATCH and _sounds_alike(key):
                            sounds[homophone_key(key)].append(entry)
            for pattern in (*matcher.patterns, *(t.pattern for t in matcher.templates)):
                regexes.append((index, re2.compile("(?i)" + pattern, self._options)))
        self.regexes = regexes
        self._tables = {
            speaker: self._tables_for(speaker, exact, sounds, regexes)
            for speaker in ("agent", "customer", "unknown")
        }
        index_by_name = {m.name: i for i, m in enumerate(self.matchers)}
        # Reply matchers, each after the one it replies to: (index, target's index, within).
        self._replies = [
            (i, index_by_name.get(self.matchers[i].replies_to or ""),
             self.matchers[i].reply_within)
            for i in _reply_order(self.matchers)
        ]
        self._names = tuple(m.name for m in self.matchers)
        self._product_matchers = frozenset(
            i for i, m in enumerate(self.matchers) if m.product_name
        )
        self.memo = TurnMemo(TURNS_KEPT)

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
        joined: list[re2._Regexp | None] = []
        for _, regex in mine:
            joined.append(None if _names_text_edges(regex.pattern) else re2.compile(
                "(?m)" + regex.pattern, self._options
            ))
        searched = [
            regex.pattern if by_line is None else by_line.pattern
            for (_, regex), by_line in zip(mine, joined, strict=True)
        ]
        return _SpeakerTables(
            exact=_automaton(list(exact_kept)),
            exact_entries=[_Entries(e) for e in exact_kept.values()],
            sounds=_automaton(list(sounds_kept)),
            sound_entries=[_Entries(e) for e in sounds_kept.values()],
            regexes=mine,
            regex_sets=_regex_sets(searched, 0, self._options),
            product_matchers=[
                i
                for i, m in enumerate(self.matchers)
                if m.product_name and self._listens(i, speaker)
            ],
            joined_regexes=joined,
        )

    def read_call(
        self, texts: Sequence[str], speakers: Sequence[str], product_name: str | None = None
    ) -> tuple[list[NormalizedTurn], dict[str, list[Hit]]]:
        """A call's turns normalised, and the hits of every matcher in them.

        What a turn's text yields does not depend on the call it is in, so each distinct
        text a speaker says is read once and remembered (`memo`): scripted lines and short
        answers recur across calls. Only the call's product name and replies to earlier
        turns are worked out per call.
        """
        tables = self._tables_of(speakers)
        keys = list(zip(tables, texts, strict=True))
        known = self.memo.recall(keys)
        missing: dict[tuple[str, str], int] = {}
        for key, found in zip(keys, known, strict=True):
            if found is None and key not in missing:
                missing[key] = len(missing)
        if missing:
            read = self._found_in(
                self.normalizer.normalize_call([text for _, text in missing]),
                [table for table, _ in missing],
            )
            self.memo.keep(zip(missing, read, strict=True))
            known = [
                found if found is not None else read[missing[key]]
                for key, found in zip(keys, known, strict=True)
            ]
        return [found.turn for found in known], self._call_hits(known, tables, product_name)

    def scan(
        self,
        turns: Sequence[NormalizedTurn],
        speakers: Sequence[str],
        product_name: str | None = None,
    ) -> dict[str, list[Hit]]:
        """Hits of every matcher in a call's turns, already normalised (nothing remembered)."""
        tables = self._tables_of(speakers)
        return self._call_hits(self._found_in(turns, tables), tables, product_name)

    def _tables_of(self, speakers: Sequence[str]) -> list[str]:
        """The tables each turn is searched with: its speaker's ("unknown" for any other)."""
        tables = self._tables
        return [speaker if speaker in tables else "unknown" for speaker in speakers]

    def _found_in(
        self, turns: Sequence[NormalizedTurn], tables: Sequence[str]
    ) -> list[TurnFound]:
        """What each turn yields on its own (speaker, exceptions, negation, questions applied).

        Each speaker's turns are searched together, one turn per line, so this costs a few
        passes of the automata and of the regex set whatever the number of turns.
        """
        raw = self._raw_hits(turns, tables)
        spans: list[list[tuple[int, int, int]]] = [[] for _ in turns]
        for index, hits in self._kept(turns, raw).items():
            for number, start, end in hits:
                spans[number].append((index, start, end))
        # A product-name match is judged per call, against its turn's exceptions and vetoes.
        cancels: dict[int, list[tuple[int, tuple[tuple[int, int], ...]]]] = {}
        vetoes: dict[int, set[int]] = {}
        product = self._product_matchers
        if product:
            for (index, number), against in raw.cancels.items():
                if index in product:
                    cancels.setdefault(number, []).append((index, tuple(against)))
            for index, number in raw.vetoed:
                if index in product:
                    vetoes.setdefault(number, set()).add(index)
        return [
            named_from_tuple(TurnFound, (turn, tuple(found), tuple(cancels.get(number, ())),
                               frozenset(vetoes[number]) if number in vetoes else _NO_VETOES))
            for number, (turn, found) in enumerate(zip(turns, spans, strict=True))
        ]

    def _call_hits(
        self, known: Sequence[TurnFound], tables: Sequence[str], product_name: str | None
    ) -> dict[str, list[Hit]]:
        """The turns' own hits numbered in the call, plus its product name, then replies."""
        found: dict[int, list[Hit]] = {}
        for number, turn_found in enumerate(known):
            for index, start, end in turn_found.spans:
                hit = named_from_tuple(Hit, (number, start, end))
                hits = found.get(index)
                if hits is None:
                    found[index] = [hit]
                else:
                    hits.append(hit)
        product_key = self.normalizer.phrase(product_name) if product_name else ""
        # The turns that say the product's name. 'in' is an operator: testing every turn
        # with it, then finding the name again in the few that say it, counted fewer
        # instructions than one find() per turn.
        mentions = (
            [n for n, f in enumerate(known) if product_key in f.turn.text] if product_key else []
        )
        if mentions:
            raw = _RawHits()
            for number in mentions:
                turn_found = known[number]
                matchers = self._tables[tables[number]].product_matchers
                if not matchers:
                    continue
                at = turn_found.turn.text.find(product_key)
                for index in matchers:  # the first mention in each turn
                    raw.hits[index].add((number, at, at + len(product_key)))
                for index, against in turn_found.product_cancels:
                    raw.cancels[(index, number)].extend(against)
                for index in turn_found.product_vetoes:
                    raw.vetoed.add((index, number))
            for index, hits in self._kept([f.turn for f in known], raw).items():
                have = found.setdefault(index, [])
                have.extend(h for h in hits if h not in have)
        return self._replied(found)

    def _search(
        self,
        tables: _SpeakerTables,
        texts: list[str],
        numbers: list[int],
        raw: _RawHits,
        turns: Sequence[NormalizedTurn],
    ) -> None:
        """Raw spans in one speaker's turns, searched as one text of lines."""
        joined = "\n".join(texts)
        starts = []
        at = 0
        for text in texts:
            starts.append(at)
            at += len(text) + 1
        lines = _Lines(numbers, starts)
        if tables.exact is not None:
            _collect(tables.exact, tables.exact_entries, joined, joined, lines, raw)
        if tables.sounds is not None:
            _collect(tables.sounds, tables.sound_entries, homophone_key(joined), joined, lines,
                     raw)
        if tables.regex_sets:
            encoded = joined.encode()
            positions = [first + found for first, regex_set in tables.regex_sets
                         for found in regex_set.Match(encoded) or ()]  # type: ignore[attr-defined]
            for position in positions:
                index, regex = tables.regexes[position]
                wanted_acts = self.matchers[index].acts if self.acts is not None else ()
                if wanted_acts:
                    self._search_acting(index, regex, wanted_acts, texts, numbers, raw, turns)
                    continue
                by_line = tables.joined_regexes[position]
                if by_line is None:
                    for number, text in zip(numbers, texts, strict=True):
                        raw.add_spans(index, number, regex, text)
                    continue
                redo: set[int] = set()
                found: list[tuple[int, int, int]] = []
                for start, end in regex_spans(by_line, joined, encoded):
                    first = lines.line_of(start)
                    last = lines.line_of(end - 1)
                    # It ran over a turn's end (or took the line break itself, as [^0-9]
                    # can): search those turns alone.
                    if first != last or end - starts[first] > len(texts[first]):
                        redo.update(range(first, last + 1))
                    else:
                        found.append((first, start - starts[first], end - starts[first]))
                for line, start, end in found:
                    if line not in redo:
                        raw.hits[index].add((numbers[line], start, end))
                for line in sorted(redo):
                    raw.add_spans(index, numbers[line], regex, texts[line])

    def _search_acting(
        self,
        index: int,
        regex: re2._Regexp,
        wanted_acts: tuple[str, ...],
        texts: list[str],
        numbers: list[int],
        raw: _RawHits,
        turns: Sequence[NormalizedTurn],
    ) -> None:
        """A regex of a matcher restricted by `acts:`, searched only in the turns that do
        one of those acts (`_kept` would drop its spans in the others): a regex such as
        '.' then yields no span for each character of every other turn."""
        reader = self.acts
        assert reader is not None
        match = regex._regexp.Match  # the compiled matcher: re2's Python search is slower
        for number, text in zip(numbers, texts, strict=True):
            data = text.encode()
            if match(_UNANCHORED, data, 0, len(data))[0][0] < 0:
                continue
            if reader.acts_of(turns[number]).acts.intersection(wanted_acts):
                raw.add_spans(index, number, regex, text)

    def _confirmed(self, turns: Sequence[NormalizedTurn], raw: _RawHits) -> dict[str, list[Hit]]:
        """Raw spans of a whole call that survive vetoes, exceptions, questions, negation
        and replies."""
        return self._replied(self._kept(turns, raw))

    def _kept(
        self,
        turns: Sequence[NormalizedTurn],
        raw: _RawHits,
        dropped: list[tuple[int, Hit, str]] | None = None,
    ) -> dict[int, list[Hit]]:
        """Raw spans that survive vetoes, exceptions, questions, negation and clause scope:
        all within their own turn. `dropped`, when given, collects the spans that question
        and clause scope set aside, with the reason (for `check --show-matches`)."""
        found: dict[int, list[Hit]] = {}
        clauses = self.clauses
        negated: dict[tuple[int, int], bool] = {}
        # Whether a turn says a negator anywhere: most do not, and then no match in it is
        # negated. One search a turn, not one a match (a turn's negatable matches: ~3.5).
        says_negator: dict[int, bool] = {}
        vetoed, cancels = raw.vetoed, raw.cancels
        negation = self.negation
        reader = self.acts
        for index, spans in raw.hits.items():
            matcher = self.matchers[index]
            asks, negates, scoped = not matcher.questions, matcher.negation, matcher.scoped
            wanted_acts = matcher.acts if reader is not None else ()
            kept = []
            for span in spans:
                number, start, end = span
                if vetoed and (index, number) in vetoed:
                    continue
                if wanted_acts and reader is not None and reader.acts_of(
                    turns[number]
                ).acts.isdisjoint(wanted_acts):
                    continue
                if cancels:
                    against = cancels.get((index, number))
                    if against and any(s < end and start < e for s, e in against):
                        continue
                if asks and clauses.asks_at(turns[number], start):
                    if dropped is not None:
                        dropped.append((index, named_from_tuple(Hit, span), "question"))
                    continue
                if negates:
                    key = (number, start)
                    no = negated.get(key)
                    if no is None:
                        turn = turns[number]
                        says = says_negator.get(number)
                        if says is None:
                            says = says_negator[number] = (
                                negation.hint.search(turn.text) is not None
                            )
                        no = negated[key] = says and is_negated(negation, turn, start, clauses)
                    if no:
                        continue
                if scoped:
                    why = self._out_of_scope(matcher, turns[number], span,
                                             raw.clause_vetoes.get((index, number)))
                    if why is not None:
                        if dropped is not None:
                            dropped.append((index, named_from_tuple(Hit, span), why))
                        continue
                kept.append(named_from_tuple(Hit, span))
            if kept:
                found[index] = kept
        return found

    def _out_of_scope(
        self,
        matcher: Matcher,
        turn: NormalizedTurn,
        span: tuple[int, int, int],
        vetoes: list[tuple[int, int]] | None,
    ) -> str | None:
        """Why a match does not count in its clause (None: it counts)."""
        clause = self.clauses.clause_at(turn, span[1])
        if vetoes and any(clause.start <= s < clause.end for s, _ in vetoes):
            return "unless_clause_says"
        return matcher.out_of_scope(clause)

    def _raw_hits(self, turns: Sequence[NormalizedTurn], tables: Sequence[str]) -> _RawHits:
        """Candidate spans of a call's turns: each speaker's turns searched together."""
        by_table: dict[str, list[int]] = {}
        for number, (turn, table) in enumerate(zip(turns, tables, strict=True)):
            if turn.text:
                by_table.setdefault(table, []).append(number)
        raw = _RawHits()
        for table, numbers in by_table.items():
            self._search(self._tables[table], [turns[n].text for n in numbers], numbers, raw,
                         turns)
        return raw

    def set_aside(
        self, turns: Sequence[NormalizedTurn], speakers: Sequence[str]
    ) -> dict[str, list[tuple[Hit, str]]]:
        """The matches of a call's turns that questions or clause scope set aside, with the
        reason: what `check --show-matches` prints so a rule author sees why a phrase that
        is there did not count. Not used by audits (it searches the call again)."""
        tables = self._tables_of(speakers)
        raw = self._raw_hits(turns, tables)
        dropped: list[tuple[int, Hit, str]] = []
        self._kept(turns, raw, dropped)
        found: dict[str, list[tuple[Hit, str]]] = {}
        for index, hit, why in sorted(dropped):
            found.setdefault(self._names[index], []).append((hit, why))
        return found

    def _replied(self, found: dict[int, list[Hit]]) -> dict[str, list[Hit]]:
        """Replies kept only after what they answer; every matcher's hits in turn order."""
        for index, target, within in self._replies:
            hits = found.get(index)
            if not hits:
                continue
            asked = {h.turn for h in found.get(target, ())} if target is not None else set()
            # The turns that answer: the `within` turns after each turn the target matched in.
            answering = {turn + step for turn in asked for step in range(1, within + 1)}
            found[index] = [h for h in hits if h.turn in answering]
        names = self._names
        return {names[i]: sorted(h) for i, h in found.items() if h}


class TurnFound(NamedTuple):
    """What one turn's text yields whatever call it is in."""

    turn: NormalizedTurn
    spans: tuple[tuple[int, int, int], ...]  # (matcher, start, end) kept within the turn
    # For the product-name matchers, judged per call: the turn's exception spans and vetoes.
    product_cancels: tuple[tuple[int, tuple[tuple[int, int], ...]], ...]
    product_vetoes: frozenset[int]


class TurnMemo:
    """What the last `size` distinct turns yielded, by speaker table and text (least
    recently used forgotten first). Shared by the threads of a Dask worker: one lock."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._kept: OrderedDict[tuple[str, str], TurnFound] = OrderedDict()
        self._lock = threading.Lock()
        self.asked = 0
        self.recalled = 0

    def recall(self, keys: Sequence[tuple[str, str]]) -> list[TurnFound | None]:
        if not self.size:
            return [None] * len(keys)
        with self._lock:
            kept = self._kept
            found = [kept.get(key) for key in keys]
            recalled = [key for key, turn_found in zip(keys, found, strict=True)
                        if turn_found is not None]
            move_to_end = kept.move_to_end
            for key in recalled:
                move_to_end(key)
            self.asked += len(keys)
            self.recalled += len(recalled)
        return found

    def keep(self, found: Iterable[tuple[tuple[str, str], TurnFound]]) -> None:
        if not self.size:
            return
        with self._lock:
            kept = self._kept
            for key, turn_found in found:
                kept[key] = turn_found
            while len(kept) > self.size:
                kept.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._kept.clear()


class _Lines:
    """Which turn a position of a speaker's joined text falls in."""

    __slots__ = ("numbers", "starts")

    def __init__(self, numbers: list[int], starts: list[int]) -> None:
        self.numbers = numbers
        self.starts = starts

    def line_of(self, position: int) -> int:
        return bisect_right(self.starts, position) - 1


class _RawHits:
    """Candidate spans of one call before negation and the rest: per matcher a set of
    (turn, start, end); exception spans and vetoes per (matcher, turn)."""

    __slots__ = ("cancels", "clause_vetoes", "hits", "vetoed")

    def __init__(self) -> None:
        self.hits: dict[int, set[tuple[int, int, int]]] = defaultdict(set)
        self.cancels: dict[tuple[int, int], list[tuple[int, int]]] = defaultdict(list)
        self.vetoed: set[tuple[int, int]] = set()
        # unless_clause_says spans per (matcher, turn)
        self.clause_vetoes: dict[tuple[int, int], list[tuple[int, int]]] = defaultdict(list)

    def add_spans(self, index: int, number: int, regex: re2._Regexp, text: str) -> None:
        self.hits[index].update((number, s, e) for s, e in regex_spans(regex, text))


def regex_spans(
    regex: re2._Regexp, text: str, encoded: bytes | None = None
) -> list[tuple[int, int]]:
    """Every non-empty match of an RE2 regex, left to right, as character spans.

    Calls the compiled matcher directly: google-re2's own `finditer` decodes offsets in
    Python and builds a match object per match, which cost a fifth of the audit's time.
    """
    data = text.encode() if encoded is None else encoded
    match = regex._regexp.Match
    size = len(data)
    ascii_only = size == len(text)
    spans: list[tuple[int, int]] = []
    position = 0
    chars = 0  # characters before byte `counted`
    counted = 0
    while position <= size:
        start, end = match(_UNANCHORED, data, position, size)[0]
        if start < 0:
            break
        if end > start:
            if ascii_only:
                spans.append((start, end))
            else:
                chars += _re2.BytesToCharLen(data, counted, start)
                first = chars
                chars += _re2.BytesToCharLen(data, start, end)
                counted = end
                spans.append((first, chars))
            position = end
        else:  # an empty match: step over one character
            position = end + 1
            while position < size and 0x80 <= data[position] < 0xC0:
                position += 1
    return spans


def regex_options() -> re2.Options:
    """How every matcher regex is compiled."""
    options = re2.Options()
    options.log_errors = False
    # A matcher uses a regex's whole match, never its groups: RE2 then need not work out
    # where each group matched.
    options.never_capture = True
    # The set of a pack's ~100 regexes outgrows RE2's default 8 MB DFA budget and rebuilds
    # its DFA over and over: 32 MB made the zh set's search 5.7x faster (2026-12-07,
    # e91cf48); the DFA grows only as far as the text needs.
    options.max_mem = 64 << 20
    return options


def fits_a_regex_set(pattern: str) -> bool:
    """True when a rule file's regex, as the index searches it, fits an RE2 set on its
    own. A set's memory budget is smaller than one regex's: a regex of some thousands of
    alternatives compiles but fits no set."""
    regex_set = re2.Set.SearchSet(regex_options())
    try:
        regex_set.Add("(?m)(?i)" + pattern)
        regex_set.Compile()
    except re2.error:
        return False
    return True


def _regex_sets(patterns: list[str], first: int, options: re2.Options) -> list[tuple[int, object]]:
    """RE2 sets searching `patterns` (the first at position `first`): one when they fit
    together, else the list cut in halves until each part fits. Each regex fits a set on
    its own (the compiler refuses one that does not: fits_a_regex_set)."""
    if not patterns:
        return []
    regex_set = re2.Set.SearchSet(options)
    for pattern in patterns:
        regex_set.Add(pattern)
    try:
        regex_set.Compile()
    except re2.error:
        if len(patterns) == 1:
            raise
        half = len(patterns) // 2
        return (_regex_sets(patterns[:half], first, options)
                + _regex_sets(patterns[half:], first + half, options))
    return [(first, regex_set)]


def _names_text_edges(pattern: str) -> bool:
    r"""Whether a regex says \A or \z (start or end of the whole text)."""
    return "\\A" in pattern or "\\z" in pattern


def _collect(
    automaton: ahocorasick_rs.AhoCorasick,
    entries: list[_Entries],
    searched: str,
    text: str,
    lines: _Lines,
    raw: _RawHits,
) -> None:
    starts = lines.starts
    numbers = lines.numbers
    hits = raw.hits
    for pattern, start, end in automaton.find_matches_as_indexes(searched, overlapping=True):
        line = bisect_right(starts, start) - 1
        base = starts[line]
        span = (numbers[line], start - base, end - base)
        found = entries[pattern]
        if found.plain is not None:
            for matcher in found.plain:
                hits[matcher].add(span)
            continue
        for entry in found.entries:
            if (entry.edges[0] or entry.edges[1]) and not _at_word_edges(
                text, start, end, entry.edges
            ):
                continue
            if entry.role == MATCH:
                hits[entry.matcher].add(span)
            elif entry.role == EXCEPTION:
                raw.cancels[(entry.matcher, span[0])].append(span[1:])
            elif entry.role == CLAUSE_VETO:
                raw.clause_vetoes[(entry.matcher, span[0])].append(span[1:])
            else:
                raw.vetoed.add((entry.matcher, span[0]))


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
