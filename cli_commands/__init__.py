"""The command-line interface, one module per command group; cli.py is the root."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import Any, TypeVar

import click
from click.core import ParameterSource

from engine.actions.ledger import Ledger, LedgerError, default_db_path
from engine.nightly.config import NightlyConfig, load_config
from engine.outputs import OutputRefused
from engine.rules.problems import RulePackError
from engine.transcripts.remote import is_url
from engine.workspace import CONFIG_FILE, bundled_rules, find_config

# Exit codes, documented in the README.
EXIT_OK = 0
EXIT_FINDINGS = 1  # only with --fail-on: a finding at or above that severity
EXIT_USAGE = 2  # usage error or rule-file error
EXIT_REJECTED = 3  # --strict and an input record was rejected
EXIT_INTERNAL = 4  # a bug in callaudit (reported as such, never as the user's fault)

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class App:
    """Settings every command reads, resolved once by the root command (a command's own
    --config replaces the workspace)."""

    colour: bool
    # The workspace's callaudit.yaml: --config, $CALLAUDIT_CONFIG, or the nearest one in
    # the current folder or above; None outside any workspace.
    config_path: Path | None = None
    rules_flag: Path | None = None  # --rules-root or $CALLAUDIT_RULES: over the workspace's

    @cached_property
    def config(self) -> NightlyConfig | None:
        """The workspace's configuration as written: its own ledger and rules."""
        return None if self.config_path is None else read_config(self.config_path)

    @property
    def rules_root(self) -> Path:
        """--rules-root > $CALLAUDIT_RULES > the workspace's rules > the bundled packs."""
        if self.rules_flag is not None:
            return self.rules_flag
        return self.config.rules if self.config is not None else bundled_rules()


class UserError(click.ClickException):
    """A mistake the user can fix; printed without a traceback, exit code 2."""

    exit_code = EXIT_USAGE


class RulePackFailed(click.ClickException):
    """A rule pack did not compile; the rendered problems are the message."""

    exit_code = EXIT_USAGE

    def show(self, file=None) -> None:  # type: ignore[override]
        click.echo(self.message, err=True)


def read_config(path: Path) -> NightlyConfig:
    """callaudit.yaml, its problems told as user errors."""
    if not path.is_file():
        if path == Path(CONFIG_FILE):  # none given and none found
            raise UserError(f"no {CONFIG_FILE} in this folder or above: run `callaudit init` "
                            "to set up a workspace, or give --config FILE")
        raise UserError(f"no configuration at {path}: run `callaudit init` to write one")
    try:
        return load_config(path)
    except RulePackError as exc:
        raise RulePackFailed(exc.render()) from None


# -- the workspace: found once by the root command, used by every command --------------------


def current_app(ctx: click.Context | None) -> App:
    """The root command's App; a command invoked on its own finds the workspace itself."""
    app = ctx.find_object(App) if ctx is not None else None
    return app if app is not None else App(colour=False, config_path=workspace_config())


def workspace_config() -> Path | None:
    """The nearest callaudit.yaml in the current folder or above."""
    try:
        return find_config(Path.cwd())
    except OSError:  # the current folder was deleted under us
        return None


def notice(text: str) -> None:
    click.echo(text, err=True)


def resolve_ledger(ctx: click.Context, given: Path | None, how: str) -> Path:
    """The ledger a command uses: --db > $CALLAUDIT_DB > the workspace's > the user's data
    folder. Any but the workspace's own is named on stderr, so that nobody reviews or scrubs
    against another ledger than the one the night wrote without being told."""
    config = current_app(ctx).config
    own = config.database if config is not None else None
    if given is not None:
        if own is not None and given.resolve() != own:
            notice(f"using ledger {given} from {how} (not this workspace's {own})")
        return given
    if own is not None:
        return own
    default = default_db_path()
    notice(f"using ledger {default} (no {CONFIG_FILE} in this folder or above)")
    return default


def _take_config(ctx: click.Context, param: click.Parameter, value: Path | None) -> Path:
    """A command's own --config names the workspace; without it, the one found."""
    app = current_app(ctx)
    if value is not None:
        app = replace(app, config_path=value)
    ctx.obj = app
    return value if value is not None else (app.config_path or Path(CONFIG_FILE))


def config_option(*, expose: bool) -> Callable[[F], F]:
    """--config on a command; exposed as config_path to the commands that read it."""
    return click.option(
        "--config",
        "config_path",
        type=click.Path(dir_okay=False, path_type=Path),
        envvar="CALLAUDIT_CONFIG",
        is_eager=True,  # before --db, which compares against the workspace's ledger
        expose_value=expose,
        callback=_take_config,
        help=f"The workspace's configuration (default: $CALLAUDIT_CONFIG, else the nearest "
             f"{CONFIG_FILE} in this folder or above).",
    )


workspace_option = config_option(expose=False)


def _take_ledger(ctx: click.Context, param: click.Parameter, value: Path | None) -> Path | None:
    if ctx.params.get("no_ledger"):  # `audit --no-ledger`: no ledger to name
        return value
    source = ctx.get_parameter_source(param.name or "db_path")
    return resolve_ledger(ctx, value,
                          "--db" if source is ParameterSource.COMMANDLINE else "$CALLAUDIT_DB")


def ledger_option(function: F) -> F:
    """--db (and --config) on a command that works on the ledger; db_path is the ledger."""
    function = click.option(
        "--db",
        "db_path",
        type=click.Path(dir_okay=False, path_type=Path),
        envvar="CALLAUDIT_DB",
        callback=_take_ledger,
        show_default="$CALLAUDIT_DB, else the workspace's, else ledger.db in the user's data "
                     "folder",
        help="The ledger the nightly audit writes to.",
    )(function)
    return workspace_option(function)
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
