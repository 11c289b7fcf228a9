"""The command-line interface, one module per command group; cli.py is the root."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import click

from engine.actions.ledger import Ledger, LedgerError
from engine.transcripts.remote import is_url

# Exit codes, documented in the README.
EXIT_OK = 0
EXIT_FINDINGS = 1  # only with --fail-on: a finding at or above that severity
EXIT_USAGE = 2  # usage error or rule-file error
EXIT_REJECTED = 3  # --strict and an input record was rejected
EXIT_INTERNAL = 4  # a bug in callaudit (reported as such, never as the user's fault)


@dataclass(frozen=True)
class App:
    """Settings every command reads."""

    rules_root: Path
    colour: bool


class UserError(click.ClickException):
    """A mistake the user can fix; printed without a traceback, exit code 2."""

    exit_code = EXIT_USAGE


class RulePackFailed(click.ClickException):
    """A rule pack did not compile; the rendered problems are the message."""

    exit_code = EXIT_USAGE

    def show(self, file=None) -> None:  # type: ignore[override]
        click.echo(self.message, err=True)


# The dates a command accepts: a call centre's records start after 2000, and nothing is
# planned more than a year ahead. Anything else is a typo (0001-01-01, 9999-12-31).
FIRST_DAY = date(2000, 1, 1)
DAYS_AHEAD = 366


def day_problem(day: date) -> str | None:
    """Why a date is refused (outside FIRST_DAY .. a year from today), or None."""
    last = date.today() + timedelta(days=DAYS_AHEAD)
    if FIRST_DAY <= day <= last:
        return None
    return (f"{day.isoformat()} is outside the dates callaudit accepts: from {FIRST_DAY} to "
            f"{last} (a year from today)")


def parse_day(text: str) -> date:
    """A YYYY-MM-DD date in the accepted range, or UserError."""
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise UserError(f"'{text}' is not a date like 2026-11-23") from None
    problem = day_problem(day)
    if problem:
        raise UserError(problem)
    return day


class DayType(click.DateTime):
    """A YYYY-MM-DD option, within the accepted range (a datetime at midnight)."""

    def __init__(self) -> None:
        super().__init__(formats=["%Y-%m-%d"])

    def convert(self, value: object, param: click.Parameter | None,
                ctx: click.Context | None) -> datetime:
        result = super().convert(value, param, ctx)
        problem = day_problem(result.date())
        if problem:
            self.fail(problem, param, ctx)
        return result


class TranscriptInput(click.ParamType):
    """A local file or folder (a Path), or a storage URL such as s3://bucket/prefix/ (kept
    as text: a Path would fold its '//')."""

    name = "path_or_url"

    def __init__(self, *, exists: bool = False) -> None:
        self.exists = exists

    def convert(self, value: object, param: click.Parameter | None,
                ctx: click.Context | None) -> Path | str:
        if isinstance(value, Path) or is_url(value):
            return value  # type: ignore[return-value]
        path = Path(str(value))
        if self.exists and not path.exists():
            self.fail(f"{path} does not exist", param, ctx)
        return path


NIGHT_SIZED = 1000  # calls from which starting worker processes pays


def default_workers(inputs: Iterable[Path | str]) -> int:
    """All cores when there is enough work to pay for starting them: 1,000 calls or more,
    or a storage URL (not read twice to count: storage holds nights, not a handful)."""
    from engine.transcripts import count_units, expand_inputs

    inputs = list(inputs)
    if any(is_url(i) for i in inputs):
        return os.cpu_count() or 1
    calls = 0
    for path in expand_inputs(inputs):  # counted only until it is enough: never a full read
        if isinstance(path, Path):
            calls += count_units(path, enough=NIGHT_SIZED - calls)
            if calls >= NIGHT_SIZED:
                return os.cpu_count() or 1
    return 1


def connect_ledger(path: Path, *, must_exist: bool = True) -> Ledger:
    """The ledger for a command, with its problems told as user errors. Commands that only
    read or decide need an existing ledger (a typo in --db must not create an empty one);
    the audit creates it."""
    if must_exist and not path.is_file():
        raise UserError(f"no ledger at {path}: run `callaudit audit` or `callaudit nightly` "
                        "first, or point --db (or CALLAUDIT_DB, or the config) at the ledger")
    try:
        return Ledger(path)
    except LedgerError as exc:
        raise UserError(str(exc)) from None
    except sqlite3.OperationalError as exc:  # the file is fine; its disk or folder is not
        raise UserError(f"cannot open the ledger {path} ({exc}): check that its disk has "
                        "space and its folder can be written") from None
    except sqlite3.DatabaseError as exc:
        raise UserError(f"{path} is not a callaudit ledger ({exc})") from None


@contextmanager
def open_ledger(path: Path, *, must_exist: bool = True) -> Iterator[Ledger]:
    """connect_ledger for the length of a command; a refused decision is a user error."""
    ledger = connect_ledger(path, must_exist=must_exist)
    try:
        yield ledger
    except LedgerError as exc:
        raise UserError(str(exc)) from None
    except OverflowError:
        # SQLite holds integers up to 2**63 - 1: an id typed beyond that cannot exist.
        raise UserError(f"a number given is too large for the ledger (the largest it holds "
                        f"is {2**63 - 1}): check the id") from None
    finally:
        ledger.close()
