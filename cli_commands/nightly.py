"""`callaudit init`, `callaudit nightly`, `callaudit sample export`, `callaudit review`,
`callaudit report weekly`: the QA analyst's daily job."""

from __future__ import annotations

import csv
import json
import sqlite3
import sys
from dataclasses import replace
from datetime import date
from pathlib import Path

import click
import yaml

from cli_commands import (
    EXIT_OK,
    RulePackFailed,
    TranscriptInput,
    UserError,
    default_workers,
    open_ledger,
)
from cli_commands.followup import write_csv, write_text_file
from engine.actions.ledger import LedgerError, now
from engine.nightly.analysis import agent_metrics, draw_sample, totals, week_days
from engine.nightly.config import DEFAULT_CONFIG, LEVELS, NightlyConfig, load_config
from engine.nightly.run import NightlyBusy, night_inputs, run_night
from engine.outputs import OutputRefused
from engine.rules.problems import RulePackError

EXIT_ALERT = 5  # --fail-on-alert: an early warning at or above the level was raised

config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("callaudit.yaml"),
    show_default=True,
    envvar="CALLAUDIT_CONFIG",
    help="The nightly configuration (callaudit init writes one).",
)


def _config(path: Path) -> NightlyConfig:
    if not path.is_file():
        raise UserError(f"no configuration at {path}: run `callaudit init` to write one")
    try:
        return load_config(path)
    except RulePackError as exc:
        raise RulePackFailed(exc.render()) from None


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise UserError(f"'{text}' is not a date like 2026-11-23") from None


@click.command("init")
@click.option(
    "--path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("callaudit.yaml"),
    show_default=True,
)
def init_command(path: Path) -> None:
    """Write a commented default callaudit.yaml (never over an existing one)."""
    if path.exists():
        raise UserError(f"{path} exists; remove it first or give --path")
    path.write_text(DEFAULT_CONFIG, encoding="utf-8")
    click.echo(f"wrote {path}: edit the paths, then `callaudit nightly --date YYYY-MM-DD`")


@click.command("nightly")
@click.option("--date", "day_text", required=True, help="The night to audit: YYYY-MM-DD.")
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
    day_text: str,
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
    Re-running a night is safe and only audits what is missing; a second run started
    meanwhile says so and exits.
    """
    config = _config(config_path)
    if no_mask:
        config = replace(config, mask=False)
    day = _day(day_text)
    try:
        paths = [str(p) for p in inputs] or None
        if workers is None and cluster is None:
            workers = default_workers(paths or night_inputs(config, day)[0])
        result = run_night(config, day, paths, workers=workers or 1, cluster=cluster)
    except (NightlyBusy, LedgerError, OutputRefused) as exc:
        raise UserError(str(exc)) from None
    except (OSError, TimeoutError) as exc:
        if cluster is None:
            raise
        raise UserError(f"cannot use the Dask cluster at {cluster}: {exc}") from None
    except sqlite3.DatabaseError as exc:
        raise UserError(f"{config.database} is not a callaudit ledger ({exc})") from None
    except RulePackError as exc:
        raise RulePackFailed(exc.render()) from None
    click.echo(f"{day}: {result.summary.line()}")
    click.echo(
        f"review sample: {len(result.sample.calls)} call(s); report: "
        f"{result.folder / 'report.html'}"
    )
    for alert in result.alerts:
        click.echo(
            f"ALERT {alert.level}: {alert.warning_id} — {alert.count} ≥ {alert.threshold} "
            f"in {alert.window_days} day(s) → {alert.responsible}",
            err=True,
        )
    if (
        fail_on_alert
        and result.worst_alert
        and LEVELS.index(result.worst_alert) >= LEVELS.index(fail_on_alert)
    ):
        raise SystemExit(EXIT_ALERT)
    raise SystemExit(EXIT_OK)


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
    config = _config(config_path)
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
    """`callaudit review FINGERPRINT --verdict ...` records; `review export-examples` exports."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["record", *args]
        return super().parse_args(ctx, args)


@click.group("review", cls=_ReviewGroup)
def review_group() -> None:
    """Human verdicts on findings, and disputes: `callaudit review FINGERPRINT --verdict
    upheld|overturned --by NAME [--note TEXT] [--dispute]`."""


@review_group.command("record", hidden=True)
@click.argument("fingerprint")
@click.option("--verdict", type=click.Choice(["upheld", "overturned"]), required=True)
@click.option("--by", "by_name", required=True)
@click.option("--note", default="")
@click.option("--dispute", is_flag=True, help="Record it as the agent's dispute, ruled on.")
@config_option
def review_record(fingerprint: str, verdict: str, by_name: str, note: str, dispute: bool,
                  config_path: Path) -> None:
    """Record a human verdict on a finding (by its fingerprint): upheld or overturned."""
    config = _config(config_path)
    with open_ledger(config.database) as ledger:
        row = ledger.db.execute("SELECT rule_id, call_id FROM findings WHERE fingerprint = ? "
                                "AND active = 1", (fingerprint,)).fetchone()
        if row is None:
            raise UserError(f"no current finding {fingerprint} (see findings.jsonl)")
        with ledger.transaction():
            ledger.db.execute("INSERT INTO reviews(fingerprint, rule_id, call_id, verdict, by, "
                              "note, kind, at) VALUES (?,?,?,?,?,?,?,?)",
                              (fingerprint, row["rule_id"], row["call_id"], verdict, by_name,
                               note, "dispute" if dispute else "review", now()))
    click.echo(f"{fingerprint}: {verdict} by {by_name} ({row['rule_id']} on {row['call_id']})")


@review_group.command("export-examples")
@click.option("--out", "out_file", required=True, type=click.Path(dir_okay=False, path_type=Path))
@config_option
def export_examples(out_file: Path, config_path: Path) -> None:
    """Overturned findings as compliant examples to paste into the rules' `examples:`."""
    config = _config(config_path)
    with open_ledger(config.database) as ledger:
        rows = ledger.db.execute(
            "SELECT r.rule_id, r.call_id, r.note, f.evidence FROM reviews r JOIN findings f "
            "ON f.fingerprint = r.fingerprint WHERE r.verdict = 'overturned' "
            "ORDER BY r.rule_id, r.id"
        ).fetchall()
    examples = [
        {"rule": row["rule_id"], "call": row["call_id"], "note": row["note"] or "",
         "compliant": [[{item["speaker"]: item["text"]} for item in json.loads(row["evidence"])]]}
        for row in rows
    ]
    header = "# Overturned findings: paste each 'compliant' call into its rule's examples.\n"
    write_text_file(out_file, header + yaml.safe_dump(examples, allow_unicode=True,
                                                      sort_keys=False))
    click.echo(f"{len(rows)} overturned finding(s) → {out_file}")


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
    config = _config(config_path)
    try:
        days = week_days(week)
    except (ValueError, IndexError):
        raise UserError(f"'{week}' is not an ISO week like 2026-W48") from None
    dialled = connected = 0
    if call_records:
        with call_records.open(encoding="utf-8-sig", newline="") as handle:
            for row in csv.DictReader(handle):
                if row.get("date", "")[:10] in {d.isoformat() for d in days}:
                    dialled += int(row.get("dialled") or 0)
                    connected += int(row.get("connected") or 0)
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
    out = sys.stdout
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
        who = f" by {row['decided_by']}: {row['reason']}" if row["decided_by"] else ""
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

    config = _config(config_path)
    if include_transcripts and isinstance(config.transcripts, str):
        raise UserError(f"transcripts in {config.transcripts} are not deleted by callaudit: "
                        "let the storage's own lifecycle rules expire them")
    keep = days or config.retention_days
    before = date.today() - timedelta(days=keep)
    with open_ledger(config.database) as ledger:
        counts = purge_words(ledger, before)
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
