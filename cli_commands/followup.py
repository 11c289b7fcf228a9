"""`callaudit callbacks|blacklist|dnc|suppress|trials`: what outbound managers do with the ledger.

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
import sqlite3
import unicodedata
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from contextlib import suppress
from datetime import date, datetime
from pathlib import Path
from typing import Any

import click

from cli_commands import (
    EXIT_OK,
    DayType,
    UserError,
    ledger_option,
    open_ledger,
    output_errors,
)
from engine.actions.ledger import Ledger, LedgerError
from engine.actions.phones import normalize_phone
from engine.outputs import (
    OutputGuard,
    atomic_writer,
    csv_row,
    escape_controls,
    first_line_is,
    write_csv_rows,
    write_text,
)
from engine.privacy import mask_numbers_in_text, mask_phone
from engine.report.text import clock

EXIT_ROWS_REJECTED = 1  # `callbacks import`: some rows of the results file were rejected

CALLBACK_STATUSES = ("open", "done", "superseded", "withdrawn", "all")
BLACKLIST_STATUSES = ("pending", "approved", "rejected", "withdrawn")
OUTCOMES = ("done", "unreachable", "refused", "wrong_number")
# Column names that hold the number in a campaign list, tried in this order (case and
# surrounding spaces ignored); --phone-column names any other.
PHONE_COLUMNS = ("phone", "customer_phone", "phone_number", "mobile", "mobile_phone",
                 "cellphone", "msisdn", "tel", "telephone", "手机号", "手机号码", "手机",
                 "联系电话", "客户电话", "电话号码", "电话", "号码")
UNREADABLE = "unreadable number"
NOT_DIALLABLE = ("warning: phone numbers are masked (no --unmasked): {path} cannot be dialled")

# -- shared options and helpers --------------------------------------------------------------

db_option = ledger_option  # --db and --config: db_path is the ledger to use
unmasked_option = click.option(
    "--unmasked", is_flag=True, help="Show and write full phone numbers (masked by default)."
)
format_option = click.option(
    "--format", "output_format", type=click.Choice(["text", "json"]), default="text",
    show_default=True, help="text: a table; json: one array of objects, for scripts.")
MASKED_NUMBER = ("{shown} is a masked number: masked numbers cannot be looked up; give {ways}")
day_type = DayType()  # YYYY-MM-DD, from 2000-01-01 to a year from today


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


def echo_json(records: Iterable[dict[str, Any]]) -> None:
    """The machine-readable form of a list: one JSON array of objects with fixed keys."""
    click.echo(json.dumps(list(records), ensure_ascii=False, indent=2))


def masked_json(value: Any, unmasked: bool) -> Any:
    """A stored JSON value (a history detail, evidence) with the numbers in its text masked."""
    if isinstance(value, str):
        return show_text(value, unmasked)
    if isinstance(value, list):
        return [masked_json(v, unmasked) for v in value]
    if isinstance(value, dict):
        return {k: masked_json(v, unmasked) for k, v in value.items()}
    return value


def parsed(text: str | None) -> Any:
    try:
        return json.loads(text) if text else None
    except ValueError:
        return text


def refuse_masked(given: str, ways: str) -> None:
    """A masked number (as every screen shows it) names no one: say how to look up instead."""
    if "*" in given or "＊" in given:
        raise UserError(MASKED_NUMBER.format(shown=given.strip(), ways=ways))


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
    same_header = first_line_is(csv_row(header, newline))

    def is_ours(head: str) -> bool:
        return same_header(head) and (written_with is None or written_with.is_file())

    guard = OutputGuard(is_ours, encoding=encoding)
    with output_errors(path), atomic_writer(path, guard) as out:
        return write_csv_rows(out, header, rows, encoding=encoding, newline=newline)


def write_text_file(path: Path, text: str, *, encoding: str = "utf-8") -> None:
    """Write TEXT atomically; an existing PATH is replaced only when its first line is the
    same as TEXT's (the marker comment such an output starts with)."""
    guard = OutputGuard(first_line_is(text.split("\n", 1)[0]), encoding=encoding)
    with output_errors(path):
        write_text(path, text, guard, encoding=encoding)


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
@format_option
@db_option
def list_callbacks(due: datetime | None, status: str, unmasked: bool, output_format: str,
                   db_path: Path) -> None:
    """Print the callback orders as a table (or JSON)."""
    with open_ledger(db_path) as ledger:
        rows = ledger.callbacks(None if status == "all" else status, as_day(due))
        held = {r["id"]: ledger.withheld(r) for r in rows if r["status"] == "open"}
    if output_format == "json":
        echo_json({"id": r["id"], "call_id": r["call_id"], "agent_id": r["agent_id"],
                   "phone": show_phone(r["phone"], unmasked) if r["phone"] else None,
                   "severity": r["severity"], "reasons": json_list(r["reasons"]),
                   "points": [show_text(str(p), unmasked) for p in json_list(r["points"])],
                   "due_date": r["due_date"], "status": r["status"], "attempts": r["attempts"],
                   "exported_at": r["exported_at"],
                   "withheld": [s.reason for s in held.get(r["id"], [])],
                   "released_by": r["released_by"], "released_at": r["released_at"],
                   "closed_at": r["closed_at"], "closed_by": r["closed_by"],
                   "result": show_text(r["result"], unmasked) or None}
                  for r in rows)
        return
    if not rows:
        click.echo(f"no {'' if status == 'all' else status + ' '}callbacks"
                   + (f" due by {as_day(due)}" if due else ""))
        return
    headers = ["id", "call", "agent", "phone", "severity", "reasons", "due", "attempts"]
    if status == "all":
        headers.append("status")
    show_held = any(held.values())
    if show_held:
        headers.append("withheld")
    echo_table(headers, [
        [r["id"], r["call_id"], r["agent_id"] or "-", show_phone(r["phone"], unmasked),
         r["severity"], ", ".join(map(str, json_list(r["reasons"]))), r["due_date"],
         r["attempts"], *([r["status"]] if status == "all" else []),
         *([", ".join(s.reason for s in held.get(r["id"], [])) or "-"]
           if show_held else [])]
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

    An order whose number is on the do-not-call list or the approved blacklist is
    withheld: listed on stderr with the reason, not written, until a manager releases it
    (`callaudit callbacks release ID --by NAME --reason TEXT`).

    The orders are marked exported (a later re-audit no longer withdraws them) only when
    the file carries full numbers (--unmasked): a masked file cannot be dialled.
    """
    day = as_day(due)
    assert day is not None
    with open_ledger(db_path) as ledger:
        due_rows = ledger.callbacks("open", day)
        held = {r["id"]: why for r in due_rows if (why := ledger.withheld(r))}
        rows = [r for r in due_rows if r["id"] not in held]
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
               + (f" ({before} exported before)" if before else "")
               + (f"; {len(held)} withheld" if held else ""))
    if held:
        click.echo(f"withheld: {len(held)} callback(s) whose number must not be called "
                   "(not in the file):", err=True)
        for r in due_rows:
            for n, why in enumerate(held.get(r["id"], [])):
                lead = (f"  callback {r['id']} · call {r['call_id']} · "
                        f"{mask_phone(r['phone'])} · " if n == 0 else " " * 4 + "and ")
                click.echo(lead + show_text(why.describe(), False), err=True)
        click.echo("a manager may release one: callaudit callbacks release ID --by NAME "
                   "--reason TEXT", err=True)
    if not unmasked:
        click.echo(NOT_DIALLABLE.format(path=out_path)
                   + "; not marked exported (use --unmasked for the dialer)", err=True)


@callbacks_group.command("release")
@click.argument("callback_id", metavar="ID", type=int)
@click.option("--by", required=True, help="Who releases it (recorded in the history).")
@click.option("--reason", required=True,
              help="Why the customer may be called despite the list (recorded).")
@db_option
def release_callback(callback_id: int, by: str, reason: str, db_path: Path) -> None:
    """Let withheld callback ID go to the dialer at the next export, despite its number
    being on do-not-call or the blacklist (a callback the law requires, say)."""
    with open_ledger(db_path) as ledger:
        released = ledger.release_callback(callback_id, by, reason)
    click.echo(f"callback {callback_id} released by {by} despite {', '.join(released)}: "
               "the next `callbacks export` includes it")


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
@format_option
@db_option
def list_blacklist(status: str | None, unmasked: bool, output_format: str,
                   db_path: Path) -> None:
    """Print the blacklist entries as a table (or JSON)."""
    with open_ledger(db_path) as ledger:
        rows = ledger.blacklist(status)
    if output_format == "json":
        echo_json({"id": r["id"], "phone": show_phone(r["phone"], unmasked),
                   "status": r["status"], "call_id": r["call_id"], "agent_id": r["agent_id"],
                   "proposed_at": r["proposed_at"], "decided_by": r["decided_by"],
                   "decided_at": r["decided_at"],
                   "reason": show_text(r["reason"], unmasked) or None,
                   "evidence": masked_json(json_list(r["evidence"]), unmasked)}
                  for r in rows)
        return
    if not rows:
        click.echo(f"no {status + ' ' if status else ''}blacklist entries")
        return
    echo_table(["id", "phone", "status", "call", "agent", "proposed", "decided", "reason"], [
        [r["id"], show_phone(r["phone"], unmasked), r["status"], r["call_id"],
         r["agent_id"] or "-", r["proposed_at"],
         f"{r['decided_by']} {r['decided_at']}" if r["decided_by"] else "-",
         show_text(r["reason"], unmasked)]
        for r in rows])


ENTRY_WAYS = ("the entry id or the call id (both in `callaudit blacklist list`)")


def _entry(ledger: Ledger, ref: str) -> sqlite3.Row:
    """The blacklist entry named by id or call; a masked number is refused with a hint."""
    refuse_masked(ref, ENTRY_WAYS)
    try:
        return ledger.blacklist_entry(ref)
    except LedgerError as exc:
        raise UserError(str(exc)) from None


def _decide(db_path: Path, ref: str, approve: bool, by: str, reason: str) -> None:
    with open_ledger(db_path) as ledger:
        entry = _entry(ledger, ref)
        ledger.decide_blacklist(entry["id"], approve, by, reason)
    click.echo(f"entry {entry['id']} ({mask_phone(entry['phone'])}) "
               f"{'approved' if approve else 'rejected'} by {by}")


@blacklist_group.command("approve")
@click.argument("ref", metavar="ID|CALL")
@click.option("--by", required=True, help="Who decides (recorded in the history).")
@click.option("--reason", default="", help="Why (optional for an approval).")
@db_option
def approve_blacklist(ref: str, by: str, reason: str, db_path: Path) -> None:
    """Approve a pending proposal (by entry id or call id): the number stays out of every
    campaign."""
    _decide(db_path, ref, True, by, reason)


@blacklist_group.command("reject")
@click.argument("ref", metavar="ID|CALL")
@click.option("--by", required=True, help="Who decides (recorded in the history).")
@click.option("--reason", default="", help="Why (required: a rejection lifts the suppression).")
@db_option
def reject_blacklist(ref: str, by: str, reason: str, db_path: Path) -> None:
    """Reject a pending proposal (by entry id or call id), with a reason: the number may
    be called again."""
    _decide(db_path, ref, False, by, reason)


@blacklist_group.command("reverse")
@click.argument("ref", metavar="ID|CALL")
@click.option("--by", required=True, help="Who reverses it (recorded in the history).")
@click.option("--reason", required=True, help="Why (recorded in the history).")
@click.option("--to", "to_status", type=click.Choice(["approved", "rejected", "pending"]),
              help="The new status (default: the opposite decision; pending: review again).")
@db_option
def reverse_blacklist(ref: str, by: str, reason: str, to_status: str | None,
                      db_path: Path) -> None:
    """Reverse a manager's decision on an entry (by entry id or call id): approved becomes
    rejected and rejected approved, or --to pending puts it back for review. The earlier
    decision stays in the history."""
    with open_ledger(db_path) as ledger:
        entry = _entry(ledger, ref)
        before, after = ledger.reverse_blacklist(entry["id"], by, reason, to_status)
    click.echo(f"entry {entry['id']} (call {entry['call_id']}, {mask_phone(entry['phone'])}): "
               f"{before} → {after} by {by}")


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
@click.argument("ref", metavar="ID|CALL|NUMBER")
@unmasked_option
@format_option
@db_option
def history_blacklist(ref: str, unmasked: bool, output_format: str, db_path: Path) -> None:
    """Every do-not-call and blacklist event about a number, named by a blacklist entry id,
    a call id, or the full number (written in any usual form)."""
    refuse_masked(ref, "a blacklist entry id or a call id (`callaudit blacklist list`), or "
                  "the full number (`callaudit blacklist list --unmasked`)")
    with open_ledger(db_path) as ledger:
        candidates = _phones_of(ledger, ref)
        if not candidates:
            raise UserError(f"{show_phone(ref, unmasked)!r} is not a readable phone number, "
                            "a blacklist entry id or a call in the ledger")
        found = [(phone, ledger.history_of_phone(phone), ledger.suppression(phone))
                 for phone in candidates]
    found = [f for f in found if f[1]]
    if output_format == "json":
        echo_json({"phone": show_phone(phone, unmasked), "at": e["at"], "who": e["who"],
                   "kind": e["kind"], "entry": None if e["kind"] == "dnc" else int(e["ref"]),
                   "event": e["event"], "detail": masked_json(parsed(e["detail"]), unmasked),
                   "suppressed_now": now}
                  for phone, events, now in found for e in events)
        return
    for phone, events, now in found:
        click.echo(f"{show_phone(phone, unmasked)} (now: {', '.join(now) or 'not suppressed'})")
        echo_table(["time", "who", "entry", "event", "detail"], [
            [e["at"], e["who"], "dnc" if e["kind"] == "dnc" else f"{e['kind']} #{e['ref']}",
             e["event"], _detail(e["detail"], unmasked)] for e in events])
    if not found:
        click.echo(f"no history for {' or '.join(show_phone(p, unmasked) for p in candidates)}")


def _phones_of(ledger: Ledger, ref: str) -> list[str]:
    """The numbers REF names: a blacklist entry's, a call's, else REF read as a number."""
    ref = ref.strip()
    if ref.isdigit() and len(ref) < 7:  # too short for a number: an entry id
        with suppress(LedgerError):
            return [ledger.blacklist_entry(ref)["phone"]]
    phone = ledger.phone_of_call(ref)
    if phone is not None:
        return [phone]
    return list(dict.fromkeys(p for p in (normalize_phone(ref, "zh"),
                                          normalize_phone(ref, "en")) if p))


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


# -- do-not-call ----------------------------------------------------------------------------


@click.group("dnc")
def dnc_group() -> None:
    """The do-not-call list: customers' requests (from the audit) and numbers added by hand."""


def _dnc_records(rows: Iterable[Any], unmasked: bool) -> list[dict[str, Any]]:
    return [{"phone": show_phone(r["phone"], unmasked), "added_at": r["added_at"],
             "added_by": r["added_by"] or "audit", "call_id": r["call_id"],
             "reason": show_text(r["reason"], unmasked) or None,
             "evidence": masked_json(json_list(r["evidence"]), unmasked)} for r in rows]


@dnc_group.command("list")
@unmasked_option
@format_option
@db_option
def list_dnc(unmasked: bool, output_format: str, db_path: Path) -> None:
    """Print the do-not-call list: number, since when, who added it and why."""
    with open_ledger(db_path) as ledger:
        records = _dnc_records(ledger.dnc_entries(), unmasked)
    if output_format == "json":
        echo_json(records)
        return
    if not records:
        click.echo("the do-not-call list is empty")
        return
    echo_table(["phone", "since", "by", "call", "why"], [
        [r["phone"], r["added_at"], r["added_by"], r["call_id"] or "-",
         r["reason"] or "; ".join(f'"{w}"' for w in r["evidence"])] for r in records])


@dnc_group.command("export")
@click.option("--out", "out_path", type=click.Path(dir_okay=False, path_type=Path),
              required=True, help="The CSV (UTF-8 with BOM).")
@unmasked_option
@db_option
def export_dnc(out_path: Path, unmasked: bool, db_path: Path) -> None:
    """Write the do-not-call list to a CSV (full numbers only with --unmasked)."""
    with open_ledger(db_path) as ledger:
        rows = ledger.dnc_entries()
    records = _dnc_records(rows, unmasked)
    count = write_csv(out_path, ["phone", "added_at", "added_by", "call_id", "reason",
                                 "evidence"],
                      ([r["phone"], r["added_at"], r["added_by"], r["call_id"], r["reason"],
                        "; ".join(map(str, r["evidence"]))] for r in records))
    click.echo(f"{count} do-not-call number(s) → {out_path}")
    if not unmasked:
        click.echo(NOT_DIALLABLE.format(path=out_path), err=True)


def _dnc_number(number: str) -> str:
    """A number given to `dnc add|remove`, as the ledger stores it."""
    refuse_masked(number, "the full number (`callaudit dnc list --unmasked`)")
    phone = normalize_phone(number, "zh") or normalize_phone(number, "en")
    if phone is None:
        raise UserError(f"{mask_phone(number)!r} is not a readable phone number")
    return phone


@dnc_group.command("add")
@click.argument("number")
@click.option("--reason", required=True, help="Why (recorded), e.g. the customer's e-mail.")
@click.option("--by", required=True, help="Who adds it (recorded in the history).")
@db_option
def add_dnc(number: str, reason: str, by: str, db_path: Path) -> None:
    """Put NUMBER on the do-not-call list: scrubs and callback exports leave it out."""
    phone = _dnc_number(number)
    with open_ledger(db_path) as ledger:
        added = ledger.add_dnc(phone, by, reason)
    click.echo(f"{mask_phone(phone)} added to the do-not-call list by {by}" if added
               else f"{mask_phone(phone)} is on the do-not-call list already")


@dnc_group.command("remove")
@click.argument("number")
@click.option("--by", required=True, help="Who removes it (recorded in the history).")
@click.option("--reason", required=True, help="Why the number may be called again (recorded).")
@db_option
def remove_dnc(number: str, by: str, reason: str, db_path: Path) -> None:
    """Take NUMBER off the do-not-call list (the entry stays in its history)."""
    phone = _dnc_number(number)
    with open_ledger(db_path) as ledger:
        ledger.remove_dnc(phone, by, reason)
    click.echo(f"{mask_phone(phone)} removed from the do-not-call list by {by}")


# -- trials -------------------------------------------------------------------------------


@click.group("trials")
def trials_group() -> None:
    """Free-trial obligations: the second confirmation due before charging starts."""


@trials_group.command("list")
@click.option("--overdue", is_flag=True, help="Only open obligations past due.")
@click.option("--as-of", type=day_type, metavar="YYYY-MM-DD",
              help="The day --overdue is judged on (default: today).")
@unmasked_option
@format_option
@db_option
def list_trials(overdue: bool, as_of: datetime | None, unmasked: bool, output_format: str,
                db_path: Path) -> None:
    """Print the trial obligations as a table (or JSON)."""
    if as_of is not None and not overdue:
        raise UserError("--as-of only applies with --overdue")
    day = as_day(as_of) or date.today()
    with open_ledger(db_path) as ledger:
        rows = ledger.trials(overdue_on=day if overdue else None)
    if output_format == "json":
        echo_json({"id": r["id"], "sale_call_id": r["sale_call_id"],
                   "phone": show_phone(r["phone"], unmasked) if r["phone"] else None,
                   "product_code": r["product_code"], "trial_days": r["trial_days"],
                   "trial_end": r["trial_end"], "due_date": r["due_date"],
                   "status": r["status"], "extensions": r["extensions"],
                   "closed_by_call": r["closed_by_call"], "closed_at": r["closed_at"]}
                  for r in rows)
        return
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
