"""Findings that refer to other findings (`found:`), what a call with no sale is judged on
(reading P1), and sales seen only on weaker signs (`sale_possible`)."""

from __future__ import annotations

import pytest

from engine.audit import audit_call
from engine.rules.problems import RulePackError
from tests.conftest import make_call

EXAMPLES = """
    examples:
      violating: [[{agent: x}]]
      compliant: [[{agent: y}]]
"""

MATCHERS = """
matchers:
  activate: {speaker: agent, phrases: [已经为您开通, 为您保留]}
  registered: {speaker: agent, phrases: [给您登记上了]}
  holder_check: {speaker: agent, phrases: [是机主吗]}
  pitch: {speaker: agent, phrases: [给您推荐]}
  fee: {speaker: agent, phrases: [每月五元]}
  promise: {speaker: agent, phrases: [绝对免费]}
"""

RULES = """
rules:
  - id: pitch-before-identity
    kind: precedence
    standard: identity
    severity: major
    trigger: pitch
    requires_before: holder_check
    message: 先推销后核实身份
    rationale: 合格标准第一条
""" + EXAMPLES + """
  - id: fee-not-stated
    kind: required
    standard: script
    severity: major
    when: {sale_made: true}
    matcher: fee
    message: 没有说明资费
    rationale: 合格标准第三条
""" + EXAMPLES + """
  - id: false-promise
    kind: forbidden
    standard: forbidden_phrase
    severity: major
    matcher: promise
    message: 不实承诺
    rationale: 风险控制
""" + EXAMPLES + """
  - id: second-confirmation-fails-the-standards
    kind: condition
    standard: double_confirmation
    severity: major
    when:
      all:
        - call_type: second_confirmation
        - sale_made: true
        - found: {standard: [identity, comprehension, script, consent]}
    message: 二次确认保留业务，但本身不符合合格标准
    rationale: 2次确认同样必需符合合格的4标准
""" + EXAMPLES

HEADER = "sale_made: {said: activate}\n"


@pytest.fixture
def pack(pack_factory):
    return pack_factory({"m.yaml": MATCHERS, "r.yaml": RULES}, header=HEADER)


def test_a_continuation_that_breaks_a_standard_fails_double_confirmation(pack):
    call = make_call([("agent", "给您推荐个业务"), ("agent", "请问您是机主吗"),
                      ("customer", "是"), ("agent", "那就继续为您保留")],
                     call_type="second_confirmation")
    audit = audit_call(pack, call)
    by_rule = {f.rule_id: f for f in audit.findings}
    assert set(by_rule) == {"pitch-before-identity", "fee-not-stated",
                            "second-confirmation-fails-the-standards"}
    composed = by_rule["second-confirmation-fails-the-standards"]
    # Its evidence is the evidence of the findings it stands on.
    quoted = {e.quote for e in composed.evidence}
    assert "给您推荐" in quoted
    assert audit.verdict.violations == ("identity", "script", "double_confirmation")


def test_a_clean_continuation_does_not(pack):
    call = make_call([("agent", "请问您是机主吗"), ("customer", "是"),
                      ("agent", "每月五元，那就继续为您保留")], call_type="second_confirmation")
    audit = audit_call(pack, call)
    assert audit.findings == ()
    assert audit.verdict.valid is True


def test_a_waived_finding_is_not_found(pack_factory):
    waiver = ("waivers:\n  - rule: fee-not-stated\n    call_types: [second_confirmation]\n"
              "    reason: 保留业务时资费已在首呼说明\n")
    pack = pack_factory({"m.yaml": MATCHERS, "r.yaml": RULES, "w.yaml": waiver},
                        header=HEADER)
    call = make_call([("agent", "请问您是机主吗"), ("customer", "是"),
                      ("agent", "那就继续为您保留")], call_type="second_confirmation")
    audit = audit_call(pack, call)
    assert [f.rule_id for f in audit.findings] == ["fee-not-stated"]
    assert audit.verdict.valid is True


def test_no_sale_turns_standard_breaches_into_coaching_notes(pack):
    call = make_call([("agent", "给您推荐个业务，绝对免费"), ("customer", "不需要，谢谢")])
    audit = audit_call(pack, call)
    by_rule = {f.rule_id: f for f in audit.findings}
    coaching = by_rule["pitch-before-identity"]
    assert coaching.severity == "info"
    assert "coaching note" in coaching.detail
    # Forbidden phrasing is judged on every call, sale or not.
    assert by_rule["false-promise"].severity == "major"
    assert audit.verdict.valid is None
    assert audit.verdict.violations == ("forbidden_phrase",)


def test_found_names_a_rule_that_exists_and_does_not_itself_compose(pack_factory):
    bad = RULES + """
  - id: typo
    kind: condition
    standard: double_confirmation
    severity: minor
    when: {found: {rule: pitch-before-identiy}}
    message: m
    rationale: r
""" + EXAMPLES + """
  - id: loop
    kind: condition
    standard: double_confirmation
    severity: minor
    when: {found: {rule: second-confirmation-fails-the-standards}}
    message: m
    rationale: r
""" + EXAMPLES
    with pytest.raises(RulePackError) as caught:
        pack_factory({"m.yaml": MATCHERS, "r.yaml": bad}, header=HEADER)
    text = caught.value.render()
    assert "no rule has the id 'pitch-before-identiy'" in text
    assert "did you mean 'pitch-before-identity'" in text
    assert "itself uses 'found'" in text


def test_sale_possible_judges_the_call_as_a_sale_and_says_it_is_uncertain(pack_factory):
    header = HEADER + "sale_possible: {said: registered}\n"
    pack = pack_factory({"m.yaml": MATCHERS, "r.yaml": RULES}, header=header)
    call = make_call([("agent", "请问您是机主吗"), ("customer", "是"),
                      ("agent", "好的，给您登记上了")])
    audit = audit_call(pack, call)
    assert audit.verdict.sale_made is True and audit.verdict.sale_uncertain is True
    assert audit.verdict.valid is False
    assert [f.rule_id for f in audit.findings] == ["fee-not-stated"]
    assert any("sale_possible" in note for note in audit.verdict.notes)
    sure = audit_call(pack, make_call([("agent", "请问您是机主吗"), ("customer", "是"),
                                       ("agent", "每月五元，已经为您开通")]))
    assert sure.verdict.sale_uncertain is False and sure.verdict.valid is True
