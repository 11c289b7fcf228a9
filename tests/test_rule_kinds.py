"""Each rule kind and condition, on small packs and calls written in the test."""

from __future__ import annotations

import textwrap

import pytest

from engine.audit import audit_call
from tests.conftest import make_call

EXAMPLES = """
    examples:
      violating: [[{agent: x}]]
      compliant: [[{agent: y}]]
"""


def rule(body: str) -> str:
    """A rule with the common fields filled, so each test shows only what it is about."""
    return (
        "rules:\n  - id: r\n    standard: consent\n    severity: major\n    message: m\n"
        "    rationale: why\n" + "\n".join("    " + line for line in body.strip().splitlines())
        + "\n" + textwrap.indent(textwrap.dedent(EXAMPLES).strip("\n"), "    ") + "\n"
    )


MATCHERS = """
matchers:
  accept:
    speaker: customer
    phrases: [同意, 可以办]
    questions: false
  activate:
    speaker: agent
    phrases: [已经为您开通]
  identity:
    speaker: agent
    phrases: [是机主吗]
  pitch:
    speaker: agent
    phrases: [给您推荐]
  promise:
    speaker: agent
    phrases: [保证]
    except: [不能保证, 保证金]
  fee:
    speaker: agent
    phrases: [资费, 每月]
    homophones: true
  trial:
    speaker: agent
    phrases: [体验期]
  offer_question:
    speaker: agent
    phrases: [您同意办理吗, 给您开通好吗]
  reply_accept:
    speaker: customer
    phrases: [好的, 可以]
    replies_to: offer_question
    reply_within: 1
    unless_turn_says: [考虑, 再说]
"""


def findings(pack_factory, rule_yaml: str, turns, **fields):
    pack = pack_factory({"m.yaml": MATCHERS, "r.yaml": rule_yaml})
    return audit_call(pack, make_call(turns, **fields)).findings


# -- forbidden ---------------------------------------------------------------------------

def test_forbidden_quotes_every_hit(pack_factory):
    found = findings(pack_factory, rule("kind: forbidden\nmatcher: promise"),
                     [("agent", "我保证，真的保证"), ("customer", "你保证？")])
    assert len(found) == 1
    assert [(e.turn, e.quote) for e in found[0].evidence] == [(0, "保证"), (0, "保证")]


def test_forbidden_exceptions_cancel_overlapping_hits(pack_factory):
    found = findings(pack_factory, rule("kind: forbidden\nmatcher: promise"),
                     [("agent", "这个我不能保证"), ("agent", "需要交保证金")])
    assert found == ()


def test_negation_is_respected_and_double_negation_is_not_negation(pack_factory):
    body = rule("kind: forbidden\nmatcher: accept")
    assert findings(pack_factory, body, [("customer", "我不同意")]) == ()
    assert findings(pack_factory, body, [("customer", "没同意过")]) == ()
    assert len(findings(pack_factory, body, [("customer", "我不是不同意")])) == 1
    assert len(findings(pack_factory, body, [("customer", "不好意思，同意")])) == 1


def test_questions_can_be_excluded(pack_factory):
    body = rule("kind: forbidden\nmatcher: accept")
    assert findings(pack_factory, body, [("customer", "你是说我同意了？")]) == ()
    assert len(findings(pack_factory, body, [("customer", "好的我同意")])) == 1


def test_speaker_of_the_matcher_is_enforced(pack_factory):
    body = rule("kind: forbidden\nmatcher: promise")
    assert findings(pack_factory, body, [("customer", "你刚才说保证的")]) == ()


def test_homophones_match_when_asked(pack_factory):
    found = findings(pack_factory, rule("kind: forbidden\nmatcher: fee"), [("agent", "自费是五元")])
    assert [e.quote for e in found[0].evidence] == ["自费"]


# -- required ----------------------------------------------------------------------------

REQUIRED = rule("kind: required\nwhen: {said: activate}\nmatcher: fee\nbefore: activate")


def test_required_missing_points_at_the_deadline(pack_factory):
    found = findings(pack_factory, REQUIRED, [("agent", "已经为您开通")])
    assert [(e.turn, e.quote) for e in found[0].evidence] == [(0, "已经为您开通")]


def test_required_said_too_late_is_missing(pack_factory):
    found = findings(pack_factory, REQUIRED,
                     [("agent", "已经为您开通"), ("agent", "资费五元")])
    assert len(found) == 1


def test_required_said_in_time(pack_factory):
    turns = [("agent", "资费五元"), ("agent", "已经为您开通")]
    assert findings(pack_factory, REQUIRED, turns) == ()


def test_required_does_not_apply_when_the_condition_is_false(pack_factory):
    assert findings(pack_factory, REQUIRED, [("agent", "您好")]) == ()


# -- precedence --------------------------------------------------------------------------

PRECEDENCE = rule("kind: precedence\ntrigger: pitch\nrequires_before: identity")


def test_precedence_violated_when_confirmed_after(pack_factory):
    found = findings(pack_factory, PRECEDENCE,
                     [("agent", "给您推荐一个套餐"), ("agent", "请问您是机主吗")])
    assert [(e.turn, e.quote) for e in found[0].evidence] == [(0, "给您推荐")]


def test_precedence_kept(pack_factory):
    assert findings(pack_factory, PRECEDENCE,
                    [("agent", "请问您是机主吗"), ("agent", "给您推荐一个套餐")]) == ()


def test_precedence_within_turns(pack_factory):
    body = rule("kind: precedence\ntrigger: activate\nrequires_before: accept\nwithin_turns: 2")
    far = [("customer", "同意"), ("agent", "a"), ("agent", "b"), ("agent", "已经为您开通")]
    near = [("agent", "a"), ("customer", "同意"), ("agent", "已经为您开通")]
    assert len(findings(pack_factory, body, far)) == 1
    assert findings(pack_factory, body, near) == ()


# -- condition and its parts ------------------------------------------------------------

@pytest.mark.parametrize(
    ("when", "turns", "fields", "fires"),
    [
        ("{all: [{said: pitch}, {not: {said: identity}}]}", [("agent", "给您推荐")], {}, True),
        ("{any: [{said: identity}, {said: pitch}]}", [("agent", "给您推荐")], {}, True),
        ("{before: {first: identity, then: pitch}}",
         [("agent", "给您推荐"), ("agent", "是机主吗")], {}, False),
        ("{before: {first: identity, then: pitch, within_turns: 1}}",
         [("agent", "是机主吗"), ("agent", "x"), ("agent", "给您推荐")], {}, False),
        ("{in_first_turns: {matcher: pitch, turns: 1}}",
         [("agent", "x"), ("agent", "给您推荐")], {}, False),
        ("{call_type: [second_confirmation]}", [("agent", "x")],
         {"call_type": "second_confirmation"}, True),
        ("{has_trial: true}", [("agent", "x")], {"product": {"trial_days": 30}}, True),
        ("{has_trial: true}", [("agent", "x")], {"product": {"trial_days": 0}}, False),
        ("{language: en}", [("agent", "x")], {}, False),
        ("{language: zh}", [("agent", "x")], {}, True),
        ("{product: [TV30]}", [("agent", "x")], {"product": {"code": "TV30"}}, True),
        ("{product: [TV30]}", [("agent", "x")], {"product": {"code": "MUSIC"}}, False),
        ("{call_type: [sale]}", [("agent", "x")], {"call_type": "second_confirmation"}, False),
        ("{said: {matcher: accept, by: agent}}", [("customer", "同意")], {}, False),
        # at_least counts matches, in_turns the turns that hold them
        ("{said: {matcher: accept, at_least: 2}}", [("customer", "同意，可以办")], {}, True),
        ("{said: {matcher: accept, in_turns: 2}}", [("customer", "同意，可以办")], {}, False),
        ("{said: {matcher: accept, in_turns: 2}}",
         [("customer", "同意"), ("agent", "x"), ("customer", "可以办")], {}, True),
    ],
)
def test_conditions(pack_factory, when, turns, fields, fires):
    found = findings(pack_factory, rule(f"kind: condition\nwhen: {when}"), turns, **fields)
    assert bool(found) is fires


# -- value checks ------------------------------------------------------------------------

FEE = rule("kind: fee_check\ncontext: fee")


@pytest.mark.parametrize(
    ("said", "fee", "fires"),
    [("每月只要五块钱", 10, True), ("每个月10块", 10, False), ("资费是十块", 5, True),
     ("资费是5元", 5, False), ("送您十块钱话费", 5, False), ("一块九毛九一个月", 1.99, False)],
)
def test_fee_check(pack_factory, said, fee, fires):
    found = findings(pack_factory, FEE, [("agent", said)], product={"monthly_fee": fee})
    assert bool(found) is fires
    if fires:
        assert "the product's fee is" in found[0].detail


def test_fee_check_skips_calls_without_a_fee(pack_factory):
    assert findings(pack_factory, FEE, [("agent", "每月五块")]) == ()


TRIAL = rule("kind: trial_end_check\ncontext: trial")


@pytest.mark.parametrize(
    ("said", "fires"),
    [("体验期到12月23号", False), ("体验期到十二月二十三日", False), ("体验期到12月31号", True),
     ("体验期到12月22号", False), ("今天是11月23号，体验期到12月23号", False),
     ("今天是11月23号，体验期到12月31号", True), ("11月5号开通的，体验期到12月23号", False)],
)
def test_trial_end_check(pack_factory, said, fires):
    found = findings(pack_factory, TRIAL, [("agent", said)],
                     product={"monthly_fee": 5, "trial_days": 30})
    assert bool(found) is fires
    if fires:
        assert found[0].evidence[0].quote == "12月31号"
        assert "2026-12-23" in found[0].detail


def test_trial_end_check_reads_a_billing_start_as_such_not_as_the_end(pack_factory):
    strict = rule("kind: trial_end_check\ncontext: trial\ntolerance_days: 0")
    turns = [("agent", "体验期到12月23号，12月24号起按月收费")]
    assert findings(pack_factory, strict, turns,
                    product={"monthly_fee": 5, "trial_days": 30}) == ()
    wrong = [("agent", "体验期到12月24号")]
    assert findings(pack_factory, strict, wrong,
                    product={"monthly_fee": 5, "trial_days": 30}) != ()


# -- replies and turn-level vetoes ----------------------------------------------------------

@pytest.mark.parametrize(
    ("turns", "fires"),
    [
        ([("agent", "您同意办理吗？"), ("customer", "好的")], True),
        ([("agent", "请问您是机主吗？"), ("customer", "好的")], False),
        ([("agent", "您同意办理吗？"), ("agent", "x"), ("customer", "可以")], False),
        ([("agent", "给您开通好吗？"), ("customer", "好的，我考虑一下")], False),
        ([("agent", "给您开通好吗？"), ("customer", "可以，再说吧")], False),
    ],
)
def test_replies_to_and_unless_turn_says(pack_factory, turns, fires):
    found = findings(pack_factory, rule("kind: forbidden\nmatcher: reply_accept"), turns)
    assert bool(found) is fires


def test_fee_check_ignores_unit_prices(pack_factory):
    found = findings(pack_factory, FEE, [("agent", "每月5元，超过两百条按一毛钱一条收")],
                     product={"monthly_fee": 5})
    assert found == ()


# -- rules passed over when a matcher they need never matched ----------------------------

@pytest.mark.parametrize(
    ("body", "needed"),
    [
        ("kind: forbidden\nmatcher: promise", [{"promise"}]),
        ("kind: condition\nwhen: {all: [{call_type: [sale]}, {said: pitch}, "
         "{not: {said: identity}}]}", [{"pitch"}]),
        ("kind: condition\nwhen: {any: [{said: identity}, {said: pitch}]}",
         [{"identity", "pitch"}]),
        ("kind: condition\nwhen: {any: [{said: identity}, {has_trial: true}]}", []),
        ("kind: required\nmatcher: fee\nwhen: {said: activate}", [{"activate"}]),
        ("kind: required\nmatcher: fee", []),
        ("kind: precedence\ntrigger: pitch\nrequires_before: [identity]", [{"pitch"}]),
        ("kind: trial_end_check\ncontext: trial\nwhen: {before: {first: identity, "
         "then: pitch}}", [{"pitch"}, {"trial"}]),
    ],
)
def test_a_rule_names_the_matchers_it_cannot_fire_without(pack_factory, body, needed):
    pack = pack_factory({"m.yaml": MATCHERS, "r.yaml": rule(body)})
    assert [set(n) for n in pack.rules[0].requirements] == needed


def test_a_rule_whose_condition_holds_without_matches_still_fires(pack_factory):
    body = rule("kind: condition\nwhen: {not: {said: identity}}")
    assert len(findings(pack_factory, body, [("agent", "x")])) == 1
    body = rule("kind: required\nmatcher: fee\nwhen: {call_type: [sale]}")
    assert len(findings(pack_factory, body, [("agent", "x")])) == 1


# -- status --------------------------------------------------------------------------------

def test_an_audit_runs_active_rules_experimental_ones_when_asked_deprecated_ones_never(
        pack_factory):
    rules = "rules:\n" + "".join(
        f"  - id: {status}-rule\n    kind: forbidden\n    matcher: promise\n"
        f"    status: {status}\n    standard: consent\n    severity: major\n    message: m\n"
        f"    rationale: why\n" + textwrap.indent(textwrap.dedent(EXAMPLES).strip("\n"), "    ")
        + "\n" for status in ("active", "experimental", "deprecated"))
    pack = pack_factory({"m.yaml": MATCHERS, "r.yaml": rules})
    call = make_call([("agent", "我保证")])
    assert [f.rule_id for f in audit_call(pack, call).findings] == ["active-rule"]
    with_experimental = audit_call(pack, call, include_experimental=True).findings
    assert sorted(f.rule_id for f in with_experimental) == ["active-rule", "experimental-rule"]
    assert audit_call(pack, call).findings[0].rule_id == "active-rule"  # nothing kept across


@pytest.mark.parametrize("text, counts", [
    ("I promise you it's free", True),
    ("I don't want to promise you something I can't stand behind", False),
    ("I won't promise you anything", False),
    ("I do not promise you anything", False),
])
def test_english_contractions_negate(pack_factory, text, counts):
    matchers = "matchers:\n  promise: {speaker: agent, phrases: [promise you]}\n"
    pack = pack_factory({"m.yaml": matchers + rule("kind: forbidden\nmatcher: promise")},
                        language="en")
    call = make_call([("agent", text)], language="en")
    assert bool(audit_call(pack, call).findings) is counts
