"""`forbidden`: the matcher must never match (forbidden phrasing, customer signals)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from engine.rules.base import Draft, RuleInfo
from engine.rules.compiler import Compiler
from engine.rules.conditions import Condition, Evidence
from engine.rules.context import CallContext
from engine.rules.kinds.base import Fields, Rule, RuleKind, marks, matcher_field, speaker_field


@dataclass(frozen=True)
class Forbidden(Rule):
    matcher: str
    by: str | None = None

    def check(self, ctx: CallContext, when: Evidence) -> Iterator[Draft]:
        hits = ctx.hits_of(self.matcher, self.by)
        if hits:
            yield Draft(marks(ctx, hits))

    def matchers(self) -> tuple[str, ...]:
        return (self.matcher,)

    def triggers(self) -> tuple[str, ...] | None:
        return (self.matcher,)


def _forbidden(info: RuleInfo, when: Condition | None, f: Fields, c: Compiler) -> Rule | None:
    matcher = matcher_field(f, "matcher", c)
    return Forbidden(info, when=when, matcher=matcher, by=speaker_field(f)) if matcher else None


KIND = RuleKind(
    frozenset({"matcher", "by"}), frozenset({"matcher"}), _forbidden, "the matcher must never match"
)
