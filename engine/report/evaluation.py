"""The evaluation report: a table per standard and each disagreement, or the same as JSON."""

from __future__ import annotations

from collections.abc import Iterator

from engine.evaluation import EvalReport


def _percent(value: float | None) -> str:
    return "   —" if value is None else f"{value:4.2f}"


def format_report(report: EvalReport) -> Iterator[str]:
    """The table, then each disagreement, for a person."""
    yield (f"{'label':<20} {'calls':>5} {'TP':>4} {'FP':>4} {'FN':>4} {'prec':>5} "
           f"{'recall':>6} {'F1':>5}")
    for s in report.scores:
        yield (f"{s.label:<20} {s.support:>5} {s.true_positives:>4} {s.false_positives:>4} "
               f"{s.false_negatives:>4} {_percent(s.precision):>5} {_percent(s.recall):>6} "
               f"{_percent(s.f1):>5}")
    yield f"{report.calls} labelled calls compared"
    for error in report.errors:
        line = f"{error.kind.upper():<11} {error.call_id}  {error.label}"
        if error.rules:
            line += f"  ← {', '.join(error.rules)}"
        yield line
        if error.quotes:
            yield "            quoted: " + " | ".join(error.quotes)
        if error.note:
            yield f"            note: {error.note}"
    for call_id in report.unlabelled:
        yield f"UNLABELLED  {call_id} (no label line; not scored)"
    for call_id in report.not_found:
        yield f"NOT FOUND   {call_id} (labelled, but no such call was audited)"
    for problem in report.label_problems:
        yield f"BAD LABEL   {problem.source}: {problem.reason}"


def report_json(report: EvalReport) -> dict:
    """The same as a document, for scripts and CI."""
    return {
        "schema": "callaudit.eval/1",
        "calls": report.calls,
        "scores": [
            {"label": s.label, "support": s.support, "tp": s.true_positives,
             "fp": s.false_positives, "fn": s.false_negatives, "precision": s.precision,
             "recall": s.recall, "f1": s.f1}
            for s in report.scores
        ],
        "errors": [
            {"call_id": e.call_id, "label": e.label, "kind": e.kind, "rules": list(e.rules),
             "quotes": list(e.quotes), "note": e.note}
            for e in report.errors
        ],
        "unlabelled": report.unlabelled,
        "not_found": report.not_found,
        "label_problems": [{"source": p.source, "reason": p.reason}
                           for p in report.label_problems],
    }

