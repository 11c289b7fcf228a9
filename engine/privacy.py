"""Phone numbers are masked in everything people read, unless they ask otherwise."""

from __future__ import annotations

import re

# Seven or more digits, allowing the separators people and exports put inside numbers.
_NUMBER_IN_TEXT = re.compile(r"(?<![\d])(?:\+?\d[\d\- ]{5,}\d)(?![\d])")


def mask_phone(number: str | None) -> str | None:
    """Keep the first three and last four digits: 13800138000 -> 138****8000."""
    if number is None:
        return None
    digits = [i for i, c in enumerate(number) if c.isdigit()]
    if len(digits) < 7:
        return "*" * len(number)
    hidden = set(digits[3:-4])
    return "".join("*" if i in hidden else c for i, c in enumerate(number))


def mask_numbers_in_text(text: str) -> str:
    """Mask phone-like digit runs inside speech, keeping the text's length (spans stay valid)."""
    def replace(match: re.Match[str]) -> str:
        run = match.group(0)
        if sum(c.isdigit() for c in run) < 7:
            return run
        return mask_phone(run) or run

    return _NUMBER_IN_TEXT.sub(replace, text)
