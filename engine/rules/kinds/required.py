"""`required`: when the condition holds, the matcher must match (disclosures)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from engine.rules.base import Draft, RuleInfo
from engine.rules.compiler import Compiler
from engine.rules.conditions import Condition, Evidence, precedes
from engine.rules.context import CallContext
from engine.rules.kinds.base import Fields, Rule, RuleKind, marks, matcher_field, speaker_field


@dataclass(frozen=True)
class Required(Rule):
    matcher: str
    by: str | None = None
    before: str | None = None  # it must come before this matcher's first match

    def check(self, ctx: CallContext, when: Evidence) -> Iterator[Draft]:
        hits = ctx.hits_of(self.matcher, self.by)
        if self.before is not None:
            deadline = ctx.hits_of(self.before)
            if deadline:
                first = deadline[0]
                hits = [h for h in hits if precedes(h, first)]
                if not hits:
                    yield Draft(marks(ctx, [first]))
                return
        if not hits:
            yield Draft(marks(ctx, when))

    def matchers(self) -> tuple[str, ...]:
        return (self.matcher,) + ((self.before,) if self.before else ())


def _required(info: RuleInfo, when: Condition | None, f: Fields, c: Compiler) -> Rule | None:
    matcher = matcher_field(f, "matcher", c)
    if matcher is None:
        return None
    return Required(
        info, when=when, matcher=matcher, by=speaker_field(f), before=matcher_field(f, "before", c)
    )


KIND = RuleKind(
    frozenset({"matcher", "by", "before"}),
    frozenset({"matcher"}),
    _required,
    "when the condition holds, the matcher must match",
)
