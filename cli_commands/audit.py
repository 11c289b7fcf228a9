"""`callaudit check` (one call, for a person) and `callaudit audit` (a batch, for the night)."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import click

from cli_commands import (
    EXIT_FINDINGS,
    EXIT_OK,
    EXIT_REJECTED,
    App,
    RulePackFailed,
    TranscriptInput,
    UserError,
    connect_ledger,
    default_workers,
    ledger_option,
    workspace_option,
)
from engine.actions.policy import load_policy
from engine.actions.runner import FollowUp
from engine.audit import NoPackForLanguage, PackChooser, audit_call, context_for
from engine.batch import Progress, StrictInputError, run_batch
from engine.model import Call, Rejected
from engine.outputs import OutputRefused
from engine.privacy import mask_numbers_in_text
from engine.report.products import format_product, format_typed_values
from engine.report.text import example_notes, format_call_audit, format_matches
from engine.rules.base import SEVERITIES, severity_rank
from engine.rules.problems import RulePackError
from engine.rules.scope import clause_notes
from engine.rules.templates import slot_notes
from engine.transcripts import count_units, expand_inputs, load_calls

rules_option = click.option(
    "--rules",
    "rules_pack",
    type=click.Path(file_okay=False, path_type=Path),
    help="Use this rule pack for every call (default: chosen by each call's language).",
)
mask_option = click.option(
    "--no-mask",
    is_flag=True,
    help="Show full phone numbers (masked by default).",
)


def _chooser(app: App, rules_pack: Path | None) -> PackChooser:
    try:
        return PackChooser(app.rules_root, rules_pack)
    except RulePackError as exc:
        raise RulePackFailed(exc.render()) from None


@click.command("check")
@click.argument("call_file", type=click.Path(path_type=Path))
@click.option("--call-id", help="Which call, when the file holds several.")
@rules_option
@mask_option
@click.option(
    "--show-matches", is_flag=True, help="Also print every turn with the matchers that matched."
)
@workspace_option
@click.pass_obj
def check_command(
    app: App,
    call_file: Path,
    call_id: str | None,
    rules_pack: Path | None,
    no_mask: bool,
    show_matches: bool,
) -> None:
    """Audit one call and print its findings with the quoted evidence."""
    chooser = _chooser(app, rules_pack)
    chosen: Call | None = None
    problems: list[Rejected] = []
    for item in load_calls([call_file]):
        if isinstance(item, Rejected):
            problems.append(item)
        elif call_id is None or item.call_id == call_id:
            chosen = item
            break
    if chosen is None:
        for rejected in problems:
            click.echo(f"rejected: {rejected}", err=True)
        wanted = f"call '{call_id}'" if call_id else "a call"
        raise UserError(f"{call_file}: found no {wanted} to check")
    try:
        pack = chooser.for_call(chosen)
    except RulePackError as exc:
        raise RulePackFailed(exc.render()) from None
    except NoPackForLanguage as exc:
        raise UserError(str(exc)) from None
    result = audit_call(pack, chosen)
    if show_matches:
        ctx = context_for(pack, chosen)
        notes = example_notes(ctx)  # scores every `like:` matcher: before reading its hits
        for turn, filled in slot_notes(pack.index.matchers, ctx.turns, ctx.hits).items():
            notes.setdefault(turn, []).extend(f"slots: {note}" for note in filled)
        for line in format_matches(chosen, ctx.hits, mask=not no_mask, notes=notes,
                                   clauses=clause_notes(pack, ctx),
                                   dialogue=ctx.dialogue if pack.acts else None,
                                   turns=ctx.turns):
            click.echo(line)
        click.echo("")
        for line in format_product(ctx) + format_typed_values(ctx):
            click.echo(mask_numbers_in_text(line) if not no_mask else line)
        click.echo("")
    style = click.style if app.colour else None
    text = (
        format_call_audit(result, style, mask=not no_mask)
        if style
        else format_call_audit(result, mask=not no_mask)
    )
    click.echo(text)


@click.command("audit")
@click.argument("inputs", nargs=-1, required=True, type=TranscriptInput())
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for verdicts.jsonl, findings.jsonl, rejects.jsonl, summary.json.",
)
@rules_option
@click.option("--strict", is_flag=True, help="Stop at the first rejected record (exit 3).")
@click.option(
    "--fail-on",
    type=click.Choice(SEVERITIES),
    help="Exit 1 when a finding of this severity or worse was made.",
)
@mask_option
@ledger_option
@click.option("--policy", "policy_path", type=click.Path(dir_okay=False, path_type=Path),
              help="The action policy (default: actions.yaml under the rules root).")
@click.option("--workers", type=click.IntRange(1, 256), default=None,
              help="Processes to audit with (default: all cores for 1,000+ calls, else 1).")
@click.option("--cluster", metavar="ADDRESS",
              help="Audit on a Dask distributed cluster (e.g. tcp://scheduler:8786); inputs "
                   "and rules must be on storage the workers can read.")
@click.option("--no-ledger", is_flag=True, is_eager=True,  # read by --db's callback
              help="Audit only: no follow-up actions, nothing written to the ledger.")
@click.option(
    "--progress/--no-progress",
    default=None,
    help="Show a progress bar (default: when stderr is a terminal).",
)
@click.pass_obj
def audit_command(
    app: App,
    inputs: tuple[Path | str, ...],
    out_dir: Path,
    rules_pack: Path | None,
    strict: bool,
    fail_on: str | None,
    no_mask: bool,
    db_path: Path | None,
    policy_path: Path | None,
    workers: int | None,
    cluster: str | None,
    no_ledger: bool,
    progress: bool | None,
) -> None:
    """Audit every call in INPUTS (files, folders, or storage URLs such as
    s3://bucket/2026-11-23/) and write the results to --out.

    Unless --no-ledger, the action policy runs on every call and the ledger records the
    callbacks, do-not-call entries, blacklist proposals and trial obligations it decides.
    """
    chooser = _chooser(app, rules_pack)
    _check_out(out_dir, inputs)
    follow_up = None if no_ledger else _follow_up(app, db_path, policy_path)
    show = sys.stderr.isatty() if progress is None else progress
    counter = _Progress(show, inputs)
    try:
        summary = run_batch(
            [str(p) for p in inputs],
            out_dir,
            chooser,
            strict=strict,
            mask=not no_mask,
            on_record=counter.tick,
            follow_up=follow_up,
            workers=workers or default_workers(inputs),
            cluster=cluster,
        )
    except RulePackError as exc:
        counter.close()
        raise RulePackFailed(exc.render()) from None
    except OutputRefused as exc:
        counter.close()
        raise UserError(str(exc)) from None
    except StrictInputError as exc:
        counter.close()
        click.echo(f"rejected (--strict): {exc.rejected}", err=True)
        raise SystemExit(EXIT_REJECTED) from None
    except (OSError, TimeoutError) as exc:
        counter.close()
        if cluster is None:  # inputs that cannot be read are rejects: this is the output
            raise UserError(f"cannot write the results to {out_dir} ({_strerror(exc)}): "
                            "free some space or choose another folder") from None
        raise UserError(f"cannot use the Dask cluster at {cluster}: {exc}") from None
    finally:
        if follow_up is not None:
            follow_up.ledger.close()
    counter.close()
    click.echo(summary.line() + f" → {out_dir}")
    if summary.rejected:
        click.echo(
            f"{summary.rejected} record(s) rejected: see {out_dir / 'rejects.jsonl'}", err=True
        )
    for waiver in summary.unused_waivers:
        click.echo(f"warning: unused waiver (it covered no finding): {waiver}", err=True)
    if fail_on and summary.worst_severity_rank(SEVERITIES) >= severity_rank(fail_on):
        raise SystemExit(EXIT_FINDINGS)
    raise SystemExit(EXIT_OK)


def _check_out(out_dir: Path, inputs: tuple[Path | str, ...]) -> None:
    """--out must be a folder this user may write, outside every input folder (the next
    run would read the results there as transcripts); checked before any call is read."""
    out = out_dir.resolve()
    for given in inputs:
        try:
            folder = given.resolve() if isinstance(given, Path) and given.is_dir() else None
        except OSError:
            continue  # an input that cannot be looked at is a reject of the run
        if folder is not None and out.is_relative_to(folder):
            raise UserError(f"--out {out_dir} is inside the input folder {given}: the next run "
                            "would read the results as transcripts; choose a folder outside it")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out_dir):
            pass
    except OSError as exc:
        raise UserError(f"cannot write the results to {out_dir} ({_strerror(exc)}): choose a "
                        "folder this user may write to") from None


def _strerror(exc: OSError | TimeoutError) -> str:
    return (exc.strerror or str(exc)) if isinstance(exc, OSError) else str(exc)


def _follow_up(app: App, db_path: Path, policy_path: Path | None) -> FollowUp:
    """The action policy and the ledger; a broken policy stops the run before it starts."""
    path = policy_path or app.rules_root / "actions.yaml"
    if not path.is_file():
        raise UserError(f"no action policy at {path}: give --policy FILE, or --no-ledger to "
                        "audit without follow-up actions")
    try:
        policy = load_policy(path)
    except RulePackError as exc:
        raise RulePackFailed(exc.render()) from None
    return FollowUp(policy, connect_ledger(db_path, must_exist=False))


class _Progress:
    """A progress bar on stderr: JSON Lines files advance by line, other files by file."""

    def __init__(self, enabled: bool, inputs: tuple[Path | str, ...]) -> None:
        self.enabled = enabled
        self.calls = self.rejected = 0
        self._done: dict[str, int] = {}
        self._bar = None
        if enabled:
            files = [p for p in expand_inputs(inputs) if not isinstance(p, Rejected)]
            self._units = {str(p): count_units(p) for p in files}
            self._bar = click.progressbar(
                length=max(sum(self._units.values()), 1), label="auditing", file=sys.stderr,
                show_pos=True, item_show_func=self._status,
            )
            self._bar.__enter__()

    def _status(self, _: object) -> str:
        return f"{self.calls} calls, {self.rejected} rejected"

    def tick(self, item: Progress) -> None:
        if isinstance(item, Rejected):
            self.rejected += 1
        else:
            self.calls += 1
        if self._bar is None or item.source is None:
            return
        path, line = item.source.path, item.source.line
        total = self._units.get(path, 1)
        now = min(line, total) if line is not None and total > 1 else total
        step = now - self._done.get(path, 0)
        if step > 0:
            self._done[path] = now
            self._bar.update(step, item)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)
            self._bar = None
