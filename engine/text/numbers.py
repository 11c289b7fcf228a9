"""Money amounts and calendar dates stated in folded call text (Chinese and English).

Input is folded text (NFKC, simplified Chinese, lower case), possibly from speech
recognition: no punctuation, spaces anywhere. Every span is a [start, end) offset into the
string given, so callers can map it back to the original turn.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from functools import lru_cache

from engine.frozen import fills_dict

__all__ = [
    "StatedAmount",
    "StatedDate",
    "find_amounts",
    "find_dates",
    "parse_chinese_number",
    "resolve_date",
]


# ~4 made a call and read a few times each: filling the dict saved 0.5% of the audit's
# instructions all the same (11c9cd8; at 67b9040 on 2026-11-24, 4,152,281 instructions a
# call without it, 4,131,563 with it); see engine/frozen.py.
@fills_dict
@dataclass(frozen=True, init=False)
class StatedAmount:
    """A money amount said in a turn: "每月5元", "五块钱", "$4.99 a month"."""

    value: Decimal  # in the main currency unit (元, dollars)
    start: int
    end: int
    per: str | None  # "month", "day", "year" or "week" when the expression says so;
    # "unit" for a price per item ("一毛钱一条", "$0.10 a text")
    currency: str | None  # "CNY", "USD" (rarely "HKD", "EUR", "JPY"); None when not said


@dataclass(frozen=True)
class StatedDate:
    """A calendar date said in a turn; year is None unless stated (or implied by 下个月)."""

    month: int
    day: int
    year: int | None
    start: int
    end: int


# --- Chinese numerals --------------------------------------------------------------------

_CN_DIGITS = {
    "零": 0, "〇": 0, "一": 1, "幺": 1, "二": 2, "两": 2, "三": 3,
    "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9,
}  # fmt: skip
_SMALL_UNITS = {"十": Decimal(10), "百": Decimal(100), "千": Decimal(1000)}
_BIG_UNITS = {"万": Decimal(10**4), "亿": Decimal(10**8)}
_CN_NUMERAL_CHARS = "零〇一二两三四五六七八九十百千万亿廿卅"
_NUMBER_TOKEN = re.compile(r"[0-9]+(?:\.[0-9]+)?|.", re.DOTALL)
_PLAIN_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]+)?")
_SPACES = re.compile(r"\s+")
_THOUSANDS = re.compile(r"(?<=[0-9]),(?=[0-9]{3}(?![0-9]))")
_TEN = Decimal(10)


def parse_chinese_number(text: str) -> Decimal | None:
    """The value of a Chinese or Arabic numeral: "一百零五" → 105, "三点五" → 3.5, "5" → 5.

    Digit strings read digit by digit ("二〇二六" → 2026); anything else gives None.
    """
    return _parse_number(text, strict=False)


@lru_cache(maxsize=4096)  # the same few numerals recur in every call: read each once
def _parse_number(text: str, strict: bool) -> Decimal | None:
    # strict: refuse digit strings such as "一五", which are never amounts.
    value = _parse_numeral(text, strict)
    if value is None or value != value.to_integral_value():
        return value
    return value.to_integral_value()  # "1.5万" is 15000, not 15000.0


def _parse_numeral(text: str, strict: bool) -> Decimal | None:
    s = _SPACES.sub("", text).replace("廿", "二十").replace("卅", "三十")
    s = _THOUSANDS.sub("", s)
    if _PLAIN_NUMBER.fullmatch(s):
        return Decimal(s)
    whole, point, fraction = s.partition("点")
    if not point:
        return _parse_integer(s, strict)
    scale = _BIG_UNITS.get(fraction[-1:], Decimal(1))
    if scale != 1:
        fraction = fraction[:-1]
    number = _parse_integer(whole, strict)
    if number is None or not fraction or any(c not in _CN_DIGITS for c in fraction):
        return None
    decimals = "".join(str(_CN_DIGITS[c]) for c in fraction)
    return (number + Decimal("0." + decimals)) * scale


def _parse_integer(s: str, strict: bool) -> Decimal | None:
    tokens = _NUMBER_TOKEN.findall(s)
    if not tokens:
        return None
    values = [_digit_value(t) for t in tokens]
    if all(v is not None for v in values):
        if len(tokens) == 1:
            return values[0]
        if strict or not all(t in _CN_DIGITS for t in tokens):
            return None
        return Decimal("".join(str(v) for v in values))
    return _parse_with_units(tokens)


def _digit_value(token: str) -> Decimal | None:
    if token[0].isascii() and token[0].isdigit():
        return Decimal(token)
    digit = _CN_DIGITS.get(token)
    return None if digit is None else Decimal(digit)


def _parse_with_units(tokens: list[str]) -> Decimal | None:
    """Positional numerals: "一百零五", "两千五" (= 2500), "一亿二千万"."""
    done = Decimal(0)  # finished 亿 groups
    wan = Decimal(0)  # the finished 万 group
    section = Decimal(0)  # below 万
    digit: Decimal | None = None
    last_small: Decimal | None = None  # small units must fall within a section
    last_unit: Decimal | None = None
    zero = False  # "一百零五": a zero stops "一百五" meaning 150
    for token in tokens:
        value = _digit_value(token)
        if value is not None:
            if digit is not None:
                return None
            zero = zero or value == 0
            digit = value if value != 0 else None
        elif token in _SMALL_UNITS:
            unit = _SMALL_UNITS[token]
            if last_small is not None and unit >= last_small:
                return None
            if digit is None and token != "十":
                return None
            section += (digit if digit is not None else 1) * unit
            digit, last_small, last_unit, zero = None, unit, unit, False
        elif token in _BIG_UNITS:
            section += digit or 0
            if section == 0 or (token == "万" and wan):
                return None
            if token == "亿":
                done, wan = (done + wan + section) * _BIG_UNITS[token], Decimal(0)
            else:
                wan = section * _BIG_UNITS[token]
            section, digit, last_small, zero = Decimal(0), None, None, False
            last_unit = _BIG_UNITS[token]
        else:
            return None
    if digit is not None:
        if last_unit is not None and last_unit >= 100 and not zero:
            digit *= last_unit / _TEN  # "两千五": the trailing digit counts the next unit down
        section += digit
    return done + wan + section


@lru_cache(maxsize=4096)
def _numeral_tail(run: str) -> tuple[int, Decimal] | None:
    """The longest tail of a numeral run that is a number: "唯一五" gives up "一五" for "五".

    None for a range, which is no stated amount: "三四块", "五六十块", "一两块".
    """
    for offset, char in enumerate(run):
        if char.isspace():
            continue
        value = _parse_number(run[offset:], strict=True)
        if value is not None:
            head = run[:offset].rstrip()
            if head and _CN_DIGITS.get(head[-1], -9) + 1 == _CN_DIGITS.get(char):
                return None
            return offset, value
    return None


# --- English numerals --------------------------------------------------------------------

_EN_ONES = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
_EN_TEENS = (
    "ten", "eleven", "twelve", "thirteen", "fourteen",
    "fifteen", "sixteen", "seventeen", "eighteen", "nineteen",
)  # fmt: skip
_EN_TENS = ("twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
_EN_VALUES = {
    **{w: i for i, w in enumerate(_EN_ONES)},
    **{w: 10 + i for i, w in enumerate(_EN_TEENS)},
    **{w: 20 + 10 * i for i, w in enumerate(_EN_TENS)},
}
_ONES_RE = "|".join(_EN_ONES)
_NONZERO_RE = "|".join(_EN_ONES[1:])
_TEENS_RE = "|".join(_EN_TEENS)
_TENS_RE = "|".join(_EN_TENS)
# Teens before ones and tens before both, so "seventeen" is not read as "seven".
_EN_BELOW_100 = rf"(?:(?:{_TENS_RE})(?:[\s-](?:{_NONZERO_RE}))?|{_TEENS_RE}|{_ONES_RE})"
_EN_NUMBER = (
    rf"(?<![a-z])(?:(?:{_EN_BELOW_100}|an?)\s+hundred(?:\s+(?:and\s+)?{_EN_BELOW_100})?"
    rf"|{_EN_BELOW_100}|an?(?=\s+(?:dollar|buck)))(?![a-z])"
)
# The cents of "twelve ninety-nine": a second number from 10 to 99.
_EN_CENTS = rf"(?:(?:{_TENS_RE})(?:[\s-](?:{_NONZERO_RE}))?|{_TEENS_RE})(?![a-z])"
# Words after "five dollars twenty" that make the twenty a count, not cents.
_NOT_CENTS = r"minutes?|mins?|hours?|days?|weeks?|months?|years?|gigs?|gb|texts?|times?|percent"


def _parse_english(words: str) -> Decimal:
    """Value of words the _EN_NUMBER pattern matched."""
    total = 0
    for word in re.split(r"[\s-]+", words.strip()):
        if word == "hundred":
            total = max(total, 1) * 100
        elif word in ("a", "an"):
            total += 1
        else:
            total += _EN_VALUES.get(word, 0)  # "and"
    return Decimal(total)


# --- Amounts -----------------------------------------------------------------------------


def _spaced(word: str) -> str:
    """A pattern for a Chinese word that speech recognition may have split with spaces."""
    return r"\s?".join(re.escape(char) for char in word)


_DIGITS = r"(?<![0-9.])[0-9]+(?:,[0-9]{3})*(?:\.[0-9]+)?"
_NUM = (
    rf"(?:{_DIGITS}[十百千万亿]*"
    rf"|[{_CN_NUMERAL_CHARS}](?:\s?[{_CN_NUMERAL_CHARS}]){{0,23}}(?:点[零〇一二三四五六七八九]+[万亿]?)?)"
)
# "一个月", "每天" after an amount; the spaces are speech recognition's.
_CN_PERIOD = r"(?:月|天|日|年|周|星\s?期|礼\s?拜)"
_CN_PER_WORD = rf"(?:每|一)\s?(?:个\s?)?{_CN_PERIOD}"
# What must follow a number without a currency: "/月", "/month", "a month", "monthly".
_PERIOD_AHEAD = (
    r"\s*(?:/|(?:per|an?|each|every)\s+(?:month|day|year|week)"
    r"|monthly|daily|yearly|annually|weekly)"
)
_NONZERO = "一二两三四五六七八九1-9"
# What may not follow a bare trailing digit: "五块五" is 5.5, "五块一个月" is 5 a month.
_STOP = (
    rf"(?:(?=\s?{_CN_PER_WORD})"
    r"|(?!\s?[0-9a-z一二两三四五六七八九十百千万亿个月天日年周号点.%块元毛角分]))"
)
_JIAO = r"(?:毛(?![病巾衣笔线毯发利孩绒])|角(?![度色形落膜]))"
_CN_UNIT = (
    r"(?:美元|美金|港元|港币|欧元|日元|人民币|rmb|圆|元(?![旦宵])"
    r"|块(?![儿去来走吃玩住聊办]))"
)
_FOREIGN = {
    "美元": "USD",
    "美金": "USD",
    "港元": "HKD",
    "港币": "HKD",
    "欧元": "EUR",
    "日元": "JPY",
}


def _word_starts(patterns: Iterable[str]) -> str:
    """Where a Latin word matching one of `patterns` (each starting with a plain letter)
    starts: an alternative per first letter, which `re` skips with one character
    comparison, that letter then checked for no letter before it. Cheaper than trying
    each word at every letter."""
    by_first: dict[str, list[str]] = {}
    for pattern in patterns:
        by_first.setdefault(pattern[0], []).append(pattern[1:])
    return "|".join(
        rf"{first}(?<![a-z]{first})(?:{'|'.join(sorted(rests, key=len, reverse=True))})"
        for first, rests in sorted(by_first.items())
    )


# The Latin words an amount can start with: "rmb", "us$"/"usd", "a"/"an" (hundred,
# dollar) and the number words; other words are passed over at their first letter.
_LATIN_AMOUNT_STARTS = _word_starts(("rmb", "us", r"an?\s", *_EN_ONES, *_EN_TEENS, *_EN_TENS))

# Digits start an amount only where a currency, 毛/角/分, an English unit or a period word
# follows them (after 十百千万亿 and spaces), never right after another digit: "30天",
# "5g" and "3号" start none. The class holds the first characters of _CN_UNIT, 分钱,
# _JIAO, the English units and _PERIOD_AHEAD: a unit or period word added there needs
# its first character here too, or it is never read after digits.
_DIGIT_AMOUNT_START = (
    r"[0-9](?<![0-9].)[0-9,.]*[十百千万亿]*\s*[美港欧日人r圆元块分毛角dbuc¢/paemwy]"
)

_AMOUNT = re.compile(
    rf"""
    # Fail fast where no amount can start: most positions, as the alternatives are many.
    (?={_DIGIT_AMOUNT_START}|[{_CN_NUMERAL_CHARS}人¥港美$]|{_LATIN_AMOUNT_STARTS})
    (?:
        # 人民币五元, 五块五, 一块九毛九, 9块9, 三毛钱, 五分钱
        (?:(?P<cn_pre>人民币|rmb|¥|港币|美金)\s?)?
        (?:
            (?P<yuan>{_NUM})\s?(?P<unit>{_CN_UNIT})
            (?:
                \s?(?P<jiao>[{_NONZERO}])\s?{_JIAO}(?:\s?(?P<fen>[{_NONZERO}])(?:\s?分|{_STOP}))?
              | \s?零?\s?(?P<fen_a>[{_NONZERO}])\s?分
              | (?P<frac>\s?零?\s?[一二三四五六七八九]{{1,2}}|[0-9]{{1,2}}){_STOP}
            )?
          | (?<![0-9{_CN_NUMERAL_CHARS}])(?P<jiao_only>[{_NONZERO}])\s?{_JIAO}
            (?:\s?(?P<fen_b>[{_NONZERO}])(?:\s?分|{_STOP}))?
          | (?P<fen_only>{_NUM})\s?分钱
        )
        (?:\s?钱)?(?:\s?人民币)?
        # ¥5, 人民币一万
      | (?P<sign>人民币|rmb|¥|港币|美金)\s?(?P<sign_num>{_NUM})
        # $4.99, usd 5
      | (?P<usd_pre>us\$|\$|usd(?![a-z]))\s?(?P<usd_num>{_DIGITS})
        (?:\s?(?:dollars?|bucks?|usd)(?![a-z]))?
        # 5 dollars, twelve ninety-nine dollars, 50 cents, 5 dollars and 50 cents
      | (?:(?P<en_digits>{_DIGITS})|(?P<en_words>{_EN_NUMBER})(?:[\s-]+(?P<en_wcents>{_EN_CENTS}))?)
        \s?(?P<en_unit>dollars?|bucks?|usd|cents?|¢)(?![a-z])
        (?:\s+(?:and\s+)?(?P<en_cents>[0-9]{{1,2}}|{_EN_BELOW_100})\s?cents?(?![a-z])
          # "four dollars ninety-five": the cents without the word, when nothing else follows
          | \s+(?P<en_cents_bare>{_EN_CENTS})(?!\s*(?:{_NOT_CENTS})))?
        # No currency: an amount only with a period after it ("9.99/month"), see find_amounts
      | (?:
            (?P<bare_digits>{_DIGITS})
          | (?P<bare_words>{_EN_NUMBER})(?:[\s-]+(?P<bare_wcents>{_EN_CENTS}))?
        )(?={_PERIOD_AHEAD})
    )
    """,
    re.VERBOSE,
)

_PER_SUFFIX = re.compile(
    rf"""
    \s*(?:
        (?P<slash>/)\s*(?P<s1>月|天|日|年|周|星期|month|mon|mth|mo|day|year|yr|week|wk)
      | (?:per|an?|each|every)\s+(?P<s2>month|day|year|week)
      | (?P<s3>monthly|daily|yearly|annually|weekly)
      | (?P<s4>一\s?(?:个\s?)?{_CN_PERIOD}|包\s?月)
      | (?P<weak>每\s?(?:个\s?)?{_CN_PERIOD})
    )(?![a-z])
    """,
    re.VERBOSE,
)
_CN_PERIOD_PREFIXES = (
    "每个月", "每月", "每天", "每日", "每年", "每周", "每个星期", "每星期", "每个礼拜",
    "每礼拜", "月费", "月租", "包月", "按月", "年费", "日租", "一个月", "一天", "一年", "一周",
    "一个星期", "一个礼拜",
)  # fmt: skip
_PER_PREFIX = re.compile(
    rf"""
    # Searched over up to 40 characters before each amount, most of which start no prefix:
    # the first letters of the Chinese prefixes, and of monthly, daily, weekly, yearly,
    # annually, per, each, every.
    (?=[{"".join(sorted({w[0] for w in _CN_PERIOD_PREFIXES}))}mdwyape])
    (?:
        (?P<cn>{"|".join(_spaced(w) for w in sorted(_CN_PERIOD_PREFIXES, key=len, reverse=True))})
        # "每个月只要五块": a few words between; not across a number or another period.
        (?:\s?[^\W0-9_零〇一二两三四五六七八九十百千万亿廿卅每月天日年周后前内第起]){{0,4}}
      | (?<![a-z])(?P<en>monthly|daily|weekly|yearly|annually
              |(?:per|each|every)\s+(?:month|day|week|year))
        (?:\s+[a-z']+){{0,3}}
    )\s*\Z
    """,
    re.VERBOSE,
)
_PREFIX_WINDOW = 40
_CN_PERIOD_WORDS = (
    ("月", "month"), ("天", "day"), ("日", "day"), ("年", "year"),
    ("周", "week"), ("星期", "week"), ("礼拜", "week"),
)  # fmt: skip
_PERIODS = {
    "月": "month", "month": "month", "mon": "month", "mth": "month", "mo": "month",
    "monthly": "month", "包月": "month", "月费": "month", "月租": "month",
    "天": "day", "日": "day", "day": "day", "daily": "day", "日租": "day",
    "年": "year", "year": "year", "yr": "year", "yearly": "year", "annually": "year",
    "年费": "year",
    "周": "week", "星期": "week", "礼拜": "week", "week": "week", "wk": "week",
    "weekly": "week",
}  # fmt: skip
# Every amount has a currency or a period word; most turns have neither.
_AMOUNT_HINT = re.compile(
    r"[元圆块毛角分$¥¢/]|人民币|rmb|美金|港币|usd|dollar|buck|cent|month|day|daily|year|week|annual"
)
# Dividing (not multiplying by 0.01) keeps values tidy: 50 cents is 0.5, not 0.50.
_HUNDRED = Decimal(100)
_ZERO = Decimal(0)


_PER_UNIT = re.compile(
    r"\s*(?:一|每|/|per |a |an |each )\s*"
    r"(?:条|分钟|兆|mb|m|gb|g|次|个(?!\s*月)|首|部|集|本|minute|min|text|message|gig|call|song"
    r"|movie)(?![a-z])"
)


def may_say_monthly(text: str) -> bool:
    """False when no amount in the (folded) text can be stated per month: it has no word
    for a month. Lets a check of monthly fees pass over most turns without reading them.
    Every word that makes an amount monthly holds 月, "mo" (month, mon, mo) or "mth"."""
    return "月" in text or "mo" in text or "mth" in text


def find_amounts(text: str) -> list[StatedAmount]:
    """Every money amount in the text, in order."""
    if not _AMOUNT_HINT.search(text):
        return []
    found: list[StatedAmount] = []
    floor = 0  # a prefix never reaches back into the previous amount
    for match in _AMOUNT.finditer(text):
        core = _core(match)
        if core is None:
            continue
        value, currency, start, precise = core
        end = match.end()
        unit = _PER_UNIT.match(text, end)
        if unit is not None and currency is not None:
            # "一毛钱一条", "$0.10 a text": a price per item, not per period.
            found.append(StatedAmount(value, start, unit.end(), "unit", currency))
            floor = unit.end()
            continue
        suffix = _PER_SUFFIX.match(text, end)
        # Without a currency, "30" is a count, not money; "9.99/month" is a price.
        if currency is None and not (suffix and (suffix["slash"] or precise)):
            continue
        # A period after the amount binds tighter than one before it, except "每…", which
        # as often starts the next clause: "每月29元每天1g流量".
        if suffix and suffix.lastgroup != "weak":
            per, end = _period_of(suffix[suffix.lastgroup]), suffix.end()
        else:
            per, start = _per_before(text, max(floor, start - _PREFIX_WINDOW), start)
            if per is None and suffix:
                per, end = _period_of(suffix["weak"]), suffix.end()
        found.append(StatedAmount(value, start, end, per, currency))
        floor = end
    return found


def _per_before(text: str, lo: int, start: int) -> tuple[str | None, int]:
    prefix = _PER_PREFIX.search(text, lo, start)
    if prefix is None:
        return None, start
    return _period_of(prefix["cn"] or prefix["en"]), prefix.start()


@lru_cache(maxsize=256)
def _period_of(word: str) -> str:
    """The period a word names: "一 个 月" → "month", "per week" → "week"."""
    word = word.split()[-1] if word.isascii() else _SPACES.sub("", word)
    return _PERIODS.get(word) or next(p for chars, p in _CN_PERIOD_WORDS if chars in word)


def _core(m: re.Match[str]) -> tuple[Decimal, str | None, int, bool] | None:
    """(value, currency, start, has cents) of one _AMOUNT match, or None if not a number."""
    if m["unit"] or m["jiao_only"] or m["fen_only"]:
        return _chinese_core(m)
    if m["sign_num"]:
        tail = _numeral_tail(m["sign_num"])
        currency = _FOREIGN.get(m["sign"], "CNY")
        return None if tail is None else (tail[1], currency, m.start(), False)
    if m["usd_num"]:
        value = Decimal(m["usd_num"].replace(",", ""))
        return value, "USD", m.start(), "." in m["usd_num"]
    if m["en_unit"]:
        return _english_core(m)
    if m["bare_digits"]:
        value = Decimal(m["bare_digits"].replace(",", ""))
        return value, None, m.start(), "." in m["bare_digits"]
    value = _parse_english(m["bare_words"])
    if m["bare_wcents"]:
        value += _parse_english(m["bare_wcents"]) / _HUNDRED
    return value, None, m.start(), bool(m["bare_wcents"])


def _chinese_core(m: re.Match[str]) -> tuple[Decimal, str | None, int, bool] | None:
    start = m.start()
    currency = _FOREIGN.get(m["unit"] or "") or _FOREIGN.get(m["cn_pre"] or "", "CNY")
    if m["jiao_only"]:
        return _minor(m["jiao_only"], m["fen_b"]), currency, start, True
    group = "yuan" if m["unit"] else "fen_only"
    tail = _numeral_tail(m[group])
    if tail is None:
        return None
    offset, value = tail
    if offset:
        start = m.start(group) + offset
    if m["fen_only"]:
        return value / _HUNDRED, currency, start, True
    jiao, fen, fraction = m["jiao"], m["fen"] or m["fen_a"], m["frac"]
    if jiao or fen or fraction:  # most amounts have none: "五元", "9.9元"
        value += _minor(jiao, fen) + _fraction(fraction)
    return value, currency, start, value != value.to_integral_value()


def _minor(jiao: str | None, fen: str | None) -> Decimal:
    """毛/角 (tenths) and 分 (hundredths) digits; absent parts add nothing."""
    tenths = _small(jiao) / _TEN if jiao else _ZERO
    return tenths + _small(fen) / _HUNDRED if fen else tenths


def _small(digit: str | None) -> Decimal:
    if not digit:
        return Decimal(0)
    return Decimal(int(digit) if digit.isascii() else _CN_DIGITS[digit])


def _fraction(digits: str | None) -> Decimal:
    """The bare digits after 块: "五块五" → 0.5, "一块零五" → 0.05, "9块99" → 0.99."""
    if not digits:
        return _ZERO
    chars = _SPACES.sub("", digits)
    return Decimal("0." + "".join(str(_small(c)) for c in chars))


def _english_core(m: re.Match[str]) -> tuple[Decimal, str | None, int, bool]:
    if m["en_digits"]:
        value = Decimal(m["en_digits"].replace(",", ""))
    else:
        value = _parse_english(m["en_words"])
        if m["en_wcents"]:
            value += _parse_english(m["en_wcents"]) / _HUNDRED
    if m["en_unit"].startswith("cent") or m["en_unit"] == "¢":
        value /= _HUNDRED
    elif m["en_cents"] or m["en_cents_bare"]:
        cents = m["en_cents"] or m["en_cents_bare"]
        value += (Decimal(cents) if cents.isdigit() else _parse_english(cents)) / _HUNDRED
    return value, "USD", m.start(), value != value.to_integral_value()


# --- Dates -------------------------------------------------------------------------------

_CN_MONTH = r"(?:1[0-2]|0?[1-9]|十[一二]?|[一二三四五六七八九])"
_CN_DAY = r"(?:(?:3[01]|[12][0-9]|0?[1-9])(?![0-9])|[一二三四五六七八九十廿卅]{1,3})"
# A day without 号/日 must not be the start of an amount or a count: "12月5块".
_DAY_END = r"(?:\s?[日号]|(?![0-9块元毛角分点.个天年月/%]))"
_CN_DATE = re.compile(
    rf"""
    (?=[0-9零〇一二三四五六七八九十])
    (?<![0-9零〇一二两三四五六七八九十百千统唯同])  # "统一月底" is not January
    (?:(?P<year>[0-9]{{4}}|[零〇一二三四五六七八九]{{4}})\s?年\s?)?
    (?P<month>{_CN_MONTH})\s?月\s?
    (?:(?P<day>{_CN_DAY}){_DAY_END}|(?P<end>底|末))
    """,
    re.VERBOSE,
)
_CN_RELATIVE = re.compile(
    rf"""
    (?<!下)(?P<rel>下个?月|下一个月|这个?月|本月|当月)\s?的?\s?
    (?:(?P<day>{_CN_DAY})\s?[日号]|(?P<end>底|末))
    """,
    re.VERBOSE,
)
_NUMERIC_DATE = re.compile(
    r"""
    (?=[0-9])(?<![0-9./-])
    (?:
        (?P<y1>[0-9]{4})(?P<sep>[-/.])(?P<m1>1[0-2]|0?[1-9])(?P=sep)(?P<d1>3[01]|[12][0-9]|0?[1-9])
      | (?P<m2>1[0-2]|0?[1-9])/(?P<d2>3[01]|[12][0-9]|0?[1-9])(?:/(?P<y2>[0-9]{4}|[0-9]{2}))?
    )
    (?![0-9]|[./-][0-9])
    """,
    re.VERBOSE,
)
_MONTH_NAMES = (
    "january", "february", "march", "april", "may", "june",
    "july", "august", "september", "october", "november", "december",
)  # fmt: skip
_MONTH_BY_NAME = {name: i + 1 for i, name in enumerate(_MONTH_NAMES)}
_MONTH_BY_NAME.update({name[:3]: i + 1 for i, name in enumerate(_MONTH_NAMES)})
_MONTH_BY_NAME["sept"] = 9
_ORDINAL_ONES = (
    "first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth",
)  # fmt: skip
_ORDINAL_TEENS = (
    "tenth", "eleventh", "twelfth", "thirteenth", "fourteenth",
    "fifteenth", "sixteenth", "seventeenth", "eighteenth", "nineteenth",
)  # fmt: skip
_ORDINALS = {
    **{w: i + 1 for i, w in enumerate(_ORDINAL_ONES)},
    **{w: i + 10 for i, w in enumerate(_ORDINAL_TEENS)},
    "twentieth": 20,
    "thirtieth": 30,
}
_ORDINAL_RE = (
    rf"(?:(?:twenty|thirty)[\s-](?:{'|'.join(_ORDINAL_ONES)})|twentieth|thirtieth"
    rf"|{'|'.join(_ORDINAL_TEENS)}|{'|'.join(_ORDINAL_ONES)})(?![a-z])"
)
_MONTH_RE = (
    rf"(?<![a-z])(?P<mon>{'|'.join(sorted(_MONTH_BY_NAME, key=len, reverse=True))})"
    r"(?![a-z])\.?"
)
_EN_DAY = (
    rf"(?:(?P<dd>3[01]|[12][0-9]|0?[1-9])(?P<th>st|nd|rd|th)?(?![0-9a-z])"
    rf"|(?P<dw>{_ORDINAL_RE}))"
)
_EN_YEAR = r"(?:(?:,\s*|\s+)(?P<year>(?:19|20|21)[0-9]{2})(?![0-9]))?"
# The leading lookaheads only fail fast on letters no month name or day can start with.
_EN_MONTH_DAY = re.compile(rf"(?=[adfjmnos]){_MONTH_RE}\s+(?:the\s+)?{_EN_DAY}{_EN_YEAR}")
_EN_DAY_MONTH = re.compile(
    rf"(?=[0-9efnst])(?<![a-z0-9])(?:the\s+)?{_EN_DAY}\s+(?P<of>of\s+)?{_MONTH_RE}{_EN_YEAR}"
)
_NUMERIC_HINT = re.compile(r"[0-9][-/.][0-9]")
_MONTH_NAME_HINT = re.compile(r"(?<![a-z])(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)")
_MONTH_DAYS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def find_dates(text: str, reference: date | None = None) -> list[StatedDate]:
    """Every calendar date in the text, in order.

    reference (the call date) is only needed for relative dates such as "下个月5号"; without
    it they are skipped. Stated years are kept; missing ones stay None (see resolve_date).
    """
    found: list[StatedDate | None] = []
    if "月" in text:  # cheap checks first: most turns state no date at all
        found += [_chinese_date(m) for m in _CN_DATE.finditer(text)]
        if reference is not None:
            found += [_relative_date(m, reference) for m in _CN_RELATIVE.finditer(text)]
    if _NUMERIC_HINT.search(text):
        found += [_numeric_date(m) for m in _NUMERIC_DATE.finditer(text)]
    if _MONTH_NAME_HINT.search(text):
        found += [_english_date(m, day_first=False) for m in _EN_MONTH_DAY.finditer(text)]
        found += [_english_date(m, day_first=True) for m in _EN_DAY_MONTH.finditer(text)]
    return _without_overlaps([d for d in found if d is not None])


def resolve_date(stated: StatedDate, reference: date) -> date:
    """The stated date with its year: the first such date on or after reference - 31 days.

    So "1月5号" said in December is next January, and "11月1号" said late in November is
    this year's (recent past) rather than next year's.
    """
    if stated.year is not None:
        return date(stated.year, stated.month, stated.day)
    earliest = reference - timedelta(days=31)
    for year in range(earliest.year, earliest.year + 9):  # 2月29日 needs a leap year
        if stated.day <= calendar.monthrange(year, stated.month)[1]:
            candidate = date(year, stated.month, stated.day)
            if candidate >= earliest:
                return candidate
    raise ValueError(f"no date {stated.month}/{stated.day} after {earliest}")


def _stated(month: int, day: int | None, year: int | None, m: re.Match[str]) -> StatedDate | None:
    if day is None or not 1 <= month <= 12 or day < 1:
        return None
    if year is not None and not 1900 <= year <= 2199:
        return None
    last = _MONTH_DAYS[month - 1] if year is None else calendar.monthrange(year, month)[1]
    if day > last:
        return None
    return StatedDate(month, day, year, m.start(), m.end())


def _month_end(month: int, year: int | None) -> int | None:
    if not 1 <= month <= 12:
        return None
    if year is None:
        return 28 if month == 2 else _MONTH_DAYS[month - 1]
    return calendar.monthrange(year, month)[1] if 1900 <= year <= 2199 else None


def _small_int(numeral: str | None) -> int | None:
    value = parse_chinese_number(numeral) if numeral else None
    if value is None or value != value.to_integral_value() or value > 9999:
        return None
    return int(value)


def _chinese_date(m: re.Match[str]) -> StatedDate | None:
    year = _small_int(m["year"])
    month = _small_int(m["month"]) or 0
    day = _month_end(month, year) if m["end"] else _small_int(m["day"])
    return _stated(month, day, year, m)


def _relative_date(m: re.Match[str], reference: date) -> StatedDate | None:
    year, month = reference.year, reference.month
    if m["rel"].startswith("下"):
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    day = _month_end(month, year) if m["end"] else _small_int(m["day"])
    return _stated(month, day, year, m)


def _numeric_date(m: re.Match[str]) -> StatedDate | None:
    if m["y1"]:
        return _stated(int(m["m1"]), int(m["d1"]), int(m["y1"]), m)
    year = m["y2"]
    if year is not None and len(year) == 2:
        year = "20" + year
    return _stated(int(m["m2"]), int(m["d2"]), int(year) if year else None, m)


def _english_date(m: re.Match[str], day_first: bool) -> StatedDate | None:
    name = m["mon"]
    if m["dw"]:
        # "you may first need..." and "a second december" are not dates.
        if name == "may" or (day_first and not m["of"]):
            return None
        words = re.split(r"[\s-]+", m["dw"])  # "twenty-first"
        tens = {"twenty": 20, "thirty": 30}[words[0]] if len(words) > 1 else 0
        day = tens + _ORDINALS[words[-1]]
    else:
        if name == "may" and day_first and not (m["of"] or m["th"]):
            return None  # "3 may be" is not the 3rd of May
        day = int(m["dd"])
    year = int(m["year"]) if m["year"] else None
    return _stated(_MONTH_BY_NAME[name], day, year, m)


def _without_overlaps(dates: list[StatedDate]) -> list[StatedDate]:
    """In text order; of overlapping finds the one starting first (then the longest) wins."""
    kept: list[StatedDate] = []
    for found in sorted(dates, key=lambda d: (d.start, -d.end)):
        if not kept or found.start >= kept[-1].end:
            kept.append(found)
    return kept


# --- Durations, billing starts and bounds --------------------------------------------------
# Typed facts a product check compares with the catalogue: "头两个月不要钱" is a stated free
# period of two months; "下个月1号起按月收10块" says when billing starts; "不到五块" is a
# bound, not a price.


@dataclass(frozen=True)
class StatedDuration:
    """A length of time said in a turn: "前三个月", "30天免费", "first two months"."""

    count: Decimal
    unit: str  # "day", "week", "month" or "year"
    start: int
    end: int
    free: bool  # said of a free period: its clause says 免费, 不要钱, free, trial...

    @property
    def days(self) -> tuple[int, int]:
        """The fewest and most days it can mean: a month is 28 to 31 days."""
        low, high = _UNIT_DAYS[self.unit]
        return int(self.count * low), int(self.count * high)

    def describe(self) -> str:
        count = f"{self.count.normalize():f}"
        return f"{count} {self.unit}{'' if self.count == 1 else 's'}"


@dataclass(frozen=True)
class StatedBillingStart:
    """A date said as the day charging starts: "下个月1号起按月收", "billing starts Dec 4"."""

    date: StatedDate
    after: bool  # "12月3号以后收费": charging starts the day after the date said
    start: int
    end: int


_UNIT_DAYS = {"day": (1, 1), "week": (7, 7), "month": (28, 31), "year": (365, 366)}
_CN_UNIT_NAMES = {
    "天": "day", "日": "day", "周": "week", "星期": "week", "礼拜": "week",
    "月": "month", "年": "year",
}  # fmt: skip
_CN_COUNT = r"[0-9]{1,3}|[一二两三四五六七八九十]{1,3}"
_CN_UNITS = r"月|天|日|周|星\s?期|礼\s?拜|年"


def _span_unit(group: str) -> str:
    return rf"(?:个\s?)?(?P<{group}>{_CN_UNITS})"



_CN_DURATION = re.compile(
    rf"""
    # 前三个月, 头两个月, 首月, 前30天 (not 到期前三天: "before", not "the first")
    (?<![束期止之以提天日号月])(?P<lead>头|前|首)\s?(?P<n1>{_CN_COUNT})?\s?{_span_unit("u1")}
    # 30天免费, 15天的体验期
  | (?P<n2>{_CN_COUNT})\s?{_span_unit("u2")}(?=\s?的?\s?(?:免费|体验|试用|不要钱|不收))
    # (not an allowance: "一年免费换一次屏" is once a year, free)
    (?!\s?的?\s?免费\s?\w{{0,3}}?(?:[0-9]{{1,2}}|[一两二三四五六七八九十]{{1,2}})\s?次)
    # 免费体验30天, 体验期是15天, 免费用三个月
  | (?:免费|体验|试用)\s?(?:期|用|看|听)?\s?(?:是|有|为|长达)?\s?(?P<n3>{_CN_COUNT})\s?
    {_span_unit("u3")}
    """,
    re.VERBOSE,
)
_EN_COUNT = rf"[0-9]{{1,3}}|{_EN_BELOW_100}"
_EN_DURATION = re.compile(
    rf"""
    (?<![a-z])(?:
        # the first month, first two months, first 30 days
        first\s+(?:(?P<n1>{_EN_COUNT})[\s-]+)?(?P<u1>day|week|month|year)s?(?:'s)?
        # a 30-day free trial, fourteen-day trial
      | (?P<n2>{_EN_COUNT})[\s-]+(?P<u2>day|week|month)s?\s+(?:free\s+)?trial
        # thirty days free, a month free, 2 weeks on us
      | (?P<n3>{_EN_COUNT}|an?)\s+(?P<u3>day|week|month)s?(?:'s)?\s+(?:free|on\s+us|at\s+no)
        # free for 30 days, free for the first month, free for a month
      | free\s+for\s+(?:the\s+first\s+)?(?:(?P<n4>{_EN_COUNT}|an?)\s+)?(?P<u4>day|week|month)s?
    )(?![a-z])
    """,
    re.VERBOSE,
)
_FREE_WORDS = re.compile(
    r"免费|不要钱|不收钱|不收费|不花钱|不用钱|不扣钱|不扣费|白用|体验|试用"
    r"|(?<![a-z])(?:free|trial|no charge|on us|on the house|no cost)(?![a-z])"
)
_DURATION_HINT = re.compile(r"[头前首免体试天月周]|first|free|trial")
_CLAUSE_BREAK_RE = re.compile(r"[，。！？；,!?;…\n]|\.(?![0-9])")


def clause_around(text: str, start: int, end: int) -> tuple[int, int]:
    """The clause of folded text holding [start, end): between punctuation marks."""
    left = max((m.end() for m in _CLAUSE_BREAK_RE.finditer(text, 0, start)), default=0)
    found = _CLAUSE_BREAK_RE.search(text, end)
    return left, found.start() if found else len(text)


@lru_cache(maxsize=4096)  # scripted lines recur call after call
def find_durations(text: str) -> tuple[StatedDuration, ...]:
    """Every length of time said in the (folded) text as a span from now: "前三个月",
    "30天免费", "first two months", "a 30-day trial". Not "三个月前" or "到期前三天"."""
    if not _DURATION_HINT.search(text):
        return ()
    found = [d for m in _CN_DURATION.finditer(text) if (d := _cn_duration(m, text))]
    if text.isascii() or "first" in text or "free" in text or "trial" in text:
        found += [d for m in _EN_DURATION.finditer(text) if (d := _en_duration(m, text))]
    if found and "月" in text:
        # "前三十天免费 12月20号体验结束": the 12月 and the 20号/4日 of a date are no lengths.
        dates = find_dates(text)
        found = [d for d in found if not any(s.start < d.end and d.start < s.end for s in dates)]
    return tuple(sorted(found, key=lambda d: d.start))


def _cn_duration(m: re.Match[str], text: str) -> StatedDuration | None:
    group = next(g for g in ("1", "2", "3") if m["u" + g])
    numeral = m["n" + group]
    if numeral is None and not (group == "1" and m["lead"] == "首"):
        return None  # "前天" is the day before yesterday
    count = parse_chinese_number(numeral) if numeral else Decimal(1)
    if not count:
        return None
    unit = _CN_UNIT_NAMES[_SPACES.sub("", m["u" + group])]
    return _duration(count, unit, m, text)


_PRICE_BEFORE = re.compile(
    rf"(?:[0-9]|dollars?|bucks?|cents?|(?<![a-z])(?:{_ONES_RE}|{_TEENS_RE}|{_TENS_RE}))\s*\Z"
)


def _en_duration(m: re.Match[str], text: str) -> StatedDuration | None:
    group = next(g for g in ("1", "2", "3", "4") if m["u" + g])
    numeral = m["n" + group]
    if numeral in ("a", "an") and _PRICE_BEFORE.search(text, max(0, m.start() - 24), m.start()):
        return None  # "4.99 a month free trial until...": the month is the price's
    if numeral is None or numeral in ("a", "an"):
        count = Decimal(1)
    elif numeral.isdigit():
        count = Decimal(numeral)
    else:
        count = _parse_english(numeral)
    if not count:
        return None
    return _duration(count, m["u" + group], m, text)


def _duration(count: Decimal, unit: str, m: re.Match[str], text: str) -> StatedDuration:
    left, right = clause_around(text, m.start(), m.end())
    free = _FREE_WORDS.search(text, left, right) is not None
    return StatedDuration(count, unit, m.start(), m.end(), free)


# After a date: "起", "开始", "以后" and then a word of charging within a few characters.
_CN_BILLING_AFTER = re.compile(
    r"\s?(?:的)?\s?(?:(?P<from>起|开始)|(?P<after>以后|之后|后))"
    r".{0,8}?(?:收费|扣费|计费|付费|收取|扣|收|按月|每月|每个月|[0-9一二三四五六七八九十]\s?(?:元|块))"
)
_EN_BILLING_BEFORE = re.compile(
    r"(?:billing|billed|charg\w*|bill|payments?)\b[^.;!?]{0,24}?"
    r"(?:start\w*|begin\w*|kicks?\s+in|from|on|as\s+of)\s+(?:on\s+)?(?:the\s+)?\Z"
)
_EN_BILLING_WINDOW = 48
_BILLING_HINT = re.compile(r"起|开始|后|bill|charg|payment")


@lru_cache(maxsize=4096)
def find_billing_starts(text: str, reference: date) -> tuple[StatedBillingStart, ...]:
    """Dates said as the day charging starts: "下个月1号起按月收10块", "从12月4日开始每月10元",
    "billing starts on December 4th". `reference` is the call date (for "下个月1号")."""
    if not _BILLING_HINT.search(text):
        return ()  # most turns say nothing of when charging starts
    found = []
    for stated in find_dates(text, reference):
        after = _CN_BILLING_AFTER.match(text, stated.end)
        if after is not None:
            found.append(StatedBillingStart(stated, bool(after["after"]), stated.start,
                                            after.end()))
            continue
        lo = max(0, stated.start - _EN_BILLING_WINDOW)
        if _EN_BILLING_BEFORE.search(text[lo : stated.start]):
            found.append(StatedBillingStart(stated, False, stated.start, stated.end))
    return tuple(found)


_BOUND_BEFORE = re.compile(
    r"(?P<under>不到|不超过|不足|没有超过|不会超过|最多|顶多|至多"
    r"|(?<![a-z])(?:less than|under|below|no more than|at most|up to)(?![a-z]))"
    r"|(?P<about>大概|大约|差不多|左右|约|(?<![a-z])(?:about|around|roughly)(?![a-z]))"
)
_BOUND_AFTER = re.compile(r"\s?(?:(?P<under>以内|以下|不到|封顶)|(?P<about>左右|上下))")
_BOUND_REACH = 12


def amount_bound(text: str, amount: StatedAmount, floor: int = 0) -> str | None:
    """"under" when the amount is said as a ceiling ("不到五块", "less than $5"), "about"
    when as an estimate ("五块左右"); None when said as a price. Looked for in the amount's
    own span and just before it, within its clause and after `floor` (the end of the
    amount before it)."""
    left, _ = clause_around(text, amount.start, amount.end)
    left = max(left, floor)
    bound = None
    for m in _BOUND_BEFORE.finditer(text, max(left, amount.start - _BOUND_REACH), amount.end):
        bound = m.lastgroup
    after = _BOUND_AFTER.match(text, amount.end)
    return after.lastgroup if after is not None else bound
