"""Phone numbers in one form, so "+86 138-0013-8000" and "13800138000" are one customer."""

from __future__ import annotations

import re

_NOT_DIGITS = re.compile(r"\D")
# The default country for numbers written without one, by call language.
COUNTRY_BY_LANGUAGE = {"zh": "86", "en": "1"}


def normalize_phone(number: str | None, language: str = "zh") -> str | None:
    """E.164-style '+<country><number>'; None when it cannot be a phone number."""
    if not number:
        return None
    text = number.strip()
    digits = _NOT_DIGITS.sub("", text)
    if text.startswith("00"):
        digits, text = digits[2:], "+" + text[2:]
    if len(digits) < 7:
        return None
    if text.startswith("+"):
        return "+" + digits
    country = COUNTRY_BY_LANGUAGE.get(language, "86")
    if country == "86":
        if len(digits) == 13 and digits.startswith("86"):
            return "+" + digits
        return "+86" + digits.lstrip("0")  # a trunk 0 (010-...) is not dialled from abroad
    if len(digits) == 11 and digits.startswith("1"):
        return "+" + digits
    return "+1" + digits
