"""Killing the nightly run at any point and running it again gives the ledger and the night's
files one clean run gives: no duplicate findings or actions, no lost opt-out, no lost
blacklist decision, every call's verdict and findings in the night's files. Two
processes writing one ledger at once are serialised, not corrupted."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.test_nightly import MONDAY, night

DAYS = 4  # four nights' calls in one folder: enough to be stopped part-way


def centre(root: Path) -> Path:
    shutil.copytree(REPO / "rules", root / "rules")
    folder = root / "transcripts" / MONDAY.isoformat()
    folder.mkdir(parents=True)
    calls = [c for d in range(DAYS) for c in night(MONDAY + timedelta(days=d), threats=1)]
    for i, call in enumerate(calls):
        if i % 50 == 7:  # some opt-outs as well
            call["turns"].append({"speaker": "customer", "text": "以后别给我打电话了",
                                  "start": 99.0, "end": 100.0})
    (folder / "calls.jsonl").write_text(
        "\n".join(json.dumps(c, ensure_ascii=False) for c in calls) + "\n", encoding="utf-8")
    subprocess.run([sys.executable, "cli.py", "init", "--path", str(root / "callaudit.yaml")],
                   cwd=REPO, check=True, capture_output=True)
    return root


def nightly(root: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(REPO / "cli.py"), "nightly", "--date", MONDAY.isoformat(),
         "--config", str(root / "callaudit.yaml")],
        cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def recorded(db: Path) -> int:
    try:
        with sqlite3.connect(db, timeout=5) as conn:
            return conn.execute("SELECT COUNT(*) FROM calls").fetchone()[0]
    except sqlite3.Error:
        return 0


def state(db: Path) -> dict:
    """The ledger's content without the timestamps that differ between runs."""
    with sqlite3.connect(db) as conn:
        return {
            "calls": conn.execute("SELECT call_id, content_hash, valid, violations, signals, "
                                  "actions, times_audited FROM calls ORDER BY call_id").fetchall(),
            "findings": conn.execute("SELECT fingerprint, call_id, rule_id, active FROM findings "
                                     "ORDER BY fingerprint").fetchall(),
            "callbacks": conn.execute("SELECT call_id, severity, due_date, status FROM callbacks "
                                      "ORDER BY call_id").fetchall(),
            "dnc": conn.execute("SELECT phone, call_id FROM dnc ORDER BY phone").fetchall(),
            "blacklist": conn.execute("SELECT phone, call_id, status FROM blacklist "
                                      "ORDER BY phone").fetchall(),
            "samplings": conn.execute("SELECT kind, period, calls FROM samplings").fetchall(),
        }


def night_files(root: Path) -> dict[str, list[str]]:
    """The night's verdicts and findings, line by line (sorted, the folder's path taken out)."""
    folder = root / "reports" / MONDAY.isoformat()
    return {name: sorted((folder / name).read_text(encoding="utf-8")
                         .replace(str(root), "ROOT").splitlines())
            for name in ("verdicts.jsonl", "findings.jsonl")}


@pytest.fixture(scope="module")
def clean(tmp_path_factory) -> dict:
    root = centre(tmp_path_factory.mktemp("clean"))
    assert nightly(root).wait(timeout=300) == 0
    return {**state(root / "callaudit-ledger.db"), "files": night_files(root)}


@pytest.mark.parametrize("kill_after", [0, 30, 120])
def test_kill_minus_nine_then_rerun_gives_the_clean_ledger(tmp_path, clean, kill_after):
    root = centre(tmp_path)
    db = root / "callaudit-ledger.db"
    run = nightly(root)
    deadline = time.monotonic() + 120
    while recorded(db) < kill_after and run.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert run.poll() is None, "the run finished before it could be killed"
    os.kill(run.pid, signal.SIGKILL)
    run.wait()
    assert recorded(db) < len(clean["calls"])  # stopped part-way
    assert nightly(root).wait(timeout=300) == 0
    assert {**state(db), "files": night_files(root)} == clean
    assert len(clean["files"]["verdicts.jsonl"]) == len(clean["calls"])  # every call's line
    assert not list((root / "reports" / MONDAY.isoformat()).glob(".*.partial"))


def test_a_manager_decision_survives_a_killed_rerun(tmp_path):
    root = centre(tmp_path)
    db = root / "callaudit-ledger.db"
    assert nightly(root).wait(timeout=300) == 0
    with sqlite3.connect(db) as conn:
        entry = conn.execute("SELECT id FROM blacklist ORDER BY id LIMIT 1").fetchone()[0]
    subprocess.run([sys.executable, str(REPO / "cli.py"), "blacklist", "reject", str(entry),
                    "--by", "王经理", "--reason", "只是抱怨", "--db", str(db)], check=True,
                   capture_output=True)
    (root / "reports" / MONDAY.isoformat() / "verdicts.jsonl").unlink()
    run = nightly(root)
    time.sleep(1.0)
    os.kill(run.pid, signal.SIGKILL)
    run.wait()
    assert nightly(root).wait(timeout=300) == 0
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT status, decided_by FROM blacklist WHERE id = ?",
                            (entry,)).fetchone() == ("rejected", "王经理")
        dnc = conn.execute("SELECT COUNT(*) FROM dnc").fetchone()[0]
    assert dnc == len([i for i in range(DAYS * 61) if i % 50 == 7])


def test_two_processes_writing_one_ledger_are_serialised(tmp_path):
    db = tmp_path / "ledger.db"
    inputs = []
    for part in range(2):
        path = tmp_path / f"part{part}.jsonl"
        calls = night(MONDAY, threats=2)
        for call in calls:
            call["call_id"] = f"P{part}-{call['call_id']}"
        path.write_text("\n".join(json.dumps(c, ensure_ascii=False) for c in calls) + "\n",
                        encoding="utf-8")
        inputs.append(path)
    runs = [subprocess.Popen([sys.executable, str(REPO / "cli.py"), "--rules-root",
                              str(REPO / "rules"), "audit", str(path), "--out",
                              str(tmp_path / f"out{i}"), "--db", str(db), "--workers", "1"],
                             cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for i, path in enumerate(inputs)]
    for run in runs:
        _, err = run.communicate(timeout=300)
        assert run.returncode == 0, err
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT COUNT(*) FROM calls").fetchone()[0] == 2 * 62
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
