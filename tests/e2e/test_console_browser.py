"""The web console as people use it, in headless Chromium against `callaudit serve`: what
each page shows, and what the ledger holds after each decision (the same rows, with who
and when, that the CLI's `blacklist review` and `review` write).

The fixtures (tests/e2e/conftest.py) audit one night and start one server for this
module; the tests share it, so each decides a proposal of its own (see `proposals`).
"""

from __future__ import annotations

import json
import re
import threading
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime, timedelta, timezone
from itertools import pairwise
from typing import Any

import pytest

from tests.e2e.harness import (
    MANAGER,
    PASSWORD,
    QA,
    SECOND_MANAGER,
    Server,
    Workspace,
    screenshot,
    sign_in,
)

expect: Any = None  # playwright's expect, imported with the browser (conftest.browser)


@pytest.fixture(autouse=True)
def _expect(browser: Any) -> None:
    global expect
    from playwright.sync_api import expect as playwright_expect

    playwright_expect.set_options(timeout=10_000)
    expect = playwright_expect


NOT_PENDING = "only pending entries can be decided"  # LedgerError of decide_blacklist


@pytest.fixture(scope="module")
def proposals(workspace: Workspace) -> dict[str, int]:
    """The night's pending blacklist proposals, one for each test that decides one."""
    pending = [r["id"] for r in workspace.query(
        "SELECT id FROM blacklist WHERE status = 'pending' ORDER BY id")]
    uses = ["approve", "reject", "qa", "race-pages", "race-posts"]
    assert len(pending) >= len(uses), f"the night yields {len(pending)} proposals"
    return dict(zip(uses, pending, strict=False))


def recent(stamp: str) -> bool:
    """An ISO time written by this run (the ledger's times are UTC with an offset)."""
    when = datetime.fromisoformat(stamp)
    return abs(datetime.now(timezone.utc) - when) < timedelta(minutes=10)


def decisions(workspace: Workspace, entry_id: int) -> list[Any]:
    return workspace.query("SELECT who, event, at, detail FROM history WHERE kind = "
                           "'blacklist' AND ref = ? AND event IN ('approved', 'rejected') "
                           "ORDER BY id", (str(entry_id),))


def csrf_of(page: Any) -> str:
    """The session's CSRF token, as every form of the page carries it (the sign-out form)."""
    return page.locator("input[name=csrf]").first.input_value()


def post_form(page: Any, action: str, fields: dict[str, str]) -> Any:
    """Submit a form the page does not show (what a stale tab or a hand-made request
    sends); returns the response the browser navigated to."""
    with page.expect_navigation() as navigation:
        page.evaluate("""([action, fields]) => {
            const form = document.createElement('form');
            form.method = 'post';
            form.action = action;
            for (const [name, value] of Object.entries(fields)) {
                const input = document.createElement('input');
                input.type = 'hidden'; input.name = name; input.value = value;
                form.appendChild(input);
            }
            document.body.appendChild(form);
            form.submit();
        }""", [action, fields])
    return navigation.value


# -- signing in ----------------------------------------------------------------------------------


def test_a_wrong_password_is_refused(page: Any, workspace: Workspace) -> None:
    answer = sign_in(page, MANAGER, "not the password at all")
    assert answer.status == 401
    expect(page.get_by_role("alert")).to_contain_text("Wrong name or password")
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    assert not [c for c in page.context.cookies() if c["name"] == "callaudit_session"]
    refused = workspace.query("SELECT at FROM history WHERE kind = 'user' AND ref = ? AND "
                              "event = 'sign-in refused'", (MANAGER,))
    assert refused and recent(refused[-1]["at"])


def test_signing_in_opens_the_page_asked_for_with_a_strict_session_cookie(
        page: Any, workspace: Workspace) -> None:
    night = workspace.night.isoformat()
    page.goto(f"/?night={night}")
    assert urllib.parse.urlparse(page.url).path == "/login"  # signed out: sent to sign in
    page.get_by_label("Name").fill(MANAGER)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Night of {night}")
    assert page.url.endswith(f"/?night={night}")
    expect(page.get_by_role("navigation", name="Main")).to_be_visible()
    expect(page.get_by_text(f"{MANAGER} · manager")).to_be_visible()
    [cookie] = [c for c in page.context.cookies() if c["name"] == "callaudit_session"]
    assert (cookie["httpOnly"], cookie["secure"], cookie["sameSite"]) == (True, True, "Strict")
    signed = workspace.query("SELECT at FROM history WHERE kind = 'user' AND ref = ? AND "
                             "event = 'signed in'", (MANAGER,))
    assert signed and recent(signed[-1]["at"])
    assert workspace.one("SELECT count(*) AS n FROM web_sessions WHERE user_name = ?",
                         (MANAGER,))["n"] >= 1


def test_a_form_without_its_security_token_is_refused(page: Any) -> None:
    sign_in(page, QA)
    answer = post_form(page, "/logout", {"csrf": "stale"})
    assert answer.status == 403
    expect(page).to_have_title(re.compile("403"))
    expect(page.get_by_role("heading", name="Not allowed")).to_be_visible()
    expect(page.get_by_role("alert")).to_contain_text("security token")
    page.goto("/")  # still signed in: the forged sign-out did nothing
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


# -- the home page -------------------------------------------------------------------------------


def test_the_home_page_shows_the_nights_figures(page: Any, workspace: Workspace) -> None:
    sign_in(page, MANAGER)
    night = workspace.night.isoformat()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Night of {night}")
    low, high = night, (workspace.night + timedelta(days=1)).isoformat()
    calls = workspace.one("SELECT count(*) AS calls, count(valid) AS sales, "
                          "sum(valid = 1) AS valid, sum(valid = 0) AS invalid FROM calls "
                          "WHERE started_at >= ? AND started_at < ?", (low, high))
    assert (calls["calls"], calls["sales"]) == (42, 13)  # the night as the CLI audited it
    pending = workspace.one("SELECT count(*) AS n FROM blacklist WHERE status = 'pending'")
    due_by = (workspace.night + timedelta(days=1)).isoformat()  # worked the morning after
    due = workspace.one("SELECT count(*) AS n FROM callbacks WHERE status = 'open' AND "
                        "due_date <= ?", (due_by,))
    for number, label in ((calls["calls"], "calls"), (calls["sales"], "sales"),
                          (calls["valid"], "valid"), (calls["invalid"], "invalid"),
                          (due["n"], f"callbacks due by {due_by}"),
                          (pending["n"], "blacklist pending")):
        expect(page.get_by_role("link", name=f"{number} {label}", exact=True)).to_be_visible()
    validity = f"{calls['valid'] / calls['sales'] * 100:.1f}%"
    expect(page.locator(".figure", has_text="validity rate")).to_contain_text(validity)
    alerts = workspace.query("SELECT warning_id, level FROM alerts_raised WHERE night = ?",
                             (night,))
    assert alerts  # this night passes warning thresholds (complaints, opt-outs)
    expect(page.locator(".figure", has_text="alerts")).to_contain_text(str(len(alerts)))
    for alert in alerts:
        expect(page.get_by_role("cell", name=alert["warning_id"], exact=True)).to_be_visible()
    expect(page.get_by_role("img", name="Validity rate by week")).to_be_visible()
    screenshot(page, "home")


# -- the blacklist queue -------------------------------------------------------------------------


def test_a_manager_approves_one_proposal_and_rejects_another_with_a_reason(
        page: Any, workspace: Workspace, proposals: dict[str, int]) -> None:
    approve, reject = proposals["approve"], proposals["reject"]
    sign_in(page, MANAGER, then="/queues/blacklist")
    expect(page.locator(f"#bl-{approve}")).to_be_visible()
    expect(page.locator(f"#bl-{reject}")).to_be_visible()
    screenshot(page, "blacklist-queue")

    page.locator(f"#bl-{approve}").get_by_role("button", name="Approve").click()
    expect(page.get_by_role("status")).to_contain_text(f"{approve} approved")
    expect(page.locator(f"#bl-{approve}")).to_have_count(0)  # decided: off the queue
    row = page.locator(f"#bl-{reject}")
    row.locator("[name=reason]").fill("号码已转给新机主，投诉不是本人")
    row.get_by_role("button", name="Reject").click()
    expect(page.get_by_role("status")).to_contain_text(f"{reject} rejected")
    expect(page.locator(f"#bl-{reject}")).to_have_count(0)
    page.goto("/queues/blacklist?status=all")  # decided, with who decided
    expect(page.locator(f"#bl-{approve}")).to_contain_text(f"by {MANAGER}")
    expect(page.locator(f"#bl-{reject}")).to_contain_text("号码已转给新机主，投诉不是本人")

    approved = workspace.one("SELECT * FROM blacklist WHERE id = ?", (approve,))
    assert (approved["status"], approved["decided_by"]) == ("approved", MANAGER)
    assert recent(approved["decided_at"])
    rejected = workspace.one("SELECT * FROM blacklist WHERE id = ?", (reject,))
    assert (rejected["status"], rejected["decided_by"], rejected["reason"]) == (
        "rejected", MANAGER, "号码已转给新机主，投诉不是本人")
    [history] = decisions(workspace, approve)
    assert (history["who"], history["event"]) == (MANAGER, "approved") and recent(history["at"])
    [history] = decisions(workspace, reject)
    assert (history["who"], history["event"]) == (MANAGER, "rejected")
    assert json.loads(history["detail"]) == {"reason": "号码已转给新机主，投诉不是本人"}
    # The CLI reads the same ledger: the decisions and who made them.
    listed = {e["id"]: e for e in json.loads(workspace.cli("blacklist", "list", "--format",
                                                           "json"))}
    assert (listed[approve]["status"], listed[approve]["decided_by"]) == ("approved", MANAGER)
    assert (listed[reject]["status"], listed[reject]["decided_by"]) == ("rejected", MANAGER)


def test_a_qa_reviewer_may_not_decide_a_blacklist_proposal(
        page: Any, workspace: Workspace, proposals: dict[str, int]) -> None:
    entry = proposals["qa"]
    before = workspace.one("SELECT * FROM blacklist WHERE id = ?", (entry,))
    sign_in(page, QA)
    answer = post_form(page, f"/queues/blacklist/{entry}/decide",
                       {"csrf": csrf_of(page), "decision": "approve", "reason": ""})
    assert answer.status == 403
    expect(page.get_by_role("heading", name="Not allowed")).to_be_visible()
    expect(page.get_by_role("alert")).to_contain_text("manager")
    assert dict(workspace.one("SELECT * FROM blacklist WHERE id = ?", (entry,))) == dict(before)
    assert before["status"] == "pending" and decisions(workspace, entry) == []


# -- the review sample ---------------------------------------------------------------------------


def test_a_qa_reviewer_overturns_a_finding_of_the_review_sample(
        page: Any, workspace: Workspace) -> None:
    night = workspace.night.isoformat()
    sign_in(page, QA, then=f"/queues/review?night={night}")
    rows = page.locator("tr[id^='f-']")
    expect(rows.first).to_be_visible()
    fingerprint = rows.first.get_attribute("id")[2:]
    finding = workspace.one("SELECT f.call_id, f.rule_id, c.started_at FROM findings f "
                            "JOIN calls c USING (call_id) WHERE f.fingerprint = ? AND "
                            "f.active = 1", (fingerprint,))
    assert finding["started_at"].startswith(night)  # a finding of this night's calls
    expect(rows.first).to_contain_text(finding["call_id"])

    row = page.locator(f"#f-{fingerprint}")
    row.locator("[name=note]").fill("客户原话是同意，机器误判")
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        row.get_by_role("button", name="Overturn").click()
    assert posted.value.status < 400
    expect(page.get_by_role("status")).to_contain_text(
        f"{finding['rule_id']} on {finding['call_id']}: overturned")
    page.goto(f"/queues/review?night={night}&rule={finding['rule_id']}")
    expect(page.locator(f"#f-{fingerprint}")).to_contain_text(f"overturned by {QA}")

    [review] = workspace.query("SELECT * FROM reviews WHERE fingerprint = ?", (fingerprint,))
    assert (review["verdict"], review["by"], review["note"], review["kind"]) == (
        "overturned", QA, "客户原话是同意，机器误判", "review")
    assert review["call_id"] == finding["call_id"] and recent(review["at"])


def test_a_manager_works_a_callback_from_an_attempt_to_done(page: Any,
                                                           workspace: Workspace) -> None:
    sign_in(page, MANAGER, then="/queues/callbacks")
    rows = page.locator("tr[id^='cb-']")
    expect(rows.first).to_be_visible()
    callback_id = int(rows.first.get_attribute("id")[3:])
    row = page.locator(f"#cb-{callback_id}")
    row.get_by_label("Outcome").select_option("unreachable")
    row.get_by_label("Note").fill("无人接听")
    row.get_by_role("button", name="Record").click()
    expect(page.get_by_role("status")).to_contain_text(f"callback {callback_id}")
    row = page.locator(f"#cb-{callback_id}")
    expect(row).to_contain_text("1 attempt")
    row.get_by_label("Outcome").select_option("done")
    row.get_by_label("Note").fill("客户确认退订")
    row.get_by_role("button", name="Record").click()
    expect(page.locator(f"#cb-{callback_id}")).to_have_count(0)  # closed: off the open queue
    order = workspace.one("SELECT status, attempts, closed_by FROM callbacks WHERE id = ?",
                          (callback_id,))
    assert (order["status"], order["attempts"], order["closed_by"]) == ("done", 2, MANAGER)
    events = workspace.query("SELECT who, event FROM history WHERE kind = 'callback' AND "
                             "ref = ? AND who = ?", (str(callback_id), MANAGER))
    assert len(events) == 2  # each result on record, as `callbacks import` records it


# -- a call --------------------------------------------------------------------------------------


def evidence_call(workspace: Workspace) -> tuple[str, set[str]]:
    """A call of the night with findings whose quotes are plain words (no digits to mask,
    no two overlapping in a turn), none reviewed: the call and its findings' quotes."""
    best: tuple[str, set[str]] | None = None
    calls: dict[str, list[dict[str, Any]]] = {}
    for row in workspace.query("SELECT call_id, evidence FROM findings WHERE active = 1 "
                               "AND call_id NOT IN (SELECT call_id FROM reviews) "
                               "ORDER BY call_id"):
        calls.setdefault(row["call_id"], []).extend(json.loads(row["evidence"]))
    for call_id, evidence in calls.items():
        spans = sorted((e["turn"], e["char_start"], e["char_end"]) for e in evidence)
        overlapping = any(a[0] == b[0] and b[1] < a[2] for a, b in pairwise(spans))
        quotes = {e["quote"] for e in evidence}
        if overlapping or any(ch.isdigit() for q in quotes for ch in q):
            continue
        if best is None or len(quotes) > len(best[1]):
            best = (call_id, quotes)
    assert best is not None, "no call with plain evidence"
    return best


def test_a_call_shows_its_findings_evidence_highlighted(page: Any,
                                                        workspace: Workspace) -> None:
    call_id, quotes = evidence_call(workspace)
    sign_in(page, MANAGER, then=f"/calls/{call_id}")
    expect(page.get_by_role("heading", level=1)).to_contain_text(call_id)
    marks = page.locator("mark.evidence")
    expect(marks.first).to_be_visible()
    shown = {text.strip() for text in marks.all_inner_texts()}
    assert quotes <= shown, f"quotes not highlighted: {quotes - shown}"
    screenshot(page, "call")


# -- two managers, one proposal ------------------------------------------------------------------


def test_two_managers_deciding_one_proposal_from_open_pages_the_second_is_told(
        new_context: Any, workspace: Workspace, proposals: dict[str, int]) -> None:
    entry = proposals["race-pages"]
    first, second = new_context().new_page(), new_context().new_page()
    sign_in(first, MANAGER, then="/queues/blacklist")
    sign_in(second, SECOND_MANAGER, then="/queues/blacklist")
    for page in (first, second):  # both see it pending
        expect(page.locator(f"#bl-{entry}")).to_be_visible()

    first.locator(f"#bl-{entry}").get_by_role("button", name="Approve").click()
    expect(first.locator(f"#bl-{entry}")).to_have_count(0)
    row = second.locator(f"#bl-{entry}")
    row.locator("[name=reason]").fill("误报")
    with second.expect_response(lambda r: r.request.method == "POST") as posted:
        row.get_by_role("button", name="Reject").click()
    assert posted.value.status in (303, 409) or posted.value.status < 300
    told = second.get_by_text(NOT_PENDING)
    expect(told).to_be_visible()
    expect(told).to_contain_text(f"approved (by {MANAGER}")

    entry_row = workspace.one("SELECT * FROM blacklist WHERE id = ?", (entry,))
    assert (entry_row["status"], entry_row["decided_by"]) == ("approved", MANAGER)
    assert [(h["who"], h["event"]) for h in decisions(workspace, entry)] == [
        (MANAGER, "approved")]


def _signed_in_session(new_context: Any, name: str) -> tuple[str, str]:
    """(cookie header, CSRF token) of a session signed in through the browser."""
    page = new_context().new_page()
    sign_in(page, name)
    [cookie] = [c for c in page.context.cookies() if c["name"] == "callaudit_session"]
    return f"callaudit_session={cookie['value']}", csrf_of(page)


def test_two_managers_deciding_one_proposal_at_the_same_instant_one_wins(
        new_context: Any, server: Server, workspace: Workspace,
        proposals: dict[str, int]) -> None:
    entry = proposals["race-posts"]
    people = {MANAGER: {"decision": "approve", "reason": ""},
              SECOND_MANAGER: {"decision": "reject", "reason": "同一客户已处理"}}
    sessions = {name: _signed_in_session(new_context, name) for name in people}
    start = threading.Barrier(len(people))
    answers: dict[str, tuple[int, str]] = {}

    def decide(name: str) -> None:
        cookie, csrf = sessions[name]
        body = urllib.parse.urlencode({"csrf": csrf, **people[name]}).encode()
        request = urllib.request.Request(f"{server.url}/queues/blacklist/{entry}/decide",
                                         data=body, method="POST", headers={"Cookie": cookie})
        start.wait()
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                answers[name] = (answer.status, answer.read().decode("utf-8"))
        except urllib.error.HTTPError as refused:
            answers[name] = (refused.code, refused.read().decode("utf-8"))

    threads = [threading.Thread(target=decide, args=(name,)) for name in people]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    entry_row = workspace.one("SELECT * FROM blacklist WHERE id = ?", (entry,))
    winner = entry_row["decided_by"]
    assert winner in people, (f"nobody decided entry {entry}; the server answered "
                              f"{ {name: answer[0] for name, answer in answers.items()} }")
    assert entry_row["status"] == {"approve": "approved",
                                   "reject": "rejected"}[people[winner]["decision"]]
    assert [h["who"] for h in decisions(workspace, entry)] == [winner]  # decided once
    [loser] = [name for name in people if name != winner]
    status, page = answers[winner]
    assert status < 400 and NOT_PENDING not in page, (status, page[:500])
    status, page = answers[loser]
    assert status == 409 or NOT_PENDING in page, (status, page[:500])
    assert NOT_PENDING in page and f"(by {winner} on " in page, page[:2000]
    assert server.process.poll() is None
