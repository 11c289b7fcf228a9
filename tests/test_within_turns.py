"""`within_turns` at its boundary: N turns apart is within, N + 1 is not, in both places
the key is read (a precedence rule and a condition's `before`)."""

from __future__ import annotations

import pytest

from tests.test_rule_kinds import findings, rule


def apart(turns: int, first: tuple[str, str], then: tuple[str, str]) -> list[tuple[str, str]]:
    """`first`, then `then` exactly `turns` turns later (filler turns between)."""
    return [first, *[("agent", f"第{i}句") for i in range(turns - 1)], then]


@pytest.mark.parametrize(("within", "distance", "fires"), [
    (2, 1, False), (2, 2, False), (2, 3, True), (1, 1, False), (1, 2, True), (0, 1, True),
])
def test_a_precedence_rule_counts_the_turns_inclusively(pack_factory, within, distance, fires):
    """The acceptance must come at most `within_turns` turns before the activation."""
    body = rule(f"kind: precedence\ntrigger: activate\nrequires_before: accept\n"
                f"within_turns: {within}")
    turns = apart(distance, ("customer", "同意"), ("agent", "已经为您开通"))
    assert bool(findings(pack_factory, body, turns)) is fires


@pytest.mark.parametrize(("within", "distance", "holds"), [
    (2, 1, True), (2, 2, True), (2, 3, False), (1, 1, True), (1, 2, False), (0, 1, False),
])
def test_a_before_condition_counts_the_turns_inclusively(pack_factory, within, distance,
                                                          holds):
    """`before: {first, then, within_turns: N}` holds when `then` is at most N turns on."""
    body = rule("kind: condition\nwhen: {before: {first: identity, then: pitch, "
                f"within_turns: {within}}}}}")
    turns = apart(distance, ("agent", "请问您是机主吗"), ("agent", "给您推荐一个套餐"))
    assert bool(findings(pack_factory, body, turns)) is holds
