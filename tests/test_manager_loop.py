"""The manager's and QA's daily loop on a real night: callbacks withheld for numbers that
must not be called and released by a manager, blacklist decisions by entry or call and
reversed, the do-not-call list kept by hand, JSON lists for scripts, reviewers' verdicts
changing the call and its callback, and reviewed calls pasted back as rule examples."""

from __future__ import annotations

import csv
import io
import json
import shutil
import sqlite3
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from cli import main
from tests.conftest import REPO

DAY = "2026-11-23"
HOLDER = {"speaker": "agent", "text": "您好，请问您是机主本人吗？现在方便耽误您一分钟吗？"}
YES = {"speaker": "customer", "text": "是我，你说"}
PITCH = {"speaker": "agent", "text": (
    "给您推荐视频会员，可以看热门剧，下载APP用手机号登录就能看。资费每月10元，"
    "不需要发TD到10001退订。您看需要开通吗？")}
TRIAL_PITCH = {"speaker": "agent", "text": (
    "给您推荐视频会员，可以看热门剧，下载APP用手机号登录就能看。资费每月10元，免费体验到12月23号，"
    "之后每月10元，不需要发TD到10001退订。您看需要开通吗？")}
DONE = {"speaker": "agent", "text": "好的，已经为您开通了"}
EARLY_PITCH = {"speaker": "agent", "text": "您好，给您推荐一款视频会员"}


def say(speaker: str, text: str) -> dict[str, str]:
    return {"speaker": speaker, "text": text}


def call(call_id: str, phone: str, turns: list[dict[str, str]]) -> dict:
    return {"call_id": call_id, "call_type": "sale", "agent_id": "A7", "customer_phone": phone,
            "started_at": f"{DAY}T10:00:00+08:00", "language": "zh",
            "product": {"code": "TV", "name": "视频会员", "monthly_fee": 10},
            "turns": [{**t, "start": i * 5.0, "end": i * 5.0 + 4} for i, t in enumerate(turns)]}


# The workspace's consent rules have two flaws its officers fix later: a plain "好的" to the
# offer is not taken as consent (a false positive), and "知道了" is (a miss).
CALLS = [
    # flagged under the flawed rule, though the customer said yes: overturned by a reviewer
    call("FP", "13800000011", [HOLDER, YES, PITCH, say("customer", "好的"), DONE]),
    # passed under the flawed rule, though "知道了" is no consent: a reviewer records the miss
    call("MISS", "13800000012", [HOLDER, YES, PITCH, say("customer", "知道了"), DONE]),
    # invalid on two standards: pitched before the identity check, and no consent
    call("TWO", "13800000013", [EARLY_PITCH, HOLDER, YES, PITCH,
                                say("customer", "随便吧，你看着办"), DONE]),
    # invalid, and the customer threatened a complaint: a blacklist proposal too
    call("CPL", "13800000014", [HOLDER, YES, PITCH, say("customer", "随便吧，你看着办"), DONE,
                                say("customer", "你们这样我要去工信部投诉你们")]),
    # the customer asked not to be called again
    call("OPT", "13800000015", [HOLDER, say("customer", "以后别给我打电话了")]),
    # invalid, and the customer asked not to be called again: do-not-call at once
    call("INV-OPT", "13800000017", [HOLDER, YES, PITCH, say("customer", "随便吧，你看着办"), DONE,
                                    say("customer", "以后别给我打电话了")]),
    # a valid sale of a trial product: a second confirmation is due
    {**call("TRIAL", "13800000016", [HOLDER, YES, TRIAL_PITCH, say("customer", "好的，那就开通吧"),
                                     DONE]),
     "product": {"code": "TV", "name": "视频会员", "monthly_fee": 10, "trial_days": 30}},
]


def flaw(rules: Path) -> None:
    def edit(path: Path, old: str, new: str) -> None:
        text = path.read_text(encoding="utf-8")
        assert old in text, f"the flaw no longer fits {path.name}: {old!r}"  # rules changed
        path.write_text(text.replace(old, new, 1), encoding="utf-8")

    consent = rules / "zh-CN" / "consent.yaml"
    edit(consent, "first: [explicit_acceptance, acceptance_reply], then: activation_notice",
         "first: [explicit_acceptance], then: activation_notice")
    edit(consent, "        - not: {answered: {question: offer_question, with: accept, "
                  "then: activation_notice}}\n", "")
    edit(consent, "        - not: {answered: {act: offer, with: accept, "
                  "then: activation_notice}}\n", "")
    edit(rules / "zh-CN" / "matchers.yaml", "phrases: [同意办理,", "phrases: [知道了, 同意办理,")


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    """A workspace after one night, audited with the flawed consent rules."""
    root = tmp_path / "centre"
    root.mkdir()
    shutil.copytree(REPO / "rules", root / "rules")
    flaw(root / "rules")
    folder = root / "transcripts" / DAY
    folder.mkdir(parents=True)
    (folder / "calls.jsonl").write_text(
        "".join(json.dumps(c, ensure_ascii=False) + "\n" for c in CALLS), encoding="utf-8")
    config = root / "callaudit.yaml"
    assert CliRunner().invoke(main, ["init", "--path", str(config)]).exit_code == 0
    result = CliRunner().invoke(main, ["nightly", "--date", DAY, "--config", str(config)])
    assert result.exit_code == 0, result.output
    return root


def db(ws: Path) -> Path:
    return ws / "callaudit-ledger.db"


def run(ws: Path, *args: str, input: str | None = None):
    """A ledger command, on the workspace's ledger."""
    return CliRunner().invoke(main, [*args, "--db", str(db(ws))], input=input)


def review(ws: Path, *args: str):
    return CliRunner().invoke(
        main, ["review", *args, "--config", str(ws / "callaudit.yaml")])


def query(ws: Path, sql: str, *args: object) -> list[tuple]:
    with sqlite3.connect(db(ws)) as conn:
        return conn.execute(sql, args).fetchall()


def csv_rows(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig"))))


def callback_of(ws: Path, call_id: str) -> int:
    return query(ws, "SELECT id FROM callbacks WHERE call_id = ?", call_id)[0][0]


def entry_of(ws: Path, call_id: str) -> int:
    return query(ws, "SELECT id FROM blacklist WHERE call_id = ?", call_id)[0][0]


# -- the night, as the tests below expect it -----------------------------------------------


def test_the_night_is_as_the_loop_expects(ws):
    assert dict(query(ws, "SELECT call_id, valid FROM calls")) == {
        "FP": 0, "MISS": 1, "TWO": 0, "CPL": 0, "OPT": None, "INV-OPT": 0, "TRIAL": 1}
    assert json.loads(query(ws, "SELECT reasons FROM callbacks WHERE call_id = 'TWO'")[0][0]) \
        == ["consent", "identity"]


# -- callbacks withheld for numbers that must not be called ------------------------------


def test_export_withholds_do_not_call_and_approved_blacklist_numbers(ws, tmp_path):
    entry = entry_of(ws, "CPL")
    assert run(ws, "blacklist", "approve", str(entry), "--by", "王经理", "--reason",
               "威胁投诉").exit_code == 0
    out = tmp_path / "dialer.csv"
    result = run(ws, "callbacks", "export", "--due", "2026-12-31", "--out", str(out),
                 "--unmasked")
    assert result.exit_code == 0, result.output
    assert [r["call_id"] for r in csv_rows(out)] == ["FP", "TWO"]
    assert "2 withheld" in result.stdout
    held = {line.split(" · ")[1]: line for line in result.stderr.splitlines()
            if line.startswith("  callback")}
    assert set(held) == {"call CPL", "call INV-OPT"}
    assert "do-not-call since" in held["call INV-OPT"] \
        and '"别给我打电话"' in held["call INV-OPT"]
    assert "blacklist approved since" in held["call CPL"] and "by 王经理" in held["call CPL"] \
        and "威胁投诉" in held["call CPL"]
    assert "13800000014" not in result.stderr and "13800000017" not in result.stderr
    assert "callaudit callbacks release ID" in result.stderr
    # withheld orders are not marked exported
    assert query(ws, "SELECT call_id FROM callbacks WHERE exported_at IS NOT NULL "
                 "ORDER BY call_id") == [("FP",), ("TWO",)]


def test_a_number_put_on_do_not_call_by_hand_is_withheld_too(ws, tmp_path):
    assert run(ws, "dnc", "add", "138 0000 0013", "--reason", "客户来信要求不再来电",
               "--by", "李组长").exit_code == 0
    out = tmp_path / "dialer.csv"
    result = run(ws, "callbacks", "export", "--due", "2026-12-31", "--out", str(out))
    assert "TWO" not in [r["call_id"] for r in csv_rows(out)]
    (line,) = [line for line in result.stderr.splitlines() if "call TWO" in line]
    assert "by 李组长: 客户来信要求不再来电" in line


def test_a_released_callback_is_exported_next_time_and_the_release_recorded(ws, tmp_path):
    run(ws, "dnc", "add", "13800000013", "--reason", "来信", "--by", "李组长")
    order = callback_of(ws, "TWO")
    released = run(ws, "callbacks", "release", str(order), "--by", "王经理", "--reason",
                   "违规开通须回访退订")
    assert released.exit_code == 0, released.stderr
    assert "despite dnc" in released.stdout
    out = tmp_path / "dialer.csv"
    result = run(ws, "callbacks", "export", "--due", "2026-12-31", "--out", str(out),
                 "--unmasked")
    assert "TWO" in [r["call_id"] for r in csv_rows(out)]
    assert "call TWO" not in result.stderr
    assert query(ws, "SELECT who, event FROM history WHERE kind = 'callback' AND ref = ? "
                 "AND event = 'released'", str(order)) == [("王经理", "released")]
    # a release without a reason, or of an order that is not withheld, is refused
    assert run(ws, "callbacks", "release", str(order), "--by", "王经理").exit_code == 2
    again = run(ws, "callbacks", "release", str(callback_of(ws, "FP")), "--by", "王经理",
                "--reason", "x")
    assert again.exit_code == 2 and "is not withheld" in again.stderr


def test_a_release_does_not_cover_a_later_new_reason(ws, tmp_path):
    order = callback_of(ws, "CPL")
    run(ws, "blacklist", "approve", "CPL", "--by", "王经理")
    assert run(ws, "callbacks", "release", str(order), "--by", "王经理", "--reason",
               "须回访").exit_code == 0
    run(ws, "dnc", "add", "13800000014", "--reason", "客户来电要求", "--by", "李组长")
    out = tmp_path / "dialer.csv"
    result = run(ws, "callbacks", "export", "--due", "2026-12-31", "--out", str(out))
    assert "CPL" not in [r["call_id"] for r in csv_rows(out)]
    assert "call CPL" in result.stderr and "do-not-call" in result.stderr


# -- blacklist decisions by entry or call, reversed ---------------------------------------


def test_blacklist_decisions_by_call_id_and_reversal_kept_in_history(ws):
    assert run(ws, "blacklist", "approve", "CPL", "--by", "王经理").exit_code == 0
    reversed_ = run(ws, "blacklist", "reverse", "CPL", "--by", "张总监", "--reason",
                    "客户已撤回投诉")
    assert reversed_.exit_code == 0, reversed_.stderr
    assert "approved → rejected" in reversed_.stdout
    assert query(ws, "SELECT status, decided_by FROM blacklist") == [("rejected", "张总监")]
    entry = str(entry_of(ws, "CPL"))
    back = run(ws, "blacklist", "reverse", entry, "--by", "张总监", "--reason", "再审",
               "--to", "pending")
    assert back.exit_code == 0 and "rejected → pending" in back.stdout
    history = run(ws, "blacklist", "history", entry)
    assert history.exit_code == 0
    events = [line for line in history.stdout.splitlines() if "blacklist #" in line]
    assert [e.split("blacklist #")[1].split("  ")[1].strip() for e in events] == [
        "proposed", "approved", "reversed: approved → rejected", "reversed: rejected → pending"]
    assert "客户已撤回投诉" in history.stdout
    # a reversal needs a reason; a pending entry is decided, not reversed
    assert run(ws, "blacklist", "reverse", entry, "--by", "张总监").exit_code == 2
    pending = run(ws, "blacklist", "reverse", entry, "--by", "张总监", "--reason", "x")
    assert pending.exit_code == 2 and "approve or reject" in pending.stderr


def test_blacklist_history_by_call_id_or_full_number_and_masked_refused(ws):
    by_call = run(ws, "blacklist", "history", "CPL")
    by_number = run(ws, "blacklist", "history", "+86 138 0000 0014")
    assert by_call.exit_code == 0 and "proposed" in by_call.stdout
    assert by_call.stdout == by_number.stdout
    masked = run(ws, "blacklist", "history", "138****0014")
    assert masked.exit_code == 2
    assert "masked numbers cannot be looked up" in masked.stderr
    assert "call id" in masked.stderr and "--unmasked" in masked.stderr
    assert "No history" not in masked.output and "no history" not in masked.output
    unknown = run(ws, "blacklist", "approve", "NO-SUCH-CALL", "--by", "王经理")
    assert unknown.exit_code == 2 and "NO-SUCH-CALL" in unknown.stderr


# -- do-not-call by hand ---------------------------------------------------------------


def test_dnc_add_list_export_remove_with_history(ws, tmp_path):
    added = run(ws, "dnc", "add", "13900001111", "--reason", "客户来信", "--by", "李组长")
    assert added.exit_code == 0 and "******1111" in added.stdout
    listed = run(ws, "dnc", "list")
    assert "******1111" in listed.stdout and "李组长" in listed.stdout \
        and "客户来信" in listed.stdout and "别给我打电话" in listed.stdout
    assert "13900001111" not in listed.stdout
    out = tmp_path / "dnc.csv"
    assert run(ws, "dnc", "export", "--out", str(out), "--unmasked").exit_code == 0
    assert {r["phone"]: r["added_by"] for r in csv_rows(out)} == {
        "+8613800000015": "audit", "+8613800000017": "audit", "+8613900001111": "李组长"}
    # the hand-added number keeps a campaign row out
    campaign = tmp_path / "campaign.csv"
    campaign.write_text("姓名,手机号码\n甲,13900001111\n乙,13900002222\n", encoding="utf-8")
    scrub = run(ws, "suppress", "scrub", str(campaign), "--out", str(tmp_path / "clean.csv"))
    assert scrub.exit_code == 0, scrub.stderr
    assert [r["姓名"] for r in csv_rows(tmp_path / "clean.csv")] == ["乙"]
    # removing needs who and why, and is kept in the number's history
    assert run(ws, "dnc", "remove", "13900001111", "--by", "李组长").exit_code == 2
    removed = run(ws, "dnc", "remove", "13900001111", "--by", "李组长", "--reason",
                  "客户重新同意来电")
    assert removed.exit_code == 0
    assert "******1111" not in run(ws, "dnc", "list").stdout
    history = run(ws, "blacklist", "history", "13900001111")
    assert "removed" in history.stdout and "客户重新同意来电" in history.stdout
    masked = run(ws, "dnc", "remove", "139****2222", "--by", "李组长", "--reason", "x")
    assert masked.exit_code == 2 and "masked" in masked.stderr


def test_a_re_audit_does_not_put_back_a_number_a_manager_removed(ws):
    run(ws, "dnc", "remove", "13800000015", "--by", "李组长", "--reason", "号码已易主")
    config = ws / "callaudit.yaml"
    (ws / "rules" / "zh-CN" / "consent.yaml").write_text(
        (REPO / "rules" / "zh-CN" / "consent.yaml").read_text(encoding="utf-8"),
        encoding="utf-8")  # changed rules: every call is audited again
    result = CliRunner().invoke(main, ["nightly", "--date", DAY, "--config", str(config)])
    assert result.exit_code == 0, result.output
    assert query(ws, "SELECT phone FROM dnc") == [("+8613800000017",)]


# -- JSON for scripts ----------------------------------------------------------------------


@pytest.mark.parametrize("command", [
    ["callbacks", "list"], ["blacklist", "list"], ["blacklist", "history", "CPL"],
    ["trials", "list"], ["dnc", "list"]])
def test_every_list_command_gives_json_with_masked_numbers(ws, command):
    result = run(ws, *command, "--format", "json")
    assert result.exit_code == 0, result.stderr
    records = json.loads(result.stdout)
    assert isinstance(records, list) and records
    assert all(isinstance(r, dict) for r in records)
    assert len({tuple(r) for r in records}) == 1  # the same keys in every object
    assert "1380000001" not in result.stdout
    full = run(ws, *command, "--format", "json", "--unmasked")
    assert "1380000001" in full.stdout


def test_json_of_an_empty_list_is_an_empty_array(ws):
    result = run(ws, "callbacks", "list", "--status", "done", "--format", "json")
    assert result.exit_code == 0 and json.loads(result.stdout) == []


# -- reviews change the call, its callback, and the case library --------------------------


def fingerprint(ws: Path, call_id: str, standard: str) -> str:
    return query(ws, "SELECT fingerprint FROM findings WHERE call_id = ? AND standard = ?",
                 call_id, standard)[0][0]


def test_an_overturned_finding_makes_the_call_valid_and_withdraws_its_callback(ws):
    result = review(ws, fingerprint(ws, "FP", "consent"), "--verdict", "overturned", "--by",
                    "质检员", "--note", "客户说了好的")
    assert result.exit_code == 0, result.output
    assert "call FP is now valid" in result.stdout
    assert query(ws, "SELECT valid, violations FROM calls WHERE call_id = 'FP'") == [(1, "[]")]
    assert query(ws, "SELECT status, closed_by FROM callbacks WHERE call_id = 'FP'") == [
        ("withdrawn", "质检员")]
    assert query(ws, "SELECT active FROM agent_flags WHERE call_id = 'FP'") == [(0,)]
    listed = run(ws, "callbacks", "list", "--status", "withdrawn")
    assert "FP" in listed.stdout
    assert query(ws, "SELECT event FROM history WHERE kind = 'callback' AND ref = ? "
                 "ORDER BY id", str(callback_of(ws, "FP")))[-1] == ("withdrawn",)


def test_a_verdict_overturned_stays_overturned_when_changed_rules_re_audit_the_call(ws):
    review(ws, fingerprint(ws, "FP", "consent"), "--verdict", "overturned", "--by", "质检员")
    review(ws, "missed", "MISS", "--rule", "activation-without-explicit-consent", "--by",
           "质检员", "--note", "知道了不是同意")
    identity = ws / "rules" / "zh-CN" / "identity.yaml"
    identity.write_text(identity.read_text(encoding="utf-8") + "# reworded\n",
                        encoding="utf-8")  # changed rules: every call is audited again
    result = CliRunner().invoke(main, ["nightly", "--date", DAY, "--config",
                                       str(ws / "callaudit.yaml")])
    assert result.exit_code == 0, result.output
    assert dict(query(ws, "SELECT call_id, valid FROM calls WHERE call_id IN ('FP', 'MISS')")) \
        == {"FP": 1, "MISS": 0}
    assert query(ws, "SELECT call_id FROM callbacks WHERE status = 'open' AND call_id IN "
                 "('FP', 'MISS')") == [("MISS",)]
    assert query(ws, "SELECT call_id, active FROM agent_flags WHERE call_id IN ('FP', 'MISS') "
                 "ORDER BY call_id") == [("FP", 0), ("MISS", 1)]


def test_an_overturned_finding_leaves_a_callback_its_other_reasons(ws):
    result = review(ws, fingerprint(ws, "TWO", "consent"), "--verdict", "overturned", "--by",
                    "质检员")
    assert result.exit_code == 0, result.output
    assert query(ws, "SELECT valid, violations FROM calls WHERE call_id = 'TWO'") == [
        (0, '["identity"]')]
    status, reasons, points = query(ws, "SELECT status, reasons, points FROM callbacks "
                                    "WHERE call_id = 'TWO'")[0]
    assert (status, json.loads(reasons)) == ("open", ["identity"])
    assert "客户没有明确同意办理，坐席就告知已开通业务" not in json.loads(points)


def test_a_missed_violation_flags_orders_a_callback_and_marks_the_call_invalid(ws):
    result = review(ws, "missed", "MISS", "--rule", "activation-without-explicit-consent",
                    "--by", "质检员", "--note", "“知道了”不是同意")
    assert result.exit_code == 0, result.output
    assert query(ws, "SELECT valid, violations FROM calls WHERE call_id = 'MISS'") == [
        (0, '["consent"]')]
    assert query(ws, "SELECT agent_id, active FROM agent_flags WHERE call_id = 'MISS'") == [
        ("A7", 1)]
    # ordered as the policy orders one: critical → due one working day after the call
    assert query(ws, "SELECT status, severity, reasons, due_date FROM callbacks "
                 "WHERE call_id = 'MISS'") == [("open", "critical", '["consent"]', "2026-11-24")]
    assert "MISS" in run(ws, "callbacks", "list").stdout
    unknown = review(ws, "missed", "MISS", "--rule", "no-such-rule", "--by", "质检员",
                     "--note", "x")
    assert unknown.exit_code == 2 and "no-such-rule" in unknown.stderr


def paste(rule_file: Path, rule_id: str, group: str, items: list) -> None:
    """Paste example calls under a rule's `examples: <group>:`, as an officer would."""
    lines = rule_file.read_text(encoding="utf-8").splitlines(keepends=True)
    start = next(i for i, line in enumerate(lines) if line.strip() == f"- id: {rule_id}")
    at = next(i for i in range(start, len(lines)) if lines[i].strip() == f"{group}:")
    indent = " " * (len(lines[at]) - len(lines[at].lstrip()) + 2)
    text = yaml.safe_dump(items, allow_unicode=True, sort_keys=False, width=1000)
    lines[at + 1:at + 1] = [indent + line + "\n" for line in text.splitlines()]
    rule_file.write_text("".join(lines), encoding="utf-8")


RULE = "activation-without-explicit-consent"


def pasted_and_tested(tmp_path: Path, rules: Path, group: str, items: list):
    """Paste examples into a copy of the consent rules and run `rules test` on the pack."""
    pack = tmp_path / f"pack-{group}-{rules.parent.name}"
    shutil.copytree(rules / "zh-CN", pack)
    paste(pack / "consent.yaml", RULE, group, items)
    return CliRunner().invoke(main, ["rules", "test", str(pack)])


def exported(ws: Path, tmp_path: Path) -> list[dict]:
    out = tmp_path / "examples.yaml"
    result = review(ws, "export-examples", "--out", str(out))
    assert result.exit_code == 0, result.output
    return yaml.safe_load(out.read_text(encoding="utf-8"))


def test_an_overturned_finding_exports_a_compliant_example_that_passes_rules_test(ws,
                                                                                 tmp_path):
    assert review(ws, fingerprint(ws, "FP", "consent"), "--verdict", "overturned", "--by",
                  "质检员", "--note", "客户说了好的").exit_code == 0
    (entry,) = [e for e in exported(ws, tmp_path) if e.get("rule") == RULE]
    # The officers fix the flaw (the bundled rules are right) and paste the example in.
    fixed = pasted_and_tested(tmp_path, REPO / "rules", "compliant", entry["compliant"])
    assert fixed.exit_code == 0, fixed.output
    (example,) = entry["compliant"]  # the call once
    assert len(example["turns"]) == 5  # the whole call, not only the evidence turns
    # On the flawed rules it fails: it is the call the audit got wrong.
    flawed = pasted_and_tested(tmp_path, ws / "rules", "compliant", entry["compliant"])
    assert flawed.exit_code == 1 and f"{RULE}: compliant example" in flawed.stderr


def test_a_missed_violation_exports_a_violating_example_that_passes_rules_test(ws, tmp_path):
    assert review(ws, "missed", "MISS", "--rule", RULE, "--by", "质检员", "--note",
                  "知道了不是同意").exit_code == 0
    (entry,) = [e for e in exported(ws, tmp_path) if e.get("rule") == RULE]
    (example,) = entry["violating"]
    assert example["note"].startswith("MISS: missed by 质检员")
    fixed = pasted_and_tested(tmp_path, REPO / "rules", "violating", entry["violating"])
    assert fixed.exit_code == 0, fixed.output
    flawed = pasted_and_tested(tmp_path, ws / "rules", "violating", entry["violating"])
    assert flawed.exit_code == 1 and f"{RULE}: violating example" in flawed.stderr


def test_an_example_whose_transcript_is_gone_is_named_not_invented(ws, tmp_path):
    review(ws, fingerprint(ws, "FP", "consent"), "--verdict", "overturned", "--by", "质检员")
    shutil.rmtree(ws / "transcripts" / DAY)
    out = tmp_path / "examples.yaml"
    result = review(ws, "export-examples", "--out", str(out))
    assert result.exit_code == 0
    assert "call FP" in result.stderr and "--transcripts" in result.stderr
    assert yaml.safe_load(out.read_text(encoding="utf-8")) == []


# -- campaign lists with Chinese column names ----------------------------------------------


@pytest.mark.parametrize("column", ["手机号码", "联系电话", "客户电话", "电话号码", "mobile_phone",
                                    "MSISDN", "tel"])
def test_scrub_finds_the_phone_column_by_its_usual_names(ws, tmp_path, column):
    campaign = tmp_path / "campaign.csv"
    campaign.write_text(f"姓名,{column}\n甲,13800000015\n乙,13900002222\n", encoding="utf-8")
    result = run(ws, "suppress", "scrub", str(campaign), "--out", str(tmp_path / "clean.csv"))
    assert result.exit_code == 0, result.stderr
    assert [r["姓名"] for r in csv_rows(tmp_path / "clean.csv")] == ["乙"]
