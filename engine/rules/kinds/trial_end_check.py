"""`trial_end_check`: what the agent says about the free trial must agree with the product.

`checks` picks what is compared (default: end_date):
* end_date      — a date stated in a `context` turn must equal started_at + trial_days
                  (the call's own day and earlier ones are not read as the trial's end, nor
                  is a date said as the day charging starts);
* length        — a free period stated anywhere ("前三个月免费", "头两个月不要钱", "first two
                  months free") must be the product's trial_days long (a month: 28-31 days);
                  stated for a product with no trial, it is a misstatement too;
* billing_start — a date stated as the day charging starts ("下个月1号起按月收10块",
                  "billing starts December 4th") must be the day the trial ends or the next.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta

from engine.rules.base import Draft, Mark, RuleInfo
from engine.rules.compiler import Compiler
from engine.rules.conditions import Condition, Evidence
from engine.rules.context import CallContext
from engine.rules.kinds.base import Fields, Rule, RuleKind, matcher_field, speaker_field
from engine.text.numbers import find_billing_starts, find_dates, find_durations, resolve_date

CHECKS = ("end_date", "length", "billing_start")


@dataclass(frozen=True)
class TrialEndCheck(Rule):
    context: str | None
    by: str = "agent"
    tolerance_days: int = 1
    checks: tuple[str, ...] = ("end_date",)

    def check(self, ctx: CallContext, when: Evidence) -> Iterator[Draft]:
        call = ctx.call
        if call.started_at is None or call.product is None:
            return
        day = call.started_at.date()
        trial = call.product.trial_days
        if "length" in self.checks:
            yield from self._lengths(ctx, trial)
        if not call.has_trial:
            return
        expected = day + timedelta(days=trial)
        if "end_date" in self.checks and self.context is not None:
            yield from self._end_dates(ctx, day, expected, trial)
        if "billing_start" in self.checks:
            yield from self._billing_starts(ctx, day, expected, trial)

    def _end_dates(self, ctx: CallContext, day: date, expected: date,
                   trial: int) -> Iterator[Draft]:
        for number in sorted({h.turn for h in ctx.hits_of(self.context or "", self.by)}):
            norm = ctx.turns[number]
            # A date said as the day charging starts ("and billing starts December 24th") is
            # the day after the trial, checked as such by billing_start, not as its end.
            billing = {(b.date.start, b.date.end)
                       for b in find_billing_starts(norm.folded_text, day)}
            for stated in find_dates(norm.folded_text, day):
                if (stated.start, stated.end) in billing:
                    continue
                said = resolve_date(stated, day)
                if abs((said - expected).days) <= self.tolerance_days:
                    continue
                # A trial stated on the call ends after it: the call's own day or an earlier
                # one is today's date or a past event ("today is November 30th, so the trial
                # ends December 30th", "it was added on November 5th"), not the trial's end.
                if said <= day:
                    continue
                start, end = norm.folded.to_original(stated.start, stated.end)
                yield Draft(
                    (Mark(number, start, end),),
                    f"stated the trial ends {said.isoformat()}; "
                    f"it ends {expected.isoformat()} (call on {day.isoformat()} "
                    f"+ {trial} days)",
                )

    def _lengths(self, ctx: CallContext, trial: int) -> Iterator[Draft]:
        for number, turn in enumerate(ctx.call.turns):
            if turn.speaker != self.by:
                continue
            norm = ctx.turns[number]
            for stated in find_durations(norm.folded_text):
                if not stated.free:
                    continue
                low, high = stated.days
                if trial and low - self.tolerance_days <= trial <= high + self.tolerance_days:
                    continue
                start, end = norm.folded.to_original(stated.start, stated.end)
                has = f"the trial is {trial} days" if trial else "the product has no free trial"
                yield Draft(
                    (Mark(number, start, end),),
                    f"stated a free period of {stated.describe()} "
                    f"(read: {low}{'' if low == high else f'-{high}'} days); {has}",
                )

    def _billing_starts(self, ctx: CallContext, day: date, expected: date,
                        trial: int) -> Iterator[Draft]:
        for number, turn in enumerate(ctx.call.turns):
            if turn.speaker != self.by:
                continue
            norm = ctx.turns[number]
            for stated in find_billing_starts(norm.folded_text, day):
                said = resolve_date(stated.date, day) + timedelta(days=int(stated.after))
                # Charging starts the day the trial ends or the day after.
                if (expected - timedelta(days=self.tolerance_days) <= said
                        <= expected + timedelta(days=1 + self.tolerance_days)):
                    continue
                start, end = norm.folded.to_original(stated.start, stated.end)
                yield Draft(
                    (Mark(number, start, end),),
                    f"stated charging starts {said.isoformat()}; the trial ends "
                    f"{expected.isoformat()} (call on {day.isoformat()} + {trial} days)",
                )

    def matchers(self) -> tuple[str, ...]:
        return (self.context,) if self.context else ()

    def triggers(self) -> tuple[str, ...] | None:
        # Lengths and billing starts are read from every agent turn, not only context turns.
        return (self.context,) if self.checks == ("end_date",) and self.context else None


def _trial_end(info: RuleInfo, when: Condition | None, f: Fields, c: Compiler) -> Rule | None:
    context = matcher_field(f, "context", c)
    days = f["tolerance_days"].integer("tolerance_days", 0, 31) if "tolerance_days" in f else 1
    checks: tuple[str, ...] = ("end_date",)
    if "checks" in f:
        node = f["checks"]
        items = [node] if node.is_scalar() else list(node.items("checks"))
        chosen = [item.choice("checks", CHECKS) for item in items]
        if not chosen or None in chosen:
            return None
        checks = tuple(c for c in CHECKS if c in chosen)
    if "end_date" in checks and context is None:
        if "context" not in f:
            (f.get("checks") or f["kind"]).error(
                "checking the trial's end date needs 'context': the matcher of turns that "
                "talk about the trial's end",
                "add 'context: trial_end_context', or leave end_date out of 'checks'",
            )
        return None
    return TrialEndCheck(
        info,
        when=when,
        context=context,
        by=speaker_field(f, default="agent") or "agent",
        tolerance_days=days if days is not None else 1,
        checks=checks,
    )


KIND = RuleKind(
    frozenset({"by", "context", "tolerance_days", "checks"}),
    frozenset(),
    _trial_end,
    "what is said of the free trial (end date, length, billing start) must agree with it",
)
