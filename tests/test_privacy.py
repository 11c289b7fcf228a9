"""Masking: phone numbers hidden, everything else (ids, dates, amounts) left readable."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.privacy import mask_numbers_in_text, mask_phone


@pytest.mark.parametrize(
    ("number", "masked"),
    [("13800138000", "138****8000"), ("+86 138-0013-8000", "+86 1**-****-8000"),
     ("555-0142", "55*-**42"), ("+1 555-0142-9876", "+1 55*-****-9876"), ("12", "**"),
     ("123", "***"), ("5551", "****"), ("55512", "55*12"), ("5551234567", "555***4567"),
     ("幺三九一二三四五六七八", "幺三九****五六七八")],
)
def test_mask_phone(number, masked):
    assert mask_phone(number) == masked


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("我的号码是13912345678，记一下", "我的号码是139****5678，记一下"),
        ("call 555 0142 now", "call 55* **42 now"),
        ("通话C20261123-0009的日期2026-11-23", "通话C20261123-0009的日期2026-11-23"),
        ("每月5元，发送TD到10001", "每月5元，发送TD到10001"),
    ],
)
def test_mask_numbers_in_text_keeps_length_and_non_phones(text, masked):
    assert mask_numbers_in_text(text) == masked
    assert len(mask_numbers_in_text(text)) == len(text)


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("号码139.1234.5678", "号码139.****.5678"),
        ("号码139，1234，5678好", "号码139，****，5678好"),
        ("号码１３９１２３４５６７８", "号码１３９****５６７８"),
        ("我的号码幺三九一二三四五六七八", "我的号码幺三九****五六七八"),
        ("号码是幺三九 洞洞两三 四五六七", "号码是幺三九 **** 四五六七"),
        ("tel13912345678", "tel139****5678"),
        ("Tel:+86 139 1234 5678", "Tel:+86 1** **** 5678"),
        ("身份证11010519491231002X，核对", "身份证110***********002X，核对"),
        ("身份证11010519491231002x，核对", "身份证110***********002x，核对"),
        ("选1，13912345678", "选1，139****5678"),  # a short number before a comma: two runs
        ("身份证号码110105194912310021", "身份证号码110***********0021"),
        ("2026-11-23 13912345678 来电", "2026-11-23 139****5678 来电"),
        ("电话1391-23-45678", "电话139*-**-*5678"),  # not a date: the day has three digits
        ("号码1234567", "号码12***67"),
        ("ABC8613912345678", "ABC861******5678"),  # a mainland mobile, even glued
        ("发TD退订，座机0571-8888-1234", "发TD退订，座机057*-****-1234"),
    ],
)
def test_numbers_written_or_read_any_way_are_masked(text, masked):
    assert mask_numbers_in_text(text) == masked


@pytest.mark.parametrize(
    "text",
    ["日期2026-11-23", "2026.11.23到期", "2026-11-23 10:00 来电", "每月19.9元", "试用30天",
     "总价1,299,000元", "总价123,456,789元", "编号123456", "金额1234567.50元",
     "一、二、三、四、五、六、七", "第十一月二十三日", "口令一二三四五六",
     "截止2000/01/01，10000元",
     "订单ORDER20261123001", "通话C20261123-0009", "版本3.14159265"],
)
def test_dates_amounts_lists_and_identifiers_stay_readable(text):
    assert mask_numbers_in_text(text) == text


# -- properties: any mobile, written any usual way, in any speech, is masked ------------------

FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")
SPOKEN = str.maketrans("0123456789", "洞幺两三四五六七八九")
SPOKEN_PLAIN = str.maketrans("0123456789", "零一二三四五六七八九")

mobiles = st.builds(lambda second, rest: f"1{second}{rest}", st.sampled_from("3456789"),
                    st.text(alphabet="0123456789", min_size=9, max_size=9))
# Speech around a number: Chinese characters and punctuation, no digits and no letters.
speech = st.text(alphabet="您好请问是机主本人吗我的号码记一下，。？！ 谢谢再见开通了", max_size=12)


def written(number: str, style: str, separator: str) -> str:
    groups = [number[:3], number[3:7], number[7:]]
    text = separator.join(groups)
    if style == "full-width":
        return text.translate(FULL_WIDTH)
    if style == "spoken":
        return text.translate(SPOKEN)
    if style == "spoken-plain":
        return text.translate(SPOKEN_PLAIN)
    if style == "tel":
        return "tel" + text
    return text


@settings(max_examples=300, deadline=None)
@given(mobiles, st.sampled_from(["plain", "full-width", "spoken", "spoken-plain", "tel"]),
       st.sampled_from(["", " ", "-", ".", "，", "．", "\u3000"]), speech, speech)
def test_a_mobile_written_any_usual_way_is_masked(number, style, separator, before, after):
    shown = written(number, style, separator)
    text = before + shown + after
    masked = mask_numbers_in_text(text)
    assert len(masked) == len(text)
    assert shown not in masked
    middle = [c for c in masked[len(before): len(before) + len(shown)] if c == "*"]
    assert len(middle) >= 4  # at least the four middle digits hidden


dates = st.dates(min_value=date(1990, 1, 1), max_value=date(2099, 12, 31))
amounts = st.one_of(
    st.builds(lambda n, unit: f"{n}{unit}", st.integers(0, 99999), st.sampled_from("元天月块")),
    st.builds(lambda n, d: f"{n}.{d}元", st.integers(0, 99999), st.integers(0, 99)),
    st.builds(lambda d, sep: d.isoformat().replace("-", sep), dates, st.sampled_from("-./")),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(speech, amounts), min_size=1, max_size=4))
def test_dates_and_amounts_in_speech_are_never_masked(parts):
    text = "，".join(before + amount for before, amount in parts)
    assert mask_numbers_in_text(text) == text


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_masking_keeps_any_text_s_length_and_is_stable(text):
    once = mask_numbers_in_text(text)
    assert len(once) == len(text)
    assert mask_numbers_in_text(once) == once


# -- where people read it: check, findings.jsonl ----------------------------------------------

SAID = ("每月只要五块钱，绝对免费体验，打我电话幺三九一二三四五六七八或者tel13912345678，"
        "身份证11010519491231002X")


def test_check_and_findings_quote_speech_with_every_number_masked(tmp_path):
    from click.testing import CliRunner

    from cli import main
    from tests.test_cli import CALL, RULES, write_jsonl

    turns = [dict(t) for t in CALL["turns"]]
    turns[2]["text"] = SAID
    path = write_jsonl(tmp_path / "c.jsonl", {**CALL, "turns": turns})
    runner = CliRunner()
    checked = runner.invoke(main, ["--rules-root", RULES, "check", str(path), "--show-matches"])
    audited = runner.invoke(main, ["--rules-root", RULES, "audit", str(path), "--out",
                                   str(tmp_path / "out"), "--no-ledger"])
    assert checked.exit_code == 0 and audited.exit_code == 0, checked.output + audited.output
    findings = (tmp_path / "out" / "findings.jsonl").read_text(encoding="utf-8")
    for shown in (checked.output, findings):
        assert "打我电话幺三九****五六七八或者tel139****5678" in shown
        assert "身份证110***********002X" in shown
        for secret in ("一二三四", "1234", "9491231"):
            assert secret not in shown
