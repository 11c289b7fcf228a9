"""Matching by example: a matcher's `like:` sentences, scored against what a speaker says.

What customers and agents say freely ("我刚喝了几杯，有点晕", "I really need this one for my
numbers") has too many wordings for a phrase list. A rule author writes a few sentences the
matcher should find (`like:`) and a few it must not (`unlike:`); the pack compiles them, once,
into a small linear classifier over character n-grams, trained against those `unlike`
examples and a built-in bank of ordinary call lines (engine/text/ordinary.yaml). Every clause
of the matcher's speaker (and each pair of neighbouring clauses) gets a score; one at or
above the matcher's `threshold` is a hit, explained by its nearest `like` example.

The method was chosen by measurement (`python -m bench.similar`, docs/rules.md "Matching by
example"). Scoring needs only dictionary look-ups: nothing is downloaded or loaded at run
time, and numpy is used only to train the model when the pack is compiled.
"""

from __future__ import annotations

import itertools
import math
import threading
from collections import Counter, OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache, cached_property
from importlib.resources import files
from operator import itemgetter
from typing import TYPE_CHECKING, NamedTuple

import ahocorasick_rs
import yaml

from engine.rules.matchers import Matcher
from engine.text.normalize import NormalizedTurn, Normalizer

if TYPE_CHECKING:  # numpy is imported when a pack with examples is compiled, not by `cli`
    import numpy as np

# The default threshold on a matcher's score, the probability that a clause says what the
# `like` examples say. bench/similar places it at 0.18–0.27 on the authors' own examples
# (each scored by a model trained without it); a call has dozens of clauses, so the default
# leans to fewer matches, and the bundled packs ask for 0.5.
DEFAULT_THRESHOLD = 0.3
# How strongly the classifier is held back (sklearn's C): measured with the threshold.
_C = 10.0
# Clauses of a turn are scored one by one, and the whole turn too when it has at most this
# many clauses ("我刚喝了几杯，有点晕" is two clauses, one thought). Pairs of neighbouring
# clauses in longer turns scored no better on bench/similar and doubled the cost.
_WHOLE_TURN_CLAUSES = 3
# Shorter texts are not scored: "Sorry", "please", "我不" say too little to be like anything.
MIN_CHARS = {"zh": 4}
MIN_WORDS = 3


def long_enough(text: str, language: str) -> bool:
    if language == "en":
        return len(text.split()) >= MIN_WORDS
    return len(text.replace(" ", "")) >= MIN_CHARS.get(language, 4)


@cache
def ordinary_lines(language: str) -> tuple[str, ...]:
    """The built-in bank of ordinary call lines of a language (empty if none)."""
    text = files("engine.text").joinpath("ordinary.yaml").read_text(encoding="utf-8")
    return tuple(yaml.safe_load(text).get(language, ()))


def unit_ranges(count: int) -> list[tuple[int, int]]:
    """The clause ranges [i, j) scored in a turn of `count` clauses: each clause, and the
    whole turn when it is short."""
    ranges = [(i, i + 1) for i in range(count)]
    if 1 < count <= _WHOLE_TURN_CLAUSES:
        ranges.append((0, count))
    return ranges


def units_of(clauses: Sequence[str]) -> list[str]:
    """The texts scored for an utterance already cut into clauses (for the benchmark)."""
    return [" ".join(clauses[i:j]) for i, j in unit_ranges(len(clauses))] or [""]


def ngrams(text: str, language: str) -> Counter[str]:
    """Character n-grams with their counts: 1–3 characters of Chinese text (no spaces in
    it), 2–4 characters inside each padded English word."""
    if language == "en":
        return Counter([
            padded[i : i + n]
            for padded in [f" {word} " for word in text.split()]
            for n in (2, 3, 4)
            for i in range(len(padded) - n + 1)
        ])
    text = text.replace(" ", "")
    size = len(text)
    return Counter([text[i : i + n] for n in (1, 2, 3) for i in range(size - n + 1)])


@dataclass(frozen=True)
class ExampleModel:
    """A trained matcher: weights of the n-grams seen in its examples and bank, their idf,
    and the `like` examples' vectors (to name the nearest one)."""

    language: str
    idf: dict[str, float] = field(repr=False)
    weights: dict[str, float] = field(repr=False)
    bias: float
    examples: tuple[str, ...]  # the `like` sentences as written
    example_vectors: tuple[dict[str, float], ...] = field(repr=False)
    unseen: float = 0.0  # the idf an n-gram seen in no training text would have
    normalizer: Normalizer | None = field(default=None, repr=False, compare=False)

    @classmethod
    def build(
        cls,
        language: str,
        like: Sequence[str],
        unlike: Sequence[str] = (),
        bank: Sequence[str] | None = None,
        normalizer: Normalizer | None = None,
    ) -> ExampleModel:
        """Train on `like` (1) against `unlike` and the bank (0), classes weighted equally."""
        import numpy as np

        normalizer = normalizer or Normalizer(language)
        bank = ordinary_lines(language) if bank is None else bank
        texts = [normalizer.normalize(t).text for t in (*like, *unlike, *bank)]
        grams = [ngrams(t, language) for t in texts]
        documents = len(texts)
        frequency: dict[str, int] = {}
        for counts in grams:
            for gram in counts:
                frequency[gram] = frequency.get(gram, 0) + 1
        idf = {g: math.log((1 + documents) / (1 + f)) + 1 for g, f in frequency.items()}
        unseen = math.log(1 + documents) + 1
        vectors = [_vector(counts, idf) for counts in grams]
        labels = np.array([1.0] * len(like) + [0.0] * (documents - len(like)))
        alpha, bias = _train(vectors, labels, _C)
        weights: dict[str, float] = {}
        for a, vector in zip(alpha, vectors, strict=True):
            if a:
                for gram, value in vector.items():
                    weights[gram] = weights.get(gram, 0.0) + a * value
        return cls(language, idf, weights, bias, tuple(like), tuple(vectors[: len(like)]),
                   unseen, normalizer)

    def vector(self, text: str) -> dict[str, float]:
        """The match text's n-grams, weighted by tf-idf and of unit length (unseen ones
        dropped)."""
        return _vector(ngrams(text, self.language), self.idf, self.unseen)

    def score(self, text: str) -> float:
        """The probability that match text says what the `like` examples say."""
        return float(self.scores([text])[0])

    def scores(self, texts: Sequence[str]) -> np.ndarray:
        """`score` of many match texts in one pass: every n-gram the model knows is found
        by one Aho-Corasick search of them all, and the sums are numpy's. N-grams it does
        not know count in each text's length (see `_vector`), once per occurrence."""
        import numpy as np

        if not texts:
            return np.zeros(0)
        search = self._search
        vocabulary, idf, weights = search.size, search.idf, search.weights
        pieces = self._pieces(texts)
        english = self.language == "en"
        totals = np.array([_occurrences(p, english) for p in pieces], dtype=float)
        starts = np.cumsum([0] + [len(t) + 1 for t in pieces[:-1]])
        found = search.automaton.find_matches_as_indexes("\n".join(pieces), overlapping=True)
        count = len(texts)
        dot = np.zeros(count)
        length = np.zeros(count)
        known = np.zeros(count)
        if found:
            # (pattern, start, end) triples flattened: fromiter builds the array ~3x faster
            # than np.array from a list of tuples.
            matches = np.fromiter(itertools.chain.from_iterable(found), dtype=np.int64,
                                  count=3 * len(found)).reshape(-1, 3)
            unit = np.searchsorted(starts, matches[:, 1], side="right") - 1
            keys, repeats = np.unique(unit * vocabulary + matches[:, 0], return_counts=True)
            unit, gram = keys // vocabulary, keys % vocabulary
            value = (1 + np.log(repeats)) * idf[gram]
            dot = np.bincount(unit, value * weights[gram], minlength=count)
            length = np.bincount(unit, value * value, minlength=count)
            known = np.bincount(unit, repeats, minlength=count)
        length = length + np.maximum(totals - known, 0) * self.unseen**2
        raw = self.bias + np.divide(dot, np.sqrt(length), out=np.zeros(count),
                                    where=length > 0)
        return 1 / (1 + np.exp(-np.clip(raw, -30, 30)))

    def scores_of_few(self, texts: Sequence[str]) -> list[float]:
        """`scores` in plain Python, for the one or two clauses of a call that
        `may_reach` leaves, where numpy's fixed cost a call (~0.2 ms) outweighs the sums;
        numpy's operations in numpy's order, so the same floats (tests/test_similar.py)."""
        if not texts:
            return []
        import numpy as np

        search = self._search
        idf, weights, tf = search.idf_list, search.weights_list, search.tf
        pieces = self._pieces(texts)
        english = self.language == "en"
        totals = [_occurrences(p, english) for p in pieces]
        find = search.automaton.find_matches_as_indexes
        counts = [Counter(map(itemgetter(0), find(piece, overlapping=True)))
                  for piece in pieces]
        unseen = self.unseen**2
        raws = []
        for held, total in zip(counts, totals, strict=True):
            dot = length = 0.0
            known = 0
            for gram in sorted(held):  # numpy's order: by unit, then n-gram number
                repeats = held[gram]
                value = (tf[repeats] if repeats < len(tf) else _tf(repeats)) * idf[gram]
                dot += value * weights[gram]
                length += value * value
                known += repeats
            length = length + max(total - known, 0) * unseen
            raw = self.bias + (dot / math.sqrt(length) if length > 0 else 0.0)
            raws.append(-min(max(raw, -30.0), 30.0))
        return [1 / (1 + e) for e in np.exp(np.array(raws)).tolist()]

    def _pieces(self, texts: Sequence[str]) -> list[str]:
        """The texts as `scores` searches them: English words padded with one space each
        side, Chinese without spaces."""
        if self.language == "en":
            return [f" {' '.join(t.split())} " for t in texts]
        return [t.replace(" ", "") for t in texts]

    def may_reach(self, texts: Sequence[str], threshold: float) -> list[bool]:
        """False for each text whose score is surely below `threshold`, told without
        scoring it: most clauses of a call are like no example.

        The score is sigmoid(bias + v·w / |v|) with v ≥ 0 the text's tf-idf vector. Only
        the n-grams of positive weight (P, a few of the model's, found by one search) add
        to v·w. The text's other R n-gram occurrences add at least R·m·idf_min² to |v|²
        (`_floor`), so v·w / |v| ≤ v_P·w_P / √(|v_P|² + R·m·idf_min²). The margin keeps a
        text whose bound is within rounding of the threshold."""
        if not 0 < threshold < 1:
            return [True] * len(texts)
        need = math.log(threshold / (1 - threshold)) - self.bias - 1e-9
        if need <= 0:
            return [True] * len(texts)
        automaton, weights, idf = self._positive
        if automaton is None:
            return [False] * len(texts)
        find = automaton.find_matches_as_indexes
        floor = self._idf_floor
        english = self.language == "en"
        reach = []
        for piece in self._pieces(texts):
            dot = length = 0.0
            known = 0
            for gram, count in Counter(map(itemgetter(0), find(piece, overlapping=True))).items():
                value = (_TF[count] if count < len(_TF) else 1 + math.log(count)) * idf[gram]
                dot += value * weights[gram]
                length += value * value
                known += count
            if dot <= 0:
                reach.append(False)
                continue
            others = _occurrences(piece, english) - known
            length += _floor(others) * floor
            reach.append(dot >= need * math.sqrt(length) * (1 - 1e-9))
        return reach

    @cached_property
    def _idf_floor(self) -> float:
        """The least square idf an n-gram can have in this model (seen or not), less a
        hair for rounding."""
        least = min([*self.idf.values(), self.unseen]) if self.idf else self.unseen
        return least * least * (1 - 1e-9)

    @cached_property
    def _positive(self) -> tuple[ahocorasick_rs.AhoCorasick | None, list[float], list[float]]:
        """The n-grams of positive weight (searched by `may_reach`), their weights and idf."""
        grams = [g for g, w in self.weights.items() if w > 0]
        if not grams:
            return None, [], []
        return (ahocorasick_rs.AhoCorasick(grams, matchkind=ahocorasick_rs.MatchKind.Standard),
                [self.weights[g] for g in grams], [self.idf[g] for g in grams])

    @cached_property
    def _search(self) -> _Search:
        import numpy as np

        grams = list(self.idf)
        return _Search(
            ahocorasick_rs.AhoCorasick(grams, matchkind=ahocorasick_rs.MatchKind.Standard),
            np.array([self.idf[g] for g in grams]),
            np.array([self.weights.get(g, 0.0) for g in grams]),
            len(grams),
            [self.idf[g] for g in grams],
            [self.weights.get(g, 0.0) for g in grams],
            [0.0, *(1 + np.log(np.arange(1, 64))).tolist()],
        )

    def nearest(self, text: str) -> tuple[str, float]:
        """The `like` example most like the match text, and their cosine."""
        vector = self.vector(text)
        best = (self.examples[0], -1.0) if self.examples else ("", 0.0)
        for example, other in zip(self.examples, self.example_vectors, strict=True):
            cosine = sum(v * other.get(g, 0.0) for g, v in vector.items())
            if cosine > best[1]:
                best = (example, cosine)
        return best

    def best(self, clauses: Sequence[str]) -> tuple[float, str]:
        """The best score among an utterance's clauses (as written, one string each), and
        the text that got it (for the benchmark)."""
        normalizer = self.normalizer or Normalizer(self.language)
        texts = [normalizer.normalize(c).text for c in clauses]
        units = [" ".join(texts[i:j]) for i, j in unit_ranges(len(texts))]
        units = [u for u in units if long_enough(u, self.language)]
        if not units:
            return 0.0, ""
        scores = self.scores(units)
        return float(scores.max()), units[int(scores.argmax())]


class _Search(NamedTuple):
    automaton: ahocorasick_rs.AhoCorasick
    idf: np.ndarray  # by the automaton's pattern number
    weights: np.ndarray
    size: int
    # The same for scores_of_few, as Python floats; tf[r] is 1 + log(r), as numpy gives it.
    idf_list: list[float]
    weights_list: list[float]
    tf: list[float]


def _tf(repeats: int) -> float:
    """1 + log(repeats) as numpy computes it (repeats beyond _Search.tf)."""
    import numpy as np

    return float((1 + np.log(np.array([repeats])))[0])


_TF = [0.0, *(1 + math.log(count) for count in range(1, 64))]  # may_reach's tf, by count


def _occurrences(piece: str, english: bool) -> int:
    """How many n-gram occurrences `scores` counts in a searched piece (`_pieces`): 2-4
    characters inside each padded English word, 1-3 characters of Chinese."""
    if english:
        return 3 * (len(piece) - piece.count(" "))
    return max(3 * len(piece) - 3, len(piece))


def _floor(occurrences: int) -> float:
    """The least Σ(1 + ln r_i)² over n-grams whose counts r_i add up to `occurrences`:
    (1 + ln r)² / r, the square tf per occurrence, is least at r = 1 or at r = the whole."""
    if occurrences <= 0:
        return 0.0
    per = (1 + math.log(occurrences)) ** 2 / occurrences
    return occurrences * min(1.0, per)


def _vector(counts: dict[str, int], idf: dict[str, float], unseen: float = 0.0
            ) -> dict[str, float]:
    """tf-idf (1 + log of the count) of unit length. N-grams the model never saw get no
    weight but count in the length (`unseen` idf, each occurrence once): a clause mostly of
    words no example or bank line has is unlike them all, however well its few known
    n-grams score."""
    vector = {}
    rest = 0.0
    for gram, count in counts.items():
        tf = 1 + math.log(count)
        weight = idf.get(gram)
        if weight is None:
            rest += count * unseen * unseen
        else:
            vector[gram] = tf * weight
    norm = math.sqrt(sum(v * v for v in vector.values()) + rest)
    return {g: v / norm for g, v in vector.items()} if norm else {}


def _train(vectors: list[dict[str, float]], labels: np.ndarray, c: float
           ) -> tuple[np.ndarray, float]:
    """L2-regularised logistic regression with a bias, classes weighted equally, solved
    by Newton's method on the examples' kernel (far fewer examples than n-grams).

    Minimises  c · Σ wᵢ log(1 + exp(−yᵢ f(xᵢ))) + ½ |β|²  with β = Σ αᵢ (xᵢ, 1): the same
    objective as scikit-learn's LogisticRegression(C=c, class_weight="balanced").
    """
    import numpy as np

    count = len(vectors)
    # The examples as rows of a dense matrix over the n-grams they hold (a few hundred rows,
    # a few thousand columns): their dot products in one product, plus 1 for the bias.
    column: dict[str, int] = {}
    for vector in vectors:
        for gram in vector:
            column.setdefault(gram, len(column))
    rows = np.zeros((count, max(len(column), 1)))
    for i, vector in enumerate(vectors):
        for gram, value in vector.items():
            rows[i, column[gram]] = value
    kernel = 1.0 + rows @ rows.T
    positives = labels.sum()
    weight = np.where(labels == 1, count / (2 * max(positives, 1)),
                      count / (2 * max(count - positives, 1))) * c
    alpha = np.zeros(count)
    for _ in range(50):
        f = kernel @ alpha
        p = 1 / (1 + np.exp(-np.clip(f, -30, 30)))
        gradient = weight * (p - labels) + alpha  # gradient in β, mapped back by the kernel
        hessian = (weight * p * (1 - p))[:, None] * kernel + np.eye(count)
        step = np.linalg.solve(hessian, gradient)
        alpha -= step
        if np.abs(step).max() < 1e-8:
            break
    # β = Σ αᵢ (xᵢ, 1): the n-gram weights are the α-weighted vectors, the bias Σ α.
    return alpha, float(alpha.sum())


class ExampleHit(NamedTuple):
    """Why a clause matched by example: what was scored, the nearest example, the score."""

    turn: int
    start: int
    end: int
    score: float
    example: str
    similarity: float


class ExampleMatchers:
    """The `like:` matchers of a pack, compiled once; each scored only on its speaker's
    turns, only when a rule asks for it (CallContext.hits_of), each distinct turn text once."""

    def __init__(self, models: dict[str, tuple[ExampleModel, float, str | None, bool,
                                               tuple[str, ...]]]) -> None:
        # name -> (model, threshold, speaker, questions count, veto phrases)
        self.models = models
        self._memo: OrderedDict[tuple[str, str], tuple[ExampleHit, ...]] = OrderedDict()
        # Each matcher's score of each clause text: a new turn text mostly repeats clauses
        # said before (on the bench's calls 2 of 3 clauses scored were scored already).
        self._unit_scores: dict[str, dict[str, float]] = {name: {} for name in models}
        self._lock = threading.Lock()

    def __bool__(self) -> bool:
        return bool(self.models)

    @property
    def names(self) -> frozenset[str]:
        return frozenset(self.models)

    def find(
        self, name: str, turns: Sequence[NormalizedTurn], speakers: Sequence[str]
    ) -> list[ExampleHit]:
        """Hits of one matcher in a call: the best unit of each of its speaker's turns, if
        it reaches the threshold. Turn texts scored before are remembered; the others are
        scored together in one pass."""
        model, threshold, speaker, questions, vetoes = self.models[name]
        known: dict[int, tuple[ExampleHit, ...]] = {}
        todo: dict[str, list[int]] = {}
        with self._lock:
            for number, (turn, who) in enumerate(zip(turns, speakers, strict=True)):
                if (speaker is not None and who != speaker) or not turn.text:
                    continue
                found = self._memo.get((name, turn.text))
                if found is None:
                    todo.setdefault(turn.text, []).append(number)
                else:
                    self._memo.move_to_end((name, turn.text))
                    known[number] = found
        if todo:
            firsts = [turns[numbers[0]] for numbers in todo.values()]
            fresh = _turns_hits(model, threshold, questions, vetoes, firsts,
                                self._unit_scores[name])
            with self._lock:
                for (text, numbers), found in zip(todo.items(), fresh, strict=True):
                    self._memo[(name, text)] = found
                    for number in numbers:
                        known[number] = found
                while len(self._memo) > MEMO_SIZE:
                    self._memo.popitem(last=False)
        return [ExampleHit(number, *hit[1:]) for number in sorted(known)
                for hit in known[number]]


MEMO_SIZE = 16384


def _turns_hits(
    model: ExampleModel,
    threshold: float,
    questions: bool,
    vetoes: tuple[str, ...],
    turns: Sequence[NormalizedTurn],
    known: dict[str, float] | None = None,
) -> list[tuple[ExampleHit, ...]]:
    """Each turn's best unit at or above the threshold (nothing when none is), all the
    turns' units not in `known` (scores by unit text, updated) scored in one pass."""
    spans: list[tuple[int, int, int]] = []  # (turn, start, end) of each unit scored
    for index, turn in enumerate(turns):
        text = turn.text
        if any(v in text for v in vetoes):
            continue
        starts = turn.clause_starts
        ends = [*starts[1:], len(text)]
        asked = turn.question_clauses if not questions else ()
        for i, j in unit_ranges(len(starts)):
            if asked and any(k in asked for k in range(i, j)):
                continue
            start, end = starts[i], ends[j - 1]
            if long_enough(text[start:end], model.language):
                spans.append((index, start, end))
    scores = _unit_scores(model, [turns[i].text[s:e] for i, s, e in spans], threshold,
                          {} if known is None else known)
    best: dict[int, tuple[float, int, int]] = {}
    for (index, start, end), score in zip(spans, scores, strict=True):
        if score >= threshold and (index not in best or score > best[index][0]):
            best[index] = (score, start, end)
    found: list[tuple[ExampleHit, ...]] = [()] * len(turns)
    for index, (score, start, end) in best.items():
        text = turns[index].text
        # Trim the spaces English clauses begin or end with: the evidence quotes words.
        while start < end and text[start] == " ":
            start += 1
        while end > start and text[end - 1] == " ":
            end -= 1
        example, similarity = model.nearest(text[start:end])
        found[index] = (ExampleHit(-1, start, end, round(score, 3), example,
                                   round(similarity, 3)),)
    return found


def _unit_scores(model: ExampleModel, texts: list[str], threshold: float,
                 known: dict[str, float]) -> list[float]:
    """The model's score of each text, scoring only those not in `known` (then kept
    there). A text scores the same whatever else is scored with it."""
    scores = [known.get(text) for text in texts]
    fresh = list(dict.fromkeys(t for t, score in zip(texts, scores, strict=True)
                               if score is None))
    if not fresh:
        return scores  # type: ignore[return-value]
    reach = model.may_reach(fresh, threshold)
    few = [t for t, may in zip(fresh, reach, strict=True) if may]
    new = dict(zip(few, model.scores_of_few(few), strict=True))
    # Below the threshold, a clause's exact score is never read: 0.0 stands for it.
    new.update((t, 0.0) for t, may in zip(fresh, reach, strict=True) if not may)
    if len(known) > UNITS_KEPT:
        known.clear()
    known.update(new)
    return [new[t] if score is None else score
            for t, score in zip(texts, scores, strict=True)]


UNITS_KEPT = 4 * MEMO_SIZE


def compile_models(
    matchers: Iterable[Matcher], language: str, normalizer: Normalizer
) -> ExampleMatchers | None:
    """Train every `like:` matcher of a pack, once, when the pack is compiled (None: the
    pack has none, and pays nothing)."""
    models = {}
    for matcher in matchers:
        if not matcher.like:
            continue
        model = ExampleModel.build(language, matcher.like, matcher.unlike,
                                   normalizer=normalizer)
        vetoes = (*matcher.unless_turn_says, *matcher.exceptions)
        models[matcher.name] = (
            model,
            DEFAULT_THRESHOLD if matcher.threshold is None else matcher.threshold,
            matcher.speaker,
            matcher.questions,
            tuple(k for k in (normalizer.phrase(v) for v in vetoes) if k),
        )
    return ExampleMatchers(models) if models else None
