"""`trial_end_check`: a stated free-trial end date must equal started_at + trial_days."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

from engine.rules.base import Draft, Mark, RuleInfo
from engine.rules.compiler import Compiler
from engine.rules.conditions import Condition, Evidence
from engine.rules.context import CallContext
from engine.rules.kinds.base import Fields, Rule, RuleKind, matcher_field, speaker_field
from engine.text.numbers import find_dates, resolve_date


@dataclass(frozen=True)
class TrialEndCheck(Rule):
    context: str
    by: str = "agent"
    tolerance_days: int = 1

    def check(self, ctx: CallContext, when: Evidence) -> Iterator[Draft]:
        call = ctx.call
        if not call.has_trial or call.started_at is None or call.product is None:
            return
        day = call.started_at.date()
        expected = day + timedelta(days=call.product.trial_days)
        for number in sorted({h.turn for h in ctx.hits_of(self.context, self.by)}):
            norm = ctx.turns[number]
            for stated in find_dates(norm.folded_text, day):
                said = resolve_date(stated, day)
                if abs((said - expected).days) <= self.tolerance_days:
                    continue
                start, end = norm.folded.to_original(stated.start, stated.end)
                yield Draft(
                    (Mark(number, start, end),),
                    f"stated the trial ends {said.isoformat()}; "
                    f"it ends {expected.isoformat()} (call on {day.isoformat()} "
                    f"+ {call.product.trial_days} days)",
                )

    def matchers(self) -> tuple[str, ...]:
        return (self.context,)

    def triggers(self) -> tuple[str, ...] | None:
        return (self.context,)


def _trial_end(info: RuleInfo, when: Condition | None, f: Fields, c: Compiler) -> Rule | None:
    context = matcher_field(f, "context", c)
    days = f["tolerance_days"].integer("tolerance_days", 0, 31) if "tolerance_days" in f else 1
    if context is None:
        return None
    return TrialEndCheck(
        info,
        when=when,
        context=context,
        by=speaker_field(f, default="agent") or "agent",
        tolerance_days=days if days is not None else 1,
    )


KIND = RuleKind(
    frozenset({"by", "context", "tolerance_days"}),
    frozenset({"context"}),
    _trial_end,
    "a stated trial end date must equal started_at + trial_days",
)
