"""What the console's browser tests share: the workspace with an audited night, the
running server, signing in and screenshots. The fixtures are in conftest.py; both import
this module as tests.e2e.harness (one copy, one list of screenshots)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
NIGHT_SOURCE = REPO / "transcripts" / "labelled" / "zh-mixed.jsonl"
# A recent night (the home page shows the latest one; the review sample is drawn for it).
NIGHT = date.today() - timedelta(days=1)
PASSWORD = "correct horse battery"  # scrypt-hashed in the test ledger only
MANAGER, SECOND_MANAGER, QA = "王经理", "li.manager", "质检A"
SCREENSHOTS = Path(os.environ.get("CALLAUDIT_E2E_SCREENSHOTS") or REPO / "out" / "screenshots")
TIMEOUT_MS = 10_000  # a missing element fails in seconds, not Playwright's default 30
TAKEN: list[Path] = []  # the screenshots of this run


def required() -> bool:
    """CI must run the browser tests; a developer's machine may lack Chromium."""
    return bool(os.environ.get("CI")) or os.environ.get("CALLAUDIT_E2E_REQUIRED") == "1"


def unavailable(why: str) -> None:
    if required():
        pytest.fail(f"the console's browser tests cannot run: {why}. CI installs Debian's "
                    "chromium (.ci/run); unset CI and CALLAUDIT_E2E_REQUIRED to skip them "
                    "instead.", pytrace=False)
    pytest.skip(f"{why} (the console's browser tests need it)")


def chromium_path() -> str | None:
    named = os.environ.get("CALLAUDIT_CHROMIUM")
    if named:
        return named if os.access(named, os.X_OK) else None
    if os.access("/usr/bin/chromium", os.X_OK):
        return "/usr/bin/chromium"
    return shutil.which("chromium") or shutil.which("chromium-browser")


# -- the workspace and the server ----------------------------------------------------------------


def clean_env(home: Path) -> dict[str, str]:
    """The environment of the CLI and the server: no CALLAUDIT_* variable (the suite's
    conftest points CALLAUDIT_DB at each test's own ledger) and a home of their own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLAUDIT_")}
    env.update(HOME=str(home), XDG_DATA_HOME=str(home / ".local" / "share"),
               PYTHONUNBUFFERED="1")
    return env


def callaudit_command() -> list[str]:
    script = Path(sys.executable).with_name("callaudit")
    return [str(script)] if script.is_file() else [sys.executable, "-c",
                                                     "import cli; cli.run()"]


@dataclass
class Workspace:
    root: Path
    env: dict[str, str]
    night: date

    @property
    def ledger_path(self) -> Path:
        return self.root / "callaudit-ledger.db"

    def cli(self, *args: str, stdin: str | None = None) -> str:
        done = subprocess.run([*callaudit_command(), *args], cwd=self.root, env=self.env,
                              input=stdin, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, (f"callaudit {' '.join(args)} exited "
                                      f"{done.returncode}:\n{done.stdout}\n{done.stderr}")
        return done.stdout

    def query(self, sql: str, args: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        """Read the ledger as the CLI left it (read-only: the server is its writer)."""
        db = sqlite3.connect(f"file:{self.ledger_path}?mode=ro", uri=True, timeout=10)
        db.row_factory = sqlite3.Row
        try:
            return db.execute(sql, args).fetchall()
        finally:
            db.close()

    def one(self, sql: str, args: tuple[Any, ...] = ()) -> sqlite3.Row:
        rows = self.query(sql, args)
        assert len(rows) == 1, f"{sql} {args}: {len(rows)} rows"
        return rows[0]


def write_night(folder: Path, night: date) -> None:
    """The labelled Chinese calls, all started on NIGHT, as the call platform drops them."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = []
    for line in NIGHT_SOURCE.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        record["started_at"] = night.isoformat() + record["started_at"][10:]
        lines.append(json.dumps(record, ensure_ascii=False))
    (folder / "calls.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Server:
    url: str
    log: Path
    process: subprocess.Popen

    def log_tail(self, lines: int = 40) -> str:
        text = self.log.read_text(encoding="utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])


# -- the browser -------------------------------------------------------------------------------


def sign_in(page: Any, name: str, password: str = PASSWORD, then: str = "/") -> Any:
    """Sign in through the form as a person does; returns the response to the post."""
    page.goto("/login?next=" + then)
    page.get_by_label("Name").fill(name)
    page.get_by_label("Password").fill(password)
    with page.expect_response(lambda r: r.url.endswith("/login")
                              and r.request.method == "POST") as posted:
        page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()
    return posted.value


def screenshot(page: Any, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    TAKEN.append(path)
    print(f"screenshot: {path}")
    return path
