"""Products as data: the catalogue, `{product_fact: ...}` disclosures, typed amounts, free
periods and billing starts compared with the product (docs/rules.md, "Products as data")."""

from __future__ import annotations

import textwrap
from datetime import date
from decimal import Decimal

import pytest
from click.testing import CliRunner

from engine.audit import audit_call, context_for
from engine.rules.problems import RulePackError
from engine.text.numbers import (
    amount_bound,
    find_amounts,
    find_billing_starts,
    find_durations,
)
from tests.conftest import make_call, write_pack

CATALOGUE = """
products:
  - codes: {CL5: {monthly_fee: 5}, CL6: {monthly_fee: 6}}
    name: 彩铃
    aliases: [经典彩铃]
    trial_days: 30
    usage:
      - call: "12530"
      - app: 爱音乐
    functions:
      - name: 铃声
        phrases: [回铃音]
        scenarios: [别人给您打电话听到的是歌]
    cancel:
      - {sms: TD, to: "10001"}
      - app: 电信营业厅
  - code: RS
    name: Roadside
    functions:
      - name: towing
        scenarios: [if you ever break down]
"""

RULES = """
matchers:
  usage_words:
    speaker: agent
    phrases: [下载APP]
rules:
  - id: usage-not-stated
    kind: required
    standard: script
    severity: minor
    matcher: {product_fact: usage, otherwise: usage_words}
    message: m
    rationale: r
    examples: {violating: [[{agent: x}]], compliant: [[{agent: 下载APP}]]}
  - id: function-not-stated
    kind: required
    standard: script
    severity: minor
    matcher: {product_fact: function}
    message: m
    rationale: r
    examples:
      violating: [{product: {code: CL5}, turns: [{agent: x}]}]
      compliant: [{product: {code: CL5}, turns: [{agent: 回铃音}]}]
  - id: cancel-not-stated
    kind: required
    standard: script
    severity: major
    matcher: {product_fact: cancel}
    message: m
    rationale: r
    examples:
      violating: [{product: {code: CL5}, turns: [{agent: x}]}]
      compliant: [{product: {code: CL5}, turns: [{agent: 发TD到10001}]}]
"""


@pytest.fixture
def pack(tmp_path):
    from engine.rules.pack import load_pack

    return load_pack(write_pack(tmp_path / "p", {"products.yaml": CATALOGUE,
                                                 "rules.yaml": RULES}))


def fired(pack, call) -> set[str]:
    return {f.rule_id for f in audit_call(pack, call).findings}


CL5 = {"code": "CL5", "name": "彩铃", "monthly_fee": 5, "trial_days": 30}


# --- the catalogue fills in and disagrees ---------------------------------------------------


def test_the_catalogue_fills_in_what_the_call_does_not_say(pack):
    call = make_call([("agent", "您好")], product={"code": "CL6"})
    ctx = context_for(pack, call)
    assert ctx.call.product.monthly_fee == 6  # the code's own figure
    assert ctx.call.product.trial_days == 30  # the family's
    assert ctx.call.product.name == "彩铃"
    assert "monthly_fee 6" in ctx.product.supplied
    assert ctx.product.conflicts == ()


def test_a_conflict_is_noted_and_the_call_wins(pack):
    call = make_call([("agent", "您好")], product={**CL5, "monthly_fee": 8})
    audit = audit_call(pack, call)
    ctx = context_for(pack, call)
    assert ctx.call.product.monthly_fee == 8
    (note,) = [n for n in audit.verdict.notes if "catalogue" in n]
    assert "monthly_fee 8" in note and "products.yaml" in note and "call's value is used" in note


def test_a_product_is_found_by_an_alias_when_its_code_is_unknown(pack):
    call = make_call([("agent", "您好")], product={"code": "X-CL", "name": "经典彩铃"})
    ctx = context_for(pack, call)
    assert ctx.product.matched_by == "name" and ctx.call.product.trial_days == 30


def test_a_call_without_a_catalogue_entry_is_left_as_it_is(pack):
    call = make_call([("agent", "您好")], product={"code": "ZZ", "monthly_fee": 3})
    ctx = context_for(pack, call)
    assert ctx.product.entry is None and ctx.call.product is call.product


# --- product facts as disclosures ----------------------------------------------------------


def test_usage_is_this_products_route_not_any_usage_words(pack):
    other = make_call([("agent", "下载APP就能用")], product=CL5)
    own = make_call([("agent", "拨打12530就能换歌")], product=CL5)
    assert "usage-not-stated" in fired(pack, other)
    assert "usage-not-stated" not in fired(pack, own)


def test_otherwise_applies_when_the_product_has_no_such_fact(pack):
    call = make_call([("agent", "下载APP就能用")], product={"code": "RS", "name": "Roadside"})
    assert "usage-not-stated" not in fired(pack, call)


def test_a_function_told_as_a_scenario_counts(pack):
    call = make_call([("agent", "开通以后别人给您打电话听到的是歌")], product=CL5)
    assert "function-not-stated" not in fired(pack, call)
    assert "function-not-stated" in fired(pack, make_call([("agent", "开通彩铃吧")],
                                                         product=CL5))


def test_an_english_scenario_counts(pack):
    call = make_call([("agent", "If you ever break down, we come to you.")],
                     product={"code": "RS"}, language="en")
    assert "function-not-stated" not in fired(pack, call)


def test_cancel_route_needs_the_code_and_its_number(pack):
    wrong = make_call([("agent", "发TD到10086就能退订")], product=CL5)
    right = make_call([("agent", "不需要的话发送TD到10001退订")], product=CL5)
    assert "cancel-not-stated" in fired(pack, wrong)
    assert "cancel-not-stated" not in fired(pack, right)


def test_an_app_cancel_route_needs_a_cancel_word(pack):
    use = make_call([("agent", "在电信营业厅APP里换歌")], product=CL5)
    cancel = make_call([("agent", "在电信营业厅APP里就能退订")], product=CL5)
    assert "cancel-not-stated" in fired(pack, use)
    assert "cancel-not-stated" not in fired(pack, cancel)


# --- rule-file errors ----------------------------------------------------------------------


def problems_of(tmp_path, catalogue: str, rules: str = "") -> str:
    from engine.rules.pack import load_pack

    folder = write_pack(tmp_path / "bad", {"products.yaml": catalogue, "rules.yaml": rules
                                           or "rules: []\n"})
    with pytest.raises(RulePackError) as caught:
        load_pack(folder)
    return caught.value.render()


def test_a_wrong_fact_name_says_did_you_mean(tmp_path):
    rules = RULES.replace("product_fact: usage", "product_fact: usge")
    text = problems_of(tmp_path, CATALOGUE, rules)
    assert "rules.yaml:" in text and "did you mean 'usage'?" in text
    assert "name, usage, function, cancel, query" in text or "cancel, function, name" in text


@pytest.mark.parametrize(("entry", "expected"), [
    ("  - code: A\n    monthly_fee: five\n", "monthly_fee must be a number"),
    ("  - code: A\n  - code: A\n", "product code 'A' is already in the catalogue at"),
    ("  - name: x\n", "needs 'code' (one) or 'codes'"),
    ("  - code: A\n    cancel: [{sms: TD, to: 100x}]\n", "to must be a number made of digits"),
    ("  - code: A\n    usage: [{sms: TD, too: '1'}]\n", "did you mean 'to'?"),
    ("  - code: A\n    functions: [{name: f}]\n", "function 'f' has no phrases"),
    ("  - code: A\n    name: x\n  - code: B\n    aliases: [x]\n", "the name 'x' is already given"),
])
def test_bad_entries_are_reported_at_their_line(tmp_path, entry, expected):
    text = problems_of(tmp_path, "products:\n" + entry)
    assert "products.yaml:" in text and expected in text


def test_a_function_phrase_inside_the_name_is_a_warning(tmp_path):
    from engine.rules.pack import load_pack

    folder = write_pack(tmp_path / "w", {"products.yaml": textwrap.dedent("""
        products:
          - code: A
            name: 来电提醒
            functions: [{name: f, phrases: [来电提醒]}]
        """)})
    warnings = [p.message for p in load_pack(folder).warnings]
    assert any("part of the product's name" in w for w in warnings)


def test_a_shared_catalogue_named_in_pack_yaml(tmp_path):
    from engine.rules.pack import load_pack

    (tmp_path / "products.yaml").write_text(CATALOGUE, encoding="utf-8")
    folder = write_pack(tmp_path / "zh", {"rules.yaml": RULES},
                        header="catalogue: ../products.yaml\n")
    pack = load_pack(folder)
    assert pack.catalogue is not None and "CL5" in pack.catalogue.by_code
    before = pack.content_hash
    (tmp_path / "products.yaml").write_text(CATALOGUE.replace("12530", "12531"), "utf-8")
    assert load_pack(folder).content_hash != before  # the shared file is part of the pack


def test_a_missing_shared_catalogue_is_an_error(tmp_path):
    from engine.rules.pack import load_pack

    folder = write_pack(tmp_path / "zh", {"rules.yaml": "rules: []\n"},
                        header="catalogue: ../nowhere.yaml\n")
    with pytest.raises(RulePackError) as caught:
        load_pack(folder)
    assert "pack.yaml:4:" in caught.value.render() and "does not exist" in caught.value.render()


# --- typed amounts, free periods, billing starts --------------------------------------------


@pytest.mark.parametrize(("said", "value"), [
    ("four ninety-five a month", "4.95"),
    ("nine ninety-nine a month", "9.99"),
    ("nine-ninety-nine a month", "9.99"),
    ("four dollars ninety-five a month", "4.95"),
    ("下个月1号起按月收10块", "10"),
])
def test_amounts_read_as_monthly(said, value):
    (amount,) = find_amounts(said)
    assert amount.value == Decimal(value) and amount.per == "month"


@pytest.mark.parametrize(("said", "days"), [
    ("头两个月不要钱", (56, 62)),
    ("前三个月免费", (84, 93)),
    ("首月免费体验", (28, 31)),
    ("免费体验30天", (30, 30)),
    ("first two months free", (56, 62)),
    ("you get a fourteen-day free trial", (14, 14)),
    ("free for 30 days", (30, 30)),
])
def test_free_periods(said, days):
    (duration,) = find_durations(said)
    assert duration.free and duration.days == days


@pytest.mark.parametrize("said", [
    "体验期结束前三天会提醒您", "前天我打过", "3个月前办过",
    "4.99 a month free trial until december 21st", "first, can you confirm",
    "一年免费换一次屏",  # an allowance per year, not a free year
])
def test_not_free_periods(said):
    assert [d for d in find_durations(said) if d.free] == []


@pytest.mark.parametrize("said", ["前三十天免费 12月20号体验结束", "前30天免费，12月4日体验期截止"])
def test_a_dates_month_and_day_are_no_free_periods(said):
    (duration,) = find_durations(said)
    assert duration.days == (30, 30)


def test_billing_start():
    (start,) = find_billing_starts("下个月1号起按月收10块", date(2026, 11, 23))
    assert (start.date.year, start.date.month, start.date.day) == (2026, 12, 1)
    (after,) = find_billing_starts("12月3号以后开始收费", date(2026, 11, 23))
    assert after.after


def test_bounds():
    text = "每个月不到五块钱，一天还不到两毛"
    month, day = find_amounts(text)
    assert amount_bound(text, month) == "under" and day.per == "day"


TRIAL = """
rules:
  - id: trial
    kind: trial_end_check
    standard: script
    severity: major
    checks: [length, billing_start]
    message: m
    rationale: r
    examples: {violating: [[{agent: x}]], compliant: [[{agent: y}]]}
  - id: fee
    kind: fee_check
    standard: script
    severity: critical
    other_price: elsewhere
    message: m
    rationale: r
    examples: {violating: [[{agent: x}]], compliant: [[{agent: y}]]}
matchers:
  elsewhere:
    speaker: agent
    phrases: [营业厅办, in store]
"""


@pytest.fixture
def checks(pack_factory):
    return pack_factory({"rules.yaml": TRIAL})


@pytest.mark.parametrize(("said", "trial", "fires"), [
    ("头两个月不要钱，之后每月十元", 30, True),
    ("前一个月免费，之后每月十元", 30, False),
    ("首月免费", 0, True),
    ("前7天免费体验", 7, False),
    ("下个月1号起按月收10块", 30, True),   # the call is on 11-23: the trial ends 12-23
    ("12月24号起按月收10块", 30, False),
])
def test_trial_checks(checks, said, trial, fires):
    call = make_call([("agent", said)], product={"code": "X", "monthly_fee": 10,
                                                 "trial_days": trial})
    assert ("trial" in fired(checks, call)) is fires


@pytest.mark.parametrize(("said", "fires"), [
    ("每月五块钱，一天还不到两毛", True),  # the per-day words do not hide a wrong fee
    ("每月十块钱，一天还不到四毛", False),
    ("营业厅办要每月二十块，我们这边每月十块", False),
    ("每个月不到十五块", False),  # a ceiling above the fee
    ("每个月不到五块", True),
])
def test_fee_reading(checks, said, fires):
    call = make_call([("agent", said)], product={"code": "X", "monthly_fee": 10})
    assert ("fee" in fired(checks, call)) is fires


def test_english_other_channel_and_words(checks):
    call = make_call([("agent", "In store it's $20 a month, with us four ninety-five a month")],
                     product={"code": "X", "monthly_fee": 4.95}, language="en")
    assert "fee" not in fired(checks, call)
    wrong = make_call([("agent", "It's four ninety-five a month")],
                      product={"code": "X", "monthly_fee": 9.95}, language="en")
    (finding,) = [f for f in audit_call(checks, wrong).findings if f.rule_id == "fee"]
    assert "read: 4.95 per month" in finding.detail


# --- what check --show-matches shows ------------------------------------------------------


def test_show_matches_shows_the_catalogue_and_typed_values(tmp_path, pack):
    import json

    from cli import main

    record = {"call_id": "C-1", "call_type": "sale", "language": "zh",
              "started_at": "2026-11-23T10:00:00+08:00",
              "product": {"code": "CL5", "monthly_fee": 8},
              "turns": [{"speaker": "agent",
                         "text": "每月五块钱，头两个月不要钱，下个月1号起按月收"}]}
    path = tmp_path / "call.jsonl"
    path.write_text(json.dumps(record, ensure_ascii=False) + "\n", encoding="utf-8")
    folder = tmp_path / "p"
    result = CliRunner().invoke(main, ["check", str(path), "--rules", str(folder),
                                      "--show-matches"])
    out = result.output
    assert "catalogue: " in out and "(found by code)" in out
    assert "supplied by the catalogue: name 彩铃, trial_days 30" in out
    assert "conflict: product CL5: the call says monthly_fee 8" in out
    assert "amount 5 CNY per month" in out
    assert "free period 2 months (56-62 days)" in out
    assert "billing starts 2026-12-01" in out
