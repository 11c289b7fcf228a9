"""Dialogue acts and answers: each turn's act types, the question a customer answers and
how (accept / refuse / hedge / other), and the rule vocabulary built on them."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from cli import main
from engine.audit import audit_call, context_for
from engine.rules.problems import RulePackError
from tests.conftest import make_call

# A pack that uses no act or answer: reading its calls must not type any turn.
PLAIN = """
matchers:
  pitch:
    speaker: agent
    phrases: [给您推荐, tell you about]
rules:
  - id: no-pitch
    kind: forbidden
    standard: script
    severity: minor
    matcher: pitch
    message: m
    rationale: r
    examples:
      violating: [[{agent: 给您推荐}]]
      compliant: [[{agent: 您好}]]
"""


def dialogue(pack_factory, turns, language="zh"):
    """The call's acts and answers, as `check --show-matches` reads them."""
    pack = pack_factory({"m.yaml": PLAIN}, language=language)
    ctx = context_for(pack, make_call(turns, language=language))
    return ctx.dialogue


def acts_of(pack_factory, text, language="zh"):
    return dialogue(pack_factory, [("agent", text)], language).acts[0].acts


def answer(pack_factory, question, reply, language="zh"):
    found = dialogue(pack_factory, [("agent", question), ("customer", reply)], language)
    linked = found.answers[1]
    return None if linked is None else linked.answer_class


# -- act types ----------------------------------------------------------------------------

@pytest.mark.parametrize(("language", "text", "expected"), [
    ("zh", "请问您是机主本人吗？", {"yes_no_question"}),
    ("zh", "这个流量包开不开？", {"a_not_a_question", "offer"}),
    ("zh", "您看要不要试试", {"a_not_a_question", "offer"}),   # no "？": the shape asks
    ("zh", "每月五元，给您开通一下，行吗？", {"tag_question", "offer"}),
    ("zh", "现在方便耽误您一分钟吗？", {"permission_request", "yes_no_question"}),
    ("zh", "那我现在帮您办上哈", {"proposal"}),
    ("zh", "已经帮您办理成功了", {"completed"}),
    ("zh", "给您登记上了", {"completed"}),
    ("zh", "要是用不惯，随时可以退订", {"hypothetical"}),
    ("zh", "您之前是怎么知道这个业务的？", {"open_question"}),
    ("en", "Is this the primary account holder?", {"yes_no_question"}),
    ("en", "is this the primary account holder", {"yes_no_question"}),  # no "?" from ASR
    ("en", "We'll add it for you, all right?", {"tag_question", "offer"}),
    ("en", "Do you have a minute?", {"permission_request", "yes_no_question"}),
    ("en", "Would you like me to sign you up?", {"offer", "yes_no_question"}),
    ("en", "Let me go ahead and add it", {"proposal"}),
    ("en", "You're all set up with it now", {"completed"}),
    ("en", "Say I cancel later, it's free", {"hypothetical"}),
    ("en", "Your wife told me you wanted it", {"reported_speech"}),
])
def test_turns_are_typed(pack_factory, language, text, expected):
    assert acts_of(pack_factory, text, language) == expected


def test_a_proposal_is_not_a_completed_act_nor_is_a_conditional_one(pack_factory):
    assert "completed" not in acts_of(pack_factory, "那我现在帮您办上哈")
    assert "completed" not in acts_of(pack_factory, "如果您同意，已经给您开通的就保留")
    assert "completed" not in acts_of(pack_factory, "你上次说已经给我开通了", "zh")
    assert "completed" not in acts_of(pack_factory, "已经开通了吗？")


def test_an_indirect_a_not_a_is_not_a_question(pack_factory):
    assert acts_of(pack_factory, "想查有没有开通也是打10000") == frozenset()


# -- answers ------------------------------------------------------------------------------

@pytest.mark.parametrize(("language", "question", "reply", "expected"), [
    ("zh", "这个流量包开不开？", "开", "accept"),         # echo answers
    ("zh", "这个流量包开不开？", "办！", "accept"),
    ("zh", "这个流量包开不开？", "不开", "refuse"),
    ("zh", "给您开通一下，行吗？", "行", "accept"),
    ("zh", "给您开通一下，行吗？", "那就办吧", "accept"),
    ("zh", "给您开通一下，行吗？", "中", "accept"),
    ("zh", "给您开通一下，行吗？", "好嘞", "accept"),
    ("zh", "给您开通一下，行吗？", "嗯", "other"),         # a back-channel is no yes
    ("zh", "给您开通一下，行吗？", "哦", "other"),
    ("zh", "给您开通一下，行吗？", "我考虑考虑", "hedge"),
    ("zh", "给您开通一下，行吗？", "好的，我再考虑一下", "hedge"),
    ("zh", "给您开通一下，行吗？", "再说吧", "hedge"),
    ("zh", "您看还继续用吗？", "我还没想好", "hedge"),
    ("zh", "那我改天再给您打，您看行吗？", "哦……那也行", "accept"),
    ("zh", "给您开通一下，行吗？", "不需要，谢谢", "refuse"),
    ("zh", "给您开通一下，行吗？", "中国移动的吗", None),   # a question: not an answer
    ("zh", "请问您是机主本人吗？", "是 是我 这边信号不好啊", "accept"),
    ("zh", "请问您是机主本人吗？", "不是，我是他老婆", "refuse"),
    ("zh", "现在方便耽误您一分钟吗？", "我在开车，现在说不了", "refuse"),
    ("zh", "现在方便耽误您一分钟吗？", "你说吧，我在做饭呢", "accept"),
    ("zh", "现在方便耽误您一分钟吗？", "方便！咋不方便", "accept"),
    ("zh", "给您开通一下，行吗？", "我在开车", "other"),    # busy refuses permission only
    ("en", "Is this the primary account holder?", "Nope", "refuse"),
    ("en", "Is this the primary account holder?", "no", "refuse"),
    ("en", "Is this the primary account holder?", "It is.", "accept"),
    ("en", "Would you like me to add it?", "I would.", "accept"),
    ("en", "Would you like me to add it?", "uh-huh", "other"),
    ("en", "Would you like me to add it?", "I guess", "hedge"),
    ("en", "Would you like me to add it?", "Let me think about it", "hedge"),
    ("en", "Would you like me to add it?", "just send me something", "hedge"),
    ("en", "Would you like me to add it?", "No problem, go ahead", "accept"),
    ("en", "Do you have a minute?", "Not a good time, I'm driving", "refuse"),
    ("en", "Do you have a minute, or should I call back?", "No, I've got a minute", "accept"),
])
def test_answers_are_classed(pack_factory, language, question, reply, expected):
    assert answer(pack_factory, question, reply, language) == expected


def test_an_answer_links_past_back_channels_and_the_agent_s_own_run(pack_factory):
    found = dialogue(pack_factory, [
        ("agent", "每月五元，给您开通好吗？"),
        ("customer", "嗯"),
        ("customer", "那就办吧"),
        ("agent", "这个业务很实惠"),
        ("agent", "您看要不要试试？"),
        ("agent", "现在办还送流量"),
        ("customer", "行"),
    ])
    assert [(a.turn, a.question, a.answer_class) for a in found.answers if a] == [
        (1, 0, "other"), (2, 0, "accept"), (6, 4, "accept")]


def test_a_customer_question_breaks_the_link_until_the_agent_asks_again(pack_factory):
    found = dialogue(pack_factory, [
        ("agent", "每月五元，给您开通好吗？"),
        ("customer", "多少钱来着？"),
        ("customer", "行"),
        ("agent", "五块钱一个月"),
        ("customer", "好的"),
        ("agent", "那给您开通好吗？"),
        ("customer", "好的"),
    ])
    assert [(a.turn, a.question) for a in found.answers if a] == [(6, 5)]


# -- rule vocabulary ----------------------------------------------------------------------

ANSWER_RULES = """
matchers:
  offer_question:
    speaker: agent
    phrases: [给您开通, 开不开]
  permission_ask:
    speaker: agent
    phrases: [方便吗, 耽误您一分钟]
  pitch:
    speaker: agent
    phrases: [给您推荐]
  activation:
    speaker: agent
    phrases: [已经为您开通]
rules:
  - id: activated-without-a-yes
    kind: condition
    standard: consent
    severity: critical
    when:
      all:
        - said: activation
        - not: {answered: {question: offer_question, with: accept, then: activation}}
    message: m
    rationale: r
    examples:
      violating: [[{agent: 开不开？}, {customer: 嗯}, {agent: 已经为您开通了}]]
      compliant: [[{agent: 开不开？}, {customer: 开}, {agent: 已经为您开通了}]]
  - id: pitched-through-a-refusal
    kind: condition
    standard: identity
    severity: major
    when: {answered: {act: permission_request, with: [refuse, hedge], then: pitch}}
    message: m
    rationale: r
    examples:
      violating: [[{agent: 现在方便吗？}, {customer: 我在开车}, {agent: 给您推荐一款流量包}]]
      compliant: [[{agent: 现在方便吗？}, {customer: 方便，你说}, {agent: 给您推荐一款流量包}]]
"""


def audit(pack_factory, rules, turns, language="zh"):
    pack = pack_factory({"r.yaml": rules}, language=language)
    return audit_call(pack, make_call(turns, language=language)).findings


def test_answered_accepts_an_echo_and_not_a_back_channel(pack_factory):
    said_yes = audit(pack_factory, ANSWER_RULES,
                     [("agent", "开不开？"), ("customer", "开！"), ("agent", "好，已经为您开通了")])
    assert said_yes == ()
    said_hm = audit(pack_factory, ANSWER_RULES,
                    [("agent", "开不开？"), ("customer", "嗯"), ("agent", "好，已经为您开通了")])
    assert [f.rule_id for f in said_hm] == ["activated-without-a-yes"]


def test_answered_evidence_is_the_question_the_answer_and_what_followed(pack_factory):
    found = audit(pack_factory, ANSWER_RULES, [
        ("agent", "现在方便耽误您一分钟吗？"),
        ("customer", "我在开车，现在说不了"),
        ("agent", "就一分钟，给您推荐一款流量包"),
    ])
    assert [f.rule_id for f in found] == ["pitched-through-a-refusal"]
    assert [(e.turn, e.quote) for e in found[0].evidence] == [
        (0, "现在方便耽误您一分钟吗"), (1, "开车"), (2, "给您推荐")]


def test_answered_then_stops_at_a_change_of_mind(pack_factory):
    found = audit(pack_factory, ANSWER_RULES, [
        ("agent", "现在方便吗？"),
        ("customer", "我在开车"),
        ("agent", "就一分钟，您看方便吗？"),
        ("customer", "行吧，你说"),
        ("agent", "给您推荐一款流量包"),
    ])
    assert found == ()


PRECEDENCE = """
matchers:
  permission_ask: {speaker: agent, phrases: [方便吗, do you have a minute]}
  pitch: {speaker: agent, phrases: [给您推荐, tell you about]}
rules:
  - id: pitch-before-permission-granted
    kind: precedence
    standard: identity
    severity: major
    trigger: pitch
    requires_before: permission_ask
    same_turn: true
    answered_with: accept
    message: m
    rationale: r
    examples:
      violating: [[{agent: 现在方便吗？}, {customer: 在开车}, {agent: 给您推荐}]]
      compliant: [[{agent: 现在方便吗？}, {customer: 方便}, {agent: 给您推荐}]]
"""


def test_precedence_answered_with_needs_the_permission_granted(pack_factory):
    granted = audit(pack_factory, PRECEDENCE, [
        ("agent", "想给您推荐个业务，现在方便吗？"), ("customer", "方便，你说"),
        ("agent", "给您推荐一款流量包")])
    assert granted == ()
    refused = audit(pack_factory, PRECEDENCE, [
        ("agent", "想给您推荐个业务，现在方便吗？"), ("customer", "不方便"),
        ("agent", "给您推荐一款流量包")])
    assert [(e.turn, e.quote) for e in refused[0].evidence] == [(1, "不方便"), (2, "给您推荐")]
    # Nothing was sold (the test pack has no sale_made): a coaching note (reading P1).
    assert refused[0].detail.startswith("the customer's answer to it: refuse; no sale")


def test_a_matcher_can_be_kept_to_turns_of_an_act(pack_factory):
    rules = """
    matchers:
      offered_trial:
        speaker: agent
        phrases: [免费体验]
        acts: [offer, tag_question]
    rules:
      - id: r
        kind: forbidden
        standard: script
        severity: minor
        matcher: offered_trial
        message: m
        rationale: r
        examples:
          violating: [[{agent: 免费体验一个月，给您开通好吗？}]]
          compliant: [[{agent: 免费体验一个月}]]
    """
    asked = audit(pack_factory, rules, [("agent", "免费体验一个月，给您开通好吗？")])
    told = audit(pack_factory, rules, [("agent", "这个可以免费体验一个月")])
    assert len(asked) == 1 and told == ()


def test_the_pack_can_add_and_remove_words(pack_factory):
    pack = pack_factory({"m.yaml": PLAIN}, header="""
        acts:
          accept: [得劲]
          back_channel: {add: [收到], remove: [哦]}
        """)
    turns = [("agent", "给您开通好吗？"), ("customer", "得劲"),
             ("agent", "给您开通好吗？"), ("customer", "收到"),
             ("agent", "给您开通好吗？"), ("customer", "哦")]
    found = context_for(pack, make_call(turns)).dialogue
    assert [a.answer_class for a in found.answers if a] == ["accept", "other", "other"]
    assert found.answers[5].end > found.answers[5].start  # 哦 is no longer a back-channel


def test_apostrophes_in_pack_yaml_reach_the_answer_words(pack_factory):
    turns = [("agent", "would you like me to add it"), ("customer", "nah im not interested"),
             ("agent", "would you like me to add it"), ("customer", "ill take it")]
    on = pack_factory({"m.yaml": PLAIN}, language="en", header="apostrophes: true\n")
    found = context_for(on, make_call(turns, language="en")).dialogue
    assert [a.answer_class for a in found.answers if a] == ["refuse", "accept"]
    off = pack_factory({"m.yaml": PLAIN}, language="en")
    found = context_for(off, make_call(turns, language="en")).dialogue
    assert [a.answer_class for a in found.answers if a] == ["refuse", "other"]  # "nah" alone


def test_a_pack_that_asks_for_no_act_types_no_turn(pack_factory):
    pack = pack_factory({"m.yaml": PLAIN})
    audit_call(pack, make_call([("agent", "给您推荐一款流量包，开不开？"), ("customer", "开")]))
    assert pack.acts is not None and pack.acts._lexicon is None and not pack.acts._kept


# -- rule-file errors ---------------------------------------------------------------------

def problems(pack_factory, rules):
    with pytest.raises(RulePackError) as caught:
        pack_factory({"r.yaml": rules})
    return caught.value.render()


def test_an_unknown_act_type_is_named_with_the_allowed_ones(pack_factory):
    text = problems(pack_factory, ANSWER_RULES.replace("act: permission_request",
                                                       "act: permision_request"))
    assert "r.yaml:33:28: error" in text
    assert "act 'permision_request' is not one of the allowed values" in text
    assert "did you mean 'permission_request'?" in text


def test_an_unknown_answer_class_is_named_with_the_allowed_ones(pack_factory):
    text = problems(pack_factory, ANSWER_RULES.replace("with: accept", "with: acept"))
    assert "with 'acept' is not one of the allowed values" in text
    assert "did you mean 'accept'?" in text and "hedge" in text


def test_answered_needs_a_question(pack_factory):
    text = problems(pack_factory, ANSWER_RULES.replace(
        "{answered: {act: permission_request, with: [refuse, hedge], then: pitch}}",
        "{answered: {with: refuse, then: pitch}}"))
    assert "'answered' needs the question" in text


def test_an_unknown_lexicon_list_in_pack_yaml(pack_factory):
    with pytest.raises(RulePackError) as caught:
        pack_factory({"m.yaml": PLAIN}, header="acts:\n  acept: [好]\n")
    assert "unknown key 'acept' in acts" in caught.value.render()


# -- check --show-matches -----------------------------------------------------------------

def test_show_matches_prints_acts_and_answer_links(tmp_path):
    call = {"call_id": "S-1", "call_type": "sale", "language": "zh",
            "started_at": "2026-11-23T10:00:00+08:00", "turns": [
                {"speaker": "agent", "text": "现在方便耽误您一分钟吗？"},
                {"speaker": "customer", "text": "我在开车，现在说不了"},
                {"speaker": "agent", "text": "给您推荐一款流量包，开不开？"},
                {"speaker": "customer", "text": "开"}]}
    path = tmp_path / "c.jsonl"
    path.write_text(json.dumps(call, ensure_ascii=False) + "\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["check", str(path), "--show-matches"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "       acts: permission_request, yes_no_question (asks)" in lines
    assert "       answers #1: refuse «开车»" in lines
    assert "       acts: a_not_a_question, offer (asks)" in lines
    assert "       answers #3: accept «开»" in lines
