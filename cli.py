"""callaudit: audit outbound telemarketing calls against YAML compliance rules.

The root command builds the application settings; each command group lives in its own
module under cli_commands/. The engine never imports click.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from cli_commands import EXIT_INTERNAL, App, workspace_config
from cli_commands.audit import audit_command, check_command
from cli_commands.console import serve_command, users_group
from cli_commands.evaluate import eval_command
from cli_commands.followup import (
    blacklist_group,
    callbacks_group,
    dnc_group,
    suppress_group,
    trials_group,
)
from cli_commands.impact import impact_command
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


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="callaudit")
@click.option(
    "--rules-root",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="CALLAUDIT_RULES",
    show_default="$CALLAUDIT_RULES, else the workspace's rules, else the bundled packs",
    help="Folder holding one rule pack per language (zh-CN/, en-US/) and actions.yaml.",
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="CALLAUDIT_CONFIG",
    show_default="$CALLAUDIT_CONFIG, else the nearest callaudit.yaml here or above",
    help="The workspace's configuration; every command also takes --config.",
)
@click.pass_context
def main(ctx: click.Context, rules_root: Path | None, config_path: Path | None) -> None:
    """Audit call transcripts against YAML compliance rules.

    Run anywhere inside a workspace (`callaudit init`), every command uses its
    callaudit.yaml, found by walking up from the current folder.
    """
    ctx.obj = App(colour=sys.stdout.isatty(), config_path=config_path or workspace_config(),
                  rules_flag=rules_root)


rules_group.add_command(impact_command)  # a module of its own: it reuses the batch audit
main.add_command(rules_group)
main.add_command(serve_command)
main.add_command(users_group)
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
