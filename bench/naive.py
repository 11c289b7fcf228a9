"""The naive baseline evaluator the engine is measured against.

It does what a first version would: normalise each turn on its own, then look for every
phrase of every matcher with a plain `str.find` loop on every turn, and run every regex on
every turn. What it finds is then judged exactly as the engine judges (negation, questions,
exceptions, replies), so the two must agree hit for hit — `tests/test_bench.py` checks that,
which makes the baseline an oracle for the engine's one-pass search as well as a yardstick.
"""

from __future__ import annotations

from collections.abc import Sequence

from engine.rules.matchers import (
    CLAUSE_VETO,
    EXCEPTION,
    MATCH,
    VETO,
    Hit,
    PhraseIndex,
    _at_word_edges,
    _needs_word_edges,
    _RawHits,
    _sounds_alike,
    _variants,
)
from engine.rules.pack import RulePack
from engine.text.normalize import NormalizedTurn
from engine.text.pinyin import homophone_key


class NaiveSearch:
    """Plain loops over turns, phrases and regexes for one pack's matchers."""

    def __init__(self, index: PhraseIndex) -> None:
        self.index = index
        phrase = index.normalizer.phrase
        self.searches: list[tuple[int, str, str, bool]] = []  # matcher, key, role, by sound
        for number, matcher in enumerate(index.matchers):
            for phrases, role in ((matcher.phrases, MATCH), (matcher.exceptions, EXCEPTION),
                                  (matcher.unless_turn_says, VETO),
                                  (matcher.unless_clause_says, CLAUSE_VETO)):
                # Each phrase with the forms the pack also matches it in (English
                # inflections and determiners, dialect words), as the engine expands it.
                for key in (k for p in phrases for k in _variants(index.normalizer, matcher,
                                                                   phrase(p))):
                    self.searches.append((number, key, role, False))
                    if matcher.homophones and role == MATCH and _sounds_alike(key):
                        self.searches.append((number, homophone_key(key), role, True))

    def scan(self, turns: Sequence[NormalizedTurn], speakers: Sequence[str],
             product_name: str | None = None) -> dict[str, list[Hit]]:
        index = self.index
        product_key = index.normalizer.phrase(product_name) if product_name else ""
        raw = _RawHits()
        for number, (turn, speaker) in enumerate(zip(turns, speakers, strict=False)):
            text = turn.text
            if not text:
                continue
            sounds = ""
            for matcher, key, role, by_sound in self.searches:
                wanted = index.matchers[matcher].speaker
                if wanted is not None and wanted != speaker:
                    continue
                if by_sound and not sounds:
                    sounds = homophone_key(text)
                searched = sounds if by_sound else text
                edges = _needs_word_edges(key)
                at = searched.find(key)
                while at >= 0:
                    end = at + len(key)
                    if not (edges[0] or edges[1]) or _at_word_edges(text, at, end, edges):
                        if role == MATCH:
                            raw.hits[matcher].add((number, at, end))
                        elif role == EXCEPTION:
                            raw.cancels[(matcher, number)].append((at, end))
                        elif role == CLAUSE_VETO:
                            raw.clause_vetoes[(matcher, number)].append((at, end))
                        else:
                            raw.vetoed.add((matcher, number))
                    at = searched.find(key, at + 1)
            for matcher, regex in index.regexes:
                wanted = index.matchers[matcher].speaker
                if wanted is None or wanted == speaker:
                    raw.add_spans(matcher, number, regex, text)
            if product_key and product_key in text:
                at = text.find(product_key)
                for matcher, found in enumerate(index.matchers):
                    if found.product_name and found.speaker in (None, speaker):
                        raw.hits[matcher].add((number, at, at + len(product_key)))
        return index._confirmed(turns, raw)


def make_naive(pack: RulePack) -> None:
    """Turn a loaded pack into the naive baseline: each turn normalised on its own, plain
    loops, and nothing remembered from one call to the next."""
    normalize_call = pack.normalizer.normalize_call
    search = NaiveSearch(pack.index)

    def read_call(
        texts: Sequence[str], speakers: Sequence[str], product_name: str | None = None
    ) -> tuple[list[NormalizedTurn], dict[str, list[Hit]]]:
        turns = [normalize_call((text,))[0] for text in texts]
        return turns, search.scan(turns, speakers, product_name)

    pack.index.read_call = read_call  # type: ignore[method-assign]
