"""Rules as a reviewed repository: `callaudit init` makes the workspace a git repository
with pre-commit hooks that check the rules, and `rules check` warns when a committed pack
changed without a new version. Real git, real pre-commit, real commits, in temporary
folders with a home of their own (no user's git identity or configuration leaks in)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from cli import main
from tests.conftest import REPO

VENV_BIN = Path(sys.executable).parent  # where `callaudit` and `pre-commit` are installed
FIXTURE_RULES = REPO / "tests" / "fixtures" / "rules"
NAME, EMAIL = "质检 王", "wang@example.com"
IDENTITY = {"GIT_AUTHOR_NAME": NAME, "GIT_AUTHOR_EMAIL": EMAIL,
            "GIT_COMMITTER_NAME": NAME, "GIT_COMMITTER_EMAIL": EMAIL}
VERSION_WARNING = "changed since the last commit but its version is still"

needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


@pytest.fixture(autouse=True)
def own_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A home with no git configuration, no identity, the venv's commands on the PATH and
    pre-commit's cache inside; no CALLAUDIT_* or GIT_* variable from outside."""
    home = tmp_path / "home"
    home.mkdir()
    for name in [*IDENTITY, "EMAIL", "GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE",
                 "CALLAUDIT_RULES", "CALLAUDIT_CONFIG"]:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(home / ".gitconfig"))
    monkeypatch.setenv("PRE_COMMIT_HOME", str(tmp_path / "pre-commit-cache"))
    monkeypatch.setenv("PATH", f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    return home


def set_identity(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in IDENTITY.items():
        monkeypatch.setenv(name, value)


def callaudit(args: list[str], cwd: Path, monkeypatch: pytest.MonkeyPatch) -> Result:
    monkeypatch.chdir(cwd)
    return CliRunner().invoke(main, args)


def sh(args: list[str], cwd: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=120,
                          check=False)
    if check:
        assert done.returncode == 0, f"{args}: {done.stdout}{done.stderr}"
    return done


def commits(repo: Path) -> int:
    counted = sh(["git", "rev-list", "--count", "HEAD"], repo, check=False)
    return int(counted.stdout) if counted.returncode == 0 else 0


def committed_workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A workspace made by `callaudit init`, with its first commit."""
    set_identity(monkeypatch)
    result = callaudit(["init", "qa"], tmp_path, monkeypatch)
    assert result.exit_code == 0, result.output
    workspace = tmp_path / "qa"
    assert commits(workspace) == 1
    return workspace


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} is not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def fixture_repository(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A workspace of the small fixture packs, committed by hand."""
    workspace = tmp_path / "qa"
    shutil.copytree(FIXTURE_RULES, workspace / "rules")
    (workspace / "callaudit.yaml").write_text("rules: rules\n", encoding="utf-8")
    set_identity(monkeypatch)
    sh(["git", "init", "--quiet"], workspace)
    sh(["git", "add", "."], workspace)
    sh(["git", "commit", "--quiet", "-m", "rules"], workspace)
    return workspace


# -- rules check: a pack changed since the last commit keeps its version --------------------


@needs_git
def test_a_changed_phrase_without_a_new_version_is_a_warning_until_the_version_is_raised(
        tmp_path, monkeypatch):
    workspace = fixture_repository(tmp_path, monkeypatch)
    edit(workspace / "rules" / "zh-CN" / "consent.yaml", "我同意", "我愿意")

    warned = callaudit(["rules", "check"], workspace, monkeypatch)
    assert warned.exit_code == 0, warned.output
    assert (
        "rules/zh-CN/pack.yaml:3:10: warning: pack zh-CN-fixture changed since the last "
        "commit but its version is still 0.1.0: consent.yaml changed\n"
        "  |\n"
        "3 | version: 0.1.0\n"
        "  |          ^^^^^\n"
        "help: raise `version:` in rules/zh-CN/pack.yaml, e.g. 0.1.0 → 0.1.1, so that "
        "verdicts of the changed rules carry a version of their own"
    ) in warned.stderr
    assert "rules/zh-CN: ok — zh-CN-fixture@0.1.0, 9 rules, 12 named matchers, 1 warning(s)" \
        in warned.stdout
    assert "rules/en-US: ok — en-US-fixture@0.1.0" in warned.stdout
    assert warned.stderr.count(VERSION_WARNING) == 1  # en-US did not change

    edit(workspace / "rules" / "zh-CN" / "pack.yaml", "version: 0.1.0", "version: 0.1.1")
    raised = callaudit(["rules", "check", "rules/zh-CN"], workspace, monkeypatch)
    assert raised.exit_code == 0, raised.output
    assert VERSION_WARNING not in raised.output
    assert "zh-CN-fixture@0.1.1, 9 rules, 12 named matchers, 0 warning(s)" in raised.stdout


@needs_git
def test_the_warning_names_files_added_and_removed_and_shows_from_inside_the_pack(
        tmp_path, monkeypatch):
    workspace = fixture_repository(tmp_path, monkeypatch)
    pack = workspace / "rules" / "zh-CN"
    (pack / "signals.yaml").unlink()
    (pack / "extra").mkdir()
    (pack / "extra" / "greetings.yaml").write_text(
        "matchers:\n  greeting: [您好请问]\n", encoding="utf-8")
    edit(pack / "forbidden.yaml", "message:", "message: （改）")

    result = callaudit(["rules", "check", "."], pack, monkeypatch)
    assert result.exit_code == 0, result.output
    assert ("pack.yaml:3:10: warning: pack zh-CN-fixture changed since the last commit but "
            "its version is still 0.1.0: forbidden.yaml changed, extra/greetings.yaml added, "
            "signals.yaml removed") in result.stderr
    assert "help: raise `version:` in pack.yaml, e.g. 0.1.0 → 0.1.1" in result.stderr


@needs_git
@pytest.mark.parametrize("where", ["not a repository", "no commit yet", "pack not in HEAD"])
def test_no_warning_when_there_is_no_committed_pack_to_compare_with(tmp_path, monkeypatch,
                                                                    where):
    workspace = tmp_path / "qa"
    shutil.copytree(FIXTURE_RULES, workspace / "rules")
    (workspace / "callaudit.yaml").write_text("rules: rules\n", encoding="utf-8")
    set_identity(monkeypatch)
    if where != "not a repository":
        sh(["git", "init", "--quiet"], workspace)
    if where == "pack not in HEAD":  # the other pack and the config are committed
        sh(["git", "add", "callaudit.yaml", "rules/en-US"], workspace)
        sh(["git", "commit", "--quiet", "-m", "en-US only"], workspace)
    edit(workspace / "rules" / "zh-CN" / "consent.yaml", "我同意", "我愿意")

    result = callaudit(["rules", "check"], workspace, monkeypatch)
    assert result.exit_code == 0, result.output
    assert "zh-CN-fixture@0.1.0, 9 rules, 12 named matchers, 0 warning(s)" in result.stdout
    assert VERSION_WARNING not in result.output
    assert "git" not in result.output  # nothing to say about git at all


@needs_git
def test_without_git_on_the_path_rules_check_works_and_compares_nothing(tmp_path,
                                                                        monkeypatch):
    workspace = fixture_repository(tmp_path, monkeypatch)
    edit(workspace / "rules" / "zh-CN" / "consent.yaml", "我同意", "我愿意")
    monkeypatch.setenv("PATH", str(VENV_BIN))  # the venv's bin has no git
    assert shutil.which("git") is None

    result = callaudit(["rules", "check"], workspace, monkeypatch)
    assert result.exit_code == 0, result.output
    assert VERSION_WARNING not in result.output
    assert "Traceback" not in result.output
