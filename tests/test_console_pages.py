"""The console's pages over a workspace with one audited night: calls, the call page with
its transcript and evidence, revealing a number, agents, rules and try-a-rule, search and
users; the role and CSRF checks of each; where the ledger says each call was read."""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient

from cli import main
from engine.actions.ledger import Ledger
from engine.model import Call
from engine.nightly.config import NightlyConfig, load_config
from engine.transcripts import load_file
from engine.transcripts.jsonl import read_jsonl_at
from engine.transcripts.shards import load_shard, plan_shards
from engine.users import add_user, user
from tests.conftest import isolate
from tests.test_workspace import COMPLAINT_CALL, DAY, phone_of, write_night
from webconsole.app import create_app

PASSWORD = "correct horse 1"
PEOPLE = {"mgr": ("manager",), "qa1": ("qa",), "boss": ("admin",), "comp": ("compliance",)}


def _night(root: Path, *extra: str) -> Path:
    workspace = root / "qa"
    workspace.mkdir(parents=True)
    config = workspace / "callaudit.yaml"
    assert CliRunner().invoke(main, ["init", "--path", str(config)]).exit_code == 0
    write_night(workspace / "transcripts" / DAY.isoformat())
    night = CliRunner().invoke(main, ["nightly", "--date", DAY.isoformat(), "--config",
                                      str(config), *extra])
    assert night.exit_code == 0, night.output
    return workspace


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("console")
    with pytest.MonkeyPatch.context() as monkeypatch:
        isolate(monkeypatch, root / "home")
        folder = _night(root)
        config = load_config(folder / "callaudit.yaml")
        with Ledger(config.database) as ledger:
            for name, roles in PEOPLE.items():
                add_user(ledger, name, PASSWORD, roles, "test")
        yield folder


@pytest.fixture(scope="module")
def config(workspace: Path) -> NightlyConfig:
    return load_config(workspace / "callaudit.yaml")


def signed_in_as(config: NightlyConfig, name: str) -> TestClient:
    client = TestClient(create_app(config, secure_cookies=False))
    response = client.post("/login", data={"name": name, "password": PASSWORD},
                           follow_redirects=False)
    assert response.status_code == 303, response.text
    return client


def csrf_of(client: TestClient) -> str:
    page = client.get("/search").text
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found
    return found.group(1)


def ledger_rows(config: NightlyConfig, query: str, args: tuple = ()) -> list[sqlite3.Row]:
    with Ledger(config.database) as ledger:
        return ledger.db.execute(query, args).fetchall()


# -- the call page ------------------------------------------------------------------------------


def test_the_call_page_shows_the_turns_and_marks_exactly_each_quote(config):
    page = signed_in_as(config, "qa1").get(f"/calls/{COMPLAINT_CALL}")
    assert page.status_code == 200
    assert "您好，我是中国电信回访专员" in page.text  # a turn, read back from the transcript
    assert "only the quoted evidence" not in page.text
    findings = ledger_rows(config, "SELECT fingerprint, evidence FROM findings WHERE "
                                   "call_id = ? AND active = 1", (COMPLAINT_CALL,))
    checked = 0
    for row in findings:
        evidence = json.loads(row["evidence"])
        for n, item in enumerate(evidence):
            others = [e for f in findings for e in json.loads(f["evidence"])
                      if e is not item and e["turn"] == item["turn"] and e != item]
            if any(o["char_start"] < item["char_end"] and item["char_start"] < o["char_end"]
                   for o in others):
                continue  # overlapping quotes are cut into pieces
            marked = re.search(rf'<mark class="evidence" id="ev-{row["fingerprint"]}-{n}"'
                               r'[^>]*>([^<]*)</mark>', page.text)
            assert marked, item
            assert marked.group(1) == item["quote"]
            checked += 1
    assert checked >= 2
    assert phone_of(COMPLAINT_CALL) not in page.text  # masked for everyone


def test_the_rule_link_opens_the_rule_file_at_its_line(config):
    client = signed_in_as(config, "qa1")
    page = client.get(f"/calls/{COMPLAINT_CALL}").text
    link = re.search(r'href="(/rules/file\?path=([^"#]+)#L(\d+))"', page)
    assert link, page
    assert "Why · 依据" in page  # the rule's rationale from the compiled pack
    shown = client.get(link.group(1).replace("&amp;", "&"))
    assert shown.status_code == 200
    line = int(link.group(3))
    text_line = re.search(rf'<div id="L{line}">.*?</a>(.*?)</div>', shown.text).group(1)
    assert "- id:" in text_line


@pytest.mark.parametrize("path", ["../callaudit.yaml", "/etc/passwd", "zh-CN/../../callaudit.yaml",
                                  "zh-CN/nothing.yaml"])
def test_rule_files_outside_the_rules_folder_are_refused(config, path):
    response = signed_in_as(config, "qa1").get("/rules/file", params={"path": path})
    assert response.status_code == 404
    assert "database" not in response.text


def test_a_moved_transcript_still_shows_the_evidence_with_a_note(config, workspace):
    source = workspace / "transcripts" / DAY.isoformat() / "calls.jsonl"
    moved = source.with_name("moved.txt.bak")
    source.rename(moved)
    try:
        page = signed_in_as(config, "qa1").get(f"/calls/{COMPLAINT_CALL}")
    finally:
        moved.rename(source)
    assert page.status_code == 200
    assert "only the quoted evidence is shown" in page.text
    assert ">接着投诉</mark>" in page.text
    assert "您好，我是中国电信回访专员" not in page.text


def test_a_changed_transcript_is_not_shown_as_the_audited_one(config, workspace):
    source = workspace / "transcripts" / DAY.isoformat() / "calls.jsonl"
    original = source.read_bytes()
    source.write_bytes(original.replace("接着投诉".encode(), "接着反映".encode()))
    try:
        page = signed_in_as(config, "qa1").get(f"/calls/{COMPLAINT_CALL}")
    finally:
        source.write_bytes(original)
    assert "changed since the call was audited" in page.text
    assert ">接着投诉</mark>" in page.text


def test_the_calls_list_filters_and_links_to_call_pages(config):
    client = signed_in_as(config, "qa1")
    page = client.get("/calls", params={"night": DAY.isoformat(), "valid": "no"}).text
    invalid = {r[0] for r in ledger_rows(config, "SELECT call_id FROM calls WHERE valid = 0")}
    listed = set(re.findall(r'href="/calls/([^"?]+)"', page))
    assert listed == invalid
    assert client.get("/calls", params={"rule": "complaint-threat"}).text.count(
        f'href="/calls/{COMPLAINT_CALL}"') == 1


def test_agents_pages_show_rates_and_calls(config):
    client = signed_in_as(config, "qa1")
    agent = ledger_rows(config, "SELECT agent_id FROM calls WHERE call_id = ?",
                        (COMPLAINT_CALL,))[0][0]
    listing = client.get("/agents")
    assert listing.status_code == 200 and f'href="/agents/{agent}"' in listing.text
    page = client.get(f"/agents/{agent}")
    assert page.status_code == 200
    assert "<svg" in page.text and f'href="/calls/{COMPLAINT_CALL}"' in page.text


# -- where each call was read ----------------------------------------------------------------


def _places(database: Path) -> dict[str, tuple[str, int]]:
    with sqlite3.connect(database) as db:
        return {r[0]: (r[1], r[2]) for r in db.execute(
            "SELECT call_id, source, source_offset FROM calls")}


def test_a_night_records_each_calls_source_and_offset_in_both_paths(config, workspace,
                                                                    tmp_path, monkeypatch):
    isolate(monkeypatch, tmp_path / "home")
    single = _places(config.database)
    source = workspace / "transcripts" / DAY.isoformat() / "calls.jsonl"
    for call_id, (where, offset) in single.items():
        path, line = where.rsplit(":", 1)
        assert Path(path) == source and line.isdigit() and offset is not None
        assert read_jsonl_at(path, offset).call_id == call_id
    other = _night(tmp_path, "--workers", "2")
    workers = _places(load_config(other / "callaudit.yaml").database)
    assert {c: (w.split(":")[-1], o) for c, (w, o) in workers.items()} == \
        {c: (w.split(":")[-1], o) for c, (w, o) in single.items()}


def test_shards_give_the_offsets_a_whole_file_read_gives(workspace):
    source = workspace / "transcripts" / DAY.isoformat() / "calls.jsonl"
    whole = {c.call_id: (str(c.source), c.source.offset) for c in load_file(source)
             if isinstance(c, Call)}
    sharded = {c.call_id: (str(c.source), c.source.offset)
               for shard in plan_shards([source], size=3000) for c in load_shard(shard)
               if isinstance(c, Call)}
    assert sharded == whole and len(whole) > 10


# -- revealing a number ------------------------------------------------------------------------


def test_a_manager_sees_the_full_number_and_the_look_is_recorded(config):
    client = signed_in_as(config, "mgr")
    full = ledger_rows(config, "SELECT phone FROM calls WHERE call_id = ?",
                       (COMPLAINT_CALL,))[0][0]
    assert full not in client.get(f"/calls/{COMPLAINT_CALL}").text
    page = client.post("/reveal", data={"call_id": COMPLAINT_CALL, "csrf": csrf_of(client)})
    assert page.status_code == 200
    assert full in page.text
    rows = ledger_rows(config, "SELECT * FROM history WHERE kind = 'phone' AND ref = ? AND "
                               "event = 'revealed'", (COMPLAINT_CALL,))
    assert rows and rows[-1]["who"] == "mgr"


def test_a_qa_user_may_not_reveal_a_number(config):
    client = signed_in_as(config, "qa1")
    before = len(ledger_rows(config, "SELECT id FROM history WHERE kind = 'phone'"))
    response = client.post("/reveal", data={"call_id": COMPLAINT_CALL, "csrf": csrf_of(client)})
    assert response.status_code == 403
    full = ledger_rows(config, "SELECT phone FROM calls WHERE call_id = ?",
                       (COMPLAINT_CALL,))[0][0]
    assert full not in response.text
    assert len(ledger_rows(config, "SELECT id FROM history WHERE kind = 'phone'")) == before


# -- roles and CSRF ---------------------------------------------------------------------------


def test_anyone_signed_in_may_read_the_rule_a_finding_links_to(config):
    response = signed_in_as(config, "mgr").get("/rules/file",
                                               params={"path": "zh-CN/consent.yaml"})
    assert response.status_code == 200 and 'id="L1"' in response.text


@pytest.mark.parametrize(("who", "method", "path", "data"), [
    ("qa1", "POST", "/reveal", {"call_id": COMPLAINT_CALL}),
    ("comp", "POST", "/reveal", {"call_id": COMPLAINT_CALL}),
    ("mgr", "GET", "/rules", None),
    ("mgr", "POST", "/rules/try", {"call_id": COMPLAINT_CALL}),
    ("qa1", "GET", "/users", None),
    ("mgr", "POST", "/users/add", {"name": "intruder", "password": "x" * 12, "roles": "admin"}),
    ("comp", "POST", "/users/roles", {"name": "qa1", "roles": "admin"}),
    ("qa1", "POST", "/users/state", {"name": "boss", "action": "disable"}),
])
def test_a_user_without_the_role_gets_403(config, who, method, path, data):
    client = signed_in_as(config, who)
    if method == "GET":
        response = client.get(path)
    else:
        response = client.post(path, data={**data, "csrf": csrf_of(client)})
    assert response.status_code == 403
    with Ledger(config.database) as ledger:
        assert user(ledger, "intruder") is None
        assert user(ledger, "qa1").roles == ("qa",)
        assert user(ledger, "boss").disabled_at is None


@pytest.mark.parametrize("token", [None, "forged-token"])
@pytest.mark.parametrize(("who", "path", "data"), [
    ("boss", "/users/add", {"name": "sneaky", "password": "x" * 12, "roles": "admin"}),
    ("boss", "/users/state", {"name": "qa1", "action": "disable"}),
    ("mgr", "/reveal", {"call_id": COMPLAINT_CALL}),
    ("comp", "/rules/try", {"call_id": COMPLAINT_CALL}),
])
def test_a_post_without_the_right_csrf_token_is_refused_and_changes_nothing(config, token,
                                                                             who, path, data):
    client = signed_in_as(config, who)
    before = ledger_rows(config, "SELECT count(*) FROM history WHERE kind IN ('user', 'phone') "
                                 "AND event NOT IN ('signed in', 'sign-in refused')")[0][0]
    response = client.post(path, data={**data, **({"csrf": token} if token else {})})
    assert response.status_code == 403
    assert ledger_rows(config, "SELECT count(*) FROM history WHERE kind IN ('user', 'phone') "
                               "AND event NOT IN ('signed in', 'sign-in refused')")[0][0] == before
    with Ledger(config.database) as ledger:
        assert user(ledger, "sneaky") is None and user(ledger, "qa1").disabled_at is None


# -- try a rule -----------------------------------------------------------------------------


def test_try_the_rules_on_a_pasted_call(config, workspace):
    source = workspace / "transcripts" / DAY.isoformat() / "calls.jsonl"
    line = next(x for x in source.read_text(encoding="utf-8").splitlines()
                if COMPLAINT_CALL in x)
    client = signed_in_as(config, "comp")
    page = client.post("/rules/try", data={"records": line, "csrf": csrf_of(client)})
    assert page.status_code == 200
    assert "complaint-threat" in page.text
    assert '<mark class="evidence">接着投诉</mark>' in page.text
    by_id = client.post("/rules/try", data={"call_id": COMPLAINT_CALL, "csrf": csrf_of(client)})
    assert by_id.status_code == 200 and '<mark class="evidence">接着投诉</mark>' in by_id.text


@pytest.mark.parametrize(("pasted", "says"), [
    ('{"call_id": "X-1", "turns": [', "broken JSON"),
    ('{"call_id": "X-2"}', "call_type must be one of"),
])
def test_try_the_rules_on_bad_input_gives_the_loaders_message(config, pasted, says):
    client = signed_in_as(config, "qa1")
    page = client.post("/rules/try", data={"records": pasted, "csrf": csrf_of(client)})
    assert page.status_code == 400
    assert says in page.text
    assert "Traceback" not in page.text


# -- search ---------------------------------------------------------------------------------


def test_search_by_a_full_number_shows_its_history_masked(config):
    number = phone_of(COMPLAINT_CALL)
    page = signed_in_as(config, "qa1").get("/search", params={"q": number})
    assert page.status_code == 200
    assert "proposed" in page.text and f'href="/calls/{COMPLAINT_CALL}"' in page.text
    digits = re.sub(r"\D", "", number)
    assert digits not in page.text and digits[-11:] not in re.sub(r"\D", "", page.text)


def test_search_by_call_and_agent_id(config):
    client = signed_in_as(config, "qa1")
    assert f'href="/calls/{COMPLAINT_CALL}"' in client.get("/search",
                                                           params={"q": COMPLAINT_CALL}).text
    agent = ledger_rows(config, "SELECT agent_id FROM calls WHERE call_id = ?",
                        (COMPLAINT_CALL,))[0][0]
    assert f'href="/agents/{agent}"' in client.get("/search", params={"q": agent}).text


# -- users ----------------------------------------------------------------------------------


def test_an_admin_adds_and_disables_a_user_and_both_are_in_the_history(config):
    client = signed_in_as(config, "boss")
    added = client.post("/users/add", data={"name": "li.na", "password": "a-long-password",
                                            "roles": ["qa", "compliance"],
                                            "csrf": csrf_of(client)})
    assert added.status_code == 200 and "li.na" in added.text
    with Ledger(config.database) as ledger:
        assert user(ledger, "li.na").roles == ("qa", "compliance")
    assert signed_in_as(config, "boss").post(
        "/login", data={"name": "li.na", "password": "a-long-password"},
        follow_redirects=False).status_code == 303
    disabled = client.post("/users/state", data={"name": "li.na", "action": "disable",
                                                 "csrf": csrf_of(client)})
    assert disabled.status_code == 200
    with Ledger(config.database) as ledger:
        assert user(ledger, "li.na").disabled_at is not None
    events = [(r["event"], r["who"]) for r in ledger_rows(
        config, "SELECT * FROM history WHERE kind = 'user' AND ref = 'li.na' ORDER BY id")]
    assert ("created", "boss") in events and ("disabled", "boss") in events
    bad = client.post("/users/add", data={"name": "short", "password": "short", "roles": "qa",
                                          "csrf": csrf_of(client)})
    assert bad.status_code == 400 and "at least 10 characters" in bad.text


def test_every_page_is_served_with_the_workspace_data(config):
    client = signed_in_as(config, "boss")
    for path in ("/calls", f"/calls/{COMPLAINT_CALL}", "/agents", "/search", "/users"):
        assert client.get(path).status_code == 200, path
    assert client.get("/calls/NO-SUCH-CALL").status_code == 404


def test_a_recording_beside_the_transcript_gets_a_player_and_seek_links(config, workspace):
    recording = workspace / "transcripts" / DAY.isoformat() / f"{COMPLAINT_CALL}.wav"
    recording.write_bytes(b"RIFF....WAVEfmt not really audio")
    try:
        client = signed_in_as(config, "qa1")
        page = client.get(f"/calls/{COMPLAINT_CALL}").text
        served = client.get(f"/recordings/{COMPLAINT_CALL}")
    finally:
        recording.unlink()
    assert f'<audio controls preload="metadata" id="recording" src="/recordings/{COMPLAINT_CALL}"' \
        in page
    assert re.search(rf'href="/recordings/{COMPLAINT_CALL}#t=[0-9.]+"', page)
    assert 'class="seek" data-seek=' in page and "/static/seek.js" in page
    assert served.status_code == 200 and served.content.startswith(b"RIFF")
    assert client.get("/recordings/..%2F..%2Fcallaudit.yaml").status_code == 404
    assert client.get("/recordings/NO-SUCH-CALL").status_code == 404
