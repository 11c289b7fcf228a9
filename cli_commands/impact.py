"""`callaudit rules impact`: what a rule change does to past calls, before it ships."""

from __future__ import annotations

import sqlite3
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path

import click

from cli_commands import (
    EXIT_FINDINGS,
    EXIT_OK,
    App,
    RulePackFailed,
    TranscriptInput,
    UserError,
    current_app,
    default_workers,
    ledger_option,
    output_errors,
    parse_day,
)
from engine.actions.ledger import LEDGER_APPLICATION_ID
from engine.actions.policy import ActionPolicy, load_policy
from engine.impact import (
    Auditors,
    Compared,
    ImpactReport,
    LedgerView,
    StartedBetween,
    Tally,
    Threshold,
    compare_calls,
    days_between,
    parse_threshold,
)
from engine.nightly.versions import current_packs, night_versions
from engine.outputs import OutputGuard, write_text
from engine.report.impact import to_html, to_json, to_text
from engine.rules.problems import RulePackError
from engine.rules.revisions import RevisionError, extract_rules

LEDGER = "ledger"
MOST_DAYS = 93  # a quarter: more is a typo, or a job for --from/--to in pieces
REPORT_MARKERS = ("rules impact:", '"schema": "callaudit.impact/', "<title>Rule change impact")


def _threshold(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]
               ) -> list[Threshold]:
    found = []
    for text in values:
        try:
            found.append(parse_threshold(text))
        except ValueError as exc:
            raise click.BadParameter(str(exc), ctx, param) from None
    return found


@click.command("impact")
@click.argument("inputs", nargs=-1, type=TranscriptInput(exists=True))
@click.option("--before", default="HEAD", show_default=True, metavar="REV|FOLDER|ledger",
              help="The rules before the change: a git revision of the rules folder, a "
                   "folder of rule packs, or 'ledger' for the verdicts the ledger recorded.")
@click.option("--after", default=None, metavar="REV|FOLDER",
              help="The rules after the change (default: the rules folder as it is now).")
@click.option("--from", "first", help="The first night of the ledger's calls (YYYY-MM-DD).")
@click.option("--to", "last", help="The last night (default: --from).")
@click.option("--last-days", "last_days", type=click.IntRange(1, MOST_DAYS),
              help="The calls of the N nights up to yesterday (e.g. 7: last week's).")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "html"]), default="text",
              show_default=True)
@click.option("--out", "out_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the report here instead of printing it.")
@click.option("--fail-if", "fail_if", multiple=True, callback=_threshold,
              metavar="FIGURE>N",
              help="Exit 1 when a figure passes N (repeatable): flips>10, upheld_lost>0, "
                   "findings_added>50, callback_created>0 ...")
@click.option("--examples", type=click.IntRange(0, 50), default=3, show_default=True,
              help="Quoted examples per rule and per verdict change.")
@click.option("--workers", type=click.IntRange(1, 256), default=None,
              help="Processes to audit with (default: all cores for 1,000+ calls, else 1).")
@click.option("--no-reuse", is_flag=True,
              help="Audit every call in full under the new rules, reusing nothing (slower; "
                   "the result is the same).")
@click.option("--no-mask", is_flag=True, help="Show numbers said in the calls in full.")
@ledger_option
@click.pass_context
def impact_command(ctx: click.Context, inputs: tuple[Path | str, ...], before: str,
                   after: str | None, first: str | None, last: str | None,
                   last_days: int | None, fmt: str, out_file: Path | None,
                   fail_if: list[Threshold], examples: int, workers: int | None,
                   no_reuse: bool, no_mask: bool, db_path: Path) -> None:
    """Compare the rules before and after a change over past calls: verdicts that flip,
    findings added and removed per rule (with quotes), follow-up actions created or
    withdrawn, and reviewed findings the change would lose or still raise.

    The calls are INPUTS (transcript files or folders), or the workspace's transcripts of
    the nights --from/--to (or --last-days). By default the rules folder as it is now is
    compared with its last commit (HEAD).
    """
    app = current_app(ctx)
    started = time.perf_counter()
    paths, select, nights = _calls(app, inputs, first, last, last_days)
    with _rules(app, before, after) as (old, new, before_label, after_label):
        ledger = _ledger(db_path, required=old is None)
        try:
            report = ImpactReport(before_label, after_label, examples=examples)
            policies = (_policy(old) if old is not None else None, _policy(new))
            tally = Tally(report, policies, ledger, mask=not no_mask)
            auditors = Auditors(old, new, reuse=not no_reuse)
            if workers is None:
                workers = default_workers(paths)
            try:
                for item in compare_calls(paths, auditors, workers=workers, select=select):
                    if isinstance(item, Compared):
                        tally.add(item, auditors.delta(item.call))
                    else:
                        tally.rejected(item)
            except RulePackError as exc:
                raise RulePackFailed(exc.render()) from None
            if ledger is not None and nights:
                live = current_packs(old) if old is not None else None
                report.versions = [v.as_json() for v in
                                   night_versions(ledger, nights[0], nights[-1], live)]
        finally:
            if ledger is not None:
                ledger.close()
    seconds = time.perf_counter() - started
    text = {"text": to_text, "json": _json, "html": to_html}[fmt](report, seconds)
    if out_file is None:
        click.echo(text, nl=False)
    else:
        with output_errors(out_file):
            write_text(out_file, text, OutputGuard(_our_report, {db_path: "the ledger"}))
        click.echo(f"wrote {out_file}: {report.compared} call(s) compared", err=True)
    metrics = report.metrics()
    tripped = [t for t in fail_if if t.trips(metrics)]
    for threshold in tripped:
        click.echo(f"FAIL {threshold}: {threshold.metric} is {metrics[threshold.metric]}",
                   err=True)
    raise SystemExit(EXIT_FINDINGS if tripped else EXIT_OK)


def _json(report: ImpactReport, seconds: float) -> str:
    import json

    return json.dumps(to_json(report, seconds), ensure_ascii=False, indent=2) + "\n"


def _our_report(head: str) -> bool:
    return any(marker in head for marker in REPORT_MARKERS)


def _calls(app: App, inputs: tuple[Path | str, ...], first: str | None, last: str | None,
           last_days: int | None) -> tuple[list[str], StartedBetween | None, list[date]]:
    """The inputs, the picker of calls by date, and the nights asked for."""
    if last_days is not None and (first or last):
        raise UserError("give --last-days or --from/--to, not both")
    if last and not first:
        raise UserError("--to needs --from")
    nights: list[date] = []
    if last_days is not None:
        yesterday = date.today() - timedelta(days=1)
        nights = days_between(yesterday - timedelta(days=last_days - 1), yesterday)
    elif first:
        start, end = parse_day(first), parse_day(last or first)
        if end < start:
            raise UserError(f"--to {end} is before --from {start}")
        nights = days_between(start, end)
        if len(nights) > MOST_DAYS:
            raise UserError(f"{len(nights)} nights asked for; at most {MOST_DAYS} at once: "
                            "compare a quarter at a time")
    select = StartedBetween(nights[0].isoformat(), nights[-1].isoformat()) if nights else None
    if inputs:
        return [str(i) for i in inputs], select, nights
    if not nights:
        raise UserError("which calls? give transcript files or folders, or the ledger's "
                        "nights with --from/--to or --last-days")
    config = app.config
    if config is None:
        raise UserError("--from/--to and --last-days read the workspace's transcripts: run "
                        "this in a workspace (callaudit init), or give transcript files")
    if not isinstance(config.transcripts, Path):
        return [config.transcripts], select, nights
    folders = [config.transcripts / d.isoformat() for d in nights]
    if all(f.is_dir() for f in folders):  # the platform writes one folder per night
        return [str(f) for f in folders], None, nights
    if not config.transcripts.is_dir():
        raise UserError(f"the transcripts folder {config.transcripts} does not exist: point "
                        f"`transcripts:` in {config.path} at the call platform's folder")
    return [str(config.transcripts)], select, nights


@contextmanager
def _rules(app: App, before: str, after: str | None
           ) -> Iterator[tuple[Path | None, Path, str, str]]:
    """The two rules folders (None before: the ledger's record), extracted from git where a
    revision is named, with how each was given."""
    root = app.rules_root
    with tempfile.TemporaryDirectory(prefix="callaudit-impact-") as scratch:
        def folder(given: str, side: str) -> tuple[Path, str]:
            path = Path(given)
            if path.is_dir():
                return path, str(path)
            try:
                return extract_rules(root, given, Path(scratch) / side), f"{given} ({root})"
            except RevisionError as exc:
                raise UserError(f"--{side} {given}: {exc}") from None

        new, after_label = folder(after, "after") if after else (root, f"{root} (as it is now)")
        if before == LEDGER:
            yield None, new, "the ledger's verdicts", after_label
            return
        old, before_label = folder(before, "before")
        yield old, new, before_label, after_label


def _policy(rules: Path) -> ActionPolicy | None:
    path = rules / "actions.yaml"
    if not path.is_file():
        return None
    try:
        return load_policy(path)
    except RulePackError as exc:
        raise RulePackFailed(exc.render()) from None


def _ledger(path: Path, *, required: bool) -> LedgerView | None:
    """The ledger, read-only (reviews; the record in ledger mode); None when there is none
    and none is needed."""
    if not path.is_file():
        if required:
            raise UserError(f"--before ledger: no ledger at {path}; point --db (or the "
                            "workspace's `database:`) at the ledger the nights wrote")
        return None
    try:
        view = LedgerView.open(path)
        (app_id,) = view.db.execute("PRAGMA application_id").fetchone()  # type: ignore[union-attr]
    except sqlite3.Error as exc:
        raise UserError(f"{path} is not a callaudit ledger, or one too old to read ({exc}); "
                        "run `callaudit nightly` once with this version to bring it up to "
                        "date") from None
    if app_id != LEDGER_APPLICATION_ID:
        view.close()
        raise UserError(f"{path} is not a callaudit ledger: point --db at the one the "
                        "nights wrote")
    return view
