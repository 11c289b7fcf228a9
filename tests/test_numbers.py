"""Amounts, dates and Chinese numerals read from folded call text."""

from __future__ import annotations

import dataclasses
import re
from datetime import date
from decimal import Decimal
from unittest.mock import patch

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.text import numbers
from engine.text.numbers import (
    _EN_ONES,
    _EN_TEENS,
    _EN_TENS,
    _EN_VALUES,
    StatedAmount,
    StatedDate,
    find_amounts,
    find_dates,
    may_say_monthly,
    parse_chinese_number,
    resolve_date,
)
from tests.conftest import REPO

# (text, value, per, currency, span text or None for the whole text)
CHINESE_AMOUNTS = [
    ("五块钱", "5", None, "CNY", None),
    ("每月5元", "5", "month", "CNY", None),
    ("十块", "10", None, "CNY", None),
    ("5元/月", "5", "month", "CNY", None),
    ("月费五元", "5", "month", "CNY", None),
    ("一个月十五块", "15", "month", "CNY", None),
    ("包月10元", "10", "month", "CNY", None),
    ("五块五", "5.5", None, "CNY", None),
    ("五块五毛", "5.5", None, "CNY", None),
    ("一块九毛九", "1.99", None, "CNY", None),
    ("9块9", "9.9", None, "CNY", None),
    ("9.9元", "9.9", None, "CNY", None),
    ("三毛钱", "0.3", None, "CNY", None),
    ("两块", "2", None, "CNY", None),
    ("二十块", "20", None, "CNY", None),
    ("一百二十块", "120", None, "CNY", None),
    ("一百零八元", "108", None, "CNY", None),
    ("每天一块", "1", "day", "CNY", None),
    ("一年一百二十元", "120", "year", "CNY", None),
    ("0元", "0", None, "CNY", None),
    ("零元", "0", None, "CNY", None),
    ("人民币五元", "5", None, "CNY", None),
    ("5块钱一个月", "5", "month", "CNY", None),
    ("五块钱每月", "5", "month", "CNY", None),
    ("5元一月", "5", "month", "CNY", None),
    ("每个月只要五块", "5", "month", "CNY", None),
    ("每个月才9块9", "9.9", "month", "CNY", None),
    ("月费仅需九块九", "9.9", "month", "CNY", None),
    ("每月就五元", "5", "month", "CNY", None),
    ("十块钱流量", "10", None, "CNY", "十块钱"),
    ("这个套餐每个月只要五块钱包含10g流量", "5", "month", "CNY", "每个月只要五块钱"),
    ("五块一个月", "5", "month", "CNY", None),
    ("五块五一年", "5.5", "year", "CNY", None),
    ("一块九毛九一个月", "1.99", "month", "CNY", None),
    ("一块零五", "1.05", None, "CNY", None),
    ("两毛五", "0.25", None, "CNY", None),
    ("五分钱", "0.05", None, "CNY", None),
    ("三点五元", "3.5", None, "CNY", None),
    ("两千五百块", "2500", None, "CNY", None),
    ("1.5万元", "15000", None, "CNY", None),
    ("¥9.9/月", "9.9", "month", "CNY", None),
    ("年费120元", "120", "year", "CNY", None),
    ("每个星期5元", "5", "week", "CNY", None),
    ("每 个 月 只 要 五 块", "5", "month", "CNY", None),
    ("5 元 一 个 月", "5", "month", "CNY", None),
    ("5美元", "5", None, "USD", None),
    ("50港元", "50", None, "HKD", None),
    ("唯一五块", "5", None, "CNY", "五块"),
]

ENGLISH_AMOUNTS = [
    ("$5", "5", None, "USD", None),
    ("$4.99 a month", "4.99", "month", "USD", None),
    ("5 dollars", "5", None, "USD", None),
    ("five dollars per month", "5", "month", "USD", None),
    ("9.99/month", "9.99", "month", None, None),
    ("twelve ninety-nine a month", "12.99", "month", None, None),
    ("50 cents", "0.5", None, "USD", None),
    ("10 bucks", "10", None, "USD", None),
    ("$0", "0", None, "USD", None),
    ("twenty dollars monthly", "20", "month", "USD", None),
    ("$5/mo", "5", "month", "USD", None),
    ("5 dollars and 50 cents", "5.5", None, "USD", None),
    ("one hundred twenty dollars", "120", None, "USD", None),
    ("a dollar a day", "1", "day", "USD", None),
    ("$10 per year", "10", "year", "USD", None),
    ("9.99 daily", "9.99", "day", None, None),
    ("the monthly fee is only $9.99", "9.99", "month", "USD", "monthly fee is only $9.99"),
    ("it is $4.99 a month after the trial", "4.99", "month", "USD", "$4.99 a month"),
]

NOT_AMOUNTS = [
    "免费",
    "138001380 00",
    "10g流量",
    "10gb",
    "30天",
    "3点",
    "第一个月",
    "第一个月免费",
    "12月12号",
    "我们一块去",
    "5 a month",  # a count as likely as a price
    "五六十块",  # a range is no stated amount
    "一两块钱",
    "二三十块钱",
    "call me at 5",
    "12/12",
    "",
]


@pytest.mark.parametrize(("text", "value", "per", "currency", "span"), CHINESE_AMOUNTS)
def test_chinese_amounts(text: str, value: str, per: str | None, currency: str, span: str | None):
    _check_single_amount(text, value, per, currency, span)


@pytest.mark.parametrize(("text", "value", "per", "currency", "span"), ENGLISH_AMOUNTS)
def test_english_amounts(text: str, value: str, per: str | None, currency: str, span: str | None):
    _check_single_amount(text, value, per, currency, span)


def _check_single_amount(
    text: str, value: str, per: str | None, currency: str | None, span: str | None
) -> None:
    [amount] = find_amounts(text)
    assert amount.value == Decimal(value)
    assert amount.per == per
    assert amount.currency == currency
    assert text[amount.start : amount.end] == (text if span is None else span)


@pytest.mark.parametrize("text", NOT_AMOUNTS)
def test_not_amounts(text: str):
    assert find_amounts(text) == []


def test_amounts_come_in_order_and_prefixes_do_not_reach_back():
    text = "原价每月10元现在5元"
    assert find_amounts(text) == [
        StatedAmount(Decimal(10), 2, 7, "month", "CNY"),
        StatedAmount(Decimal(5), 9, 11, None, "CNY"),
    ]


def test_a_following_mei_period_starts_the_next_clause():
    [amount] = find_amounts("每月29元每天1g流量")
    assert (amount.value, amount.per, amount.start, amount.end) == (Decimal(29), "month", 0, 5)


def test_a_period_word_across_a_number_is_not_a_prefix():
    [amount] = find_amounts("每月5号扣费5元")
    assert (amount.value, amount.per) == (Decimal(5), None)


@pytest.mark.parametrize("word", [*_EN_ONES, *_EN_TEENS, *_EN_TENS])
def test_every_number_word_starts_an_amount(word: str):
    """The amount pattern skips Latin letters that start no amount (_word_starts): each
    number word must still start one, first in the text or after a space or a comma."""
    for text in (f"{word} dollars", f"pay {word} dollars a month", f"the fee,{word} bucks"):
        [amount] = find_amounts(text)
        assert amount.value == _EN_VALUES[word], text
        assert text[amount.start :].startswith(word), text


@pytest.mark.parametrize(
    ("text", "value", "said"),
    [
        ("usd 5", "5", "usd 5"),
        ("pay us$5 a month", "5", "us$5 a month"),
        ("rmb 5元", "5", "rmb 5元"),
        ("付rmb一百", "100", "rmb一百"),
        ("a hundred dollars", "100", "a hundred dollars"),
        ("only an hundred dollars", "100", "an hundred dollars"),
        ("just a buck", "1", "a buck"),
    ],
)
def test_currency_words_and_a_start_amounts(text: str, value: str, said: str):
    [amount] = find_amounts(text)
    assert amount.value == Decimal(value)
    assert text[amount.start : amount.end] == said


@pytest.mark.parametrize(
    ("prefix", "per"),
    [
        *[(w, "month") for w in ("每个月", "每月", "月费", "月租", "包月", "一个月")],
        *[(w, "day") for w in ("每天", "每日", "日租", "一天")],
        *[(w, "year") for w in ("每年", "年费", "一年")],
        *[(w, "week") for w in ("每周", "每个星期", "每星期", "每个礼拜", "每礼拜", "一周",
                                "一个星期", "一个礼拜")],
        ("monthly ", "month"), ("daily ", "day"), ("weekly ", "week"), ("yearly ", "year"),
        ("annually ", "year"), ("per month ", "month"), ("each day ", "day"),
        ("every week ", "week"), ("every year it is only ", "year"),
    ],
)
def test_every_period_word_before_an_amount_gives_its_period(prefix: str, per: str):
    """The prefix search skips characters that start no period word: each must still be
    found before an amount, also after other words."""
    amount = "$5" if prefix.isascii() else "5元"
    for text in (f"{prefix}{amount}", f"我们这个{prefix}{amount}", f"ok so {prefix}{amount}"):
        [found] = find_amounts(text)
        assert (found.value, found.per) == (Decimal(5), per), text
        assert text[found.start :].startswith(prefix.strip()), text


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("5毛", "0.5"), ("5 分钱", "0.05"), ("5欧元", "5"), ("5日元", "5"), ("5人民币", "5"),
        ("5rmb", "5"), ("5圆", "5"), ("5元", "5"), ("5块", "5"), ("5港币", "5"),
        ("5美金", "5"), ("2万元", "20000"), ("1,000元", "1000"), ("5 usd", "5"),
        ("5¢", "0.05"), ("5 dollars", "5"), ("5 bucks", "5"), ("50 cents", "0.5"),
        ("9.99/月", "9.99"), ("9.99 per month", "9.99"), ("9.99 a month", "9.99"),
        ("9.99 each month", "9.99"), ("9.99 every week", "9.99"), ("9.99  weekly", "9.99"),
        ("9.99 yearly", "9.99"), ("9.99 annually", "9.99"), ("9.99 monthly", "9.99"),
        ("9.99 daily", "9.99"),
    ],
)
def test_digits_start_an_amount_before_each_unit_and_period(text: str, value: str):
    """Digits are tried as an amount only before what can follow one (_DIGIT_AMOUNT_START):
    every currency, minor unit, English unit and period word must still be read, after
    other words too."""
    for said in (text, f"只要{text}", f"it is {text}"):
        [amount] = find_amounts(said)
        assert amount.value == Decimal(value), said
        assert said[amount.start :].startswith(text[0]), said


def test_amount_is_frozen():
    [amount] = find_amounts("五块")
    with pytest.raises(dataclasses.FrozenInstanceError):
        amount.value = Decimal(6)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("十二", "12"),
        ("一百零五", "105"),
        ("两千", "2000"),
        ("三点五", "3.5"),
        ("5", "5"),
        ("二十五", "25"),
        ("廿", "20"),
        ("廿五", "25"),
        ("十", "10"),
        ("一十五", "15"),
        ("一百一十", "110"),
        ("一百一", "110"),
        ("两千五", "2500"),
        ("一万二", "12000"),
        ("三千零五十", "3050"),
        ("一千零五", "1005"),
        ("十万", "100000"),
        ("一亿二千万", "120000000"),
        ("二〇二六", "2026"),
        ("零", "0"),
        ("9.9", "9.9"),
        ("1,000", "1000"),
        ("1.5万", "15000"),
        ("三点一四", "3.14"),
        (" 十 二 ", "12"),
    ],
)
def test_parse_chinese_number(text: str, value: str):
    assert parse_chinese_number(text) == Decimal(value)


@pytest.mark.parametrize(
    "text", ["", " ", "abc", "十二块", "百", "万", "十十", "三点", "点五", "五十五十", "1.2.3"]
)
def test_parse_chinese_number_rejects(text: str):
    assert parse_chinese_number(text) is None


# (text, (month, day, year), span text or None for the whole text)
DATES = [
    ("12月12号", (12, 12, None), None),
    ("12月12日", (12, 12, None), None),
    ("十二月十二日", (12, 12, None), None),
    ("十二月十二号", (12, 12, None), None),
    ("2026年12月12日", (12, 12, 2026), None),
    ("二〇二六年十二月十二日", (12, 12, 2026), None),
    ("二零二六年一月五号", (1, 5, 2026), None),
    ("12月12", (12, 12, None), None),
    ("12/12", (12, 12, None), None),
    ("试用到12/12为止", (12, 12, None), "12/12"),
    ("十二月底", (12, 31, None), None),
    ("十一月底", (11, 30, None), None),
    ("二月底", (2, 28, None), None),
    ("2028年2月底", (2, 29, 2028), None),
    ("2月29日", (2, 29, None), None),
    ("12月23号之前取消不收费", (12, 23, None), "12月23号"),
    ("december 12", (12, 12, None), None),
    ("december 12th", (12, 12, None), None),
    ("dec 12", (12, 12, None), None),
    ("dec. 12th", (12, 12, None), None),
    ("12 december", (12, 12, None), None),
    ("the 12th of december", (12, 12, None), None),
    ("12/12/2026", (12, 12, 2026), None),
    ("2026-12-12", (12, 12, 2026), None),
    ("january 5", (1, 5, None), None),
    ("december 12, 2026", (12, 12, 2026), None),
    ("december twelfth", (12, 12, None), None),
    ("the twenty-first of june", (6, 21, None), None),
    ("may 5", (5, 5, None), None),
    ("your trial ends on march 3rd okay", (3, 3, None), "march 3rd"),
]

NOT_DATES = [
    "2月30日",
    "13月1日",
    "2025年2月29日",
    "4月31号",
    "12.12",
    "统一月底扣费",
    "12月5块",
    "每月5号",
    "you may first need to",
    "3 may be enough",
    "下个月5号",  # relative, but no reference given
    "5号",
    "",
]


@pytest.mark.parametrize(("text", "expected", "span"), DATES)
def test_dates(text: str, expected: tuple[int, int, int | None], span: str | None):
    [stated] = find_dates(text)
    assert (stated.month, stated.day, stated.year) == expected
    assert text[stated.start : stated.end] == (text if span is None else span)


@pytest.mark.parametrize("text", NOT_DATES)
def test_not_dates(text: str):
    assert find_dates(text) == []


@pytest.mark.parametrize(
    ("text", "reference", "expected"),
    [
        ("下个月5号", date(2026, 11, 23), (12, 5, 2026)),
        ("下个月5号", date(2026, 12, 20), (1, 5, 2027)),
        ("下个月底", date(2027, 1, 10), (2, 28, 2027)),
        ("下个月底", date(2028, 1, 10), (2, 29, 2028)),
        ("这个月20号", date(2026, 11, 3), (11, 20, 2026)),
        ("下个月的5号扣费", date(2026, 3, 1), (4, 5, 2026)),
    ],
)
def test_relative_dates(text: str, reference: date, expected: tuple[int, int, int]):
    [stated] = find_dates(text, reference)
    assert (stated.month, stated.day, stated.year) == expected


def test_relative_date_invalid_in_its_month():
    assert find_dates("下个月31号", date(2026, 10, 15)) == []


def test_next_next_month_is_not_next_month():
    assert find_dates("下下个月5号", date(2026, 10, 15)) == []


def test_dates_in_order():
    text = "12月1号开始，2026年12月31日结束"
    assert [(d.month, d.day, d.year) for d in find_dates(text)] == [(12, 1, None), (12, 31, 2026)]


@pytest.mark.parametrize(
    ("text", "reference", "expected"),
    [
        ("1月5号", date(2026, 12, 20), date(2027, 1, 5)),
        ("12月23号", date(2026, 11, 23), date(2026, 12, 23)),
        ("12月23号", date(2026, 12, 30), date(2026, 12, 23)),  # recent past stays this year
        ("11月25号", date(2026, 12, 20), date(2026, 11, 25)),
        ("11月1号", date(2026, 12, 20), date(2027, 11, 1)),  # more than 31 days back
        ("10月1号", date(2026, 12, 20), date(2027, 10, 1)),
        ("2月29日", date(2026, 12, 20), date(2028, 2, 29)),
        ("2026年1月5日", date(2026, 12, 20), date(2026, 1, 5)),
    ],
)
def test_resolve_date(text: str, reference: date, expected: date):
    [stated] = find_dates(text)
    assert resolve_date(stated, reference) == expected


def test_resolve_date_keeps_a_filled_year():
    assert resolve_date(StatedDate(1, 5, 2027, 0, 5), date(2026, 12, 20)) == date(2027, 1, 5)


_NUMERIC_TEXT = st.text(
    alphabet=st.sampled_from(
        list("零〇一二两三四五六七八九十百千万亿廿卅点块元毛角分钱每个月天年号日底下这包费")
        + list("0123456789./-$¥ ,adehlmnorstuy")
    ),
    max_size=40,
)


def _assert_spans(text: str, found: list[StatedAmount] | list[StatedDate]) -> None:
    last_end = 0
    for item in found:
        assert 0 <= item.start < item.end <= len(text)
        assert item.start >= last_end  # in order, not overlapping
        last_end = item.end


@settings(max_examples=300)
@given(st.one_of(st.text(), _NUMERIC_TEXT))
def test_never_raises_and_spans_in_bounds(text: str):
    _assert_spans(text, find_amounts(text))
    _assert_spans(text, find_dates(text))
    _assert_spans(text, find_dates(text, date(2026, 12, 20)))
    value = parse_chinese_number(text)
    assert value is None or isinstance(value, Decimal)


@pytest.mark.parametrize("currency", sorted(numbers._FOREIGN))
def test_digits_start_an_amount_before_every_foreign_currency(currency: str):
    """A currency added to _FOREIGN (and the unit pattern) must also let digits through
    the amount pattern's opening lookahead (_DIGIT_AMOUNT_START)."""
    [amount] = find_amounts(f"只要5{currency}")
    assert (amount.value, amount.currency) == (Decimal(5), numbers._FOREIGN[currency])


_AMOUNT_PIECES = st.lists(
    st.sampled_from([
        "9.99", "5", "12", " ", " ", "五", "块", "元", "每月", "/", "月", "$", "usd", "rmb",
        "dollars", "cents", "a", "an", "per", "each", "month", "day", "daily", "weekly",
        "yearly", "annually", "monthly", "twelve", "ninety-nine", "hundred", "hi", "好",
    ]),
    max_size=8,
).map("".join)


@settings(max_examples=400)
@given(_AMOUNT_PIECES)
def test_the_quick_hint_never_hides_an_amount(text: str):
    """find_amounts skips texts its hint says hold no currency or period word: reading
    every text in full must find the same amounts."""
    with patch.object(numbers, "_AMOUNT_HINT", re.compile("")):
        in_full = find_amounts(text)
    assert find_amounts(text) == in_full


@pytest.mark.parametrize(
    ("text", "value"),
    [("超过两百条按一毛钱一条收", Decimal("0.1")),
     ("it's $0.10 a text after that", Decimal("0.10")),
     ("超出部分每分钟0.15元/分钟", Decimal("0.15"))],
)
def test_prices_per_item_are_marked_unit_not_a_period(text, value):
    (amount,) = [a for a in find_amounts(text) if a.value == value]
    assert amount.per == "unit"


def test_every_monthly_amount_is_in_a_text_that_may_say_monthly(tmp_path):
    """The fee check passes over turns `may_say_monthly` rejects: none may hold a monthly
    amount, in the case tables above, the bundled transcripts or the bench calls."""
    from bench.generate import write_calls
    from engine.model import Call
    from engine.text.normalize import fold
    from engine.transcripts import load_calls

    texts = [row[0] for row in (*CHINESE_AMOUNTS, *ENGLISH_AMOUNTS)]
    inputs = [str(REPO / "transcripts"), str(write_calls(tmp_path / "b.jsonl", 300))]
    for call in load_calls(inputs):
        if isinstance(call, Call):
            texts.extend(t.text for t in call.turns)
    monthly = 0
    for text in texts:
        folded = fold(text).text
        if any(a.per == "month" for a in find_amounts(folded)):
            monthly += 1
            assert may_say_monthly(folded), text
    assert monthly > 500
