"""`callaudit rules check|test`: what compliance officers run after editing a rule file."""

from __future__ import annotations

from pathlib import Path

import click

from cli_commands import EXIT_FINDINGS, EXIT_OK, EXIT_USAGE, App, UserError, workspace_option
from engine.actions.policy import load_policy
from engine.audit import audit_call
from engine.rules.history import unbumped_version
from engine.rules.pack import PACK_FILE, RulePack, display_path, load_pack
from engine.rules.problems import Problem, RulePackError


def pack_folders(app: App, packs: tuple[Path, ...]) -> list[Path]:
    """The packs named, or every pack under the rules root."""
    if packs:
        return list(packs)
    found = sorted(p.parent for p in app.rules_root.glob(f"*/{PACK_FILE}"))
    if not found:
        raise UserError(f"no rule packs under {app.rules_root} (folders with {PACK_FILE})")
    return found


@click.group("rules")
def rules_group() -> None:
    """Validate rule packs and run their embedded examples."""


@rules_group.command("check")
@click.argument("packs", nargs=-1, type=click.Path(path_type=Path))
@workspace_option
@click.pass_obj
def check_rules(app: App, packs: tuple[Path, ...]) -> None:
    """Validate every file of each PACK (default: all packs, and the action policy)."""
    failed = False
    for folder in pack_folders(app, packs):
        try:
            pack = load_pack(folder)
        except RulePackError as exc:
            failed = True
            click.echo(exc.render() + "\n", err=True)
            click.echo(f"{display_path(folder)}: {len(exc.problems)} error(s)", err=True)
            continue
        warnings = _pack_warnings(pack)
        for warning in warnings:
            click.echo(warning.render() + "\n", err=True)
        matchers = len([m for m in pack.index.matchers if not m.name.startswith("<")])
        click.echo(
            f"{pack.path}: ok — {pack.label}, {len(pack.rules)} rules, {matchers} named "
            f"matchers, {len(warnings)} warning(s)"
        )
    if not packs:
        failed = not _check_policy(app.rules_root / "actions.yaml") or failed
    raise SystemExit(EXIT_USAGE if failed else EXIT_OK)


def _pack_warnings(pack: RulePack) -> list[Problem]:
    """The pack's own warnings, and one when its files changed since the last commit
    while its version did not (only inside a git work tree whose HEAD has the pack)."""
    unbumped = unbumped_version(pack)
    return sorted([*pack.warnings, *([unbumped] if unbumped else [])])


def _check_policy(path: Path) -> bool:
    """The action policy beside the packs, when there is one."""
    if not path.is_file():
        return True
    try:
        policy = load_policy(path)
    except RulePackError as exc:
        click.echo(exc.render() + "\n", err=True)
        click.echo(f"{display_path(path)}: {len(exc.problems)} error(s)", err=True)
        return False
    click.echo(f"{display_path(path)}: ok — action policy, {len(policy.rules)} actions")
    return True


def example_failures(pack: RulePack) -> tuple[int, list[str]]:
    """Run every rule's examples; return how many ran and a line per failure."""
    ran = 0
    failures: list[str] = []
    for rule in pack.rules:
        for _number, example in enumerate(rule.info.examples, start=1):
            ran += 1
            result = audit_call(pack, example.call, include_experimental=True)
            fired = [f for f in result.findings if f.rule_id == rule.info.id]
            group = "violating" if example.violating else "compliant"
            if example.violating and not fired:
                failures.append(
                    f"{example.location}: {rule.info.id}: {group} example "
                    f"{example.call.call_id.rsplit('/', 1)[-1]} did not trigger "
                    "the rule"
                )
            elif not example.violating and fired:
                quotes = "; ".join(e.quote for f in fired for e in f.evidence) or "no quote"
                failures.append(
                    f"{example.location}: {rule.info.id}: {group} example "
                    f"{example.call.call_id.rsplit('/', 1)[-1]} triggered the "
                    f"rule ({quotes})"
                )
    return ran, failures


@rules_group.command("test")
@click.argument("packs", nargs=-1, type=click.Path(path_type=Path))
@workspace_option
@click.pass_obj
def test_rules(app: App, packs: tuple[Path, ...]) -> None:
    """Run every rule's embedded examples; fail naming the rule and the example."""
    broken = failed = False
    for folder in pack_folders(app, packs):
        try:
            pack = load_pack(folder)
        except RulePackError as exc:
            click.echo(exc.render() + "\n", err=True)
            broken = True
            continue
        ran, failures = example_failures(pack)
        for line in failures:
            click.echo(f"FAIL {line}", err=True)
        status = "ok" if not failures else f"{len(failures)} failed"
        click.echo(f"{pack.path}: {status} — {ran} examples of {len(pack.rules)} rules")
        failed = failed or bool(failures)
    raise SystemExit(EXIT_USAGE if broken else EXIT_FINDINGS if failed else EXIT_OK)
