"""The action policy and the ledger, from the policy file to the states of every entry."""

from __future__ import annotations

import sqlite3
import textwrap
from dataclasses import replace
from datetime import date

import pytest

from engine.actions.durable_policy import PolicyRunner, call_facts, to_durable
from engine.actions.ledger import Ledger, LedgerError, add_working_days
from engine.actions.policy import AllOf, AnyOf, Fact, load_policy, negate
from engine.actions.runner import FollowUp
from engine.audit import PackChooser, audit_call
from engine.rules.problems import RulePackError
from tests.conftest import REPO, make_call

POLICY = REPO / "rules" / "actions.yaml"
CHOOSER = PackChooser(REPO / "rules")

HOLDER = ("agent", "您好，请问您是机主本人吗？现在方便耽误您一分钟吗？")
YES = ("customer", "是我，你说")
PITCH = ("agent", "给您推荐视频会员，可以看热门剧，下载APP用手机号登录就能看。资费每月10元，"
                  "免费体验到12月23号，之后每月10元，不需要发TD到10001退订。您看需要开通吗？")
TRIAL = {"code": "TV", "name": "视频会员", "monthly_fee": 10, "trial_days": 30}


def audit(turns, **fields):
    call = make_call(turns, customer_phone="13800138000", agent_id="A7", **fields)
    return audit_call(CHOOSER.for_call(call), call)


@pytest.fixture
def follow_up(tmp_path):
    with Ledger(tmp_path / "l.db") as ledger:
        yield FollowUp(load_policy(POLICY), ledger)


ACTIVATED = ("agent", "好的，已经为您开通了")
VALID_SALE = [HOLDER, YES, PITCH, ("customer", "好的，那就开通吧"), ACTIVATED]
INVALID_SALE = [HOLDER, YES, PITCH, ("customer", "嗯"), ACTIVATED]


# -- the policy file ------------------------------------------------------------------------

def write_policy(tmp_path, text: str):
    path = tmp_path / "actions.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_policy_errors_name_the_place_and_the_menu(tmp_path):
    path = write_policy(tmp_path, """\
        actions:
          - id: a
            action: callbak
            when: {signal: opt_out}
          - id: b
            action: callback
            when: {violation: [consnt]}
          - id: c
            action: dnc
            when: {signals: opt_out}
        """)
    with pytest.raises(RulePackError) as caught:
        load_policy(path)
    text = caught.value.render()
    assert "actions.yaml:3:13: error: action 'callbak' is not one of the allowed values" in text
    assert "did you mean 'callback'?" in text
    assert "actions.yaml:7:24: error: violation 'consnt' is not one of the allowed values" in text
    assert "a callback action needs 'due_working_days'" in text
    assert "unknown key 'signals' in a condition" in text


def test_conditions_compile_to_durable_json():
    cond = AllOf((AnyOf((Fact("call_type", "sale"),)), AnyOf((Fact("v_consent", 1),
                                                                 Fact("v_script", 1)))))
    assert to_durable(cond) == {"$and": [{"call_type": "sale"},
                                         {"$or": [{"v_consent": 1}, {"v_script": 1}]}]}
    assert to_durable(negate(cond)) == {"$or": [{"$neq": {"call_type": "sale"}},
                                                {"$and": [{"$neq": {"v_consent": 1}},
                                                          {"$neq": {"v_script": 1}}]}]}


def test_durable_runner_fires_the_matching_rules_in_policy_order():
    policy = load_policy(POLICY)
    runner = PolicyRunner(policy)
    result = audit(INVALID_SALE, product=TRIAL)
    fact = call_facts(result, policy.outcome_names, {})
    assert runner.fired(fact) == ["callback-invalid-call", "recheck-agent-of-invalid-call"]
    nothing = call_facts(audit([HOLDER, ("customer", "不需要，谢谢")]), policy.outcome_names, {})
    assert runner.fired(nothing) == []
    assert PolicyRunner(policy).ruleset == runner.ruleset  # registered once, reused


def test_the_runner_asks_durable_once_for_each_distinct_fact(monkeypatch):
    policy = load_policy(POLICY)
    runner = PolicyRunner(policy)
    asked: list[str] = []
    ask = runner._ask
    monkeypatch.setattr(runner, "_ask", lambda fact: asked.append(fact["id"]) or ask(fact))
    invalid = call_facts(audit(INVALID_SALE, product=TRIAL), policy.outcome_names, {})
    twin = dict(invalid, id="another call, the same facts")
    on_dnc = dict(invalid, id="a third call", k_on_dnc=1)
    assert runner.fired(invalid) == ["callback-invalid-call", "recheck-agent-of-invalid-call"]
    assert runner.fired(twin) == runner.fired(invalid)
    runner.fired(on_dnc)
    assert asked == [invalid["id"], "a third call"]


def test_kept_answers_are_what_durable_answers_for_facts_one_field_apart():
    policy = load_policy(POLICY)
    invalid = call_facts(audit(INVALID_SALE, product=TRIAL), policy.outcome_names, {})
    quiet = {k: 0 for k in invalid} | {"call_type": "sale", "valid": -1, "worst": -1}
    choices = {"call_type": ("sale", "second_confirmation", "callback"), "valid": (1, 0, -1),
               "worst": (-1, 0, 1, 2, 3)}
    trial_sale = dict(quiet, valid=1, has_trial=1)
    confirming = dict(quiet, call_type="second_confirmation", k_related_trial_open=1)
    runner, fresh = PolicyRunner(policy), PolicyRunner(policy)
    answers = set()
    for base in (invalid, quiet, trial_sale, confirming):
        for field in [k for k in base if k != "id"]:
            for value in choices.get(field, (0, 1)):
                fact = dict(base, id=f"{field}={value}", **{field: value})
                # Asked in turn, a key that left out a field would give one fact the
                # answer kept for its neighbour.
                assert runner.fired(fact) == fresh._ask(fact), fact
                answers.add(tuple(runner.fired(fact)))
    assert len(answers) > 5  # the fields changed what fired


def test_working_days_skip_weekends_and_holidays():
    friday = date(2026, 11, 27)
    assert add_working_days(friday, 1, frozenset(range(5)), frozenset()) == date(2026, 11, 30)
    assert add_working_days(friday, 1, frozenset(range(5)), frozenset({"2026-11-30"})) == \
        date(2026, 12, 1)


# -- the ledger -----------------------------------------------------------------------------

def test_invalid_sale_orders_a_callback_due_by_severity(follow_up):
    report = follow_up.apply(audit(INVALID_SALE, product=TRIAL))
    assert report.status == "new" and "callback" in report.actions
    (order,) = follow_up.ledger.callbacks()
    assert order["severity"] == "critical" and order["due_date"] == "2026-11-24"
    assert order["phone"] == "+8613800138000" and "consent" in order["reasons"]


def committed_calls(path) -> list[str]:
    """What another process reading the ledger sees."""
    with sqlite3.connect(path) as other:
        return [r[0] for r in other.execute("SELECT call_id FROM calls ORDER BY call_id")]


def test_a_night_commits_its_calls_in_groups_each_call_whole(follow_up, monkeypatch):
    ledger = follow_up.ledger
    calls = [audit(INVALID_SALE, product=TRIAL, call_id=f"G{n}") for n in range(5)]
    with ledger.grouped(most=2, seconds=3600):
        follow_up.apply(calls[0])
        assert committed_calls(ledger.path) == []  # not yet committed...
        assert ledger.callbacks()  # ...but this connection reads its own writes
        follow_up.apply(calls[1])
        assert committed_calls(ledger.path) == ["G0", "G1"]  # two: a commit
        follow_up.apply(calls[2])
        monkeypatch.setattr(Ledger, "_do_callback", lambda *args: 1 / 0)
        with pytest.raises(ZeroDivisionError):  # fails half-way through recording G3
            follow_up.apply(calls[3])
        monkeypatch.undo()
        follow_up.apply(calls[4])
    # The group ends with a commit; G3's half-recorded call was rolled back alone.
    assert committed_calls(ledger.path) == ["G0", "G1", "G2", "G4"]
    assert {r["call_id"] for r in ledger.callbacks()} == {"G0", "G1", "G2", "G4"}
    assert ledger.db.execute("SELECT COUNT(*) FROM findings WHERE call_id = 'G3'").fetchone()[0] \
        == 0


def test_same_call_same_rules_changes_nothing(follow_up):
    first = follow_up.apply(audit(INVALID_SALE, product=TRIAL))
    again = follow_up.apply(audit(INVALID_SALE, product=TRIAL))
    assert again.status == "unchanged" and again.actions == first.actions
    assert len(follow_up.ledger.callbacks()) == 1
    assert follow_up.ledger.db.execute("SELECT times_audited FROM calls").fetchone()[0] == 1


def test_changed_rules_supersede_only_what_nobody_acted_on(follow_up):
    complaint = [*INVALID_SALE, ("customer", "别再打了，我要投诉你们")]
    result = audit(complaint, product=TRIAL)
    follow_up.apply(result)
    ledger = follow_up.ledger
    (entry,) = ledger.blacklist("pending")
    ledger.decide_blacklist(entry["id"], approve=True, by="王经理", reason="多次投诉")
    changed = replace(result, verdict=replace(result.verdict, rule_pack_hash="sha256:new"))
    report = follow_up.apply(changed)
    assert report.status == "re-audited" and report.findings_superseded > 0
    assert [r["status"] for r in ledger.callbacks(status=None)] == ["superseded", "open"]
    assert [r["status"] for r in ledger.blacklist()] == ["approved"]  # the decision stands
    assert ledger.suppression("+8613800138000") == ["dnc", "blacklist approved"]


def test_decisions_need_a_name_a_reason_to_reject_and_a_pending_entry(follow_up):
    follow_up.apply(audit([HOLDER, ("customer", "我要去工信部投诉你们")]))
    ledger = follow_up.ledger
    (entry,) = ledger.blacklist("pending")
    with pytest.raises(LedgerError, match="a rejection needs a reason"):
        ledger.decide_blacklist(entry["id"], approve=False, by="王经理", reason=" ")
    ledger.decide_blacklist(entry["id"], approve=False, by="王经理", reason="只是抱怨")
    with pytest.raises(LedgerError, match="is rejected \\(by 王经理 on "):
        ledger.decide_blacklist(entry["id"], approve=True, by="李经理", reason="")
    assert ledger.suppression("+8613800138000") == []
    events = [r["event"] for r in ledger.history_of_phone("+8613800138000")]
    assert events == ["proposed", "rejected"]


def confirmation(turns, **fields):
    return audit(turns, call_type="second_confirmation", related_call_id="T-1",
                 product=TRIAL, **{"call_id": "C-2", **fields})


def test_valid_trial_sale_opens_an_obligation_that_a_declined_confirmation_closes(follow_up):
    follow_up.apply(audit(VALID_SALE, product=TRIAL))
    (trial,) = follow_up.ledger.trials()
    assert (trial["status"], trial["due_date"]) == ("open", "2026-12-23")
    report = follow_up.apply(confirmation([
        ("agent", "您好，您的视频会员体验期快到了，还继续使用吗？"),
        ("customer", "不要了，给我取消吧"),
        ("agent", "好的，已经为您取消包月，不会再扣费")]))
    assert "trial_confirmation" in report.actions
    (trial,) = follow_up.ledger.trials()
    assert (trial["status"], trial["closed_by_call"]) == ("cancelled", "C-2")


def test_unreachable_customer_extends_the_trial_by_one_period(follow_up):
    follow_up.apply(audit(VALID_SALE, product=TRIAL))
    follow_up.apply(confirmation([("agent", "喂？您好？喂？")]))
    (trial,) = follow_up.ledger.trials()
    assert (trial["status"], trial["due_date"], trial["extensions"]) == ("open", "2027-01-22", 1)
    assert follow_up.ledger.trials(overdue_on=date(2027, 1, 23))[0]["sale_call_id"] == "T-1"
    assert follow_up.ledger.trials(overdue_on=date(2027, 1, 22)) == []


def test_wanting_to_think_closes_only_with_the_cancel_method_and_number(follow_up):
    follow_up.apply(audit(VALID_SALE, product=TRIAL))
    follow_up.apply(confirmation([("customer", "我再考虑一下吧"), ("agent", "好的，那您考虑")]))
    assert follow_up.ledger.trials()[0]["status"] == "open"
    follow_up.apply(confirmation([("customer", "我再考虑一下吧"),
                                  ("agent", "好的，不需要的话发送TD到10001就能取消")],
                                 call_id="C-3"))
    assert follow_up.ledger.trials()[0]["status"] == "customer_informed"


def test_valid_callback_call_closes_the_callback_order(follow_up):
    follow_up.apply(audit(INVALID_SALE, product=TRIAL))
    callback = audit([HOLDER, YES, ("agent", "之前给您开通的会员，跟您确认一下是否需要")],
                     call_type="callback", related_call_id="T-1", call_id="CB-1")
    report = follow_up.apply(callback)
    assert "callback_result" in report.actions
    (order,) = follow_up.ledger.callbacks(status="done")
    assert order["closed_by"] == "CB-1"


def test_opt_out_is_never_taken_back(follow_up):
    result = audit([HOLDER, ("customer", "以后别给我打电话了")])
    follow_up.apply(result)
    follow_up.apply(replace(result, verdict=replace(result.verdict, signals=(),
                                                    rule_pack_hash="sha256:other")))
    assert follow_up.ledger.suppression("+8613800138000") == ["dnc"]


def test_schema_is_versioned_and_migrates_forward(tmp_path):
    import sqlite3

    from engine.actions.ledger import MIGRATIONS

    old = sqlite3.connect(tmp_path / "old.db")  # a ledger written by the first version
    for statement in MIGRATIONS[0].split(";"):
        if statement.strip():
            old.execute(statement)
    old.execute("PRAGMA user_version = 1")
    old.execute("INSERT INTO dnc VALUES ('+8613800138000', 'C1', '[]', '2026-11-01')")
    old.commit()
    old.close()
    with Ledger(tmp_path / "old.db") as ledger:
        assert ledger.schema_version == len(MIGRATIONS) >= 2
        assert ledger.suppression("13800138000") == ["dnc"]  # data kept across the migration
        assert ledger.db.execute("SELECT COUNT(*) FROM samplings").fetchone()[0] == 0
    with Ledger(tmp_path / "old.db") as ledger:  # opening again migrates nothing
        assert ledger.schema_version == len(MIGRATIONS)
