"""The web console in a real browser: one workspace with an audited night, one
`callaudit serve` per test module, and Debian's Chromium driven by Playwright.

The browser is the system's (/usr/bin/chromium, or $CALLAUDIT_CHROMIUM); Playwright never
downloads one. Without Chromium or Playwright the browser tests are skipped on a
developer's machine, and fail in CI ($CI or CALLAUDIT_E2E_REQUIRED=1, which .ci/run sets).

Screenshots go to out/screenshots/ under the repository (or $CALLAUDIT_E2E_SCREENSHOTS);
the run's summary lists them.
"""

from __future__ import annotations

import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.harness import (
    MANAGER,
    NIGHT,
    PASSWORD,
    QA,
    SCREENSHOTS,
    SECOND_MANAGER,
    TAKEN,
    TIMEOUT_MS,
    Server,
    Workspace,
    callaudit_command,
    chromium_path,
    clean_env,
    free_port,
    unavailable,
    write_night,
)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    """`callaudit init`, a night of calls audited by `callaudit nightly`, and the users
    made by `callaudit users add`: two managers and a QA reviewer."""
    base = tmp_path_factory.mktemp("console")
    (base / "home").mkdir()
    env = clean_env(base / "home")
    subprocess.run([*callaudit_command(), "init", "--no-git", str(base / "qa")], env=env,
                   check=True, capture_output=True, timeout=120)
    space = Workspace(base / "qa", env, NIGHT)
    write_night(space.root / "transcripts" / NIGHT.isoformat(), NIGHT)
    space.cli("nightly", "--date", NIGHT.isoformat())
    for name, role in ((MANAGER, "manager"), (SECOND_MANAGER, "manager"), (QA, "qa")):
        space.cli("users", "add", name, "--role", role, "--password-stdin",
                  stdin=PASSWORD + "\n")
    return space


@pytest.fixture(scope="module")
def server(workspace: Workspace) -> Iterator[Server]:
    """`callaudit serve --port N` in the workspace, answering before the first test and
    stopped after the module (Secure cookies as in production: Chromium keeps them on
    http://127.0.0.1)."""
    port = free_port()
    log = workspace.root.parent / "serve.log"
    with log.open("wb") as sink:
        process = subprocess.Popen([*callaudit_command(), "serve", "--port", str(port)],
                                   cwd=workspace.root, env=workspace.env, stdout=sink,
                                   stderr=subprocess.STDOUT)
    running = Server(f"http://127.0.0.1:{port}", log, process)
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                pytest.fail(f"callaudit serve exited {process.returncode}:\n"
                            f"{running.log_tail()}", pytrace=False)
            try:
                with urllib.request.urlopen(running.url + "/login", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"callaudit serve did not answer on {running.url} in 30 s:\n"
                            f"{running.log_tail()}", pytrace=False)
            time.sleep(0.1)
        yield running
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


# -- the browser ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Chromium, the system's, one per module (each test gets a fresh context)."""
    try:
        from playwright.sync_api import Error, sync_playwright
    except ImportError:
        unavailable("playwright is not installed (pip install -e '.[test]')")
    path = chromium_path()
    if path is None:
        unavailable("no Chromium at /usr/bin/chromium or $CALLAUDIT_CHROMIUM (apt-get "
                    "install chromium)")
    with sync_playwright() as playwright:
        try:
            launched = playwright.chromium.launch(executable_path=path, headless=True)
        except Error as exc:
            unavailable(f"Chromium at {path} does not start: {exc.message.splitlines()[0]}")
        yield launched
        launched.close()


@pytest.fixture
def new_context(browser: Any, server: Server) -> Iterator[Any]:
    """Browser contexts (separate cookie jars: separate people) for one test, closed after."""
    opened: list[Any] = []

    def make() -> Any:
        context = browser.new_context(base_url=server.url, locale="zh-CN",
                                      viewport={"width": 1280, "height": 900})
        context.set_default_timeout(TIMEOUT_MS)
        opened.append(context)
        return context

    yield make
    for context in opened:
        context.close()


@pytest.fixture
def page(new_context: Any) -> Any:
    return new_context().new_page()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if TAKEN:
        terminalreporter.write_line(f"console screenshots in {SCREENSHOTS}: "
                                    + ", ".join(p.name for p in TAKEN))
