"""Waivers: a reason and a scope are required; a waived finding no longer invalidates the
call; a waiver that covered nothing is reported."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from cli import main
from engine.audit import audit_call
from engine.rules.pack import load_pack
from engine.rules.problems import RulePackError
from tests.conftest import make_call, write_pack

RULES = """
matchers:
  promise: {speaker: agent, phrases: [绝对免费]}
  activation: {speaker: agent, phrases: [已经为您开通]}
rules:
  - id: false-promise
    kind: forbidden
    standard: forbidden_phrase
    severity: major
    matcher: promise
    message: m
    rationale: r
    examples:
      violating: [[{agent: 绝对免费}]]
      compliant: [[{agent: 你好}]]
"""
HEADER = "sale_made: {said: activation}\n"


def pack_with(tmp_path, waivers: str):
    return load_pack(write_pack(tmp_path / "pack", {"r.yaml": RULES, "w.yaml": waivers},
                                header=HEADER))


def test_a_waived_finding_is_kept_but_does_not_invalidate(tmp_path):
    pack = pack_with(tmp_path, "waivers:\n  - rule: false-promise\n    products: [FREE]\n"
                               "    reason: 该产品确实永久免费\n    by: 王经理\n")
    turns = [("agent", "这个绝对免费"), ("agent", "已经为您开通")]
    waived = audit_call(pack, make_call(turns, product={"code": "FREE"}))
    assert waived.verdict.valid is True
    assert waived.findings[0].waiver.startswith("该产品确实永久免费 (")
    assert waived.findings[0].waiver.endswith("w.yaml:2:5)")
    other = audit_call(pack, make_call(turns, product={"code": "PAID"}))
    assert other.verdict.valid is False and other.findings[0].waiver is None


def test_waiver_expires(tmp_path):
    pack = pack_with(tmp_path, "waivers:\n  - rule: false-promise\n    calls: [T-1]\n"
                               "    reason: r\n    until: 2026-11-01\n")
    result = audit_call(pack, make_call([("agent", "绝对免费")]))  # call on 2026-11-23
    assert result.findings[0].waiver is None
    assert any("expired on 2026-11-01" in w.message for w in pack.warnings)


@pytest.mark.parametrize(
    ("waiver", "message"),
    [
        ("  - rule: false-promise\n    calls: [T-1]\n", "a waiver is missing 'reason'"),
        ("  - rule: false-promise\n    reason: r\n", "a waiver must say which calls it covers"),
        ("  - rule: fals-promise\n    calls: [T-1]\n    reason: r\n",
         "the waiver names no rule of this pack: 'fals-promise'"),
        ("  - rule: false-promise\n    call_types: [upsell]\n    reason: r\n",
         "unknown call type 'upsell'"),
    ],
)
def test_bad_waivers_are_rule_file_errors(tmp_path, waiver, message):
    with pytest.raises(RulePackError) as caught:
        pack_with(tmp_path, "waivers:\n" + waiver)
    assert any(message in p.message for p in caught.value.problems)


def test_unused_waiver_is_reported_by_the_audit(tmp_path):
    folder = write_pack(tmp_path / "pack", {"r.yaml": RULES, "w.yaml": (
        "waivers:\n  - rule: false-promise\n    agents: [NOBODY]\n    reason: 试点\n")},
        header=HEADER)
    calls = tmp_path / "c.jsonl"
    calls.write_text(json.dumps({"call_id": "C1", "call_type": "sale", "language": "zh",
                                 "turns": [{"speaker": "agent", "text": "绝对免费"}]},
                                ensure_ascii=False) + "\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["audit", str(calls), "--out", str(tmp_path / "o"),
                                       "--rules", str(folder)])
    assert result.exit_code == 0
    assert "warning: unused waiver (it covered no finding): false-promise: 试点" in result.output
    summary = json.loads((tmp_path / "o" / "summary.json").read_text(encoding="utf-8"))
    assert summary["unused_waivers"][0].startswith("false-promise: 试点")
