"""Masking: phone numbers hidden, everything else (ids, dates, amounts) left readable."""

from __future__ import annotations

import pytest

from engine.privacy import mask_numbers_in_text, mask_phone


@pytest.mark.parametrize(
    ("number", "masked"),
    [("13800138000", "138****8000"), ("+86 138-0013-8000", "+86 1**-****-8000"),
     ("555-0142", "55*-**42"), ("+1 555-0142-9876", "+1 55*-****-9876"), ("12", "**")],
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
