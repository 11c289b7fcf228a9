"""Rules as a reviewed repository: `callaudit init` makes the workspace a git repository
with pre-commit hooks that check the rules, and `rules check` warns when a committed pack
changed without a new version. Real git, real pre-commit, real commits, in temporary
folders with a home of their own (no user's git identity or configuration leaks in)."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
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


# -- callaudit init: a repository of its own, with the hooks, committed when git knows you -----

WORKSPACE_FILES = {"callaudit.yaml", "README.md", ".gitignore", ".pre-commit-config.yaml"}


def tracked(repo: Path) -> set[str]:
    return set(sh(["git", "ls-files"], repo).stdout.splitlines())


def hooks(config: Path) -> dict[str, dict]:
    """The hooks of a .pre-commit-config.yaml, by id."""
    loaded = yaml.safe_load(config.read_text(encoding="utf-8"))
    return {hook["id"]: hook for repo in loaded["repos"] for hook in repo["hooks"]}


@needs_git
@pytest.mark.parametrize("identity", ["environment", "git config --global"])
def test_init_makes_a_repository_with_the_hooks_and_commits_the_rules(tmp_path, monkeypatch,
                                                                       own_home, identity):
    if identity == "environment":
        set_identity(monkeypatch)
    else:
        sh(["git", "config", "--global", "user.name", NAME], tmp_path)
        sh(["git", "config", "--global", "user.email", EMAIL], tmp_path)

    result = callaudit(["init", "qa"], tmp_path, monkeypatch)
    assert result.exit_code == 0, result.output
    workspace = tmp_path / "qa"
    head = sh(["git", "rev-parse", "--short", "HEAD"], workspace).stdout.strip()
    assert (f"made a git repository in qa and committed the workspace as {head} "
            "(callaudit.yaml, README.md, .gitignore, .pre-commit-config.yaml, rules)") \
        in result.output
    assert "wrote qa/.pre-commit-config.yaml" in result.output
    assert "`pre-commit install` in qa" in result.output
    assert sh(["git", "rev-parse", "--show-toplevel"], workspace).stdout.strip() \
        == str(workspace.resolve())
    assert sh(["git", "log", "--format=%an <%ae>|%cn <%ce>"], workspace).stdout.strip() \
        == f"{NAME} <{EMAIL}>|{NAME} <{EMAIL}>"
    files = tracked(workspace)
    assert files >= WORKSPACE_FILES
    assert {"rules/actions.yaml", "rules/zh-CN/pack.yaml", "rules/en-US/consent.yaml"} <= files
    assert all(f in WORKSPACE_FILES or f.startswith("rules/") for f in files), files
    assert sh(["git", "status", "--porcelain"], workspace).stdout == ""

    # The ledger, a night's transcripts and reports stay out of the commit that follows.
    (workspace / "callaudit-ledger.db").write_bytes(b"ledger")
    (workspace / "transcripts" / "2026-11-23").mkdir()
    (workspace / "transcripts" / "2026-11-23" / "calls.jsonl").write_text("{}\n")
    (workspace / "reports" / "latest.log").write_text("night\n")
    assert sh(["git", "status", "--porcelain"], workspace).stdout == ""

    found = hooks(workspace / ".pre-commit-config.yaml")
    assert sorted(found) == ["callaudit-rules-check", "callaudit-rules-test"]
    for command, hook in zip(["check", "test"], found.values(), strict=True):
        assert hook["entry"] == f"callaudit rules {command}"
        assert hook["language"] == "system" and hook["pass_filenames"] is False
        runs_on = re.compile(hook["files"])
        assert all(runs_on.search(p) for p in ("rules/zh-CN/consent.yaml", "callaudit.yaml",
                                               "rules/actions.yaml"))
        assert not any(runs_on.search(p) for p in ("README.md", "reports/x.yaml",
                                                   "old-callaudit.yaml"))
    valid = sh([str(VENV_BIN / "pre-commit"), "validate-config", ".pre-commit-config.yaml"],
               workspace, check=False)
    assert valid.returncode == 0, valid.stdout + valid.stderr
    assert "pre-commit install" in (workspace / "README.md").read_text(encoding="utf-8")


@needs_git
def test_init_without_a_git_identity_makes_no_commit_and_prints_the_commands_that_do(
        tmp_path, monkeypatch):
    result = callaudit(["init", "qa"], tmp_path, monkeypatch)
    assert result.exit_code == 0, result.output
    workspace = tmp_path / "qa"
    assert (workspace / ".git").is_dir()
    assert commits(workspace) == 0  # no commit under a name git would have guessed
    assert ("made a git repository in qa, without a first commit: git does not know who you "
            "are") in result.output
    lines = result.output.splitlines()
    at = next(i for i, line in enumerate(lines) if "without a first commit" in line)
    identity, commit = lines[at + 1].strip(), lines[at + 2].strip()
    assert identity == ('git config --global user.name "Your Name" && '
                        "git config --global user.email you@example.com")
    assert commit.startswith("git -C qa add callaudit.yaml README.md .gitignore "
                             ".pre-commit-config.yaml rules && git -C qa commit -m ")

    # The two commands, typed as printed, make the commit init did not.
    for line in (identity, commit):
        sh(["bash", "-c", line], tmp_path)
    assert commits(workspace) == 1
    assert sh(["git", "log", "--format=%an <%ae>"], workspace).stdout.strip() \
        == "Your Name <you@example.com>"
    assert {"callaudit.yaml", "rules/zh-CN/pack.yaml"} <= tracked(workspace)


@needs_git
def test_init_no_git_makes_no_repository(tmp_path, monkeypatch):
    set_identity(monkeypatch)
    result = callaudit(["init", "qa", "--no-git"], tmp_path, monkeypatch)
    assert result.exit_code == 0, result.output
    workspace = tmp_path / "qa"
    assert not (workspace / ".git").exists()
    assert "git" not in result.output.replace(".gitignore", "")
    assert (workspace / ".pre-commit-config.yaml").is_file()  # ready for when it is one
    assert (workspace / "rules" / "zh-CN" / "pack.yaml").is_file()


def test_init_without_git_installed_says_so_in_one_line_and_lays_out_the_workspace(
        tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(VENV_BIN))  # the venv's bin has no git
    assert shutil.which("git") is None
    result = callaudit(["init", "qa"], tmp_path, monkeypatch)
    assert result.exit_code == 0, result.output
    said = [line for line in result.output.splitlines() if "git is not installed" in line]
    assert said == ["git is not installed: qa is not a git repository; install git and run "
                    "`git init` there to keep the rules under review"]
    assert "Traceback" not in result.output
    assert not (tmp_path / "qa" / ".git").exists()
    assert (tmp_path / "qa" / "rules" / "zh-CN" / "pack.yaml").is_file()


@needs_git
def test_init_inside_a_repository_makes_none_of_its_own_and_its_hooks_work_from_the_top(
        tmp_path, monkeypatch):
    outer = tmp_path / "ops"
    outer.mkdir()
    set_identity(monkeypatch)
    sh(["git", "init", "--quiet"], outer)
    result = callaudit(["init", "centre/qa"], outer, monkeypatch)
    assert result.exit_code == 0, result.output
    workspace = outer / "centre" / "qa"
    assert not (workspace / ".git").exists()
    assert sh(["git", "rev-parse", "--show-toplevel"], workspace).stdout.strip() \
        == str(outer.resolve())
    assert (f"centre/qa is inside the git repository at {outer.resolve()}: no repository of "
            "its own made") in result.output
    assert commits(outer) == 0  # init commits nothing into someone else's repository

    # The hooks it wrote name the workspace from the top, where pre-commit runs them.
    shutil.copy(workspace / ".pre-commit-config.yaml", outer / ".pre-commit-config.yaml")
    sh(["git", "add", "."], outer)
    sh(["git", "commit", "--quiet", "-m", "centre's QA workspace"], outer)
    passed = sh([str(VENV_BIN / "pre-commit"), "run", "--all-files"], outer, check=False)
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert re.search(r"callaudit rules check .*\.+Passed", passed.stdout), passed.stdout
    assert re.search(r"callaudit rules test .*\.+Passed", passed.stdout), passed.stdout
    assert "centre/qa/rules/zh-CN: ok" in passed.stdout  # it checked the workspace's rules

    broken = workspace / "rules" / "en-US" / "pack.yaml"
    edit(broken, "language: en", "language: english")
    failed = sh([str(VENV_BIN / "pre-commit"), "run", "--all-files"], outer, check=False)
    assert failed.returncode == 1
    line = next(i for i, text in enumerate(broken.read_text().splitlines(), start=1)
                if text.startswith("language:"))
    assert f"centre/qa/rules/en-US/pack.yaml:{line}:11: error: language 'english'" \
        in failed.stdout


@needs_git
def test_init_in_a_repository_already_commits_nothing_and_prints_the_command_that_does(
        tmp_path, monkeypatch):
    workspace = tmp_path / "qa"
    workspace.mkdir()
    set_identity(monkeypatch)
    sh(["git", "init", "--quiet"], workspace)
    (workspace / "notes.txt").write_text("our notes\n", encoding="utf-8")
    sh(["git", "add", "notes.txt"], workspace)
    sh(["git", "commit", "--quiet", "-m", "notes"], workspace)

    result = callaudit(["init"], workspace, monkeypatch)
    assert result.exit_code == 0, result.output
    assert commits(workspace) == 1
    said = next(line for line in result.output.splitlines() if "already" in line)
    head, _, command = said.partition(": nothing committed; when you are ready: ")
    assert head == "this folder is a git repository already"
    assert hooks(workspace / ".pre-commit-config.yaml")["callaudit-rules-check"]["entry"] \
        == "callaudit rules check"  # the workspace is the top: found without --config
    sh(["bash", "-c", command], workspace)
    assert commits(workspace) == 2
    assert {*WORKSPACE_FILES, "notes.txt", "rules/zh-CN/pack.yaml"} <= tracked(workspace)


# -- the hooks on a repository made by init ----------------------------------------------------


def pre_commit(args: list[str], repo: Path) -> subprocess.CompletedProcess[str]:
    return sh([str(VENV_BIN / "pre-commit"), *args], repo, check=False)


def break_example(workspace: Path) -> str:
    """The first violating example of false-promise no longer says the false promise; the
    failure `rules test` reports, with the example's file:line:col."""
    path = workspace / "rules" / "zh-CN" / "forbidden.yaml"
    lines = path.read_text(encoding="utf-8").splitlines()
    said = next(i for i, text in enumerate(lines) if "这个是绝对免费的" in text)
    start = said - 2  # the example's first turn, two lines up
    assert "- - agent:" in lines[start], lines[start]
    edit(path, "这个是绝对免费的", "这个是按月收费的")
    column = lines[start].index("- agent:") + 1
    return (f"rules/zh-CN/forbidden.yaml:{start + 1}:{column}: false-promise: violating "
            "example 1 did not trigger the rule")


def break_yaml(workspace: Path) -> str:
    """An unclosed list in consent.yaml: the syntax error `rules check` reports."""
    path = workspace / "rules" / "zh-CN" / "consent.yaml"
    lines = path.read_text(encoding="utf-8").splitlines()
    at = lines.index("matchers:") + 1
    lines.insert(at, "  oops: [unclosed")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return f"rules/zh-CN/consent.yaml:{at + 2}:"  # where the parser gives up: the next key


@needs_git
@pytest.mark.parametrize("breaking", [break_example, break_yaml])
def test_the_hooks_pass_a_fresh_workspace_and_refuse_a_commit_that_breaks_a_rule(
        tmp_path, monkeypatch, breaking):
    workspace = committed_workspace(tmp_path, monkeypatch)
    passed = pre_commit(["run", "--all-files"], workspace)
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert re.search(r"callaudit rules check .*\.+Passed", passed.stdout), passed.stdout
    assert re.search(r"callaudit rules test .*\.+Passed", passed.stdout), passed.stdout
    installed = pre_commit(["install"], workspace)
    assert installed.returncode == 0, installed.stdout + installed.stderr

    where = breaking(workspace)
    refused = sh(["git", "commit", "-am", "sharper wording"], workspace, check=False)
    assert refused.returncode != 0
    shown = refused.stdout + refused.stderr
    assert where in shown, shown
    assert "Failed" in shown
    assert commits(workspace) == 1  # nothing committed


@needs_git
def test_a_commit_that_changes_a_pack_but_not_its_version_passes_with_the_warning(
        tmp_path, monkeypatch):
    workspace = committed_workspace(tmp_path, monkeypatch)
    assert pre_commit(["install"], workspace).returncode == 0
    pack = workspace / "rules" / "zh-CN" / "pack.yaml"
    version = yaml.safe_load(pack.read_text(encoding="utf-8"))["version"]
    line = pack.read_text(encoding="utf-8").splitlines().index(f"version: {version}") + 1
    edit(workspace / "rules" / "zh-CN" / "forbidden.yaml", "永久免费,", "永久免费, 保证免费,")

    warned = sh(["git", "commit", "-am", "保证免费 is a false promise too"], workspace)
    assert commits(workspace) == 2  # a warning does not stop the commit...
    assert (f"rules/zh-CN/pack.yaml:{line}:10: warning: pack zh-CN-telecom changed since the "
            f"last commit but its version is still {version}: forbidden.yaml changed") \
        in warned.stdout + warned.stderr  # ...but it is shown to the one committing

    edit(workspace / "rules" / "zh-CN" / "forbidden.yaml", "保证免费,", "保证免费, 包您免费,")
    edit(pack, f"version: {version}", "version: 1.1.0")
    clean = sh(["git", "commit", "-am", "包您免费 too; zh-CN 1.1.0"], workspace)
    assert commits(workspace) == 3
    assert VERSION_WARNING not in clean.stdout + clean.stderr


# -- callaudit's own hooks, for repositories that are not a workspace --------------------------


def test_callaudit_offers_its_hooks_to_other_repositories(tmp_path):
    manifest = REPO / ".pre-commit-hooks.yaml"
    valid = sh([str(VENV_BIN / "pre-commit"), "validate-manifest", str(manifest)], tmp_path,
               check=False)
    assert valid.returncode == 0, valid.stdout + valid.stderr
    offered = {hook["id"]: hook for hook in yaml.safe_load(manifest.read_text("utf-8"))}
    assert sorted(offered) == ["callaudit-rules-check", "callaudit-rules-test"]
    for command, hook in zip(["check", "test"], offered.values(), strict=True):
        assert shlex.split(hook["entry"]) == ["callaudit", "rules", command]
        assert hook["language"] == "python" and hook["pass_filenames"] is False
        assert re.search(hook["files"], "rules/zh-CN/consent.yaml")
        assert not re.search(hook["files"], "docs/rules.md")


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


@needs_git
def test_a_pack_folder_named_like_a_pattern_is_compared_as_named(tmp_path, monkeypatch):
    workspace = fixture_repository(tmp_path, monkeypatch)
    sh(["git", "mv", "rules/zh-CN", "rules/[draft]"], workspace)
    sh(["git", "commit", "--quiet", "-m", "draft pack"], workspace)
    edit(workspace / "rules" / "[draft]" / "consent.yaml", "我同意", "我愿意")

    result = callaudit(["rules", "check", "rules/[draft]"], workspace, monkeypatch)
    assert result.exit_code == 0, result.output
    assert ("rules/[draft]/pack.yaml:3:10: warning: pack zh-CN-fixture changed since the last "
            "commit but its version is still 0.1.0: consent.yaml changed") in result.stderr
