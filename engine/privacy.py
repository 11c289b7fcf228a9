"""Phone numbers are masked in everything people read, unless they ask otherwise."""

from __future__ import annotations

import re
from functools import lru_cache

# Digits as transcripts write them: ASCII, full-width, and read aloud in Chinese
# (幺 and 一 are both 1; 零, 〇 and 洞 are 0; 两 and 二 are 2).
_ARABIC = "0-9０-９"
_SPOKEN = "零〇洞幺一二两三四五六七八九"
# What people and exports put between a number's digit groups: spaces, hyphens, dots and
# commas, ASCII or full-width. The list separator 、 is not one: 一、二、三 is a list.
_SEPARATOR = "[ \u3000\\-.,，．－]"
# Seven or more digits with separators between them: written (with an optional final X,
# the check character of an 18-character resident ID card), or read aloud. The two are not
# mixed: 一1000元 is "one" and an amount. A leading + is not part of the run: it hides
# nothing.
_NUMBER_IN_TEXT = re.compile(
    rf"[{_ARABIC}](?:{_SEPARATOR}?[{_ARABIC}]){{6,}}(?:{_SEPARATOR}?[Xx](?![A-Za-z]))?"
    rf"|[{_SPOKEN}](?:{_SEPARATOR}?[{_SPOKEN}]){{6,}}"
)
# Digit runs that are not phone numbers: a date at the start of a run, an amount with
# thousands separators, a decimal number.
_DATE_FIRST = re.compile(r"[0-9０-９]{4}[-./．][0-9０-９]{1,2}[-./．][0-9０-９]{1,2}(?![0-9０-９])")
_GROUPED_AMOUNT = re.compile(r"[0-9]{1,3}(?:[,，][0-9]{3})+(?:[.．][0-9]+)?")
_DECIMAL = re.compile(r"[0-9０-９]+[.．][0-9０-９]+")
_COMMA = re.compile("[,，]")
_COMMA_KEPT = re.compile("([,，])")
_MAINLAND_MOBILE = re.compile(r"(?:86)?1[3-9][0-9]{9}")
# Letters glued before a number that still make it a number (tel13912345678); any other
# glued letters make it an identifier (call id C20261123-0009), left alone.
_NUMBER_WORDS = frozenset({"tel", "phone", "mobile", "mob", "cell", "fax", "no", "num",
                           "number", "call", "hp", "qq", "wx", "wechat", "whatsapp"})
_LETTERS_BEFORE = re.compile(r"[A-Za-z_]+$")
# How far back to look for those letters: one more than the longest word, so a longer glued
# word is still seen as no word of the list (and a turn is not scanned from its start for
# every number in it).
_GLUE_WINDOW = max(map(len, _NUMBER_WORDS)) + 1


def _is_digit(char: str) -> bool:
    return char.isdigit() or char in _SPOKEN


def mask_phone(number: str | None) -> str | None:
    """Hide the middle digits: 13800138000 -> 138****8000, 555-0142 -> 55*-**42."""
    if number is None:
        return None
    return _hidden(number, [i for i, c in enumerate(number) if _is_digit(c)])


def _hidden(text: str, digits: list[int]) -> str:
    """TEXT with the digits at these positions hidden but the first and last few."""
    if len(digits) <= 4:  # keeping two and two of four would hide nothing
        return "*" * len(text)
    keep_head, keep_tail = (3, 4) if len(digits) >= 10 else (2, 2)
    hidden = set(digits[keep_head:-keep_tail])
    return "".join("*" if i in hidden else c for i, c in enumerate(text))


@lru_cache(maxsize=4096)  # a turn is quoted by several findings, and scripts recur
def mask_numbers_in_text(text: str) -> str:
    """Mask phone-like digit runs inside speech, keeping the text's length (spans stay valid):
    13912345678, 139.1234.5678, 139，1234，5678, full-width digits, digits read aloud
    (幺三九…), tel13912345678 and resident ID numbers ending in X. Dates (2026-11-23),
    amounts (19.9元, 1,299元) and identifiers glued to letters are left readable."""
    return _mask(text)


def _mask(text: str) -> str:
    """mask_numbers_in_text without the cache: for the pieces of a run (a date's tail, the
    parts between commas), which would only push whole turns out of it."""
    return _NUMBER_IN_TEXT.sub(_masked_run, text)


def _masked_run(match: re.Match[str]) -> str:
    run = match.group(0)
    glued = _LETTERS_BEFORE.search(match.string, max(0, match.start() - _GLUE_WINDOW),
                                   match.start())
    if glued and glued.group(0).lower() not in _NUMBER_WORDS and not _MAINLAND_MOBILE.match(
            run):
        return run
    date = _DATE_FIRST.match(run)
    if date:  # a date, maybe followed by more: mask what follows on its own
        return run[: date.end()] + _mask(run[date.end() :])
    if _GROUPED_AMOUNT.fullmatch(run) or _DECIMAL.fullmatch(run):
        return run
    if any(sum(_is_digit(c) for c in part) < 3 for part in _COMMA.split(run)):
        # A comma next to a short number is speech (1月1日，10000元 said as 1，10000), not a
        # separator inside one number: each part is a run of its own.
        return "".join(piece if _COMMA.fullmatch(piece) else _mask(piece)
                       for piece in _COMMA_KEPT.split(run))
    return _hidden(run, [i for i, c in enumerate(run) if _is_digit(c) or c in "Xx"])
