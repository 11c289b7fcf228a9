"""What a night shows around it: the README's cron line works as written (the night's log
mailed when it alerts), and a progress line appears on a terminal only."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

from click.testing import CliRunner

from cli import main
from tests.conftest import REPO
from tests.test_nightly import night

LOW_THRESHOLD = """
warnings:
  - id: consent-violations
    category: {standard: consent}
    window: day
    levels: {notice: 1, warning: 1}
    responsible: 质检组长
"""


def centre(root: Path, day: date) -> Path:
    """A workspace with one night of transcripts (with invalid sales) and a low threshold."""
    folder = root / "transcripts" / day.isoformat()
    folder.mkdir(parents=True)
    (folder / "calls.jsonl").write_text(
        "".join(json.dumps(c, ensure_ascii=False) + "\n" for c in night(day, threats=0)),
        encoding="utf-8")
    config = root / "callaudit.yaml"
    config.write_text(f"rules: {REPO / 'rules'}\ndatabase: callaudit-ledger.db\n"
                      f"reports: reports\ntranscripts: transcripts\n{LOW_THRESHOLD}",
                      encoding="utf-8")
    return config


def cron_line() -> str:
    """The README's cron line for the night, without its five time fields."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    block = readme.split("```cron", 1)[1].split("```", 1)[0]
    line = next(line for line in block.splitlines()
                if "callaudit nightly" in line and not line.startswith("#"))
    return line.split(None, 5)[5]


def test_the_readme_cron_line_mails_the_nights_log(tmp_path):
    root = tmp_path / "qa"
    yesterday = date.today() - timedelta(days=1)
    centre(root, yesterday)
    venv = root / ".venv" / "bin"
    venv.mkdir(parents=True)
    (venv / "callaudit").write_text(f'#!/bin/sh\nexec {sys.executable} {REPO / "cli.py"} "$@"\n',
                                    encoding="utf-8")
    (venv / "callaudit").chmod(0o755)
    stubs = tmp_path / "stubs"
    stubs.mkdir()
    (stubs / "mail").write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > {stubs}/mail.args\n'
                                f"cat > {stubs}/mail.stdin\n", encoding="utf-8")
    (stubs / "mail").chmod(0o755)
    command = cron_line()
    assert command.startswith("cd /srv/qa && ")
    run = subprocess.run(["sh", "-c", command.replace("/srv/qa", str(root))], cwd=tmp_path,
                         env={**os.environ, "PATH": f"{stubs}:{os.environ['PATH']}"},
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr  # mail's own status
    mailed = (stubs / "mail.stdin").read_text(encoding="utf-8")
    assert f"{yesterday}: audited 60 calls" in mailed
    assert "ALERT warning: consent-violations — 10 ≥ 1" in mailed
    assert "qa-leads@example.com" in (stubs / "mail.args").read_text(encoding="utf-8")


def test_progress_shows_on_a_terminal_and_nowhere_else(tmp_path):
    day = date(2026, 11, 23)
    config = centre(tmp_path, day)
    result = CliRunner().invoke(main, ["nightly", "--date", day.isoformat(), "--config",
                                       str(config)])
    assert result.exit_code == 0, result.output
    assert "audited…" not in result.output and "\r" not in result.output
    assert "audited…" not in (tmp_path / "reports" / "latest.log").read_text(encoding="utf-8")

    (tmp_path / "callaudit-ledger.db").unlink()  # the same night again, from the start
    for extra in ("-wal", "-shm"):
        Path(f"{tmp_path / 'callaudit-ledger.db'}{extra}").unlink(missing_ok=True)
    terminal, attached = pty.openpty()
    run = subprocess.Popen([sys.executable, str(REPO / "cli.py"), "nightly", "--date",
                            day.isoformat(), "--config", str(config)],
                           stdout=subprocess.PIPE, stderr=attached, cwd=tmp_path)
    os.close(attached)
    shown = b""
    while True:
        try:
            chunk = os.read(terminal, 4096)
        except OSError:  # the run has ended and closed the terminal
            break
        if not chunk:
            break
        shown += chunk
    out, _ = run.communicate(timeout=300)
    os.close(terminal)
    assert run.returncode == 0
    assert "record(s) audited…".encode() in shown
    assert b"audited" not in out.replace(b"audited 60 calls", b"")


def test_the_log_of_a_night_that_failed_is_the_failure(tmp_path):
    day = date(2026, 11, 23)
    config = centre(tmp_path, day)
    assert CliRunner().invoke(main, ["nightly", "--date", day.isoformat(), "--config",
                                     str(config)]).exit_code == 0
    config.write_text(config.read_text(encoding="utf-8") + "sampling: {daily_rate: 10}\n",
                      encoding="utf-8")
    result = CliRunner().invoke(main, ["nightly", "--date", "2026-11-24", "--config",
                                       str(config)])
    assert result.exit_code == 2
    log = (tmp_path / "reports" / "latest.log").read_text(encoding="utf-8")
    assert log.startswith("callaudit nightly --date 2026-11-24 (")
    assert "daily_rate must be a fraction" in log and "audited" not in log
