"""Retention: the words of old calls go; counts, verdicts, decisions and opt-outs stay."""

from __future__ import annotations

import json
import sqlite3
from datetime import date
from pathlib import Path

from click.testing import CliRunner

from cli import main
from tests.conftest import REPO
from tests.test_followup_loop import HOLDER, call, turn


def old_and_new_call(tmp_path: Path, old_said: str, new_said: str) -> tuple[Path, list[str]]:
    """A workspace keeping 30 days, and two calls: OLD on 2025-01-10, NEW today, in each of
    which the customer says the given words. Returns the calls' file and --config."""
    (tmp_path / "callaudit.yaml").write_text(
        f"rules: {REPO / 'rules'}\ndatabase: ledger.db\nreports: reports\nretention_days: 30\n",
        encoding="utf-8")
    calls = [
        call("OLD", "13800000009", [HOLDER, turn("customer", old_said)],
             started_at="2025-01-10T10:00:00+08:00"),
        call("NEW", "13800000008", [HOLDER, turn("customer", new_said)],
             started_at=f"{date.today().isoformat()}T10:00:00+08:00"),
    ]
    path = tmp_path / "calls.jsonl"
    path.write_text("\n".join(json.dumps(c, ensure_ascii=False) for c in calls) + "\n",
                    encoding="utf-8")
    return path, ["--config", str(tmp_path / "callaudit.yaml")]


def test_purge_removes_old_words_and_keeps_the_facts(tmp_path):
    path, config = old_and_new_call(tmp_path, "以后别给我打电话了", "以后别给我打电话了")
    runner = CliRunner()
    night = runner.invoke(main, ["nightly", "--date", "2025-01-10", str(path), *config])
    assert night.exit_code == 0, night.output
    old_report = tmp_path / "reports" / "2025-01-10"
    assert (old_report / "report.html").exists()

    result = runner.invoke(main, ["purge", *config])
    assert result.exit_code == 0, result.output
    assert "words removed from 1 call(s)" in result.output
    with sqlite3.connect(tmp_path / "ledger.db") as conn:
        evidence = dict(conn.execute("SELECT call_id, evidence FROM findings").fetchall())
        assert "别给我打电话" not in evidence["OLD"] and '"turn": 1' in evidence["OLD"]
        assert "别给我打电话" in evidence["NEW"]
        assert conn.execute("SELECT COUNT(*) FROM dnc").fetchone()[0] == 2  # opt-outs stay
        assert conn.execute("SELECT signals FROM calls WHERE call_id = 'OLD'").fetchone()[0] \
            == '["opt_out"]'
    assert not (old_report / "report.html").exists()
    assert (old_report / "summary.json").exists()


OLD_WORDS = "紫罗兰小区"  # said only in the old call
NEW_WORDS = "向日葵小区"  # said only in the new one


def _ledger_bytes(db: Path) -> bytes:
    """The ledger as it lies on disk: the main file, its WAL and its shared-memory index."""
    return b"".join(p.read_bytes() for p in (db, Path(f"{db}-wal"), Path(f"{db}-shm"))
                    if p.exists())


def test_purge_of_a_blacklisted_old_call_leaves_no_words_on_disk(tmp_path):
    threat = "你们再打我就去工信部投诉，我住在{}"
    path, config = old_and_new_call(tmp_path, threat.format(OLD_WORDS), threat.format(NEW_WORDS))
    today = date.today().isoformat()
    runner = CliRunner()
    assert runner.invoke(main, ["nightly", "--date", "2025-01-10", str(path), *config]
                         ).exit_code == 0
    assert runner.invoke(main, ["nightly", "--date", today, str(path), *config]).exit_code == 0
    db = tmp_path / "ledger.db"
    with sqlite3.connect(db) as conn:  # the old call was proposed for the blacklist
        assert conn.execute("SELECT COUNT(*) FROM blacklist WHERE call_id = 'OLD'"
                            ).fetchone()[0] == 1
    words = OLD_WORDS.encode("utf-8")
    assert words in _ledger_bytes(db)

    result = runner.invoke(main, ["purge", *config])
    assert result.exit_code == 0, result.output
    assert "words removed from 1 call(s)" in result.output
    on_disk = _ledger_bytes(db)
    assert words not in on_disk
    assert NEW_WORDS.encode("utf-8") in on_disk  # the newer call keeps its words
    with sqlite3.connect(db) as conn:
        details = [d for (d,) in conn.execute("SELECT detail FROM history "
                                              "WHERE detail IS NOT NULL")]
        assert not [d for d in details if OLD_WORDS in d]
        assert [d for d in details if NEW_WORDS in d]
        status = conn.execute("SELECT status FROM blacklist WHERE call_id = 'OLD'").fetchone()[0]
        assert status == "pending"  # the decision stays; only the words go
