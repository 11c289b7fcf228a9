"""Mistakes in the inputs or the surroundings of a night are told plainly (exit 2, the file
or record named), never as an internal error: numbers too large for the ledger, dates out
of range, full disks, reports folders that cannot be written."""

from __future__ import annotations

import contextlib
import copy
import errno
import json
import os
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
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


@pytest.mark.parametrize("day", ["0001-01-01", "2026-13-01", "9999-12-31", "1999-12-31"])
def test_a_date_out_of_range_is_a_plain_error_for_every_command(tmp_path, day):
    config = workspace(tmp_path, [SALE])
    assert CliRunner().invoke(main, ["nightly", "--date", "2026-11-23", *config]).exit_code == 0
    db = ["--db", str(tmp_path / "ledger.db")]
    for args in (["nightly", "--date", day, *config],
                 ["callbacks", "list", "--due", day, *db],
                 ["callbacks", "export", "--due", day, "--out", str(tmp_path / "x.csv"), *db],
                 ["trials", "list", "--overdue", "--as-of", day, *db],
                 ["sample", "export", "--date", day, "--out", str(tmp_path / "s.csv"), *config],
                 *([["report", "weekly", "--week", f"{day[:4]}-W01", *config]]
                   if day[:4] != "2026" else [])):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 2, (args, result.output)
        assert "Traceback" not in result.output and day[:4] in result.output, args
    assert not (tmp_path / "x.csv").exists() and not (tmp_path / "s.csv").exists()


def test_a_week_out_of_range_is_a_plain_error(tmp_path):
    config = workspace(tmp_path, [SALE])
    for week in ("9999-W52", "0001-W01", "2026-W60"):
        result = CliRunner().invoke(main, ["report", "weekly", "--week", week, *config])
        assert result.exit_code == 2, (week, result.output)
        assert week in result.output


def test_reports_naming_a_file_is_a_plain_error(tmp_path):
    (tmp_path / "notes.txt").write_text("not a folder", encoding="utf-8")
    for reports in ("notes.txt", "notes.txt/reports"):
        config = workspace(tmp_path, [SALE])
        text = (tmp_path / "callaudit.yaml").read_text(encoding="utf-8")
        (tmp_path / "callaudit.yaml").write_text(
            text.replace("reports: reports", f"reports: {reports}"), encoding="utf-8")
        for args in (["nightly", "--date", "2026-11-23", *config], ["purge", *config]):
            result = CliRunner().invoke(main, args)
            assert result.exit_code == 2, (args, result.output)
            assert "notes.txt" in result.output and "reports" in result.output
            assert "Traceback" not in result.output
    assert (tmp_path / "notes.txt").read_text(encoding="utf-8") == "not a folder"


@contextlib.contextmanager
def tmpfs(disk: Path, options: str) -> Iterator[Path]:
    """A tmpfs mounted at DISK with OPTIONS for the block (mounting needs root; this suite
    runs as root), or the test skipped where it cannot be mounted."""
    disk.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(disk)],
                      capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


@pytest.fixture
def tiny_disk(tmp_path):
    """A 64 KiB file system, filled up (mounting needs root: this suite runs as root)."""
    with tmpfs(tmp_path / "disk", "size=64k") as disk:
        (disk / "reports").mkdir()
        handle = os.open(disk / "filler", os.O_WRONLY | os.O_CREAT)
        try:
            while True:
                os.write(handle, b"\0" * 4096)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
        finally:
            os.close(handle)
        yield disk


@pytest.fixture
def read_only_disk(tmp_path):
    """A folder no one can write, not even root: a read-only mount."""
    with tmpfs(tmp_path / "ro", "ro,size=64k") as disk:
        yield disk


def test_a_full_disk_is_a_plain_error(tmp_path, tiny_disk):
    config = workspace(tmp_path, [SALE])
    text = (tmp_path / "callaudit.yaml").read_text(encoding="utf-8")
    (tmp_path / "callaudit.yaml").write_text(
        text.replace("reports: reports", f"reports: {tiny_disk / 'reports'}"), encoding="utf-8")
    result = CliRunner().invoke(main, ["nightly", "--date", "2026-11-23", *config])
    assert result.exit_code == 2, result.output
    assert "No space left on device" in result.output or "no space left" in result.output
    assert str(tiny_disk) in result.output
    assert "Traceback" not in result.output and "internal error" not in result.output


def test_a_read_only_reports_folder_is_a_plain_error(tmp_path, read_only_disk):
    config = workspace(tmp_path, [SALE])
    text = (tmp_path / "callaudit.yaml").read_text(encoding="utf-8")
    (tmp_path / "callaudit.yaml").write_text(
        text.replace("reports: reports", f"reports: {read_only_disk}"), encoding="utf-8")
    result = CliRunner().invoke(main, ["nightly", "--date", "2026-11-23", *config])
    assert result.exit_code == 2, result.output
    assert str(read_only_disk) in result.output and "read-only" in result.output.lower()
    assert "Traceback" not in result.output


def test_a_missing_transcripts_folder_is_a_plain_error(tmp_path):
    config = workspace(tmp_path, [SALE])
    text = (tmp_path / "callaudit.yaml").read_text(encoding="utf-8")
    (tmp_path / "callaudit.yaml").write_text(text + "transcripts: calls-from-the-platform\n",
                                             encoding="utf-8")
    result = CliRunner().invoke(main, ["nightly", "--date", "2026-11-23", *config])
    assert result.exit_code == 2, result.output
    assert "calls-from-the-platform does not exist" in result.output


def test_purge_on_a_full_disk_is_a_plain_error(tmp_path):
    config = workspace(tmp_path, [SALE])
    assert CliRunner().invoke(main, ["nightly", "--date", "2026-11-23", *config]).exit_code == 0
    ledger = tmp_path / "ledger.db"
    size = ledger.stat().st_size + 64 * 1024
    with tmpfs(tmp_path / "disk", f"size={size}") as disk:
        (disk / "ledger.db").write_bytes(ledger.read_bytes())
        free = os.statvfs(disk)
        # Room to open the ledger and change a few pages, not to rebuild it.
        (disk / "filler").write_bytes(b"\0" * (free.f_bavail * free.f_frsize - 48 * 1024))
        text = (tmp_path / "callaudit.yaml").read_text(encoding="utf-8")
        (tmp_path / "callaudit.yaml").write_text(
            text.replace("database: ledger.db", f"database: {disk / 'ledger.db'}"),
            encoding="utf-8")
        result = CliRunner().invoke(main, ["purge", "--older-than", "1", *config])
        assert result.exit_code == 2, result.output
        assert "disk is full" in result.output and "Traceback" not in result.output


def test_a_ledger_on_a_full_disk_is_not_called_damaged(tmp_path):
    config = workspace(tmp_path, [SALE])
    assert CliRunner().invoke(main, ["nightly", "--date", "2026-11-23", *config]).exit_code == 0
    size = (tmp_path / "ledger.db").stat().st_size + 8 * 1024
    with tmpfs(tmp_path / "disk", f"size={size}") as disk:
        (disk / "ledger.db").write_bytes((tmp_path / "ledger.db").read_bytes())
        free = os.statvfs(disk)
        (disk / "filler").write_bytes(b"\0" * (free.f_bavail * free.f_frsize))
        result = CliRunner().invoke(main, ["blacklist", "list", "--db", str(disk / "ledger.db")])
        assert result.exit_code == 2, result.output
        assert "cannot open the ledger" in result.output and "has space" in result.output
        assert "not a callaudit ledger" not in result.output


def test_a_night_never_replaces_a_file_it_did_not_write_in_its_folder(tmp_path):
    # The night's files go through the same guard as `audit --out`: someone's notes saved
    # as reports/<date>/verdicts.jsonl are refused, not overwritten, and nothing is recorded.
    config = workspace(tmp_path, [SALE])
    day = SALE["started_at"][:10]
    folder = tmp_path / "reports" / day
    folder.mkdir(parents=True)
    (folder / "verdicts.jsonl").write_text("my own notes\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["nightly", "--date", day, *config])
    assert result.exit_code == 2, result.output
    assert "verdicts.jsonl" in result.output and "not an earlier output" in result.output
    assert (folder / "verdicts.jsonl").read_text(encoding="utf-8") == "my own notes\n"
    assert not (tmp_path / "ledger.db").exists() or _calls_in(tmp_path / "ledger.db") == 0


def _calls_in(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT COUNT(*) FROM calls").fetchone()[0]
