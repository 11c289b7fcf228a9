"""The console's queues through HTTP: decisions land in the ledger as the CLI's do, roles
and CSRF are enforced on pages and posts alike, and a decision raced by another manager is
refused without losing either."""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient

from cli import main
from engine.nightly.config import load_config
from tests.conftest import REPO, isolate
from webconsole.app import create_app

DAY = date.today() - timedelta(days=2)
PASSWORDS = {"wang": "manager-pass-1", "li": "manager-pass-2", "zhou": "qa-pass-12345",
             "chen": "admin-pass-123"}
ROLES = {"wang": "manager", "li": "manager", "zhou": "qa", "chen": "admin"}


@pytest.fixture(autouse=True)
def private_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    isolate(monkeypatch, tmp_path / "home")


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "qa"
    runner = CliRunner()
    assert runner.invoke(main, ["init", str(root), "--no-git"]).exit_code == 0
    night = root / "transcripts" / DAY.isoformat()
    night.mkdir(parents=True)
    lines = []
    for line in (REPO / "transcripts" / "labelled" / "zh-mixed.jsonl").read_text(
            encoding="utf-8").splitlines():
        record = json.loads(line)
        record["started_at"] = DAY.isoformat() + record["started_at"][10:]
        lines.append(json.dumps(record, ensure_ascii=False))
    (night / "calls.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    monkeypatch.chdir(root)
    result = runner.invoke(main, ["nightly", "--date", DAY.isoformat()])
    assert result.exit_code == 0, result.output
    for name, password in PASSWORDS.items():
        added = runner.invoke(main, ["users", "add", name, "--role", ROLES[name],
                                     "--password-stdin"], input=password + "\n")
        assert added.exit_code == 0, added.output
    return root


def client(workspace: Path) -> TestClient:
    app = create_app(load_config(workspace / "callaudit.yaml"))
    return TestClient(app, base_url="https://testserver")


def signed_in(workspace: Path, name: str) -> TestClient:
    browser = client(workspace)
    response = browser.post("/login", data={"name": name, "password": PASSWORDS[name],
                                            "next": "/"}, follow_redirects=False)
    assert response.status_code == 303, response.text
    return browser


def csrf(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, "the page has no form"
    return found.group(1)


def ledger(workspace: Path) -> sqlite3.Connection:
    db = sqlite3.connect(workspace / "callaudit-ledger.db")
    db.row_factory = sqlite3.Row
    return db


def pending(workspace: Path) -> list[int]:
    with ledger(workspace) as db:
        return [r[0] for r in db.execute("SELECT id FROM blacklist WHERE status = 'pending' "
                                         "ORDER BY id")]


@pytest.fixture
def ids(workspace: Path) -> Iterator[list[int]]:
    found = pending(workspace)
    assert len(found) >= 4, "the night should propose several numbers for the blacklist"
    yield found


def test_signing_in_is_required_and_a_wrong_password_is_refused(workspace):
    browser = client(workspace)
    first = browser.get("/queues/blacklist", follow_redirects=False)
    assert first.status_code == 303 and "/login?next=" in first.headers["location"]
    refused = browser.post("/login", data={"name": "wang", "password": "wrong-password"})
    assert refused.status_code == 401 and "Wrong name or password" in refused.text
    assert browser.post("/queues/blacklist/1/decide", data={"decision": "approve"}
                        ).status_code == 401
    cookie = signed_in(workspace, "wang").cookies
    assert cookie.get("callaudit_session")


def test_the_session_cookie_is_secure_httponly_and_samesite(workspace):
    response = client(workspace).post("/login", data={"name": "wang",
                                                      "password": PASSWORDS["wang"]},
                                      follow_redirects=False)
    header = response.headers["set-cookie"].lower()
    assert "httponly" in header and "secure" in header and "samesite=strict" in header


def test_a_manager_approves_one_proposal_and_rejects_another_as_the_cli_records_it(
        workspace, ids):
    browser = signed_in(workspace, "wang")
    page = browser.get("/queues/blacklist")
    assert f'id="bl-{ids[0]}"' in page.text
    token = csrf(page.text)
    done = browser.post(f"/queues/blacklist/{ids[0]}/decide",
                        data={"csrf": token, "decision": "approve", "reason": ""})
    assert done.status_code == 200 and f"proposal {ids[0]} approved" in done.text
    no_reason = browser.post(f"/queues/blacklist/{ids[1]}/decide",
                             data={"csrf": token, "decision": "reject", "reason": ""})
    assert "a rejection needs a reason" in no_reason.text
    rejected = browser.post(f"/queues/blacklist/{ids[1]}/decide",
                            data={"csrf": token, "decision": "reject",
                                  "reason": "客户已撤回投诉"})
    assert f"proposal {ids[1]} rejected" in rejected.text
    # The same decision made on the CLI, for comparison.
    cli = CliRunner().invoke(main, ["blacklist", "reject", str(ids[2]), "--by", "wang",
                                    "--reason", "客户已撤回投诉"])
    assert cli.exit_code == 0, cli.output
    with ledger(workspace) as db:
        rows = {r["id"]: r for r in db.execute("SELECT * FROM blacklist")}
        history = {r["ref"]: r for r in db.execute(
            "SELECT * FROM history WHERE kind = 'blacklist' AND who = 'wang'")}
    assert (rows[ids[0]]["status"], rows[ids[0]]["decided_by"]) == ("approved", "wang")
    assert (rows[ids[1]]["status"], rows[ids[1]]["reason"]) == ("rejected", "客户已撤回投诉")
    web, terminal = history[str(ids[1])], history[str(ids[2])]
    assert (web["event"], web["detail"]) == (terminal["event"], terminal["detail"])


def test_bulk_decisions_and_a_reversal(workspace, ids):
    browser = signed_in(workspace, "wang")
    token = csrf(browser.get("/queues/blacklist").text)
    bulk = browser.post("/queues/blacklist/bulk",
                        data={"csrf": token, "ids": [str(ids[0]), str(ids[1])],
                              "decision": "approve", "reason": "投诉属实"})
    assert "2 proposal(s) approved" in bulk.text
    reverse = browser.post(f"/queues/blacklist/{ids[0]}/reverse",
                           data={"csrf": token, "reason": "复核后撤销"})
    assert f"proposal {ids[0]}: approved → rejected" in reverse.text
    with ledger(workspace) as db:
        assert db.execute("SELECT status FROM blacklist WHERE id = ?", (ids[0],)
                          ).fetchone()[0] == "rejected"


def test_two_managers_deciding_at_once_one_wins_and_the_other_is_told(workspace, ids):
    first, second = signed_in(workspace, "wang"), signed_in(workspace, "li")
    token_1 = csrf(first.get("/queues/blacklist").text)
    token_2 = csrf(second.get("/queues/blacklist").text)  # both see it pending
    won = first.post(f"/queues/blacklist/{ids[0]}/decide",
                     data={"csrf": token_1, "decision": "approve", "reason": ""})
    lost = second.post(f"/queues/blacklist/{ids[0]}/decide",
                       data={"csrf": token_2, "decision": "reject", "reason": "不同意"})
    assert won.status_code == 200
    assert lost.status_code == 409
    assert f"entry {ids[0]} is approved (by wang" in lost.text and "Nothing was changed" \
        in lost.text
    with ledger(workspace) as db:
        row = db.execute("SELECT status, decided_by FROM blacklist WHERE id = ?",
                         (ids[0],)).fetchone()
        events = db.execute("SELECT who, event FROM history WHERE kind = 'blacklist' AND "
                            "ref = ?", (str(ids[0]),)).fetchall()
    assert tuple(row) == ("approved", "wang")
    assert [tuple(e) for e in events if e[0] in ("wang", "li")] == [("wang", "approved")]


def test_a_qa_user_may_not_decide_a_proposal_page_nor_post(workspace, ids):
    qa = signed_in(workspace, "zhou")
    page = qa.get("/queues/blacklist")  # everyone signed in may look
    assert page.status_code == 200
    refused = qa.post(f"/queues/blacklist/{ids[0]}/decide",
                      data={"csrf": csrf(page.text), "decision": "approve"})
    assert refused.status_code == 403 and "Not allowed" in refused.text
    assert "needs the role manager" in refused.text
    assert pending(workspace) == ids


def test_a_manager_may_not_review_findings(workspace):
    manager = signed_in(workspace, "wang")
    page = manager.get("/queues/review")
    fingerprint = re.search(r'id="f-([^"]+)"', page.text).group(1)
    refused = manager.post(f"/queues/review/{fingerprint}",
                           data={"csrf": csrf(page.text), "verdict": "overturned"})
    assert refused.status_code == 403
    with ledger(workspace) as db:
        assert db.execute("SELECT count(*) FROM reviews").fetchone()[0] == 0


@pytest.mark.parametrize("token", ["", "forged-token"])
def test_a_post_without_the_session_csrf_token_is_refused(workspace, ids, token):
    browser = signed_in(workspace, "wang")
    data = {"decision": "approve"} | ({"csrf": token} if token else {})
    refused = browser.post(f"/queues/blacklist/{ids[0]}/decide", data=data)
    assert refused.status_code == 403 and "security token" in refused.text
    assert pending(workspace) == ids


def test_a_qa_lead_works_through_the_review_sample(workspace):
    qa = signed_in(workspace, "zhou")
    page = qa.get("/queues/review")
    fingerprints = re.findall(r'id="f-([^"]+)"', page.text)
    assert len(fingerprints) >= 2
    token = csrf(page.text)
    overturned = qa.post(f"/queues/review/{fingerprints[0]}",
                         data={"csrf": token, "verdict": "overturned", "note": "客户是同意的"})
    assert ": overturned" in overturned.text
    upheld = qa.post(f"/queues/review/{fingerprints[1]}",
                     data={"csrf": token, "verdict": "upheld", "note": "", "dispute": "1"})
    assert ": upheld" in upheld.text
    sample_call = re.search(r'<datalist id="sampled-calls"><option>([^<]+)</option>',
                            page.text).group(1)
    missed = qa.post("/queues/review/missed",
                     data={"csrf": token, "call_id": sample_call, "standard": "identity",
                           "severity": "major", "note": "没有核实机主身份"})
    assert "missed identity violation recorded" in missed.text
    with ledger(workspace) as db:
        reviews = {r["fingerprint"]: r for r in db.execute("SELECT * FROM reviews")}
        missed_row = db.execute("SELECT * FROM reviews WHERE verdict = 'missed'").fetchone()
    assert reviews[fingerprints[0]]["verdict"] == "overturned"
    assert reviews[fingerprints[0]]["by"] == "zhou"
    assert reviews[fingerprints[1]]["kind"] == "dispute"
    assert (missed_row["call_id"], missed_row["standard"], missed_row["by"]) == \
        (sample_call, "identity", "zhou")


def test_a_manager_records_callback_results(workspace):
    manager = signed_in(workspace, "wang")
    page = manager.get("/queues/callbacks")
    ids = [int(i) for i in re.findall(r'id="cb-(\d+)"', page.text)]
    assert ids
    token = csrf(page.text)
    tried = manager.post(f"/queues/callbacks/{ids[0]}/result",
                         data={"csrf": token, "outcome": "unreachable", "note": "无人接听"})
    assert f"callback {ids[0]}" in tried.text
    closed = manager.post(f"/queues/callbacks/{ids[0]}/result",
                          data={"csrf": token, "outcome": "done", "note": "客户确认退订"})
    assert closed.status_code == 200
    with ledger(workspace) as db:
        row = db.execute("SELECT status, attempts, closed_by FROM callbacks WHERE id = ?",
                         (ids[0],)).fetchone()
    assert tuple(row) == ("done", 2, "wang")


def test_the_home_page_shows_the_last_night(workspace):
    page = signed_in(workspace, "zhou").get("/")
    assert f"Night of {DAY.isoformat()}" in page.text
    with ledger(workspace) as db:
        calls = db.execute("SELECT count(*) FROM calls").fetchone()[0]
    assert f'<span class="n">{calls}</span><span class="l">calls</span>' in page.text
    assert "<svg" in page.text and "Content-Security-Policy" in page.headers


def test_a_confirmation_in_a_link_someone_sends_is_not_shown(workspace):
    browser = signed_in(workspace, "wang")
    forged = browser.get("/queues/blacklist", params={"flash": "全部已批准，请勿再审",
                                                      "flash_kind": "ok"})
    assert forged.status_code == 200 and "全部已批准" not in forged.text
