"""The command-line interface, one module per command group; cli.py is the root."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import click

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
