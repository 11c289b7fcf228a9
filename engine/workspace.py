"""A QA workspace: the folder holding callaudit.yaml, its rule packs, transcripts, reports
and ledger. A command finds it by walking up from the current folder, as git finds .git
and ruff its pyproject.toml; `callaudit init` lays a new one out from the bundled packs."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from engine.nightly.config import DEFAULT_CONFIG

CONFIG_FILE = "callaudit.yaml"

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

Every night: `callaudit nightly --date YYYY-MM-DD`. The transcripts, the reports and the
ledger hold customers' words and numbers: `.gitignore` keeps them out of git.
"""

GITIGNORE = """\
# Customers' words and numbers stay out of git: only the configuration and the rules go in.
callaudit-ledger.db*
transcripts/
reports/
"""


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
