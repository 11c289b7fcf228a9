"""`python -m bench.accuracy`: every labelled set the repository holds, scored at once.

    python -m bench.accuracy                  # macro F1 per set and language, 95% intervals
    python -m bench.accuracy --standards      # also F1 per standard
    python -m bench.accuracy --rules-root DIR # another commit's rules (git archive … rules)
    python -m bench.accuracy --sealed         # the sealed set too: ONCE, at the end of a rebuild

The sets, each scored per language: the project's tuned calls (`labelled`, `holdout`), the
December blind calls (`blind`), the development calls (`dev`, per writer and together), the
fresh writers' calls (`fresh`), and the real public text (`realtext`: signals, and service
conversations read as sales; the `fetched/` texts count only where they were converted, see
transcripts/realtext/README.md).
The sealed calls are left out unless asked for: a sealed score read during rule work is no
longer a sealed score.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from engine.audit import PackChooser, audit_call
from engine.evaluation import (
    EvalReport,
    bootstrap_intervals,
    evaluate,
    read_labels,
    wilson,
)
from engine.model import Call
from engine.report.evaluation import report_json
from engine.rules.base import STANDARDS
from engine.transcripts import load_calls

REPO = Path(__file__).resolve().parent.parent
TRANSCRIPTS = REPO / "transcripts"
SHORT = {"identity": "id", "comprehension": "comp", "script": "script", "consent": "consent",
         "double_confirmation": "double", "forbidden_phrase": "forbid", "opt_out": "opt-out",
         "complaint_risk": "complaint"}


@dataclass(frozen=True)
class Part:
    """One scored row: a name and the (calls file, labels file) pairs it is made of."""

    name: str
    files: tuple[tuple[Path, Path], ...]


def parts(sealed: bool) -> list[Part]:
    """The rows, in the order printed: only those whose files exist."""
    rows: list[Part] = []

    def pairs(folder: Path, pattern: str = "*.jsonl") -> list[tuple[Path, Path]]:
        found = []
        for calls in sorted(folder.glob(pattern)):
            if calls.name.endswith(".labels.jsonl"):
                continue
            labels = calls.with_name(calls.name[: -len(".jsonl")] + ".labels.jsonl")
            if labels.exists():
                found.append((calls, labels))
        return found

    def add(name: str, files: Iterable[tuple[Path, Path]]) -> None:
        files = tuple(files)
        if files:
            rows.append(Part(name, files))

    for folder in ("labelled", "holdout", "blind"):
        add(folder, pairs(TRANSCRIPTS / folder))
    dev = pairs(TRANSCRIPTS / "dev")
    for calls, labels in dev:
        add(f"dev {calls.stem}", [(calls, labels)])
    add("dev, all", dev)
    add("fresh", pairs(TRANSCRIPTS / "fresh"))
    add("realtext", pairs(TRANSCRIPTS / "realtext" / "open")
        + pairs(TRANSCRIPTS / "realtext" / "fetched"))
    if sealed:
        add("SEALED", pairs(TRANSCRIPTS / "sealed"))
        add("SEALED-2", pairs(TRANSCRIPTS / "sealed2"))
    return rows


def score(chooser: PackChooser, part: Part, rounds: int) -> dict[str, tuple[EvalReport, dict]]:
    """The part's report and intervals per language it holds calls of."""
    labels, problems = read_labels(labels for _, labels in part.files)
    if problems:
        raise SystemExit("; ".join(f"{p.source}: {p.reason}" for p in problems))
    calls = [c for c in load_calls([str(calls) for calls, _ in part.files])
             if isinstance(c, Call)]
    result = {}
    for language in ("zh", "en"):
        mine = [c for c in calls if c.language == language]
        if not mine:
            continue
        report = evaluate((audit_call(chooser.for_call(c), c) for c in mine), labels)
        result[language] = (report, bootstrap_intervals(report, rounds) if rounds else {})
    return result


def row(name: str, language: str, report: EvalReport, intervals: dict,
        standards: bool) -> str:
    macro = report.macro_f1
    span = intervals.get("macro", {}).get("f1")
    text = f"{name:<14} {language:<3} {report.calls:>5}  "
    text += "   —  " if macro is None else f"{macro:5.2f}"
    text += f" ({span.low:.2f}–{span.high:.2f})" if span else " " * 12
    if standards:
        for standard in STANDARDS:
            s = report.score(standard)
            text += f" {'—' if not s.support else f'{s.f1 or 0.0:.2f}':>{len(SHORT[standard])}}"
    if report.service_calls:
        share = len(report.service_flagged) / report.service_calls
        low, high = wilson(len(report.service_flagged), report.service_calls)
        text += (f"  service read as sale {len(report.service_flagged)}/"
                 f"{report.service_calls} {share:.1%} ({low:.1%}–{high:.1%})")
    return text


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.accuracy", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rules-root", type=Path, default=REPO / "rules")
    parser.add_argument("--standards", action="store_true", help="F1 per standard too")
    parser.add_argument("--sealed", action="store_true",
                        help="score the sealed set too (once, at the end of a rebuild)")
    parser.add_argument("--rounds", type=int, default=1000, help="bootstrap resamplings")
    parser.add_argument("--json", type=Path, help="also write every report as JSON here")
    args = parser.parse_args(argv)
    chooser = PackChooser(args.rules_root)
    head = f"{'set':<14} {'':<3} {'calls':>5}  macro F1 (95%)   "
    if args.standards:
        head += " " + " ".join(SHORT[s] for s in STANDARDS)
    print(head)
    dump = {}
    for part in parts(args.sealed):
        for language, (report, intervals) in score(chooser, part, args.rounds).items():
            print(row(part.name, language, report, intervals, args.standards), flush=True)
            dump[f"{part.name} {language}"] = report_json(report, intervals)
    if args.json:
        args.json.write_text(json.dumps(dump, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
