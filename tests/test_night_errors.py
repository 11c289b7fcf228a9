"""Mistakes in the inputs or the surroundings of a night are told plainly (exit 2, the file
or record named), never as an internal error: numbers too large for the ledger, dates out
of range, full disks, reports folders that cannot be written."""

from __future__ import annotations

import copy
import json
from pathlib import Path

from click.testing import CliRunner

from cli import main
from tests.conftest import REPO
from tests.test_followup_loop import NIGHT_1

SALE = NIGHT_1[0]  # a valid sale with a 30-day free trial


def workspace(root: Path, calls: list[dict], extra: str = "") -> list[str]:
    """A callaudit.yaml over one transcripts file; the --config arguments."""
    (root / "transcripts").mkdir(exist_ok=True)
    (root / "transcripts" / "calls.jsonl").write_text(
        "".join(json.dumps(c, ensure_ascii=False) + "\n" for c in calls), encoding="utf-8")
    (root / "callaudit.yaml").write_text(
        f"rules: {REPO / 'rules'}\ndatabase: ledger.db\nreports: reports\n{extra}",
        encoding="utf-8")
    return ["--config", str(root / "callaudit.yaml")]


def test_a_trial_too_long_for_the_ledger_is_a_reject_naming_the_call(tmp_path):
    huge = copy.deepcopy(SALE)
    huge["call_id"] = "HUGE-TRIAL"
    huge["product"] = {**huge["product"], "trial_days": 10**30}
    config = workspace(tmp_path, [huge, SALE])
    result = CliRunner().invoke(main, ["nightly", "--date", "2026-11-23", *config])
    assert result.exit_code == 0, result.output
    assert "audited 1 call" in result.output and "1 rejected" in result.output
    rejects = (tmp_path / "reports" / "2026-11-23" / "rejects.jsonl").read_text(encoding="utf-8")
    reject = json.loads(rejects)
    assert reject["line"] == 1 and "trial_days" in reject["reason"]


def test_an_id_too_large_for_the_ledger_is_a_plain_error(tmp_path):
    config = workspace(tmp_path, [SALE])
    assert CliRunner().invoke(main, ["nightly", "--date", "2026-11-23", *config]).exit_code == 0
    db = str(tmp_path / "ledger.db")
    for args in (["blacklist", "approve", "99999999999999999999", "--by", "王经理"],
                 ["blacklist", "reject", str(2**63), "--by", "王经理", "--reason", "x"]):
        result = CliRunner().invoke(main, [*args, "--db", db])
        assert result.exit_code == 2, result.output
        assert "too large" in result.output


def test_a_night_without_transcripts_warns_and_fails(tmp_path):
    config = workspace(tmp_path, [SALE])  # calls of 2026-11-23 only
    runner = CliRunner()
    assert runner.invoke(main, ["nightly", "--date", "2026-11-23", *config]).exit_code == 0
    night = tmp_path / "reports" / "2026-11-23"
    verdicts = (night / "verdicts.jsonl").read_text(encoding="utf-8")
    assert verdicts
    result = runner.invoke(main, ["nightly", "--date", "2026-11-24", *config])
    assert result.exit_code == 6, result.output
    assert "no transcripts for 2026-11-24" in result.output
    assert "audited 0 calls" not in result.output
    assert not (tmp_path / "reports" / "2026-11-24" / "report.html").exists()
    # The transcripts gone, a re-run of a night leaves its files as they were.
    (tmp_path / "transcripts" / "calls.jsonl").unlink()
    result = runner.invoke(main, ["nightly", "--date", "2026-11-23", *config])
    assert result.exit_code == 6, result.output
    assert (night / "verdicts.jsonl").read_text(encoding="utf-8") == verdicts


def test_an_empty_night_may_be_only_a_warning(tmp_path):
    config = workspace(tmp_path, [SALE], extra="on_empty_night: warn\n")
    result = CliRunner().invoke(main, ["nightly", "--date", "2026-11-24", *config])
    assert result.exit_code == 0, result.output
    assert "no transcripts for 2026-11-24" in result.output
