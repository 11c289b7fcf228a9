"""The ledger opens only callaudit's own databases: another application's SQLite file named
by mistake is refused untouched (no tables added, its journal mode kept)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from click.testing import CliRunner

from cli import main
from engine.actions.ledger import LEDGER_APPLICATION_ID, Ledger


def other_application(path: Path) -> Path:
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
        conn.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, total REAL)")
        conn.execute("INSERT INTO customers(name) VALUES ('张三')")
    conn.close()
    return path


def test_another_applications_database_is_refused_untouched(tmp_path):
    db = other_application(tmp_path / "crm.db")
    before = db.read_bytes()
    result = CliRunner().invoke(main, ["blacklist", "list", "--db", str(db)])
    assert result.exit_code == 2, result.output
    assert "is not a callaudit ledger" in result.output
    assert "customers, orders" in result.output
    assert "Traceback" not in result.output
    assert db.read_bytes() == before
    assert not Path(f"{db}-wal").exists()
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    conn.close()
    assert tables == {"customers", "orders"}


def test_nightly_refuses_a_config_database_of_another_application(tmp_path):
    db = other_application(tmp_path / "crm.db")
    before = db.read_bytes()
    (tmp_path / "callaudit.yaml").write_text(
        f"database: {db}\nrules: {Path(__file__).parent.parent / 'rules'}\n", encoding="utf-8")
    (tmp_path / "calls.jsonl").write_text("", encoding="utf-8")
    result = CliRunner().invoke(main, ["nightly", "--date", "2026-11-23",
                                       str(tmp_path / "calls.jsonl"),
                                       "--config", str(tmp_path / "callaudit.yaml")])
    assert result.exit_code == 2, result.output
    assert "is not a callaudit ledger" in result.output
    assert db.read_bytes() == before


def test_a_ledger_made_before_the_marker_is_recognised_and_stamped(tmp_path):
    db = tmp_path / "old.db"
    with Ledger(db) as ledger:
        ledger.db.execute("INSERT INTO dnc(phone, evidence, added_at) VALUES ('+8613800000001', "
                          "'[]', '2026-11-23')")
        ledger.db.execute("PRAGMA application_id = 0")  # as ledgers were written before it
    with Ledger(db) as ledger:
        assert ledger.suppression("+8613800000001") == ["dnc"]
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA application_id").fetchone()[0] == LEDGER_APPLICATION_ID
    conn.close()


def test_a_new_ledger_carries_the_marker(tmp_path):
    with Ledger(tmp_path / "new.db"):
        pass
    with sqlite3.connect(tmp_path / "new.db") as conn:
        assert conn.execute("PRAGMA application_id").fetchone()[0] == LEDGER_APPLICATION_ID
    conn.close()
    with Ledger(tmp_path / "new.db") as ledger:  # and opens again
        assert ledger.schema_version >= 2
