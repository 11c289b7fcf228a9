"""One customer, one number, whatever way it was written."""

from __future__ import annotations

import pytest

from engine.actions.phones import normalize_phone


@pytest.mark.parametrize(
    ("number", "language", "normal"),
    [
        ("13800138000", "zh", "+8613800138000"),
        ("+86 138-0013-8000", "zh", "+8613800138000"),
        ("86 138 0013 8000", "zh", "+8613800138000"),
        ("0086-13800138000", "zh", "+8613800138000"),
        ("010-6552 9988", "zh", "+861065529988"),
        ("(555) 014-2987", "en", "+15550142987"),
        ("+1 555-014-2987", "en", "+15550142987"),
        ("1-555-014-2987", "en", "+15550142987"),
        ("555.014.2987", "en", "+15550142987"),
        ("+86 138-0013-8000", "en", "+8613800138000"),
        ("12345", "zh", None),
        ("", "zh", None),
    ],
)
def test_normalize_phone(number, language, normal):
    assert normalize_phone(number, language) == normal
