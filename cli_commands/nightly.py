"""`callaudit init`, `callaudit nightly`, `callaudit sample export`, `callaudit review`,
`callaudit report weekly`: the QA analyst's daily job."""

from __future__ import annotations

import contextlib
import csv
import errno
import io
import json
import sqlite3
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass, field, replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import click
import yaml

from cli_commands import (
    EXIT_OK,
    EXIT_USAGE,
    RulePackFailed,
    TranscriptInput,
    UserError,
    day_problem,
    default_workers,
    open_ledger,
    parse_day,
    read_config,
)
from cli_commands import config_option as workspace_config_option
from cli_commands.followup import write_csv, write_text_file
from engine.actions.ledger import Ledger, LedgerError, now
from engine.actions.policy import load_policy
from engine.audio.wav import AudioError
from engine.model import Call
from engine.nightly.analysis import agent_metrics, draw_sample, totals, week_days
from engine.nightly.config import LEVELS, NightlyConfig
from engine.nightly.run import (
    EmptyNight,
    NightlyBusy,
    NightResult,
    night_inputs,
    run_night,
)
from engine.nightly.versions import (
    NightReaudit,
    NightVersions,
    PackVersion,
    current_packs,
    night_versions,
)
from engine.outputs import OutputRefused, escape_controls, write_text
from engine.privacy import mask_numbers_in_text
from engine.rules.base import SEVERITIES, VALIDITY_STANDARDS, RuleInfo
from engine.rules.pack import PACK_FILE, display_path, load_pack
from engine.rules.problems import RulePackError
from engine.workspace import CONFIG_FILE, lay_out, set_up_git

EXIT_ALERT = 5  # --fail-on-alert: an early warning at or above the level was raised
EXIT_EMPTY_NIGHT = 6  # no transcripts for the date (on_empty_night: fail, the default)
EXIT_NIGHT_FAILED = EXIT_USAGE  # --reaudit: a night of the range failed (the others ran)
# A longer --reaudit range needs --yes: each night costs about what its first audit cost,
# and a typo in a year (2025 for 2026) would otherwise start a year of nights.
MAX_REAUDIT_NIGHTS = 92

config_option = workspace_config_option(expose=True)


def _week(text: str) -> list[date]:
    """An ISO week option (2026-W48): its days, each in the accepted range."""
    try:
        days = week_days(text)
    except (ValueError, IndexError, OverflowError):
        raise UserError(f"'{text}' is not an ISO week like 2026-W48") from None
    problem = day_problem(days[0]) or day_problem(days[-1])
    if problem:
        raise UserError(f"week {text}: {problem}")
    return days


def _reports_folder(config: NightlyConfig, *, make: bool) -> None:
    """The configured reports folder must be a folder (made when `make`): `reports:`
    naming a file, or a path through one, is told before anything is written."""
    path = config.reports
    for place in (path, *path.parents):
        if place.exists():
            if not place.is_dir():
                raise UserError(f"`reports:` in {config.path} is {path}, but {place} is a "
                                "file: point it at a folder")
            break
    if make:
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UserError(f"cannot make the reports folder {path}: {exc.strerror or exc}; "
                            f"point `reports:` in {config.path} at a folder you can write"
                            ) from None


# What a full or read-only disk, or a folder one may not write, raises; told plainly.
_DISK_HINTS = {
    errno.ENOSPC: "free some space, then run the night again (a re-run completes it)",
    errno.EDQUOT: "free some space, then run the night again (a re-run completes it)",
    errno.EROFS: "point `reports:` and `database:` in the configuration at a writable place",
    errno.EACCES: "give this user the right to write there, or point the configuration "
                  "elsewhere",
    errno.EPERM: "give this user the right to write there, or point the configuration "
                 "elsewhere",
    errno.ENOTDIR: "a part of the path is a file: point the configuration at a folder",
}


def _disk_problem(exc: OSError, folder: Path) -> str | None:
    """A plain sentence for an OSError from writing the night's files in `folder` (named
    when the error names no file: a buffered write that failed on flush), or None."""
    hint = _DISK_HINTS.get(exc.errno or 0)
    if hint is None:
        return None
    where = exc.filename or f"the night's files in {folder}"
    return f"cannot write {where}: {exc.strerror or exc}; {hint}"


@click.command("init")
@click.argument("folder", required=False, type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--config",
    "--path",
    "path",
    type=click.Path(dir_okay=False, path_type=Path),
    help=f"Name the configuration file instead (its folder is the workspace; default: "
         f"FOLDER/{CONFIG_FILE}).",
)
@click.option("--no-git", is_flag=True,
              help="Do not make the folder a git repository (nor commit to one).")
def init_command(folder: Path | None, path: Path | None, no_git: bool) -> None:
    """Set up a QA workspace in FOLDER (default: here): a commented callaudit.yaml, a copy
    of the bundled rule packs and action policy under rules/ (yours to edit and keep in
    git), transcripts/, reports/, a README of the layout, a .gitignore keeping customers'
    words out of git and a .pre-commit-config.yaml checking the rules before each commit.
    Nothing there is replaced.

    Unless --no-git is given or FOLDER is inside a git repository already, FOLDER becomes
    a git repository, with a first commit of the configuration and the rules when your git
    identity (user.name, user.email) is set."""
    if folder is not None and path is not None:
        raise UserError("give FOLDER or --config, not both")
    path = path or (folder or Path(".")) / CONFIG_FILE
    if path.exists() or path.is_symlink():
        raise UserError(f"{path} exists: its folder is a workspace already; nothing written "
                        "(remove it first to start over)")
    where = path.parent
    try:
        laid = lay_out(where, path.name)
    except OSError as exc:
        raise UserError(f"cannot set up a workspace in {where}: {exc.strerror or exc}") from None
    for item in laid:
        shown = display_path(item.path) + ("/" if item.path.is_dir() else "")
        click.echo(f"wrote {shown}" if item.created else f"kept {shown}: it exists, left as it is")
    if not no_git:
        for line in set_up_git(where, display_path(where), path.name).lines:
            click.echo(line)
    click.echo(f"next: put a day's transcripts in {display_path(where / 'transcripts')}/"
               "YYYY-MM-DD/ and run `callaudit nightly --date YYYY-MM-DD` there")


@click.command("nightly")
@click.option("--date", "day_text", help="The night to audit: YYYY-MM-DD.")
@click.option("--reaudit", "reaudit_text", metavar="FROM..TO",
              help="Re-audit past nights, FROM to TO inclusive (YYYY-MM-DD..YYYY-MM-DD), "
                   "under the current rules, each change recorded in the ledger's history.")
@click.option("--yes", is_flag=True,
              help=f"With --reaudit: go ahead with more than {MAX_REAUDIT_NIGHTS} nights.")
@click.argument("inputs", nargs=-1, type=TranscriptInput(exists=True))
@config_option
@click.option(
    "--fail-on-alert",
    type=click.Choice(LEVELS),
    help=f"Exit {EXIT_ALERT} when an early warning at this level or above is raised.",
)
@click.option("--workers", type=click.IntRange(1, 256), default=None,
              help="Processes to audit with (default: all cores for 1,000+ calls, else 1).")
@click.option("--cluster", metavar="ADDRESS",
              help="Audit on a Dask distributed cluster (e.g. tcp://scheduler:8786); the "
                   "rules must be on storage the workers can read. The ledger and the report "
                   "are written here.")
@click.option("--no-mask", is_flag=True, help="Full phone numbers in the report.")
def nightly_command(
    day_text: str | None,
    reaudit_text: str | None,
    yes: bool,
    inputs: tuple[Path | str, ...],
    config_path: Path,
    fail_on_alert: str | None,
    workers: int | None,
    cluster: str | None,
    no_mask: bool,
) -> None:
    """Audit a night's calls into the ledger, draw the review samples, raise early
    warnings and write the day's report (reports/<date>/report.html, tables, XLSX).

    INPUTS (files, folders or storage URLs) default to the configured transcripts.
    Re-running a night is safe: the ledger records only what is new or changed, and the
    night's files are written whole again. A second run started meanwhile says so and exits.

    `--reaudit FROM..TO` runs each night of the range again under the current rules: calls
    judged by other rules are re-audited, their earlier findings and unacted actions
    superseded, each change kept in the ledger's history, and the nights' reports rewritten.
    """
    if (day_text is None) == (reaudit_text is None):
        raise UserError("give --date YYYY-MM-DD (one night) or --reaudit FROM..TO (past "
                        "nights again, under the current rules)"
                        + (", not both" if day_text is not None else ""))
    if reaudit_text is not None and inputs:
        raise UserError("--reaudit reads each night from the configured transcripts: give "
                        "no INPUTS (they are for one --date)")
    if yes and reaudit_text is None:
        raise UserError(f"--yes goes with --reaudit (a range of more than "
                        f"{MAX_REAUDIT_NIGHTS} nights)")
    # The log starts with the run it is of, so a log mailed from an older run shows as such.
    what = f"--date {day_text}" if day_text is not None else f"--reaudit {reaudit_text}"
    log = NightLog([f"callaudit nightly {escape_controls(what)} ({now()})"])
    try:
        config = read_config(config_path)
    except click.ClickException as exc:
        # No configuration to say where the reports go: the default place, if it is there.
        log.lines.append(f"Error: {exc.format_message()}")
        if (config_path.resolve().parent / "reports").is_dir():
            log.write(config_path.resolve().parent / "reports")
        raise
    if no_mask:
        config = replace(config, mask=False)
    try:
        if reaudit_text is not None:
            code = _reaudit(config, reaudit_text, yes, fail_on_alert, workers, cluster, log)
        else:
            assert day_text is not None
            code = _night(config, day_text, inputs, fail_on_alert, workers, cluster, log)
    except click.ClickException as exc:
        log.lines.append(f"Error: {exc.format_message()}")
        log.write(config.reports)
        raise
    log.write(config.reports)
    raise SystemExit(code)


@dataclass
class NightLog:
    """What a night printed, kept for reports/latest.log (which the README's cron line
    mails when the night fails or alerts)."""

    lines: list[str] = field(default_factory=list)

    def echo(self, text: str, *, err: bool = False) -> None:
        click.echo(text, err=err)
        self.lines.append(text)

    def write(self, reports: Path) -> None:
        """reports/latest.log, whole or not at all; a reports folder that cannot be written
        has already been told."""
        with contextlib.suppress(OSError, OutputRefused):
            write_text(reports / "latest.log", "\n".join(self.lines) + "\n")


class NightProgress:
    """A count of the records done, rewritten in place on one stderr line a few times a
    second: for a person watching a long night at a terminal (never in a log or a pipe)."""

    def __init__(self, day: date) -> None:
        self.day = day
        self.done = 0
        self.shown = 0.0
        self.showing = False

    def __call__(self, item: object) -> None:
        self.done += 1
        moment = time.monotonic()
        if moment - self.shown >= 0.2:
            self.shown = moment
            self.showing = True
            click.echo(f"\r{self.day}: {self.done:,} record(s) audited…", err=True, nl=False)

    def clear(self) -> None:
        if self.showing:
            click.echo("\r\033[K", err=True, nl=False)


class NightFailed(UserError):
    """A night that could not be run, told plainly. `whole_run`: the cause is not the
    night's own (the ledger, the disk, the cluster, another run going): the nights after
    it in a --reaudit range would fail alike, so the range stops."""

    def __init__(self, message: str, *, whole_run: bool = True) -> None:
        super().__init__(message)
        self.whole_run = whole_run


# Errors of writing one night's files that concern that night's folder alone.
_NIGHT_OWN_ERRNOS = (errno.EACCES, errno.EPERM, errno.ENOTDIR)


def _run_one(config: NightlyConfig, day: date, inputs: tuple[Path | str, ...],
             workers: int | None, cluster: str | None, *, reaudit: bool = False) -> NightResult:
    """One night run as `run_night` runs it, its failures as NightFailed (EmptyNight and a
    rule pack that does not compile pass through)."""
    progress = NightProgress(day) if sys.stderr.isatty() else None
    try:
        paths = [str(p) for p in inputs] or None
        if workers is None and cluster is None:
            workers = default_workers(paths or night_inputs(config, day)[0])
        return run_night(config, day, paths, on_record=progress, workers=workers or 1,
                         cluster=cluster, reaudit=reaudit)
    except NightlyBusy as exc:
        raise NightFailed(str(exc)) from None
    except LedgerError as exc:
        raise NightFailed(str(exc)) from None
    except OutputRefused as exc:  # a file of the night's folder that is not callaudit's
        raise NightFailed(str(exc), whole_run=False) from None
    except (OSError, TimeoutError) as exc:
        problem = (_disk_problem(exc, config.reports / day.isoformat())
                   if isinstance(exc, OSError) else None)
        if problem:
            raise NightFailed(problem, whole_run=getattr(exc, "errno", None)
                              not in _NIGHT_OWN_ERRNOS) from None
        if cluster is None:
            raise
        raise NightFailed(f"cannot use the Dask cluster at {cluster}: {exc}") from None
    except sqlite3.OperationalError as exc:
        if "full" in str(exc):
            raise NightFailed(f"cannot write the ledger {config.database}: the disk is full; "
                              "free some space, then run the night again") from None
        if "readonly" in str(exc) or "unable to open" in str(exc):
            raise NightFailed(f"cannot write the ledger {config.database} ({exc}): point "
                              f"`database:` in {config.path} at a file you can write"
                              ) from None
        raise NightFailed(f"{config.database} is not a callaudit ledger ({exc})") from None
    except sqlite3.DatabaseError as exc:
        raise NightFailed(f"{config.database} is not a callaudit ledger ({exc})") from None
    except RulePackError as exc:
        raise RulePackFailed(exc.render()) from None
    except AudioError as exc:  # the speech engine cannot load: no recording can be done
        raise NightFailed(f"cannot transcribe the night's recordings: {exc.reason} — "
                          f"{exc.hint}") from None
    finally:
        if progress is not None:
            progress.clear()


def _transcripts_there(config: NightlyConfig, inputs: tuple[Path | str, ...]) -> None:
    if (not inputs and isinstance(config.transcripts, Path) and not config.transcripts.is_dir()
            and config.recordings is None):
        raise UserError(f"the transcripts folder {config.transcripts} does not exist: point "
                        f"`transcripts:` in {config.path} at the folder the call platform "
                        "writes to, or give the night's files as arguments")


def _tell_alerts(result: NightResult, log: NightLog, *, new_only: bool = False) -> None:
    for alert in result.alerts:
        what = (f"{alert.warning_id} — {alert.count} ≥ {alert.threshold} in "
                f"{alert.window_days} day(s) → {alert.responsible}")
        if alert.new:
            log.echo(f"ALERT {alert.level}: {result.day}: {what}" if new_only
                     else f"ALERT {alert.level}: {what}", err=True)
        elif not new_only:  # a re-run: told, not raised again (nor counted by --fail-on-alert)
            log.echo(f"{alert.level} already raised for this night at "
                     f"{alert.first_raised_at}: {what}", err=True)


def _alerting(result: NightResult, fail_on_alert: str | None) -> bool:
    return bool(fail_on_alert and result.worst_alert
                and LEVELS.index(result.worst_alert) >= LEVELS.index(fail_on_alert))


def _night(config: NightlyConfig, day_text: str, inputs: tuple[Path | str, ...],
           fail_on_alert: str | None, workers: int | None, cluster: str | None,
           log: NightLog) -> int:
    """The night as `nightly_command` runs it; its exit code."""
    day = parse_day(day_text)
    _reports_folder(config, make=True)
    _transcripts_there(config, inputs)
    try:
        result = _run_one(config, day, inputs, workers, cluster)
    except EmptyNight as exc:
        log.echo(f"warning: {exc}", err=True)
        return EXIT_OK if config.on_empty_night == "warn" else EXIT_EMPTY_NIGHT
    if result.transcribed:
        log.echo(f"{day}: recordings: {result.transcribed}")
    log.echo(f"{day}: {result.summary.line()}")
    if result.change.reaudited:
        log.echo(escape_controls(result.change.line()))
    log.echo(
        f"review sample: {len(result.sample.calls)} call(s); report: "
        f"{result.folder / 'report.html'}"
    )
    _tell_alerts(result, log)
    return EXIT_ALERT if _alerting(result, fail_on_alert) else EXIT_OK


def reaudit_range(text: str, yes: bool) -> list[date]:
    """The nights of a --reaudit FROM..TO range (a single date is a range of one), each
    date as --date takes it; UserError for anything else."""
    first_text, dots, last_text = text.strip().partition("..")
    if not dots:
        last_text = first_text
    if not first_text or not last_text:
        raise UserError(f"--reaudit '{text}' is not a range like 2026-11-20..2026-11-23")
    try:
        first, last = parse_day(first_text.strip()), parse_day(last_text.strip())
    except UserError as exc:
        raise UserError(f"--reaudit {text}: {exc.format_message()}") from None
    if first > last:
        raise UserError(f"--reaudit {text}: {first} is after {last}; give the earlier date "
                        f"first ({last}..{first})")
    count = (last - first).days + 1
    if count > MAX_REAUDIT_NIGHTS and not yes:
        raise UserError(f"--reaudit {text} spans {count} nights; more than "
                        f"{MAX_REAUDIT_NIGHTS} at once needs --yes (each night costs about "
                        "what its first audit did), or give a shorter range")
    return [first + timedelta(days=n) for n in range(count)]


@dataclass
class ReauditTotals:
    """What a --reaudit run did, night by night, for its last line."""

    done: list[NightReaudit] = field(default_factory=list)
    skipped: list[date] = field(default_factory=list)
    failed: list[date] = field(default_factory=list)

    def line(self, text: str) -> str:
        changes = (sum(c.reaudited for c in self.done), sum(c.unchanged for c in self.done),
                   sum(c.to_invalid for c in self.done), sum(c.to_valid for c in self.done))
        return (f"re-audit {text}: {len(self.done)} night(s) re-audited, {len(self.skipped)} "
                f"skipped (no transcripts), {len(self.failed)} failed; {changes[0]} call(s) "
                f"re-audited, {changes[1]} unchanged; {changes[2]} valid→invalid, "
                f"{changes[3]} invalid→valid")


def _reaudit(config: NightlyConfig, text: str, yes: bool, fail_on_alert: str | None,
             workers: int | None, cluster: str | None, log: NightLog) -> int:
    """`nightly --reaudit FROM..TO`: each night run again under the current rules (changes
    recorded in the history by the ledger and `run_night`), a line per night and a total;
    the exit code."""
    days = reaudit_range(text, yes)
    text = f"{days[0]}..{days[-1]}"
    _reports_folder(config, make=True)
    _transcripts_there(config, ())
    totals = ReauditTotals()
    alerting = False
    for day in days:
        try:
            result = _run_one(config, day, (), workers, cluster, reaudit=True)
        except EmptyNight:
            log.echo(f"no transcripts for {day}: skipped")
            totals.skipped.append(day)
            continue
        except RulePackFailed:  # told below, as a night run tells it
            totals.failed.append(day)
            log.echo(totals.line(text), err=True)
            log.echo(f"error: the re-audit stopped at {day}: a rule file does not compile "
                     f"(below); fix it, then run `callaudit nightly --reaudit "
                     f"{day}..{days[-1]}`", err=True)
            raise
        except NightFailed as exc:
            totals.failed.append(day)
            log.echo(f"error: {day}: {exc.format_message()}", err=True)
            if not exc.whole_run:
                continue
            log.echo(totals.line(text), err=True)
            raise NightFailed(f"the re-audit stopped at {day}: nights {day}..{days[-1]} were "
                              f"not re-audited; put that right, then run `callaudit nightly "
                              f"--reaudit {day}..{days[-1]}`") from None
        totals.done.append(result.change)
        log.echo(escape_controls(result.change.line()))
        _tell_alerts(result, log, new_only=True)
        alerting = alerting or _alerting(result, fail_on_alert)
    log.echo(totals.line(text))
    if totals.failed:
        log.echo(f"error: {len(totals.failed)} night(s) failed: "
                 f"{', '.join(str(d) for d in totals.failed)} (see above); the others were "
                 "re-audited", err=True)
        return EXIT_NIGHT_FAILED
    if not totals.done:
        log.echo(f"warning: no transcripts for any night of {text}: nothing re-audited",
                 err=True)
        return EXIT_OK if config.on_empty_night == "warn" else EXIT_EMPTY_NIGHT
    return EXIT_ALERT if alerting else EXIT_OK


@click.group("sample")
def sample_group() -> None:
    """The registered review samples."""


@sample_group.command("export")
@click.option("--date", "day_text", help="The daily sample of this date.")
@click.option("--week", help="The weekly sample of this ISO week (2026-W48).")
@click.option("--out", "out_file", required=True, type=click.Path(dir_okay=False, path_type=Path))
@config_option
def sample_export(
    day_text: str | None, week: str | None, out_file: Path, config_path: Path
) -> None:
    """Write the reviewers' work list: call, agent, date, and why it was drawn."""
    if bool(day_text) == bool(week):
        raise UserError("give one of --date or --week")
    if day_text:
        day_text = parse_day(day_text).isoformat()
    else:
        _week(week or "")
    config = read_config(config_path)
    kind, period = ("daily", day_text) if day_text else ("weekly", week or "")
    with open_ledger(config.database) as ledger:
        sample = draw_sample(ledger, config, kind, period, by="sample export")
        rows = [ledger.db.execute("SELECT agent_id, started_at FROM calls WHERE call_id = ?",
                                  (call_id,)).fetchone() for call_id in sample.calls]
        write_csv(out_file, ["call_id", "agent_id", "started_at", "kind", "period", "seed"],
                  ([call_id, row["agent_id"], row["started_at"], kind, period, sample.seed]
                   for call_id, row in zip(sample.calls, rows, strict=True)))
    click.echo(f"{len(sample.calls)} call(s) of the {kind} sample {period} → {out_file}")


class _ReviewGroup(click.Group):
    """`callaudit review FINGERPRINT --verdict ...` records; `review missed` and
    `review export-examples` are subcommands."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["record", *args]
        return super().parse_args(ctx, args)


@click.group("review", cls=_ReviewGroup)
def review_group() -> None:
    """Human verdicts on findings, and disputes: `callaudit review FINGERPRINT --verdict
    upheld|overturned --by NAME [--note TEXT] [--dispute]`; violations the audit missed:
    `callaudit review missed CALL_ID --rule RULE_ID --by NAME --note TEXT`."""


@review_group.command("record", hidden=True)
@click.argument("fingerprint")
@click.option("--verdict", type=click.Choice(["upheld", "overturned"]), required=True)
@click.option("--by", "by_name", required=True)
@click.option("--note", default="")
@click.option("--dispute", is_flag=True, help="Record it as the agent's dispute, ruled on.")
@config_option
def review_record(fingerprint: str, verdict: str, by_name: str, note: str, dispute: bool,
                  config_path: Path) -> None:
    """Record a human verdict on a finding (by its fingerprint): upheld or overturned.
    An overturned finding no longer counts: the call's verdict follows, and a callback
    order it alone caused is withdrawn."""
    config = read_config(config_path)
    with open_ledger(config.database) as ledger:
        row, changes = ledger.review_finding(fingerprint, verdict, by_name, note, dispute)
    click.echo(f"{fingerprint}: {verdict} by {by_name} ({row['rule_id']} on {row['call_id']})")
    for change in changes:
        click.echo(f"  {change}")


def _rule_info(rules: Path, rule_id: str, pack_label: str) -> RuleInfo:
    """A rule of the workspace's packs, the call's own pack first."""
    packs = []
    for folder in sorted(p.parent for p in rules.glob(f"*/{PACK_FILE}")):
        try:
            packs.append(load_pack(folder))
        except RulePackError as exc:
            raise RulePackFailed(exc.render()) from None
    packs.sort(key=lambda pack: pack.label != pack_label)
    for pack in packs:
        for rule in pack.rules:
            if rule.info.id == rule_id:
                return rule.info
    raise UserError(f"no rule {rule_id!r} in the rule packs under {rules} (give --standard "
                    "for a violation no rule describes yet)")


@review_group.command("missed")
@click.argument("call_id")
@click.option("--rule", "rule_id", help="The rule the call broke (its standard, severity and "
              "message are the rule's).")
@click.option("--standard", type=click.Choice(VALIDITY_STANDARDS),
              help="The standard the call broke, when no rule describes the violation yet.")
@click.option("--severity", type=click.Choice(SEVERITIES),
              help="How severe (default: the rule's; major with --standard).")
@click.option("--by", "by_name", required=True, help="Who reviewed the call (recorded).")
@click.option("--note", required=True, help="What was missed (recorded; the example's note).")
@config_option
def review_missed(call_id: str, rule_id: str | None, standard: str | None,
                  severity: str | None, by_name: str, note: str, config_path: Path) -> None:
    """Record a violation the audit missed on CALL_ID: the call becomes invalid, its agent
    is flagged, a callback is ordered as the action policy orders one, and `review
    export-examples` exports the call as a violating example of the rule."""
    if bool(rule_id) == bool(standard):
        raise UserError("give one of --rule RULE_ID or --standard STANDARD")
    config = read_config(config_path)
    with open_ledger(config.database) as ledger:
        call = ledger.db.execute("SELECT rule_pack FROM calls WHERE call_id = ?",
                                 (call_id,)).fetchone()
        if call is None:
            raise UserError(f"no call {call_id} in the ledger {config.database} (see the "
                            "night's verdicts.jsonl)")
        if rule_id:
            info = _rule_info(config.rules, rule_id, call["rule_pack"])
            if info.standard not in VALIDITY_STANDARDS:
                raise UserError(f"rule {rule_id} is a {info.standard} signal, not a validity "
                                "standard: record an opt-out with `callaudit dnc add`, a "
                                "complaint with the blacklist")
            standard, message = info.standard, info.message
            severity = severity or info.severity
        else:
            message = note
            severity = severity or "major"
        assert standard is not None
        policy_path = config.rules / "actions.yaml"
        try:
            policy = load_policy(policy_path) if policy_path.is_file() else None
        except RulePackError as exc:
            raise RulePackFailed(exc.render()) from None
        changes = ledger.record_missed(call_id, standard, severity, message, rule_id, by_name,
                                       note, policy)
    click.echo(f"{call_id}: {rule_id or standard} missed by the audit, recorded by {by_name}")
    for change in changes:
        click.echo(f"  {change}")


@review_group.command("export-examples")
@click.option("--out", "out_file", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--transcripts", "sources", multiple=True, type=TranscriptInput(exists=True),
              help="Where the reviewed calls' transcripts are (default: the configured "
                   "transcripts, each call's day).")
@click.option("--unmasked", is_flag=True, help="Keep phone numbers said in the calls.")
@config_option
def export_examples(out_file: Path, sources: tuple[Path | str, ...], unmasked: bool,
                    config_path: Path) -> None:
    """Reviewed calls as examples to paste into their rules' `examples:`: overturned
    findings as compliant calls, violations the audit missed as violating ones.

    Each example is the whole call, read again from its transcript (the ledger keeps no
    transcripts) and checked against the hash the audit recorded: a transcript that is
    gone or changed since is named and left out."""
    config = read_config(config_path)
    with open_ledger(config.database) as ledger:
        cases = reviewed_cases(ledger)
        hashes = {c.call_id: ledger.db.execute(
            "SELECT content_hash, started_at FROM calls WHERE call_id = ?",
            (c.call_id,)).fetchone() for c in cases}
    calls, problems = _find_calls(config, hashes, [str(s) for s in sources])
    entries: dict[tuple[str, str], dict[str, Any]] = {}
    exported = 0
    for case in cases:
        call = calls.get(case.call_id)
        if call is None:
            continue
        key = ("rule", case.rule_id) if case.rule_id else ("standard", case.standard)
        entry = entries.setdefault(key, {key[0]: key[1]})
        if case.rule_id and case.source:
            entry.setdefault("file", case.source)
        if not case.rule_id:
            entry.setdefault("todo", f"no rule describes this yet: write a {case.standard} "
                             "rule with these calls as its violating examples")
        entry.setdefault(case.group, []).append(
            example_of(call, f"{case.call_id}: {case.verdict} by {case.by}"
                       + (f": {case.note}" if case.note else ""), unmasked))
        exported += 1
    for problem in problems:
        click.echo(f"warning: {problem}", err=True)
    header = ("# Reviewed calls as rule examples: paste each 'compliant' or 'violating' item\n"
              "# under that rule's examples (file:line below), then run `callaudit rules "
              "test`.\n")
    body = yaml.safe_dump(list(entries.values()), allow_unicode=True, sort_keys=False,
                          width=1000) if entries else "[]\n"
    write_text_file(out_file, header + body)
    groups = Counter(c.group for c in cases)
    click.echo(f"{groups['compliant']} overturned finding(s), {groups['violating']} missed "
               f"violation(s): {exported} example(s) → {out_file}"
               + (f"; {len(cases) - exported} left out (see the warnings)"
                  if exported < len(cases) else ""))


@dataclass(frozen=True)
class ReviewedCase:
    """A call a reviewer labelled: a finding overturned, or a violation the audit missed."""

    call_id: str
    rule_id: str  # "" for a missed violation no rule describes
    standard: str
    group: str  # 'compliant' (overturned) or 'violating' (missed)
    verdict: str
    by: str
    note: str
    source: str  # the rule's file:line:col, when known


def reviewed_cases(ledger: Ledger) -> list[ReviewedCase]:
    """Overturned findings (the latest verdict on each) and missed violations, once each."""
    latest: dict[str, Any] = {}
    for row in ledger.db.execute("SELECT * FROM reviews ORDER BY id"):
        latest[row["fingerprint"]] = row
    cases: dict[tuple[str, str, str], ReviewedCase] = {}
    for fingerprint, row in latest.items():
        if row["verdict"] not in ("overturned", "missed"):
            continue
        source = ""
        if row["verdict"] == "overturned":
            found = ledger.db.execute("SELECT rule_source FROM findings WHERE fingerprint = ? "
                                      "ORDER BY recorded_at DESC", (fingerprint,)).fetchone()
            source = (found["rule_source"] if found else "") or ""
        group = "compliant" if row["verdict"] == "overturned" else "violating"
        case = ReviewedCase(row["call_id"], row["rule_id"] or "", row["standard"] or "",
                            group, row["verdict"], row["by"], row["note"] or "", source)
        cases.setdefault((case.rule_id or case.standard, case.call_id, group), case)
    return sorted(cases.values(), key=lambda c: (c.rule_id or c.standard, c.group, c.call_id))


def _find_calls(config: NightlyConfig, wanted: dict[str, Any],
                sources: list[str]) -> tuple[dict[str, Call], list[str]]:
    """The reviewed calls, read from their transcripts, as the audit saw them."""
    from engine.actions.ledger import content_hash
    from engine.transcripts import load_calls

    where: dict[tuple[str, ...], set[str]] = {}
    problems = []
    for call_id, row in wanted.items():
        if row is None:
            problems.append(f"call {call_id} is no longer in the ledger; left out")
            continue
        if sources:
            inputs = tuple(sources)
        elif row["started_at"]:
            inputs = tuple(night_inputs(config, date.fromisoformat(row["started_at"][:10]))[0])
        else:
            inputs = (str(config.transcripts),)
        where.setdefault(inputs, set()).add(call_id)
    found: dict[str, Call] = {}
    for inputs, call_ids in where.items():
        for item in load_calls(list(inputs)):
            if (isinstance(item, Call) and item.call_id in call_ids
                    and content_hash(item) == wanted[item.call_id]["content_hash"]):
                found[item.call_id] = item
        for call_id in sorted(call_ids - found.keys()):
            problems.append(f"call {call_id}: no transcript in {', '.join(inputs)} matches "
                            "the one audited (gone, or changed since); left out — give "
                            "--transcripts PATH if it is elsewhere")
    return found, problems


def example_of(call: Call, note: str, unmasked: bool) -> dict[str, Any]:
    """A call in the form a rule's `examples:` takes (engine/rules/examples.py): the
    call's fields the rules read, and every turn, once."""
    example: dict[str, Any] = {"note": note, "call_type": call.call_type,
                               "language": call.language}
    if call.started_at is not None:
        example["started_at"] = call.started_at.isoformat()
    if call.product is not None:
        product = {k: v for k, v in asdict(call.product).items()
                   if v not in (None, "") and k != "given"}
        if not product.get("trial_days"):
            product.pop("trial_days", None)
        example["product"] = product
    example["turns"] = [{t.speaker: t.text if unmasked else mask_numbers_in_text(t.text)}
                        for t in call.turns]
    return example


@click.group("report")
def report_group() -> None:
    """Reports beyond the nightly one."""


@report_group.command("weekly")
@click.option("--week", required=True, help="ISO week, e.g. 2026-W48.")
@click.option(
    "--call-records",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="CSV from the dialer: date, dialled, connected (for the connection rate).",
)
@config_option
def weekly_report(week: str, call_records: Path | None, config_path: Path) -> None:
    """The operator's weekly report: calls, connection rate, valid rate, complaints and how
    each was handled, customer feedback, problems found and actions taken."""
    config = read_config(config_path)
    days = _week(week)
    dialled = connected = 0
    if call_records:
        with call_records.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle)
            for row in reader:
                if (row.get("date") or "")[:10] in {d.isoformat() for d in days}:
                    try:
                        dialled += int(row.get("dialled") or 0)
                        connected += int(row.get("connected") or 0)
                    except ValueError:
                        raise UserError(
                            f"{call_records}:{reader.line_num}: 'dialled' and "
                            "'connected' must be whole numbers") from None
    with open_ledger(config.database) as ledger:
        t = totals(ledger, days[0], days[-1])
        complaints = ledger.db.execute(
            "SELECT b.call_id, b.status, b.decided_by, b.reason FROM blacklist b JOIN calls c "
            "ON c.call_id = b.call_id WHERE substr(c.started_at, 1, 10) BETWEEN ? AND ?",
            (days[0].isoformat(), days[-1].isoformat()),
        ).fetchall()
        callbacks = ledger.db.execute(
            "SELECT status, COUNT(*) FROM callbacks k JOIN calls c ON c.call_id = k.call_id "
            "WHERE substr(c.started_at, 1, 10) BETWEEN ? AND ? GROUP BY status",
            (days[0].isoformat(), days[-1].isoformat()),
        ).fetchall()
        agents = agent_metrics(ledger, days[0], days[-1])
    out = io.StringIO()  # printed at the end, line by line with control characters escaped
    out.write(f"Weekly report {week} ({days[0]} – {days[-1]})\n\n")
    if call_records:
        rate = f"{connected / dialled:.1%}" if dialled else "—"
        out.write(f"Calls dialled {dialled}, connected {connected}, connection rate {rate}\n")
    out.write(
        f"Calls audited {t.calls}, sales {t.sales}, valid {t.valid}, invalid {t.invalid}, "
        f"valid rate {t.validity_rate:.1%}\n"
        if t.sales
        else f"Calls audited {t.calls}, no sales\n"
    )
    out.write(
        f"Customer feedback: opt-outs {t.signals.get('opt_out', 0)}, complaint threats "
        f"{t.signals.get('complaint_risk', 0)}\n"
    )
    out.write("Complaints and how each was handled:\n")
    for row in complaints:
        reason = mask_numbers_in_text(row["reason"] or "")
        who = f" by {row['decided_by']}: {reason}" if row["decided_by"] else ""
        out.write(f"  {row['call_id']}: blacklist {row['status']}{who}\n")
    out.write(
        "Problems found (calls per standard): "
        + (", ".join(f"{k} {v}" for k, v in t.by_standard.items()) or "none")
        + "\n"
    )
    out.write(
        "Actions taken: callbacks " + (", ".join(f"{s} {n}" for s, n in callbacks) or "none") + "\n"
    )
    worst = [a for a in agents if a.invalid][:5]
    out.write(
        "Agents with invalid calls: "
        + (", ".join(f"{a.agent_id} {a.invalid}/{a.sales}" for a in worst) or "none")
        + "\n"
    )
    for line in out.getvalue().splitlines():
        click.echo(escape_controls(line))


@report_group.command("versions")
@click.option("--from", "first_text", required=True, metavar="YYYY-MM-DD",
              help="The first night (the date the calls started).")
@click.option("--to", "last_text", required=True, metavar="YYYY-MM-DD",
              help="The last night, inclusive.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="A table for people, or JSON for scripts.")
@config_option
def versions_report(first_text: str, last_text: str, fmt: str, config_path: Path) -> None:
    """Which rule pack versions each night's verdicts were made under, with counts: a night
    judged by more than one version of a pack, or by rules other than the current ones
    (`nightly --reaudit` re-audits it), is flagged."""
    first, last = _day_option("--from", first_text), _day_option("--to", last_text)
    if first > last:
        raise UserError(f"--from {first} is after --to {last}: give the earlier date to --from")
    config = read_config(config_path)
    try:
        current = current_packs(config.rules)
    except RulePackError as exc:
        raise RulePackFailed(exc.render()) from None
    with open_ledger(config.database) as ledger:
        nights = night_versions(ledger, first, last, current)
    if fmt == "json":
        click.echo(json.dumps({"schema": "callaudit.versions/1", "from": first.isoformat(),
                               "to": last.isoformat(),
                               "current": [{"pack": p.label, "hash": p.hash} for p in current],
                               "nights": [n.as_json() for n in nights]},
                              ensure_ascii=False, indent=2))
        return
    for line in versions_table(nights, current, first, last):
        click.echo(escape_controls(line))


def _day_option(name: str, text: str) -> date:
    try:
        return parse_day(text)
    except UserError as exc:
        raise UserError(f"{name}: {exc.format_message()}") from None


def versions_table(nights: list[NightVersions], current: tuple[PackVersion, ...],
                   first: date, last: date) -> list[str]:
    """`report versions` as text: the current rules, a row per night and pack version,
    then the warnings."""
    lines = ["current rules: " + (", ".join(p.describe() for p in current)
                                  or "none (no pack folders under the rules folder)")]
    if not nights:
        return [*lines, f"no audited calls started from {first} to {last} in the ledger"]
    rows = [("night", "calls", "rule pack", "hash", "calls", "current")]
    for night in nights:
        for number, use in enumerate(night.uses):
            rows.append((str(night.night) if number == 0 else "",
                         str(night.calls) if number == 0 else "", use.version.label,
                         use.version.short, str(use.calls),
                         {True: "yes", False: "NO", None: "?"}[use.current]))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    numeric = {1, 4}
    lines += ["  ".join(cell.rjust(widths[i]) if i in numeric else cell.ljust(widths[i])
                        for i, cell in enumerate(row)).rstrip() for row in rows]
    warnings = [w for night in nights for w in night.warnings()]
    if warnings:
        lines.append(f"{len(warnings)} warning(s):")
        lines += [f"  {w}" for w in warnings]
    return lines


# Report files that quote what was said; the others hold counts and verdicts only.
WORDY_REPORT_FILES = ("findings.jsonl", "rejects.jsonl", "report.html", "report.xlsx")


@click.command("purge")
@click.option("--older-than", "days", type=click.IntRange(1, 36500),
              help="Days to keep (default: retention_days from the configuration).")
@click.option("--include-transcripts", is_flag=True,
              help="Also delete the platform's transcript folders of those days.")
@config_option
def purge_command(days: int | None, include_transcripts: bool, config_path: Path) -> None:
    """Remove the words of calls older than the retention period: evidence in the ledger
    and in the nightly reports. Counts, verdicts, decisions and do-not-call entries stay."""
    import shutil
    from datetime import timedelta

    from engine.actions.ledger import purge_words

    config = read_config(config_path)
    if include_transcripts and isinstance(config.transcripts, str):
        raise UserError(f"transcripts in {config.transcripts} are not deleted by callaudit: "
                        "let the storage's own lifecycle rules expire them")
    _reports_folder(config, make=False)
    keep = days or config.retention_days
    before = date.today() - timedelta(days=keep)
    with open_ledger(config.database) as ledger:
        try:
            counts = purge_words(ledger, before)
        except sqlite3.OperationalError as exc:
            if "full" not in str(exc):
                raise
            raise UserError(f"cannot purge {config.database}: the disk is full; free about the "
                            "ledger's size again (purge rebuilds the file), then run it again"
                            ) from None
    removed = 0
    for folder in sorted(config.reports.glob("????-??-??")):
        if folder.is_dir() and folder.name < before.isoformat():
            for name in WORDY_REPORT_FILES:
                if (folder / name).exists():
                    (folder / name).unlink()
                    removed += 1
    deleted = 0
    if include_transcripts:
        for folder in sorted(config.transcripts.glob("????-??-??")):
            if folder.is_dir() and folder.name < before.isoformat():
                shutil.rmtree(folder)
                deleted += 1
    click.echo(f"before {before}: words removed from {counts['calls']} call(s) in the ledger "
               f"({counts['findings']} findings, {counts['blacklist']} blacklist, "
               f"{counts['dnc']} do-not-call entries); {removed} report file(s) removed"
               + (f"; {deleted} transcript folder(s) deleted" if include_transcripts else ""))
