"""A QA workspace: `callaudit init` lays one out, and every command run anywhere inside it
uses its callaudit.yaml (found by walking up, as git and ruff do) for the ledger, the rules
and the reports. A flag or an environment variable still wins, and says so."""

from __future__ import annotations

import csv
import json
import shutil
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from cli import main
from tests.conftest import isolate

REPO = Path(__file__).resolve().parent.parent
DAY = date.today() - timedelta(days=10)
NIGHT_SOURCE = REPO / "transcripts" / "labelled" / "zh-mixed.jsonl"
OPT_OUT_CALL = "ZH-B-023"  # a customer who asks not to be called again: do-not-call
COMPLAINT_CALL = "ZH-B-031"  # a customer who threatens to complain: a blacklist proposal


@pytest.fixture(autouse=True)
def private_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    isolate(monkeypatch, tmp_path / "home")
    return tmp_path / "home"


def default_ledger(home: Path) -> Path:
    return home / ".local" / "share" / "callaudit" / "ledger.db"


def write_night(folder: Path) -> Path:
    """The labelled Chinese calls, all started on DAY, as the platform drops them."""
    folder.mkdir(parents=True, exist_ok=True)
    records = []
    for line in NIGHT_SOURCE.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        record["started_at"] = DAY.isoformat() + record["started_at"][10:]
        records.append(json.dumps(record, ensure_ascii=False))
    path = folder / "calls.jsonl"
    path.write_text("\n".join(records) + "\n", encoding="utf-8")
    return path


def phone_of(call_id: str) -> str:
    for line in NIGHT_SOURCE.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        if record["call_id"] == call_id:
            return record["customer_phone"]
    raise AssertionError(call_id)


def run(args: list[str], cwd: Path, monkeypatch: pytest.MonkeyPatch,
        env: dict[str, str] | None = None) -> Result:
    monkeypatch.chdir(cwd)
    return CliRunner().invoke(main, args, env=env)


@pytest.fixture(scope="module")
def audited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A workspace whose ledger holds one audited night (set up with explicit paths)."""
    root = tmp_path_factory.mktemp("centre")
    with pytest.MonkeyPatch.context() as monkeypatch:
        isolate(monkeypatch, root / "home")
        workspace = root / "qa"
        workspace.mkdir()
        config = workspace / "callaudit.yaml"
        assert CliRunner().invoke(main, ["init", "--path", str(config)]).exit_code == 0
        assert (workspace / "rules" / "zh-CN" / "pack.yaml").is_file()  # init laid them out
        write_night(workspace / "transcripts" / DAY.isoformat())
        night = CliRunner().invoke(main, ["nightly", "--date", DAY.isoformat(), "--config",
                                          str(config)])
        assert night.exit_code == 0, night.output
        assert (workspace / "callaudit-ledger.db").is_file()
        yield workspace


# -- every command inside a workspace uses the workspace's ledger --------------------------


@pytest.mark.parametrize("args", [
    ["blacklist", "list", "--unmasked"],
    ["callbacks", "list", "--status", "all"],
    ["trials", "list"],
])
def test_ledger_commands_in_a_sub_folder_read_the_workspace_ledger(audited, args, monkeypatch,
                                                                   private_home):
    result = run(args, audited / "transcripts" / DAY.isoformat(), monkeypatch)
    assert result.exit_code == 0, result.output
    assert "no ledger" not in result.output
    assert "using ledger" not in result.stderr  # the workspace's own: nothing to say
    assert not default_ledger(private_home).exists()
    if args[0] == "blacklist":
        assert COMPLAINT_CALL in result.output


def test_a_scrub_in_the_workspace_removes_tonights_do_not_call_numbers(audited, monkeypatch,
                                                                        tmp_path):
    dnc, other = phone_of(OPT_OUT_CALL), "13512345678"
    campaign = tmp_path / "campaign.csv"
    campaign.write_text(f"name,phone\n甲,{dnc}\n乙,{other}\n", encoding="utf-8")
    result = run(["suppress", "scrub", str(campaign), "--out", str(tmp_path / "clean.csv")],
                 audited / "reports", monkeypatch)
    assert result.exit_code == 0, result.output
    with (tmp_path / "clean.csv").open(encoding="utf-8") as handle:
        kept = [row["phone"] for row in csv.DictReader(handle)]
    assert kept == [other]


def test_a_blacklist_decision_in_the_workspace_lands_in_its_ledger(audited, monkeypatch,
                                                                   tmp_path):
    workspace = tmp_path / "copy"
    shutil.copytree(audited, workspace)
    listed = run(["blacklist", "list", "--status", "pending"], workspace / "rules", monkeypatch)
    assert listed.exit_code == 0, listed.output
    entry = next(line.split()[0] for line in listed.stdout.splitlines()
                 if COMPLAINT_CALL in line)
    decided = run(["blacklist", "approve", entry, "--by", "王经理", "--reason", "投诉"],
                  workspace / "rules" / "zh-CN", monkeypatch)
    assert decided.exit_code == 0, decided.output
    approved = run(["blacklist", "list", "--status", "approved", "--config",
                    str(workspace / "callaudit.yaml")], tmp_path, monkeypatch)
    assert COMPLAINT_CALL in approved.output


# -- a ledger other than the workspace's is named --------------------------------------------


def test_a_db_flag_inside_a_workspace_says_which_ledger_it_uses(audited, monkeypatch, tmp_path):
    other = tmp_path / "other.db"
    shutil.copy(audited / "callaudit-ledger.db", other)
    result = run(["blacklist", "list", "--db", str(other)], audited, monkeypatch)
    assert result.exit_code == 0, result.output
    own = audited / "callaudit-ledger.db"
    assert f"using ledger {other} from --db (not this workspace's {own})" in result.stderr


def test_the_db_variable_inside_a_workspace_says_which_ledger_it_uses(audited, monkeypatch,
                                                                       tmp_path):
    other = tmp_path / "other.db"
    shutil.copy(audited / "callaudit-ledger.db", other)
    result = run(["callbacks", "list"], audited, monkeypatch, env={"CALLAUDIT_DB": str(other)})
    assert result.exit_code == 0, result.output
    assert f"using ledger {other} from $CALLAUDIT_DB (not this workspace's" in result.stderr


def test_outside_a_workspace_the_default_ledger_is_named(audited, monkeypatch, tmp_path,
                                                         private_home):
    default = default_ledger(private_home)
    default.parent.mkdir(parents=True)
    shutil.copy(audited / "callaudit-ledger.db", default)
    result = run(["trials", "list"], tmp_path, monkeypatch)
    assert result.exit_code == 0, result.output
    assert f"using ledger {default} (no callaudit.yaml in this folder or above)" \
        in result.stderr


# -- the workspace's rules, not the bundled ones --------------------------------------------


@pytest.fixture
def broken_workspace(tmp_path: Path) -> Path:
    """A workspace whose consent rules have a YAML error on line 3."""
    workspace = tmp_path / "qa"
    shutil.copytree(REPO / "rules", workspace / "rules")
    (workspace / "reports").mkdir()
    (workspace / "callaudit.yaml").write_text("rules: rules\n", encoding="utf-8")
    broken = workspace / "rules" / "zh-CN" / "consent.yaml"
    lines = broken.read_text(encoding="utf-8").splitlines()
    lines.insert(2, "  oops: [unclosed")
    broken.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return workspace


@pytest.mark.parametrize("args", [
    ["rules", "check"],
    ["rules", "test"],
    ["check", str(REPO / "transcripts" / "samples" / "calls_zh.jsonl")],
    ["eval", str(NIGHT_SOURCE), str(NIGHT_SOURCE.with_suffix(".labels.jsonl"))],
])
def test_commands_inside_a_workspace_use_its_rules(broken_workspace, args, monkeypatch):
    result = run(args, broken_workspace / "reports", monkeypatch)
    assert result.exit_code == 2, result.output
    assert str(broken_workspace / "rules" / "zh-CN" / "consent.yaml") in result.output
    assert "Traceback" not in result.output


def test_the_rules_flag_and_variable_win_over_the_workspace(broken_workspace, monkeypatch):
    flag = run(["--rules-root", str(REPO / "rules"), "rules", "check"], broken_workspace,
               monkeypatch)
    assert flag.exit_code == 0, flag.output
    variable = run(["rules", "check"], broken_workspace, monkeypatch,
                   env={"CALLAUDIT_RULES": str(REPO / "rules")})
    assert variable.exit_code == 0, variable.output


def test_an_audit_inside_a_workspace_writes_its_ledger(monkeypatch, tmp_path, private_home):
    workspace = tmp_path / "qa"
    assert run(["init", str(workspace)], tmp_path, monkeypatch).exit_code == 0
    night = write_night(tmp_path / "drop")
    result = run(["audit", str(night), "--out", str(tmp_path / "out")], workspace / "reports",
                 monkeypatch)
    assert result.exit_code == 0, result.output
    assert (workspace / "callaudit-ledger.db").is_file()
    assert not default_ledger(private_home).exists()


# -- callaudit init ---------------------------------------------------------------------------


def test_init_lays_out_a_workspace_that_runs_a_night_from_any_sub_folder(monkeypatch,
                                                                         tmp_path):
    workspace = tmp_path / "qa"
    result = run(["init", str(workspace)], tmp_path, monkeypatch)
    assert result.exit_code == 0, result.output
    for path in ("callaudit.yaml", "README.md", "rules/actions.yaml", "rules/zh-CN/pack.yaml",
                 "rules/en-US/consent.yaml"):
        assert (workspace / path).is_file(), path
    assert (workspace / "transcripts").is_dir() and (workspace / "reports").is_dir()
    assert (workspace / "rules" / "zh-CN" / "consent.yaml").read_bytes() \
        == (REPO / "rules" / "zh-CN" / "consent.yaml").read_bytes()

    write_night(workspace / "transcripts" / DAY.isoformat())
    night = run(["nightly", "--date", DAY.isoformat()], workspace / "transcripts", monkeypatch)
    assert night.exit_code == 0, night.output
    assert (workspace / "reports" / DAY.isoformat() / "report.html").is_file()
    checked = run(["rules", "check"], workspace / "rules" / "en-US", monkeypatch)
    assert checked.exit_code == 0, checked.output
    assert str(workspace / "rules" / "actions.yaml") in checked.output


def test_init_keeps_every_file_that_is_already_there(monkeypatch, tmp_path):
    workspace = tmp_path / "qa"
    (workspace / "rules" / "zh-CN").mkdir(parents=True)
    (workspace / "rules" / "zh-CN" / "consent.yaml").write_text("# ours\n", encoding="utf-8")
    (workspace / "README.md").write_text("our notes\n", encoding="utf-8")
    result = run(["init"], workspace, monkeypatch)
    assert result.exit_code == 0, result.output
    assert (workspace / "README.md").read_text(encoding="utf-8") == "our notes\n"
    assert (workspace / "rules" / "zh-CN" / "consent.yaml").read_text(encoding="utf-8") \
        == "# ours\n"
    assert not (workspace / "rules" / "zh-CN" / "pack.yaml").exists()  # a pack is one unit
    assert (workspace / "rules" / "en-US" / "pack.yaml").is_file()
    assert "README.md" in result.output and "left as it is" in result.output


def test_init_refuses_a_folder_that_is_already_a_workspace(monkeypatch, tmp_path):
    workspace = tmp_path / "qa"
    workspace.mkdir()
    (workspace / "callaudit.yaml").write_text("retention_days: 30\n", encoding="utf-8")
    result = run(["init", str(workspace)], tmp_path, monkeypatch)
    assert result.exit_code == 2
    assert str(workspace / "callaudit.yaml") in result.output
    assert (workspace / "callaudit.yaml").read_text(encoding="utf-8") == "retention_days: 30\n"
    assert sorted(p.name for p in workspace.iterdir()) == ["callaudit.yaml"]


# -- every command takes --config ------------------------------------------------------------


def _leaves(group: click.Group, prefix: str = "") -> Iterator[tuple[str, click.Command]]:
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            yield from _leaves(command, f"{prefix}{name} ")
        else:
            yield f"{prefix}{name}", command


def test_every_command_takes_config():
    missing = [name for name, command in _leaves(main)
               if not any("--config" in p.opts for p in command.params)]
    assert missing == []


def test_a_command_outside_any_workspace_says_how_to_make_one(monkeypatch, tmp_path):
    result = run(["nightly", "--date", DAY.isoformat()], tmp_path, monkeypatch)
    assert result.exit_code == 2
    assert "no callaudit.yaml in this folder or above: run `callaudit init`" in result.output


def test_a_broken_workspace_config_stops_a_ledger_command_naming_its_line(monkeypatch,
                                                                          tmp_path):
    workspace = tmp_path / "qa"
    workspace.mkdir()
    (workspace / "callaudit.yaml").write_text("database: a.db\ndatabase: b.db\n",
                                              encoding="utf-8")
    result = run(["blacklist", "list"], workspace, monkeypatch)
    assert result.exit_code == 2
    assert f"{workspace / 'callaudit.yaml'}:2:1: error" in result.output
