"""Phone numbers are masked in everything people read, unless they ask otherwise."""

from __future__ import annotations

import re
from functools import lru_cache

# Seven or more digits with the separators people and exports put inside phone numbers,
# not glued to letters (call ids such as C20261123-0009 are not phone numbers).
_NUMBER_IN_TEXT = re.compile(r"(?<![\w.])\+?\d[\d\- ]{5,}\d(?![\w.])", re.ASCII)
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def mask_phone(number: str | None) -> str | None:
    """Hide the middle digits: 13800138000 -> 138****8000, 555-0142 -> 55*-**42."""
    if number is None:
        return None
    digits = [i for i, c in enumerate(number) if c.isdigit()]
    if len(digits) < 4:
        return "*" * len(number)
    keep_head, keep_tail = (3, 4) if len(digits) >= 10 else (2, 2)
    hidden = set(digits[keep_head:-keep_tail])
    return "".join("*" if i in hidden else c for i, c in enumerate(number))


@lru_cache(maxsize=4096)  # a turn is quoted by several findings, and scripts recur
def mask_numbers_in_text(text: str) -> str:
    """Mask phone-like digit runs inside speech, keeping the text's length (spans stay valid)."""
    return _NUMBER_IN_TEXT.sub(_masked_run, text)


def _masked_run(match: re.Match[str]) -> str:
    run = match.group(0)
    if sum(c.isdigit() for c in run) < 7 or _DATE.fullmatch(run.strip()):
        return run
    return mask_phone(run) or run
