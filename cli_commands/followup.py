"""`callaudit callbacks|blacklist|suppress|trials`: what outbound managers do with the ledger.

The nightly audit fills the ledger with callback orders, blacklist proposals, do-not-call
entries and trial obligations; these commands list them, take people's decisions and
results, export them to the dialer and scrub campaign lists against them.

Phone numbers are masked in everything printed or written unless --unmasked is given.
The one exception is a scrubbed campaign list (CLEAN): it is the campaign's own data,
handed back to the dialer exactly as it came in.
"""

from __future__ import annotations

import csv
import io
import json
import unicodedata
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Any

import click

from cli_commands import EXIT_OK, UserError, open_ledger
from engine.actions.ledger import LedgerError, default_db_path
from engine.actions.phones import normalize_phone
from engine.outputs import (
    OutputGuard,
    OutputRefused,
    atomic_writer,
    csv_row,
    escape_controls,
    first_line_is,
    write_csv_rows,
)
from engine.privacy import mask_numbers_in_text, mask_phone
from engine.report.text import clock

EXIT_ROWS_REJECTED = 1  # `callbacks import`: some rows of the results file were rejected

CALLBACK_STATUSES = ("open", "done", "superseded", "all")
BLACKLIST_STATUSES = ("pending", "approved", "rejected", "withdrawn")
OUTCOMES = ("done", "unreachable", "refused", "wrong_number")
PHONE_COLUMNS = ("phone", "customer_phone", "mobile", "手机号", "电话", "号码")
UNREADABLE = "unreadable number"
NOT_DIALLABLE = ("warning: phone numbers are masked (no --unmasked): {path} cannot be dialled")

# -- shared options and helpers --------------------------------------------------------------

db_option = click.option(
    "--db",
    "db_path",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="CALLAUDIT_DB",
    default=default_db_path,
    show_default="$CALLAUDIT_DB or ledger.db in the user's data folder",
    help="The ledger the nightly audit writes to.",
)
unmasked_option = click.option(
    "--unmasked", is_flag=True, help="Show and write full phone numbers (masked by default)."
)
day_type = click.DateTime(formats=["%Y-%m-%d"])


def show_phone(phone: str | None, unmasked: bool) -> str:
    if not phone:
        return "-"
    return phone if unmasked else (mask_phone(phone) or "-")


def show_text(text: str | None, unmasked: bool) -> str:
    if not text:
        return ""
    return text if unmasked else mask_numbers_in_text(text)


def json_list(text: str | None) -> list[Any]:
    try:
        value = json.loads(text or "[]")
    except ValueError:
        return [text]
    return value if isinstance(value, list) else [value]


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def echo_table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """Columns aligned for a terminal (Chinese characters count two cells); control
    characters in the ledger's text shown escaped, so a cell cannot steer the terminal."""
    cells = [[escape_controls(str(h)) for h in headers]] + [
        ["" if v is None else escape_controls(str(v)) for v in r] for r in rows]
    widths = [max(_width(r[i]) for r in cells) for i in range(len(headers))]
    for n, row in enumerate(cells):
        line = "  ".join(v + " " * (w - _width(v)) for v, w in zip(row, widths, strict=True))
        click.echo(line.rstrip())
        if n == 0:
            click.echo("  ".join("-" * w for w in widths))


def read_csv_text(path: Path) -> tuple[str, str]:
    """The file's text and encoding: UTF-8 (with or without BOM), else GB18030 (Excel's)."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc.strerror or exc}") from None
    if raw.startswith(b"\xef\xbb\xbf"):
        return raw.decode("utf-8-sig", errors="replace"), "utf-8-sig"
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return raw.decode("gb18030"), "gb18030"
    except UnicodeDecodeError:
        raise UserError(f"{path}: not a UTF-8 or GB18030 text file") from None


def csv_records(text: str) -> Iterator[tuple[int, list[str]]]:
    """(first line number, cells) of each record, blank lines left out."""
    reader = csv.reader(io.StringIO(text, newline=""))
    line = 1
    try:
        for cells in reader:
            if any(c.strip() for c in cells):
                yield line, cells
            line = reader.line_num + 1
    except csv.Error as exc:
        raise UserError(f"line {reader.line_num}: not valid CSV ({exc})") from None


def write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[Any]], *,
              encoding: str = "utf-8-sig", newline: str = "\r\n",
              written_with: Path | None = None) -> int:
    """Write under a temporary name, then rename: a reader never sees half a file.

    Cells that a spreadsheet would run as a formula are neutralised. An existing PATH is
    replaced only when it is this command's own earlier output: its first line is this
    header (and, with `written_with`, the file written beside it exists too: a scrubbed
    list has the campaign's own header, so its removed rows vouch for it). Anything else,
    the ledger, a configuration or another list, is refused.
    """
    header_line = csv_row(header, newline)
    beside = written_with

    def is_ours(head: str) -> bool:
        return first_line_is(header_line)(head) and (beside is None or beside.is_file())

    guard = OutputGuard(is_ours, encoding=encoding)
    with output_errors(path), atomic_writer(path, guard) as out:
        return write_csv_rows(out, header, rows, encoding=encoding, newline=newline)


def write_text_file(path: Path, text: str, *, encoding: str = "utf-8") -> None:
    """Write TEXT atomically; an existing PATH is replaced only when its first line is the
    same as TEXT's (the marker comment such an output starts with)."""
    guard = OutputGuard(first_line_is(text.split("\n", 1)[0]), encoding=encoding)
    with output_errors(path), atomic_writer(path, guard) as out:
        out.write(text.encode(encoding))


@contextmanager
def output_errors(path: Path) -> Iterator[None]:
    """A refused or unwritable output as a user error naming the file."""
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise UserError(f"cannot write {path}: folder {folder} does not exist")
    try:
        yield
    except OutputRefused as exc:
        raise UserError(str(exc)) from None
    except OSError as exc:
        raise UserError(f"cannot write {path}: {exc.strerror or exc}") from None
    except UnicodeEncodeError as exc:
        raise UserError(f"cannot write {path} as {exc.encoding}: {exc.reason}") from None


def as_day(value: datetime | None) -> date | None:
    return None if value is None else value.date()


# -- callbacks ----------------------------------------------------------------------------


@click.group("callbacks")
def callbacks_group() -> None:
    """Callback orders for invalid calls: list, export to the dialer, import results."""


@callbacks_group.command("list")
@click.option("--due", type=day_type, metavar="YYYY-MM-DD",
              help="Only orders due on or before this day.")
@click.option("--status", type=click.Choice(CALLBACK_STATUSES), default="open",
              show_default=True, help="Which orders.")
@unmasked_option
@db_option
def list_callbacks(due: datetime | None, status: str, unmasked: bool, db_path: Path) -> None:
    """Print the callback orders as a table."""
    with open_ledger(db_path) as ledger:
        rows = ledger.callbacks(None if status == "all" else status, as_day(due))
    if not rows:
        click.echo(f"no {'' if status == 'all' else status + ' '}callbacks"
                   + (f" due by {as_day(due)}" if due else ""))
        return
    headers = ["id", "call", "agent", "phone", "severity", "reasons", "due", "attempts"]
    if status == "all":
        headers.append("status")
    echo_table(headers, [
        [r["id"], r["call_id"], r["agent_id"] or "-", show_phone(r["phone"], unmasked),
         r["severity"], ", ".join(map(str, json_list(r["reasons"]))), r["due_date"],
         r["attempts"], *([r["status"]] if status == "all" else [])]
        for r in rows])


@callbacks_group.command("export")
@click.option("--due", type=day_type, required=True, metavar="YYYY-MM-DD",
              help="Export the open orders due on or before this day (YYYY-MM-DD).")
@click.option("--out", "out_path", type=click.Path(dir_okay=False, path_type=Path),
              required=True, help="The CSV for the dialer (UTF-8 with BOM).")
@unmasked_option
@db_option
def export_callbacks(due: datetime, out_path: Path, unmasked: bool, db_path: Path) -> None:
    """Write the open callback orders due by --due to a CSV for the dialer.

    The orders are marked exported (a later re-audit no longer withdraws them) only when
    the file carries full numbers (--unmasked): a masked file cannot be dialled.
    """
    day = as_day(due)
    assert day is not None
    with open_ledger(db_path) as ledger:
        rows = ledger.callbacks("open", day)
        header = ["callback_id", "call_id", "phone", "agent_id", "severity", "due_date",
                  "reasons", "points"]
        count = write_csv(out_path, header, (
            [r["id"], r["call_id"], r["phone"] if unmasked else mask_phone(r["phone"]),
             r["agent_id"], r["severity"], r["due_date"],
             "; ".join(map(str, json_list(r["reasons"]))),
             show_text("; ".join(map(str, json_list(r["points"]))), unmasked)]
            for r in rows))
        if unmasked:
            ledger.mark_exported([r["id"] for r in rows])
    before = sum(1 for r in rows if r["exported_at"])
    click.echo(f"{count} open callback(s) due by {day} → {out_path}"
               + (f" ({before} exported before)" if before else ""))
    if not unmasked:
        click.echo(NOT_DIALLABLE.format(path=out_path)
                   + "; not marked exported (use --unmasked for the dialer)", err=True)


@callbacks_group.command("import")
@click.argument("results", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--by", required=True, help="Who imports the results (recorded in the history).")
@db_option
def import_callbacks(results: Path, by: str, db_path: Path) -> None:
    """Apply the dialer's RESULTS CSV (callback_id, outcome, note) to the callback orders.

    Outcomes: done (closes the order), unreachable, refused, wrong_number (an attempt).
    Bad rows are reported with their line number and the others still applied; exit 1
    when any row was rejected.
    """
    if not by.strip():
        raise UserError("say who imports the results (--by NAME)")
    text, _ = read_csv_text(results)
    records = csv_records(text)
    first = next(records, None)
    if first is None:
        raise UserError(f"{results}: empty file (expected a header: callback_id,outcome,note)")
    columns = [c.strip().lower() for c in first[1]]
    missing = [c for c in ("callback_id", "outcome") if c not in columns]
    if missing:
        raise UserError(f"{results}: the header has no {' or '.join(missing)} column "
                        f"(found: {', '.join(first[1])}); expected callback_id,outcome,note")
    where = {name: columns.index(name) for name in ("callback_id", "outcome", "note")
             if name in columns}
    applied = 0
    rejected: list[int] = []
    closed: list[int] = []
    with open_ledger(db_path) as ledger:
        status = {r["id"]: r["status"] for r in ledger.callbacks(None)}
        for line, cells in records:
            def cell(name: str, cells: list[str] = cells) -> str:
                i = where.get(name)
                return cells[i].strip() if i is not None and i < len(cells) else ""

            problem = None
            raw_id, outcome = cell("callback_id"), cell("outcome").lower()
            if not raw_id:
                problem = "no callback_id"
            elif not raw_id.isdigit():
                problem = f"callback_id {raw_id!r} is not a number"
            elif not outcome:
                problem = "no outcome"
            elif outcome not in OUTCOMES:
                problem = f"unknown outcome {cell('outcome')!r} (expected {', '.join(OUTCOMES)})"
            elif int(raw_id) not in status:
                problem = f"no callback {raw_id} in the ledger"
            if problem:
                rejected.append(line)
                click.echo(f"{results}:{line}: rejected: {problem}", err=True)
                continue
            callback_id = int(raw_id)
            if status[callback_id] != "open":
                closed.append(line)
                click.echo(f"{results}:{line}: not applied: callback {callback_id} is already "
                           f"{status[callback_id]}", err=True)
                continue
            try:
                ledger.callback_result(callback_id, outcome, by, cell("note"))
            except LedgerError as exc:
                rejected.append(line)
                click.echo(f"{results}:{line}: rejected: {exc}", err=True)
                continue
            applied += 1
            if outcome == "done":
                status[callback_id] = "done"
    parts = [f"{applied} applied", f"{len(rejected)} rejected"
             + (f" (line {', '.join(map(str, rejected))})" if rejected else "")]
    if closed:
        parts.append(f"{len(closed)} already closed")
    click.echo(f"{results}: " + ", ".join(parts))
    raise SystemExit(EXIT_ROWS_REJECTED if rejected else EXIT_OK)


# -- blacklist ----------------------------------------------------------------------------


@click.group("blacklist")
def blacklist_group() -> None:
    """Blacklist proposals from complaint risks: review, decide, export, history."""


@blacklist_group.command("list")
@click.option("--status", type=click.Choice(BLACKLIST_STATUSES),
              help="Only entries with this status (default: all).")
@unmasked_option
@db_option
def list_blacklist(status: str | None, unmasked: bool, db_path: Path) -> None:
    """Print the blacklist entries as a table."""
    with open_ledger(db_path) as ledger:
        rows = ledger.blacklist(status)
    if not rows:
        click.echo(f"no {status + ' ' if status else ''}blacklist entries")
        return
    echo_table(["id", "phone", "status", "call", "agent", "proposed", "decided", "reason"], [
        [r["id"], show_phone(r["phone"], unmasked), r["status"], r["call_id"],
         r["agent_id"] or "-", r["proposed_at"],
         f"{r['decided_by']} {r['decided_at']}" if r["decided_by"] else "-",
         show_text(r["reason"], unmasked)]
        for r in rows])


def _decide(db_path: Path, entry_id: int, approve: bool, by: str, reason: str) -> None:
    with open_ledger(db_path) as ledger:
        ledger.decide_blacklist(entry_id, approve, by, reason)
        row = next(r for r in ledger.blacklist() if r["id"] == entry_id)
    click.echo(f"entry {entry_id} ({mask_phone(row['phone'])}) "
               f"{'approved' if approve else 'rejected'} by {by}")


@blacklist_group.command("approve")
@click.argument("entry_id", metavar="ID", type=int)
@click.option("--by", required=True, help="Who decides (recorded in the history).")
@click.option("--reason", default="", help="Why (optional for an approval).")
@db_option
def approve_blacklist(entry_id: int, by: str, reason: str, db_path: Path) -> None:
    """Approve pending proposal ID: the number stays out of every campaign."""
    _decide(db_path, entry_id, True, by, reason)


@blacklist_group.command("reject")
@click.argument("entry_id", metavar="ID", type=int)
@click.option("--by", required=True, help="Who decides (recorded in the history).")
@click.option("--reason", default="", help="Why (required: a rejection lifts the suppression).")
@db_option
def reject_blacklist(entry_id: int, by: str, reason: str, db_path: Path) -> None:
    """Reject pending proposal ID, with a reason: the number may be called again."""
    _decide(db_path, entry_id, False, by, reason)


def _spoken(text: str) -> str:
    return escape_controls(mask_numbers_in_text(text))


def evidence_lines(evidence_json: str | None) -> list[str]:
    """Each piece of evidence as `[mm:ss] "quoted words"`, numbers masked and control
    characters escaped (the words go straight to the reviewer's terminal)."""
    lines = []
    for item in json_list(evidence_json):
        if isinstance(item, dict):
            quote = str(item.get("quote") or item.get("text") or "")
            start = item.get("start")
            when = clock(start) if isinstance(start, (int, float)) else clock(None)
            line = f'[{when}] "{_spoken(quote)}"'
            text = str(item.get("text") or "")
            if text and text != quote:
                turn = item.get("turn")
                where = f"turn #{turn + 1}: " if isinstance(turn, int) else ""
                line += f"\n      {where}{_spoken(text)}"
        else:
            line = f'[{clock(None)}] "{_spoken(str(item))}"'
        lines.append(line)
    return lines or ["(no evidence recorded)"]


@blacklist_group.command("review")
@click.option("--by", required=True, help="Who decides (recorded in the history).")
@db_option
def review_blacklist(by: str, db_path: Path) -> None:
    """Go through the pending proposals one at a time: approve, reject, skip or quit."""
    if not by.strip():
        raise UserError("say who decides (--by NAME)")
    decided: Counter[str] = Counter()
    with open_ledger(db_path) as ledger:
        pending = ledger.blacklist("pending")
        if not pending:
            click.echo("no pending blacklist proposals")
            return
        for n, row in enumerate(pending, start=1):
            click.echo(f"\nentry {row['id']} ({n} of {len(pending)}) · "
                       f"{mask_phone(row['phone'])} · agent {row['agent_id'] or '-'} · "
                       f"call {row['call_id']} · proposed {row['proposed_at']}")
            for line in evidence_lines(row["evidence"]):
                click.echo(f"  {line}")
            choice = click.prompt("[a]pprove / [r]eject / [s]kip / [q]uit",
                                  type=click.Choice(["a", "r", "s", "q"], case_sensitive=False),
                                  show_choices=False).lower()
            if choice == "q":
                break
            if choice == "s":
                decided["skipped"] += 1
                continue
            reason = ""
            if choice == "r":
                while not reason:
                    reason = click.prompt("reason for rejecting", default="",
                                          show_default=False).strip()
                    if not reason:
                        click.echo("a rejection needs a reason: it lifts the suppression "
                                   "of the number")
            try:
                ledger.decide_blacklist(row["id"], choice == "a", by, reason)
            except LedgerError as exc:  # decided by someone else meanwhile
                click.echo(f"not decided: {exc}")
                continue
            outcome = "approved" if choice == "a" else "rejected"
            decided[outcome] += 1
            click.echo(f"entry {row['id']} {outcome}")
        left = len(ledger.blacklist("pending"))
    click.echo(f"\nreview by {by}: {decided['approved']} approved, {decided['rejected']} "
               f"rejected, {decided['skipped']} skipped; {left} still pending")


@blacklist_group.command("export")
@click.option("--out", "out_path", type=click.Path(dir_okay=False, path_type=Path),
              required=True, help="The CSV (UTF-8 with BOM).")
@unmasked_option
@db_option
def export_blacklist(out_path: Path, unmasked: bool, db_path: Path) -> None:
    """Write the approved and pending entries (both keep a number out of campaigns)."""
    with open_ledger(db_path) as ledger:
        rows = sorted([*ledger.blacklist("approved"), *ledger.blacklist("pending")],
                      key=lambda r: r["id"])
    count = write_csv(
        out_path,
        ["entry_id", "phone", "status", "call_id", "agent_id", "proposed_at", "decided_by",
         "decided_at", "reason"],
        ([r["id"], r["phone"] if unmasked else mask_phone(r["phone"]), r["status"],
          r["call_id"], r["agent_id"], r["proposed_at"], r["decided_by"], r["decided_at"],
          show_text(r["reason"], unmasked)] for r in rows))
    states = Counter(r["status"] for r in rows)
    click.echo(f"{count} blacklist entries ({states['approved']} approved, "
               f"{states['pending']} pending) → {out_path}")
    if not unmasked:
        click.echo(NOT_DIALLABLE.format(path=out_path), err=True)


def _detail(text: str | None, unmasked: bool) -> str:
    """A history event's JSON detail, made readable."""
    if not text:
        return ""
    try:
        value = json.loads(text)
    except ValueError:
        return show_text(text, unmasked)

    def render(item: Any) -> str:
        if isinstance(item, dict) and "quote" in item:
            return f'"{item["quote"]}"'
        if isinstance(item, list):
            return ", ".join(render(i) for i in item) or "-"
        if isinstance(item, str):
            return item
        return json.dumps(item, ensure_ascii=False)

    if isinstance(value, dict):
        rendered = "; ".join(f"{k}: {render(v)}" for k, v in value.items())
    else:
        rendered = render(value)
    return show_text(rendered, unmasked)


@blacklist_group.command("history")
@click.argument("number")
@unmasked_option
@db_option
def history_blacklist(number: str, unmasked: bool, db_path: Path) -> None:
    """Every do-not-call and blacklist event about NUMBER (written in any usual form)."""
    candidates = list(dict.fromkeys(p for p in (normalize_phone(number, "zh"),
                                                normalize_phone(number, "en")) if p))
    if not candidates:
        raise UserError(f"{show_phone(number, unmasked)!r} is not a readable phone number")
    found = False
    with open_ledger(db_path) as ledger:
        for phone in candidates:
            events = ledger.history_of_phone(phone)
            if not events:
                continue
            found = True
            now = ", ".join(ledger.suppression(phone)) or "not suppressed"
            click.echo(f"{show_phone(phone, unmasked)} (now: {now})")
            echo_table(["time", "who", "entry", "event", "detail"], [
                [e["at"], e["who"], "dnc" if e["kind"] == "dnc" else f"{e['kind']} #{e['ref']}",
                 e["event"], _detail(e["detail"], unmasked)] for e in events])
    if not found:
        click.echo(f"no history for {' or '.join(show_phone(p, unmasked) for p in candidates)}")


# -- suppression ----------------------------------------------------------------------------


@click.group("suppress")
def suppress_group() -> None:
    """Keep do-not-call and blacklisted numbers out of campaign lists."""


def _phone_column(header: list[str], wanted: str | None, source: Path) -> int:
    names = [h.strip().lower() for h in header]
    if wanted is not None:
        if wanted.strip().lower() in names:
            return names.index(wanted.strip().lower())
        raise UserError(f"{source}: no column {wanted!r} (columns: {', '.join(header)})")
    for name in PHONE_COLUMNS:
        if name in names:
            return names.index(name)
    raise UserError(f"{source}: no phone column (looked for {', '.join(PHONE_COLUMNS)}; "
                    f"columns: {', '.join(header)}); name it with --phone-column NAME")


def _removed_path(out_path: Path) -> Path:
    if out_path.suffix.lower() == ".csv":
        return out_path.with_name(out_path.stem + ".removed.csv")
    return out_path.with_name(out_path.name + ".removed.csv")


@suppress_group.command("scrub")
@click.argument("campaign", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--out", "out_path", type=click.Path(dir_okay=False, path_type=Path),
              required=True, help="The clean list: the rows that may be called, as given.")
@click.option("--removed", "removed_path", type=click.Path(dir_okay=False, path_type=Path),
              help="The removed rows with a reason column (default: OUT's name + .removed.csv).")
@click.option("--phone-column", help="The column holding the number (default: found by name).")
@click.option("--language", type=click.Choice(["zh", "en"]), default="zh", show_default=True,
              help="Which country a number written without one belongs to.")
@unmasked_option
@db_option
def scrub(campaign: Path, out_path: Path, removed_path: Path | None, phone_column: str | None,
          language: str, unmasked: bool, db_path: Path) -> None:
    """Remove do-not-call and blacklisted (pending or approved) numbers from CAMPAIGN.

    CLEAN keeps the numbers exactly as given (the dialer needs them); REMOVED masks them
    unless --unmasked. A row whose number cannot be read goes to REMOVED: what cannot be
    checked must not be dialled.
    """
    removed_path = removed_path or _removed_path(out_path)
    paths = {p.resolve() for p in (campaign, out_path, removed_path)}
    if len(paths) < 3:
        raise UserError("CAMPAIGN, --out and --removed must be three different files")
    text, encoding = read_csv_text(campaign)
    newline = "\r\n" if "\r\n" in text else "\n"
    records = csv_records(text)
    first = next(records, None)
    if first is None:
        raise UserError(f"{campaign}: empty file (expected a header row)")
    header = first[1]
    column = _phone_column(header, phone_column, campaign)
    reason_name = "reason" if "reason" not in header else "suppression_reason"
    kept: list[list[str]] = []
    removed: list[list[str]] = []
    reasons: Counter[str] = Counter()
    with open_ledger(db_path) as ledger:
        for _line, cells in records:
            given = cells[column] if column < len(cells) else ""
            phone = normalize_phone(given, language)
            why = ledger.suppression(phone) if phone else [UNREADABLE]
            if not why:
                kept.append(cells)
                continue
            reasons.update(why)
            shown = [c if unmasked else mask_numbers_in_text(c) for c in cells]
            if column < len(cells) and not unmasked:
                shown[column] = mask_phone(given) or ""
            removed.append([*shown, "; ".join(why)])
    write_csv(out_path, header, kept, encoding=encoding, newline=newline,
              written_with=removed_path)
    write_csv(removed_path, [*header, reason_name], removed, encoding=encoding, newline=newline)
    total = len(kept) + len(removed)
    detail = ", ".join(f"{name}: {n}" for name, n in sorted(reasons.items()))
    click.echo(f"{total} row(s): {len(kept)} kept → {out_path}; {len(removed)} removed → "
               f"{removed_path}" + (f" ({detail})" if detail else ""))


# -- trials -------------------------------------------------------------------------------


@click.group("trials")
def trials_group() -> None:
    """Free-trial obligations: the second confirmation due before charging starts."""


@trials_group.command("list")
@click.option("--overdue", is_flag=True, help="Only open obligations past due.")
@click.option("--as-of", type=day_type, metavar="YYYY-MM-DD",
              help="The day --overdue is judged on (default: today).")
@unmasked_option
@db_option
def list_trials(overdue: bool, as_of: datetime | None, unmasked: bool, db_path: Path) -> None:
    """Print the trial obligations as a table."""
    if as_of is not None and not overdue:
        raise UserError("--as-of only applies with --overdue")
    day = as_day(as_of) or date.today()
    with open_ledger(db_path) as ledger:
        rows = ledger.trials(overdue_on=day if overdue else None)
    if not rows:
        click.echo(f"no open trial obligation is past due as of {day}" if overdue
                   else "no trial obligations")
        return
    echo_table(["sale call", "phone", "product", "trial end", "due", "status", "extensions"], [
        [r["sale_call_id"], show_phone(r["phone"], unmasked), r["product_code"] or "-",
         r["trial_end"], r["due_date"], r["status"], r["extensions"]] for r in rows])
    if overdue:
        click.echo(f"{len(rows)} trial(s) past due as of {day} without a second confirmation: "
                   "charging must not start for them")
