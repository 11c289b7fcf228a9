"""`callaudit eval CALLS LABELS`: how well the rule packs find what people labelled."""

from __future__ import annotations

import json
from pathlib import Path

import click

from cli_commands import (
    EXIT_OK,
    EXIT_USAGE,
    App,
    RulePackFailed,
    UserError,
    output_errors,
    workspace_option,
)
from engine.audit import CallAudit, NoPackForLanguage, PackChooser, audit_call
from engine.evaluation import bootstrap_intervals, evaluate, label_files, read_labels
from engine.model import Call, Rejected
from engine.outputs import OutputGuard, head_has, write_text
from engine.report.evaluation import format_report, report_json
from engine.rules.problems import RulePackError
from engine.transcripts import load_calls


@click.command("eval")
@click.argument("calls", type=click.Path(exists=True, path_type=Path))
@click.argument("labels", type=click.Path(exists=True, path_type=Path))
@click.option("--rules", "rules_pack", type=click.Path(file_okay=False, path_type=Path),
              help="Use this rule pack for every call (default: by each call's language).")
@click.option("--rounds", type=click.IntRange(0, 100_000), default=2000, show_default=True,
              help="Bootstrap resamplings for the 95% intervals (0: no intervals).")
@click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the report as JSON to this file.")
@workspace_option
@click.pass_obj
def eval_command(app: App, calls: Path, labels: Path, rules_pack: Path | None,
                 rounds: int, json_out: Path | None) -> None:
    """Precision, recall and F1 per standard on labelled CALLS (file or folder).

    LABELS is a file of {"call_id", "violations"} lines (optionally "optional": labels
    the labellers disagreed on, not scored), or a folder of *.labels.jsonl. Every miss and
    false alarm is listed with the call and the rule. Each figure comes with its 95%
    bootstrap interval over calls; macro F1 is the mean F1 of the labels the set has.
    """
    # The JSON may replace only an earlier report, never the calls or the labels it scores.
    guard = OutputGuard(head_has('"callaudit.eval/'), {calls: "the calls being scored",
                                                          labels: "the labels file"})
    if json_out is not None:
        with output_errors(json_out):
            guard.check(json_out)
    try:
        chooser = PackChooser(app.rules_root, rules_pack)
    except RulePackError as exc:
        raise RulePackFailed(exc.render()) from None
    known, problems = read_labels(label_files(labels))
    if not known:
        for problem in problems:
            click.echo(f"{problem.source}: {problem.reason}", err=True)
        raise UserError(f"no usable labels in {labels}")
    rejected: list[Rejected] = []
    try:
        audits = list(_audit(load_calls([calls]), chooser, rejected))
    except RulePackError as exc:
        raise RulePackFailed(exc.render()) from None
    report = evaluate(audits, known)
    report.label_problems.extend(problems)
    intervals = bootstrap_intervals(report, rounds) if rounds else None
    for line in format_report(report, intervals):
        click.echo(line)
    for item in rejected:
        click.echo(f"REJECTED    {item}", err=True)
    if json_out is not None:
        text = json.dumps(report_json(report, intervals), ensure_ascii=False, indent=2) + "\n"
        with output_errors(json_out):
            write_text(json_out, text, guard)
    raise SystemExit(EXIT_USAGE if problems else EXIT_OK)


def _audit(items, chooser: PackChooser, rejected: list[Rejected]):
    for item in items:
        if isinstance(item, Rejected):
            rejected.append(item)
            continue
        assert isinstance(item, Call)
        try:
            pack = chooser.for_call(item)
        except NoPackForLanguage as exc:
            rejected.append(Rejected(item.source, str(exc), "add the pack or use --rules",
                                     item.call_id))
            continue
        result: CallAudit = audit_call(pack, item)
        yield result
