"""A QA workspace: the folder holding callaudit.yaml, its rule packs, transcripts, reports
and ledger. A command finds it by walking up from the current folder, as git finds .git
and ruff its pyproject.toml; `callaudit init` lays a new one out from the bundled packs."""

from __future__ import annotations

import re
import shlex
import shutil
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from engine.gitrepo import GitMissing, git, has_identity, work_tree
from engine.nightly.config import DEFAULT_CONFIG

CONFIG_FILE = "callaudit.yaml"
PRE_COMMIT_FILE = ".pre-commit-config.yaml"
FIRST_COMMIT_MESSAGE = "QA workspace as laid out by callaudit init: configuration and rule packs"

README = """\
# QA workspace

Set up by `callaudit init`. Any callaudit command run in this folder or in one below it
uses `callaudit.yaml` for the ledger, the rules, the transcripts and the reports.

    callaudit.yaml        the configuration, commented (every key: docs/workspace.md)
    rules/zh-CN/ en-US/   the rule packs: the compliance officers' own, kept in git;
                          `callaudit rules check` and `callaudit rules test` after an edit
    rules/actions.yaml    the follow-up policy: callbacks, do-not-call, blacklist, trials
    transcripts/DATE/     where the call platform drops a day's transcripts (2026-11-23/)
    reports/DATE/         one folder per night: report.html, tables/, report.xlsx
    callaudit-ledger.db   the ledger: callbacks, blacklist, do-not-call, trial obligations
    .gitignore            keeps the transcripts, the reports and the ledger out of git
    .pre-commit-config.yaml  checks the rules before every commit that changes them

Every night: `callaudit nightly --date YYYY-MM-DD`. The transcripts, the reports and the
ledger hold customers' words and numbers: `.gitignore` keeps them out of git.

## The rules in git

This folder is a git repository (`callaudit init` made it one, unless told `--no-git` or
run inside another repository): the configuration and `rules/` are committed, and every
change to a rule is a commit someone can review. Once per clone, switch on the check
before each commit (`pip install pre-commit` first, with `callaudit` on the PATH):

    pre-commit install

From then on a commit that changes `rules/` or `callaudit.yaml` runs `callaudit rules
check` and `callaudit rules test`, and is refused, with the file and line to fix, when a
rule file is broken or a rule's examples no longer behave. `rules check` also warns when a
pack's files changed since the last commit but its `version:` did not: every verdict names
the pack's version, so raise it in the pack's `pack.yaml` (2.3 → 2.4) with each change.
"""

GITIGNORE = """\
# Customers' words and numbers stay out of git: only the configuration and the rules go in.
callaudit-ledger.db*
transcripts/
reports/
"""


PRE_COMMIT_HEAD = """\
# Checks the rules before every commit that changes them: a broken rule file, or a rule
# whose examples no longer behave, stops the commit with the file and line to fix.
# Once per clone: `pip install pre-commit`, then `pre-commit install` at the top of the
# repository. The hooks run the `callaudit` on the PATH (activate its environment first).
# If callaudit.yaml's `rules:` names another folder, name it in `files:` too.
repos:
  - repo: local
    hooks:
"""

PRE_COMMIT_HOOK = """\
      - id: callaudit-rules-{command}
        name: callaudit rules {command} ({what})
        entry: {entry}
        language: system
        pass_filenames: false
        files: {files}
"""


def pre_commit_config(prefix: str = "", config_name: str = CONFIG_FILE) -> str:
    """The pre-commit hooks of a workspace PREFIX below the top of its git repository ("" at
    the top, else ending in "/"), whose configuration file is CONFIG_NAME."""
    files = f"^{re.escape(prefix)}(rules/|{re.escape(config_name)}$)"
    config = ("" if not prefix and config_name == CONFIG_FILE  # found from the top itself
              else f" --config {shlex.quote(prefix + config_name)}")
    hooks = [
        # verbose: the warnings (a version not raised, a phrase that matches too much) are
        # shown on a commit that passes too
        PRE_COMMIT_HOOK.format(command="check", what="every rule file valid",
                               entry=_quoted(f"callaudit rules check{config}"),
                               files=_quoted(files)) + "        verbose: true\n",
        PRE_COMMIT_HOOK.format(command="test", what="every rule's examples behave",
                               entry=_quoted(f"callaudit rules test{config}"),
                               files=_quoted(files)),
    ]
    return PRE_COMMIT_HEAD + "".join(hooks)


def _quoted(text: str) -> str:
    """A YAML single-quoted scalar: backslashes and '#' stay as written."""
    return "'" + text.replace("'", "''") + "'"


def bundled_rules() -> Path:
    """The rule packs and action policy shipped with callaudit: engine/packs in an installed
    wheel (pyproject.toml maps the source tree's rules/ there), rules/ in a source tree."""
    package = Path(str(resources.files("engine")))
    installed = package / "packs"
    return installed if installed.is_dir() else package.parent / "rules"


def find_config(start: Path) -> Path | None:
    """The nearest callaudit.yaml in START or a folder above it, or None."""
    start = start.absolute()
    for folder in (start, *start.parents):
        candidate = folder / CONFIG_FILE
        if candidate.is_file():
            return candidate
    return None


@dataclass(frozen=True)
class Laid:
    """One entry `init` laid out, or found there already and left as it is."""

    path: Path
    created: bool


def lay_out(folder: Path, config_name: str = CONFIG_FILE) -> list[Laid]:
    """Create a workspace in FOLDER; never replaces anything. A rule pack is copied whole or
    not at all: half a bundled pack beside an edited one would be neither."""
    folder.mkdir(parents=True, exist_ok=True)
    laid = [
        _write(folder / config_name, DEFAULT_CONFIG),
        _write(folder / "README.md", README),
        _write(folder / ".gitignore", GITIGNORE),
        _write(folder / PRE_COMMIT_FILE, pre_commit_config(_prefix(folder), config_name)),
    ]
    rules = folder / "rules"
    if rules.is_symlink() or (rules.exists() and not rules.is_dir()):
        laid.append(Laid(rules, False))  # a link to shared rules is theirs to fill
    else:
        rules.mkdir(exist_ok=True)
        laid.extend(_copy_packs(rules))
    for name in ("transcripts", "reports"):
        path = folder / name
        laid.append(Laid(path, False) if path.exists() or path.is_symlink() else _mkdir(path))
    return laid


def _prefix(folder: Path) -> str:
    """FOLDER's path below the top of the git work tree it is in ("" when it is the top, or
    in none: `init` then makes it a repository of its own)."""
    tree = work_tree(folder)
    return tree.prefix if tree is not None else ""


def _copy_packs(rules: Path) -> list[Laid]:
    laid = []
    for source in sorted(bundled_rules().iterdir()):
        if source.name.startswith((".", "_")):
            continue
        target = rules / source.name
        if target.exists() or target.is_symlink():
            laid.append(Laid(target, False))
        elif source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
            laid.append(Laid(target, True))
        elif source.suffix in (".yaml", ".yml"):
            shutil.copyfile(source, target)
            laid.append(Laid(target, True))
    return laid


def _mkdir(path: Path) -> Laid:
    path.mkdir()
    return Laid(path, True)


def _write(path: Path, text: str) -> Laid:
    try:
        with path.open("x", encoding="utf-8") as handle:  # "x": never over an existing file
            handle.write(text)
    except FileExistsError:
        return Laid(path, False)
    return Laid(path, True)


@dataclass(frozen=True)
class GitSetup:
    """What `init` did about git: lines for the person who ran it, the repository's top
    folder (made or found; None without one) and the first commit's id, if init made it."""

    lines: tuple[str, ...]
    repository: Path | None = None
    commit: str | None = None


def set_up_git(folder: Path, shown: str, config_name: str = CONFIG_FILE) -> GitSetup:
    """Make the workspace FOLDER (SHOWN as the user knows it) a git repository of its own,
    and commit what `init` laid out when the user's git identity is configured. A folder
    inside a work tree already gets no repository of its own; no git is one line, not an
    error: the workspace works without it."""
    shown = "this folder" if shown in ("", ".") else shown
    try:
        found = git(["rev-parse", "--show-toplevel"], folder)
    except GitMissing:
        return GitSetup((f"git is not installed: {shown} is not a git repository; install "
                         "git and run `git init` there to keep the rules under review",))
    paths = [p for p in (config_name, "README.md", ".gitignore", PRE_COMMIT_FILE, "rules")
             if (folder / p).exists() or (folder / p).is_symlink()]
    if found.ok:
        return _inside(folder, shown, Path(found.text), paths)
    if "not a git repository" not in found.err:
        return GitSetup((f"no git repository made: git could not tell whether {shown} is in "
                         f"one ({found.reason})",))
    made = git(["init", "--quiet"], folder)
    if not made.ok:
        return GitSetup((f"git init failed in {shown}: {made.reason}; the workspace is laid "
                         "out, make it a repository with `git init` there",))
    top = folder.resolve()
    commands = _commit_commands(shown, paths)
    if not has_identity(folder):
        return GitSetup((
            f"made a git repository in {shown}, without a first commit: git does not know "
            "who you are (`git config user.name` or `user.email` is not set), and init "
            "never commits under a guessed name. Tell git who you are, then commit:",
            '  git config --global user.name "Your Name" && '
            "git config --global user.email you@example.com",
            f"  {commands}",
            _hook_hint(shown),
        ), top)
    added = git(["add", "--", *paths], folder)
    committed = (git(["-c", "user.useConfigOnly=true", "commit", "--quiet", "-m",
                      FIRST_COMMIT_MESSAGE], folder) if added.ok else added)
    if not committed.ok:
        return GitSetup((f"made a git repository in {shown}, but the first commit failed: "
                         f"{committed.reason}. Make it with:", f"  {commands}",
                         _hook_hint(shown)), top)
    head = git(["rev-parse", "--short", "HEAD"], folder).text
    return GitSetup((f"made a git repository in {shown} and committed the workspace as "
                     f"{head} ({', '.join(paths)})", _hook_hint(shown)), top, head)


def _inside(folder: Path, shown: str, top: Path, paths: list[str]) -> GitSetup:
    """FOLDER is in the work tree at TOP already: no repository is made inside another,
    and nothing is committed to someone else's."""
    if top.resolve() == folder.resolve():
        return GitSetup((
            f"{shown} is a git repository already: nothing committed; when you are ready: "
            f"{_commit_commands(shown, paths)}",
            _hook_hint(shown),
        ), top)
    return GitSetup((
        f"{shown} is inside the git repository at {top}: no repository of its own made, "
        f"nothing committed. pre-commit reads only {top / PRE_COMMIT_FILE}: copy the hooks "
        f"of {folder / PRE_COMMIT_FILE} into it (their paths are from {top} already)",
    ), top)


def _commit_commands(shown: str, paths: list[str]) -> str:
    """The commands that make the first commit, as the user would type them."""
    at = "" if shown == "this folder" else f"-C {shlex.quote(shown)} "
    return (f"git {at}add {' '.join(shlex.quote(p) for p in paths)} && "
            f"git {at}commit -m {shlex.quote(FIRST_COMMIT_MESSAGE)}")


def _hook_hint(shown: str) -> str:
    return (f"to check the rules before every commit: run `pre-commit install` in {shown} "
            "(`pip install pre-commit` first)")
