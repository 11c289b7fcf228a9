"""The evaluation report: a table per standard and each disagreement, or the same as JSON."""

from __future__ import annotations

from collections.abc import Iterator

from engine.evaluation import EvalReport, Interval, wilson

Intervals = dict[str, dict[str, Interval | None]]


def _percent(value: float | None) -> str:
    return "   —" if value is None else f"{value:4.2f}"


def _range(interval: Interval | None) -> str:
    return "—" if interval is None else f"{interval.low:.2f}–{interval.high:.2f}"


def format_report(report: EvalReport, intervals: Intervals | None = None) -> Iterator[str]:
    """The table (with 95% intervals when given), then each disagreement, for a person."""
    wide = intervals is not None
    head = (f"{'label':<20} {'calls':>5} {'TP':>4} {'FP':>4} {'FN':>4} {'prec':>5} "
            f"{'recall':>6} {'F1':>5}")
    yield head + (f"  {'prec 95%':>9}  {'recall 95%':>10}  {'F1 95%':>9}" if wide else "")
    for s in report.scores:
        line = (f"{s.label:<20} {s.support:>5} {s.true_positives:>4} {s.false_positives:>4} "
                f"{s.false_negatives:>4} {_percent(s.precision):>5} {_percent(s.recall):>6} "
                f"{_percent(s.f1):>5}")
        if intervals is not None:
            mine = intervals.get(s.label, {})
            line += (f"  {_range(mine.get('precision')):>9}  {_range(mine.get('recall')):>10}"
                     f"  {_range(mine.get('f1')):>9}")
        yield line
    macro = f"macro F1 {_percent(report.macro_f1)} over the labels with labelled calls"
    if intervals is not None:
        macro += f" (95% interval {_range(intervals.get('macro', {}).get('f1'))})"
    yield macro
    yield f"{report.calls} labelled calls compared"
    if report.service_calls:
        flagged = len(report.service_flagged)
        low, high = wilson(flagged, report.service_calls)
        yield (f"plain service conversations given a validity violation: {flagged} of "
               f"{report.service_calls} ({flagged / report.service_calls:.1%}, 95% interval "
               f"{low:.1%}–{high:.1%})")
    for error in report.errors:
        line = f"{error.kind.upper():<11} {error.call_id}  {error.label}"
        if error.rules:
            line += f"  ← {', '.join(error.rules)}"
        yield line
        if error.quotes:
            yield "            quoted: " + " | ".join(error.quotes)
        if error.note:
            yield f"            note: {error.note}"
    for call_id in report.service_flagged:
        yield f"READ AS SALE {call_id} (labelled a plain service conversation)"
    for call_id in report.unlabelled:
        yield f"UNLABELLED  {call_id} (no label line; not scored)"
    for call_id in report.not_found:
        yield f"NOT FOUND   {call_id} (labelled, but no such call was audited)"
    for problem in report.label_problems:
        yield f"BAD LABEL   {problem.source}: {problem.reason}"


def _json_range(interval: Interval | None) -> list[float] | None:
    return None if interval is None else [interval.low, interval.high]


def report_json(report: EvalReport, intervals: Intervals | None = None) -> dict:
    """The same as a document, for scripts and CI."""
    found = intervals or {}
    return {
        "schema": "callaudit.eval/1",
        "calls": report.calls,
        "macro_f1": report.macro_f1,
        "macro_f1_95": _json_range(found.get("macro", {}).get("f1")),
        "scores": [
            {"label": s.label, "support": s.support, "tp": s.true_positives,
             "fp": s.false_positives, "fn": s.false_negatives, "precision": s.precision,
             "recall": s.recall, "f1": s.f1,
             **{f"{name}_95": _json_range(found.get(s.label, {}).get(name))
                for name in ("precision", "recall", "f1")}}
            for s in report.scores
        ],
        "errors": [
            {"call_id": e.call_id, "label": e.label, "kind": e.kind, "rules": list(e.rules),
             "quotes": list(e.quotes), "note": e.note}
            for e in report.errors
        ],
        "service_calls": report.service_calls,
        "service_flagged": report.service_flagged,
        "unlabelled": report.unlabelled,
        "not_found": report.not_found,
        "label_problems": [{"source": p.source, "reason": p.reason}
                           for p in report.label_problems],
    }

