"""`python -m bench.similar`: which example-based matching method separates held-out
paraphrases from ordinary call lines (bench/similar/cases.yaml).

For each concept a rule author writes `like` and `unlike` examples; the method is built from
those (and, for the trained ones, the engine's bank of ordinary lines,
engine/text/ordinary.yaml). Its threshold is chosen on the author's side only: the score
each `like` example gets when the method is rebuilt without it (leave one out), against the
scores of the `unlike` examples (also left out in turn) and of the bank lines (out of fold).
Then the held-out `match` / `no_match` utterances are scored and precision, recall and F1
reported at that threshold, pooled over the concepts. "oracle F1" is the best F1 any one
threshold per concept would give on the held-out set: how separable the scores are at all,
never a figure to choose by.

Methods needing a package that is not installed are skipped (scikit-learn, wordllama,
jieba: `pip install scikit-learn wordllama jieba`). `--json FILE` writes the rows.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import json
import re
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

HERE = Path(__file__).resolve().parent
CASES = HERE / "cases.yaml"
REPO = HERE.parent.parent
sys.path.insert(0, str(REPO))

from engine.rules.similar import (  # noqa: E402
    ExampleModel,
    ordinary_lines,
    units_of,
)

Scorer = Callable[[Sequence[str]], np.ndarray]
# (language, like, unlike, bank) -> a scorer of utterances (higher: more like the examples)
Builder = Callable[[str, Sequence[str], Sequence[str], Sequence[str]], Scorer]

_CLAUSE = re.compile(r"[，。？！、；,.?!;…]+")


def clauses(text: str) -> list[str]:
    return [c.strip() for c in _CLAUSE.split(text) if c.strip()]


def prepared(text: str, language: str) -> str:
    """What the n-gram methods read: lower case, Chinese without spaces and punctuation."""
    text = text.lower()
    if language == "zh":
        return re.sub(r"[\s，。？！、；,.?!;…~～]+", "", text)
    return " ".join(re.findall(r"[a-z0-9']+", text))


def by_units(score_one: Scorer) -> Scorer:
    """An utterance's score: the best of its clauses, pairs of clauses and the whole."""

    def score(texts: Sequence[str]) -> np.ndarray:
        pieces: list[str] = []
        owners: list[int] = []
        for i, text in enumerate(texts):
            for unit in units_of(clauses(text)):
                pieces.append(unit)
                owners.append(i)
        raw = score_one(pieces)
        out = np.full(len(texts), -np.inf)
        np.maximum.at(out, np.array(owners), raw)
        return out

    return score


# --- featurisers -----------------------------------------------------------------------------

def _sklearn_tfidf(language: str, level: str):
    from sklearn.feature_extraction.text import TfidfVectorizer

    if level == "char":
        if language == "zh":
            return TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True)
        return TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), sublinear_tf=True)
    if language == "zh":
        import jieba

        jieba.setLogLevel(60)
        return TfidfVectorizer(tokenizer=jieba.lcut, token_pattern=None, lowercase=False,
                               ngram_range=(1, 2), sublinear_tf=True)
    return TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, token_pattern=r"[a-z0-9']+")


_WORDLLAMA = None


def _wordllama():
    global _WORDLLAMA
    if _WORDLLAMA is None:
        import wordllama
        from wordllama import WordLlama

        # Weights and tokenizer file both ship in the wheel: load them from there, offline.
        _WORDLLAMA = WordLlama.load(cache_dir=Path(wordllama.__file__).parent,
                                    disable_download=True)
    return _WORDLLAMA


def embed(texts: Sequence[str]) -> np.ndarray:
    return np.asarray(_wordllama().embed(list(texts), norm=True), dtype=np.float64)


class Features:
    """Texts to row-normalised feature vectors: TF-IDF fitted on the given texts, or
    WordLlama embeddings, or both side by side."""

    def __init__(self, kind: str, language: str, fit_on: Sequence[str]) -> None:
        self.kind = kind
        self.language = language
        self.vectorizer = None
        if kind in ("char", "word", "char+wordllama"):
            level = "word" if kind == "word" else "char"
            self.vectorizer = _sklearn_tfidf(language, level)
            self.vectorizer.fit([prepared(t, language) for t in fit_on])

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        parts = []
        if self.vectorizer is not None:
            parts.append(self.vectorizer.transform(
                [prepared(t, self.language) for t in texts]).toarray())
        if "wordllama" in self.kind:
            parts.append(embed(texts))
        matrix = np.hstack(parts)
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        return matrix / np.where(norms == 0, 1, norms)


# --- methods ---------------------------------------------------------------------------------

def nearest(kind: str, margin: str | None) -> Builder:
    """Best cosine to a `like` example; with a margin, minus the best cosine to a negative
    (`unlike`, or `unlike` and the bank)."""

    def build(language, like, unlike, bank):
        negatives = list(unlike) + (list(bank) if margin == "bank" else [])
        features = Features(kind, language, [*like, *unlike, *bank])
        positive = features(like)
        negative = features(negatives) if margin and negatives else None

        def score(texts):
            x = features(texts)
            s = (x @ positive.T).max(axis=1)
            if negative is not None:
                s = s - (x @ negative.T).max(axis=1)
            return s

        return by_units(score)

    return build


def logistic(kind: str) -> Builder:
    """scikit-learn logistic regression: `like` against `unlike` and the bank."""

    def build(language, like, unlike, bank):
        from sklearn.linear_model import LogisticRegression

        features = Features(kind, language, [*like, *unlike, *bank])
        x = features([*like, *unlike, *bank])
        y = np.array([1] * len(like) + [0] * (len(unlike) + len(bank)))
        model = LogisticRegression(C=10.0, class_weight="balanced", max_iter=2000).fit(x, y)
        return by_units(lambda texts: model.decision_function(features(texts)))

    return build


def engine_method(language, like, unlike, bank):
    """The engine's own model (engine/rules/similar.py), exactly as a pack compiles it."""
    model = ExampleModel.build(language, like, unlike, bank)

    def score(texts):
        return np.array([model.best(clauses(t))[0] for t in texts])

    return score


@dataclass(frozen=True)
class Method:
    name: str
    build: Builder
    needs: tuple[str, ...]  # import names
    dists: tuple[str, ...]  # distributions whose installed size it adds


METHODS = [
    Method("char tf-idf, max cosine", nearest("char", None), ("sklearn",), ("scikit-learn",)),
    Method("char tf-idf, margin vs unlike", nearest("char", "unlike"), ("sklearn",),
           ("scikit-learn",)),
    Method("char tf-idf, margin vs unlike+bank", nearest("char", "bank"), ("sklearn",),
           ("scikit-learn",)),
    Method("word tf-idf (jieba), max cosine", nearest("word", None), ("sklearn", "jieba"),
           ("scikit-learn", "jieba")),
    Method("word tf-idf (jieba), margin vs unlike+bank", nearest("word", "bank"),
           ("sklearn", "jieba"), ("scikit-learn", "jieba")),
    Method("wordllama, max cosine", nearest("wordllama", None), ("wordllama",), ("wordllama",)),
    Method("wordllama, margin vs unlike", nearest("wordllama", "unlike"), ("wordllama",),
           ("wordllama",)),
    Method("wordllama, margin vs unlike+bank", nearest("wordllama", "bank"), ("wordllama",),
           ("wordllama",)),
    Method("logistic regression, char tf-idf", logistic("char"), ("sklearn",), ("scikit-learn",)),
    Method("logistic regression, word tf-idf (jieba)", logistic("word"), ("sklearn", "jieba"),
           ("scikit-learn", "jieba")),
    Method("logistic regression, wordllama", logistic("wordllama"), ("sklearn", "wordllama"),
           ("scikit-learn", "wordllama")),
    Method("logistic regression, char tf-idf + wordllama", logistic("char+wordllama"),
           ("sklearn", "wordllama"), ("scikit-learn", "wordllama")),
    Method("engine (numpy): logistic, char n-grams", engine_method, (), ()),
]


# --- evaluation ------------------------------------------------------------------------------

@dataclass
class Concept:
    name: str
    language: str
    like: list[str]
    unlike: list[str]
    match: list[str]
    no_match: list[str]


def read_cases(path: Path = CASES) -> list[Concept]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    ordinary = data["ordinary"]
    found = []
    for name, c in data["concepts"].items():
        extra = ordinary.get(f"{c['language']}-{c['speaker']}", [])
        found.append(Concept(name, c["language"], c["like"], c["unlike"],
                             c["held_out"]["match"], c["held_out"]["no_match"] + extra))
    return found


def calibration_scores(method: Method, concept: Concept, bank: list[str]
                       ) -> tuple[np.ndarray, np.ndarray]:
    """Scores of the author's examples, each by a method built without it: positives
    (`like`) and negatives (`unlike`, bank lines in 4 folds)."""
    like, unlike = concept.like, concept.unlike
    lang = concept.language
    pos = []
    for i in range(len(like)):
        scorer = method.build(lang, like[:i] + like[i + 1:], unlike, bank)
        pos.append(scorer([like[i]])[0])
    neg = []
    for i in range(len(unlike)):
        scorer = method.build(lang, like, unlike[:i] + unlike[i + 1:], bank)
        neg.append(scorer([unlike[i]])[0])
    folds = 4
    for k in range(folds):
        held = bank[k::folds]
        rest = [b for j, b in enumerate(bank) if j % folds != k]
        neg.extend(method.build(lang, like, unlike, rest)(held))
    return np.array(pos), np.array(neg)


def best_threshold(pos: np.ndarray, neg: np.ndarray) -> tuple[float, float]:
    """The threshold with the best F1 separating pos from neg (midway between scores)."""
    values = np.unique(np.concatenate([pos, neg]))
    cuts = np.concatenate([[values[0] - 1e-9], (values[1:] + values[:-1]) / 2,
                           [values[-1] + 1e-9]])
    f1s = np.array([f1_of(int((pos >= cut).sum()), int((neg >= cut).sum()), len(pos))[2]
                    for cut in cuts])
    best = f1s.max()
    # ties: the middle of the thresholds that give the best F1
    tied = cuts[f1s >= best - 1e-12]
    return float((tied.min() + tied.max()) / 2), float(best)


def f1_of(tp: int, fp: int, positives: int) -> tuple[float, float, float]:
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / positives if positives else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def installed_mb(dists: Sequence[str]) -> float | None:
    """Installed size of the distributions and everything they require, not counting what
    the engine already depends on (numpy, pyyaml...)."""
    base = {"numpy", "pyyaml", "click", "packaging", "typing-extensions", "fsspec"}
    seen: set[str] = set()
    todo = list(dists)
    total = 0
    while todo:
        name = todo.pop().lower().replace("_", "-")
        if name in seen or name in base:
            continue
        seen.add(name)
        try:
            dist = importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            continue
        for file in dist.files or ():
            path = Path(dist.locate_file(file))
            if path.is_file():
                total += path.stat().st_size
        for req in dist.requires or ():
            if "extra ==" in req:
                continue
            todo.append(re.split(r"[\s;<>=!~\[(]", req, maxsplit=1)[0])
    return total / 1e6


def evaluate(method: Method, concepts: list[Concept], banks: dict[str, list[str]]) -> dict:
    """Held-out figures at each concept's own threshold, and at one threshold for all (both
    chosen on the authors' examples)."""
    calibration = {c.name: calibration_scores(method, c, banks[c.language]) for c in concepts}
    pooled = best_threshold(np.concatenate([p for p, _ in calibration.values()]),
                            np.concatenate([n for _, n in calibration.values()]))[0]
    tp = fp = positives = 0
    tp1 = fp1 = 0
    oracle = []
    build_times, score_times, units = [], [], 0
    per_concept = {}
    for concept in concepts:
        bank = banks[concept.language]
        pos, neg = calibration[concept.name]
        threshold, _ = best_threshold(pos, neg)
        started = time.perf_counter()
        scorer = method.build(concept.language, concept.like, concept.unlike, bank)
        build_times.append(time.perf_counter() - started)
        texts = concept.match + concept.no_match
        scorer(texts[:2])  # warm (first use loads models)
        started = time.perf_counter()
        scores = scorer(texts)
        score_times.append(time.perf_counter() - started)
        units += sum(len(clauses(t)) for t in texts)
        hit = scores[: len(concept.match)] >= threshold
        false = scores[len(concept.match):] >= threshold
        tp += int(hit.sum())
        fp += int(false.sum())
        tp1 += int((scores[: len(concept.match)] >= pooled).sum())
        fp1 += int((scores[len(concept.match):] >= pooled).sum())
        positives += len(concept.match)
        p, r, f = f1_of(int(hit.sum()), int(false.sum()), len(concept.match))
        per_concept[concept.name] = {"threshold": round(threshold, 3), "precision": round(p, 2),
                                     "recall": round(r, 2), "f1": round(f, 2)}
        oracle.append(best_threshold(scores[: len(concept.match)],
                                     scores[len(concept.match):])[1])
    precision, recall, f1 = f1_of(tp, fp, positives)
    precision1, recall1, f1_one = f1_of(tp1, fp1, positives)
    return {
        "method": method.name,
        "precision": round(precision, 3),
        "recall": round(recall, 3),
        "f1": round(f1, 3),
        "threshold": round(pooled, 3),
        "precision_one": round(precision1, 3),
        "recall_one": round(recall1, 3),
        "f1_one": round(f1_one, 3),
        "oracle_f1": round(statistics.mean(oracle), 3),
        "us_per_clause": round(sum(score_times) / units * 1e6, 1),
        "build_ms": round(statistics.mean(build_times) * 1e3, 1),
        "install_mb": round(installed_mb(method.dists) or 0, 1),
        "per_concept": per_concept,
    }


def _without_examples(source: Path, target: Path) -> None:
    """A copy of a pack folder with every matcher's like/unlike/threshold taken out."""
    target.mkdir(parents=True)
    for path in source.glob("*.yaml"):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        for matcher in (data or {}).get("matchers", {}).values():
            if isinstance(matcher, dict):
                for key in ("like", "unlike", "threshold"):
                    matcher.pop(key, None)
        (target / path.name).write_text(yaml.safe_dump(data, allow_unicode=True),
                                        encoding="utf-8")


def cost(rounds: int = 5) -> None:
    """Audit time per call of transcripts/labelled and holdout with the bundled packs, with
    and without their `like:` examples (fresh packs each round: nothing remembered)."""
    import tempfile

    from engine.audit import PackChooser, audit_call
    from engine.model import Call
    from engine.transcripts import load_calls

    calls = [c for c in load_calls([REPO / "transcripts" / "labelled",
                                    REPO / "transcripts" / "holdout"]) if isinstance(c, Call)]
    with tempfile.TemporaryDirectory() as tmp:
        plain = Path(tmp) / "rules"
        for language in ("zh-CN", "en-US"):
            _without_examples(REPO / "rules" / language, plain / language)
        roots = {"without like:": plain, "with like:": REPO / "rules"}
        times: dict[str, list[float]] = {name: [] for name in roots}
        for _ in range(rounds):
            for name, root in roots.items():
                chooser = PackChooser(root)
                chooser.preload()
                started = time.perf_counter()
                for call in calls:
                    audit_call(chooser.for_call(call), call)
                times[name].append((time.perf_counter() - started) / len(calls))
    print(f"audit time per call, {len(calls)} calls (transcripts/labelled and holdout), "
          f"median of {rounds} rounds:")
    for name, values in times.items():
        print(f"  {name:<14} {statistics.median(values) * 1e6:8.0f} µs")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.similar", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", help="run only the methods whose name contains this")
    parser.add_argument("--json", type=Path, help="also write the rows to this file")
    parser.add_argument("--per-concept", action="store_true", help="print each concept's row")
    parser.add_argument("--cost", action="store_true",
                        help="instead: audit time per call with and without like: in the packs")
    args = parser.parse_args(argv)
    if args.cost:
        cost()
        return 0
    concepts = read_cases()
    banks = {lang: list(ordinary_lines(lang)) for lang in ("zh", "en")}
    rows = []
    print(f"{len(concepts)} concepts; held out: "
          f"{sum(len(c.match) for c in concepts)} should match, "
          f"{sum(len(c.no_match) for c in concepts)} should not\n")
    print(f"{'':<48} {'own threshold':^17} {'one threshold':^25}")
    print(f"{'method':<48} {'P':>5} {'R':>5} {'F1':>5} {'P':>5} {'R':>5} {'F1':>5} "
          f"{'at':>7} {'oracle':>6} {'µs/clause':>9} {'build ms':>8} {'MB':>5}")
    for method in METHODS:
        if args.only and args.only not in method.name:
            continue
        missing = [m for m in method.needs if importlib.util.find_spec(m) is None]
        if missing:
            print(f"{method.name:<48} skipped: {', '.join(missing)} not installed")
            continue
        row = evaluate(method, concepts, banks)
        rows.append(row)
        print(f"{row['method']:<48} {row['precision']:>5.2f} {row['recall']:>5.2f} "
              f"{row['f1']:>5.2f} {row['precision_one']:>5.2f} {row['recall_one']:>5.2f} "
              f"{row['f1_one']:>5.2f} {row['threshold']:>7.3f} "
              f"{row['oracle_f1']:>6.2f} {row['us_per_clause']:>9.1f} "
              f"{row['build_ms']:>8.1f} {row['install_mb']:>5.0f}")
        if args.per_concept:
            for name, c in row["per_concept"].items():
                print(f"    {name:<20} t={c['threshold']:<7} P={c['precision']:.2f} "
                      f"R={c['recall']:.2f} F1={c['f1']:.2f}")
    if args.json:
        args.json.write_text(json.dumps(rows, ensure_ascii=False, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
