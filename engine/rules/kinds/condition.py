"""`condition`: the rule's `when` condition itself is the violation."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from engine.rules.base import Draft, RuleInfo
from engine.rules.compiler import Compiler
from engine.rules.conditions import Condition, Evidence
from engine.rules.context import CallContext
from engine.rules.kinds.base import Fields, Rule, RuleKind, marks


@dataclass(frozen=True)
class ConditionRule(Rule):
    def check(self, ctx: CallContext, when: Evidence) -> Iterator[Draft]:
        yield Draft(marks(ctx, when))


def _condition(info: RuleInfo, when: Condition | None, f: Fields, c: Compiler) -> Rule | None:
    return ConditionRule(info, when=when) if when is not None else None


KIND = RuleKind(
    frozenset(), frozenset({"when"}), _condition, "the condition itself is the violation"
)
