"""Measuring a rule pack against calls people have labelled (docs/labelling.md).

Call level: a call is predicted to have a label when a finding of that standard (or
signal) that counts was made on it: not waived, and, for a validity standard, not a coaching
note (severity info). Per label: precision, recall, F1, and every miss and false alarm with
the call and the rules involved, so an officer sees which rule to fix. Macro F1 is the mean
F1 of the labels the set has examples of. Small sets get 95% intervals from a bootstrap over
calls.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from engine.audit import CallAudit
from engine.rules.base import STANDARDS, VALIDITY_STANDARDS


@dataclass(frozen=True)
class Label:
    """What a person said is wrong with one call."""

    call_id: str
    violations: frozenset[str]
    note: str
    source: str  # file:line
    # Labels the labellers could not agree on: a finding of one is neither right nor wrong.
    optional: frozenset[str] = frozenset()
    # True: a plain service conversation, no sale in it (real helpdesk text); any
    # validity violation found on it is a false alarm, counted apart (`service_flagged`).
    service: bool = False


@dataclass(frozen=True)
class LabelProblem:
    """A line of a labels file that could not be used."""

    source: str
    reason: str


@dataclass(frozen=True)
class Score:
    """Call-level counts for one standard or signal."""

    label: str
    true_positives: int
    false_positives: int
    false_negatives: int

    @property
    def support(self) -> int:
        return self.true_positives + self.false_negatives

    @property
    def precision(self) -> float | None:
        predicted = self.true_positives + self.false_positives
        return self.true_positives / predicted if predicted else None

    @property
    def recall(self) -> float | None:
        return self.true_positives / self.support if self.support else None

    @property
    def f1(self) -> float | None:
        p, r = self.precision, self.recall
        if p is None or r is None or p + r == 0:
            return None if p is None or r is None else 0.0
        return 2 * p * r / (p + r)


@dataclass(frozen=True)
class Error:
    """A call where the pack and the label disagree on one standard."""

    call_id: str
    label: str
    kind: str  # "miss" (labelled, not found) or "false alarm" (found, not labelled)
    rules: tuple[str, ...]  # for a false alarm: rule id @ file:line:col that fired
    quotes: tuple[str, ...]  # for a false alarm: what the rules quoted
    note: str  # the labeller's note


@dataclass
class EvalReport:
    """Scores per label, the disagreements, and what could not be compared."""

    scores: list[Score]
    errors: list[Error]
    calls: int
    unlabelled: list[str] = field(default_factory=list)
    not_found: list[str] = field(default_factory=list)
    label_problems: list[LabelProblem] = field(default_factory=list)
    # Per scored call, per label: (labelled, found), or None where the label is optional.
    outcomes: list[dict[str, tuple[bool, bool] | None]] = field(default_factory=list)
    # Calls labelled "service": true, and those of them given a validity violation.
    service_calls: int = 0
    service_flagged: list[str] = field(default_factory=list)

    def score(self, label: str) -> Score:
        return next(s for s in self.scores if s.label == label)

    @property
    def macro_f1(self) -> float | None:
        return macro_f1(self.scores)


def label_files(path: Path) -> list[Path]:
    """A labels file, or every *.labels.jsonl under a folder."""
    if path.is_dir():
        return sorted(p for p in path.rglob("*.labels.jsonl") if p.is_file())
    return [path]


def read_labels(paths: Iterable[Path]) -> tuple[dict[str, Label], list[LabelProblem]]:
    """Every label line; a bad line is a problem to show, not a crash."""
    labels: dict[str, Label] = {}
    problems: list[LabelProblem] = []
    for path in paths:
        try:
            lines = path.read_bytes().splitlines()
        except OSError as exc:
            problems.append(LabelProblem(str(path), f"cannot read the file ({exc.strerror})"))
            continue
        for number, raw in enumerate(lines, start=1):
            if not raw.strip():
                continue
            where = f"{path}:{number}"
            label = _label(raw, where, problems)
            if label is None:
                continue
            if label.call_id in labels:
                problems.append(LabelProblem(where, f"call {label.call_id} is labelled twice "
                                             f"(first at {labels[label.call_id].source})"))
                continue
            labels[label.call_id] = label
    return labels, problems


def _label(raw: bytes, where: str, problems: list[LabelProblem]) -> Label | None:
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError:
        problems.append(LabelProblem(where, "broken JSON"))
        return None
    if not isinstance(obj, dict) or not isinstance(obj.get("call_id"), str):
        problems.append(LabelProblem(where, "a label needs a 'call_id' string"))
        return None
    violations = obj.get("violations")
    if not isinstance(violations, list) or not all(isinstance(v, str) for v in violations):
        problems.append(LabelProblem(where, "'violations' must be a list of standards"))
        return None
    optional = obj.get("optional", [])
    if not isinstance(optional, list) or not all(isinstance(v, str) for v in optional):
        problems.append(LabelProblem(where, "'optional' must be a list of standards"))
        return None
    unknown = sorted((set(violations) | set(optional)) - set(STANDARDS))
    if unknown:
        problems.append(LabelProblem(where, f"unknown label(s) {', '.join(unknown)}; "
                                     f"use: {', '.join(STANDARDS)}"))
        return None
    service = obj.get("service", False)
    if not isinstance(service, bool):
        problems.append(LabelProblem(where, "'service' must be true or false"))
        return None
    both = sorted(set(violations) & set(optional))
    if both:
        problems.append(LabelProblem(where, f"{', '.join(both)} is both a violation and "
                                     "optional; keep it in one list"))
        return None
    return Label(obj["call_id"], frozenset(violations), str(obj.get("note") or ""), where,
                 frozenset(optional), service)


def evaluate(audits: Iterable[CallAudit], labels: dict[str, Label]) -> EvalReport:
    """Compare each audited call's standards with its label."""
    counts = {s: [0, 0, 0] for s in STANDARDS}  # tp, fp, fn
    errors: list[Error] = []
    unlabelled: list[str] = []
    seen: set[str] = set()
    calls = 0
    report_outcomes: list[dict[str, tuple[bool, bool] | None]] = []
    service_calls, service_flagged = 0, []
    for audit in audits:
        call_id = audit.call.call_id
        label = labels.get(call_id)
        if label is None:
            unlabelled.append(call_id)
            continue
        seen.add(call_id)
        calls += 1
        found = counted_standards(audit)
        if label.service:
            service_calls += 1
            if found & set(VALIDITY_STANDARDS):
                service_flagged.append(call_id)
        outcome: dict[str, tuple[bool, bool] | None] = {}
        report_outcomes.append(outcome)
        for standard in STANDARDS:
            expected, predicted = standard in label.violations, standard in found
            if standard in label.optional:
                outcome[standard] = None
                continue
            outcome[standard] = (expected, predicted)
            if expected and predicted:
                counts[standard][0] += 1
            elif predicted:
                counts[standard][1] += 1
                errors.append(_false_alarm(audit, standard, label.note))
            elif expected:
                counts[standard][2] += 1
                errors.append(Error(call_id, standard, "miss", (), (), label.note))
    scores = [Score(s, *counts[s]) for s in STANDARDS]
    missing = sorted(set(labels) - seen)
    return EvalReport(scores, errors, calls, unlabelled, missing, outcomes=report_outcomes,
                      service_calls=service_calls, service_flagged=service_flagged)


def counted_standards(audit: CallAudit) -> set[str]:
    """The standards and signals a call is predicted to have: its verdict's."""
    return {*audit.verdict.violations, *audit.verdict.signals}


def macro_f1(scores: Sequence[Score]) -> float | None:
    """Mean F1 over the labels with at least one labelled call (a label nobody labelled
    has no recall to speak of)."""
    values = [s.f1 or 0.0 for s in scores if s.support]
    return sum(values) / len(values) if values else None


@dataclass(frozen=True)
class Interval:
    low: float
    high: float


def bootstrap_intervals(
    report: EvalReport, rounds: int = 2000, seed: int = 20261207
) -> dict[str, dict[str, Interval | None]]:
    """95% percentile intervals of precision, recall and F1 per label, and of macro F1
    (key "macro"), from `rounds` resamplings of the scored calls with replacement.
    Seeded: the same report always gives the same intervals."""
    calls = report.outcomes
    if not calls:
        return {}
    rng = random.Random(seed)
    samples: dict[str, dict[str, list[float]]] = {
        label: {"precision": [], "recall": [], "f1": []} for label in STANDARDS
    }
    macro: list[float] = []
    n = len(calls)
    for _ in range(rounds):
        counts = {label: [0, 0, 0] for label in STANDARDS}
        for index in rng.choices(range(n), k=n):
            for label, pair in calls[index].items():
                if pair is None:
                    continue
                expected, predicted = pair
                if expected or predicted:
                    counts[label][0 if expected and predicted else 1 if predicted else 2] += 1
        scores = [Score(label, *counts[label]) for label in STANDARDS]
        for score in scores:
            for name in ("precision", "recall", "f1"):
                value = getattr(score, name)
                if name == "f1" and value is None and score.support:
                    value = 0.0  # labelled calls, none found: no precision, but F1 is 0
                if value is not None:
                    samples[score.label][name].append(value)
        value = macro_f1(scores)
        if value is not None:
            macro.append(value)
    result: dict[str, dict[str, Interval | None]] = {
        label: {name: _percentiles(values) for name, values in by_name.items()}
        for label, by_name in samples.items()
    }
    result["macro"] = {"f1": _percentiles(macro)}
    return result


def _percentiles(values: list[float]) -> Interval | None:
    if not values:
        return None
    ordered = sorted(values)
    last = len(ordered) - 1
    return Interval(ordered[round(0.025 * last)], ordered[round(0.975 * last)])


def _false_alarm(audit: CallAudit, standard: str, note: str) -> Error:
    fired = [f for f in audit.findings if f.standard == standard and f.waiver is None]
    return Error(
        audit.call.call_id,
        standard,
        "false alarm",
        tuple(dict.fromkeys(f"{f.rule_id} @ {f.rule_source}" for f in fired)),
        tuple(e.quote for f in fired for e in f.evidence)[:4],
        note,
    )


def wilson(hits: int, total: int) -> tuple[float, float]:
    """The 95% Wilson score interval of a proportion (sound for 0 of n, unlike ±2 s.e.)."""
    if total <= 0:
        return 0.0, 1.0
    z = 1.959964
    share = hits / total
    centre = (share + z * z / (2 * total)) / (1 + z * z / total)
    half = z * math.sqrt(share * (1 - share) / total + z * z / (4 * total * total))
    half /= 1 + z * z / total
    return max(0.0, centre - half), min(1.0, centre + half)
