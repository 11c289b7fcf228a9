"""callaudit: audit outbound telemarketing calls against YAML compliance rules.

The root command builds the application settings; each command group lives in its own
module under cli_commands/. The engine never imports click.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from cli_commands import EXIT_INTERNAL, App
from cli_commands.audit import audit_command, check_command
from cli_commands.evaluate import eval_command
from cli_commands.followup import (
    blacklist_group,
    callbacks_group,
    dnc_group,
    suppress_group,
    trials_group,
)
from cli_commands.nightly import (
    init_command,
    nightly_command,
    purge_command,
    report_group,
    review_group,
    sample_group,
)
from cli_commands.recordings import transcribe_command
from cli_commands.rules import rules_group
from engine import __version__

DEFAULT_RULES_ROOT = Path(__file__).resolve().parent / "rules"


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="callaudit")
@click.option(
    "--rules-root",
    type=click.Path(file_okay=False, path_type=Path),
    default=lambda: os.environ.get("CALLAUDIT_RULES", str(DEFAULT_RULES_ROOT)),
    show_default="$CALLAUDIT_RULES or the bundled rules/",
    help="Folder holding one rule pack per language (zh-CN/, en-US/).",
)
@click.pass_context
def main(ctx: click.Context, rules_root: Path) -> None:
    """Audit call transcripts against YAML compliance rules."""
    ctx.obj = App(rules_root=rules_root, colour=sys.stdout.isatty())


main.add_command(rules_group)
main.add_command(check_command)
main.add_command(audit_command)
main.add_command(eval_command)
main.add_command(transcribe_command)
for command in (
    init_command,
    nightly_command,
    sample_group,
    review_group,
    report_group,
    purge_command,
):
    main.add_command(command)
main.add_command(callbacks_group)
main.add_command(blacklist_group)
main.add_command(suppress_group)
main.add_command(trials_group)
main.add_command(dnc_group)


def run() -> None:
    """The installed `callaudit` command: user errors are click's; anything else is a bug."""
    try:
        main(standalone_mode=True)
    except Exception as exc:  # click has already handled every user error by now
        if os.environ.get("CALLAUDIT_DEBUG"):
            raise
        click.echo(
            f"internal error: {type(exc).__name__}: {exc}\n"
            "This is a bug in callaudit, not a problem with your files. Please report it with "
            "the command you ran; set CALLAUDIT_DEBUG=1 to print the traceback.",
            err=True,
        )
        raise SystemExit(EXIT_INTERNAL) from None


if __name__ == "__main__":
    run()
