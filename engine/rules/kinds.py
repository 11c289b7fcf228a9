"""The closed menu of rule kinds, in one explicit registry.

A compliance officer picks a kind and fills in its parameters:

* ``forbidden``       — the matcher must never match (forbidden phrasing, customer signals).
* ``required``        — when the condition holds, the matcher must match (disclosures).
* ``precedence``      — before the trigger matches, another matcher must have matched
                        (identity checked before the pitch; acceptance before activation).
* ``condition``       — the condition itself is the violation.
* ``fee_check``       — amounts the agent states must equal the product's monthly fee.
* ``trial_end_check`` — a stated trial end date must equal the call date + trial days.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

from engine.rules.base import Draft, Mark, RuleInfo
from engine.rules.compiler import Compiler
from engine.rules.conditions import Condition, Evidence, precedes
from engine.rules.context import CallContext
from engine.rules.matchers import Hit
from engine.rules.yamlsource import Node
from engine.text.numbers import find_amounts, find_dates, resolve_date

SPEAKERS = ("agent", "customer")


def marks(ctx: CallContext, hits: Evidence | list[Hit]) -> tuple[Mark, ...]:
    """Match-text hits as spans of the original turns."""
    found = set()
    for hit in hits:
        start, end = ctx.turns[hit.turn].to_original(hit.start, hit.end)
        found.add(Mark(hit.turn, start, end))
    return tuple(sorted(found))


@dataclass(frozen=True)
class Rule:
    """A compiled rule: shared info, an optional `when` condition, and its kind's check."""

    info: RuleInfo
    when: Condition | None = field(default=None, kw_only=True)

    def check(self, ctx: CallContext, when: Evidence) -> Iterator[Draft]:
        raise NotImplementedError  # every kind below defines it

    def matchers(self) -> tuple[str, ...]:
        """Matchers this rule reads (besides its condition's)."""
        return ()


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


@dataclass(frozen=True)
class Precedence(Rule):
    trigger: str
    requires_before: str
    within_turns: int | None = None

    def check(self, ctx: CallContext, when: Evidence) -> Iterator[Draft]:
        triggers = ctx.hits_of(self.trigger)
        if not triggers:
            return
        first = triggers[0]
        for earlier in ctx.hits_of(self.requires_before):
            if not precedes(earlier, first):
                break
            if self.within_turns is None or first.turn - earlier.turn <= self.within_turns:
                return
        yield Draft(marks(ctx, [first]))

    def matchers(self) -> tuple[str, ...]:
        return (self.trigger, self.requires_before)


@dataclass(frozen=True)
class ConditionRule(Rule):
    def check(self, ctx: CallContext, when: Evidence) -> Iterator[Draft]:
        yield Draft(marks(ctx, when))


@dataclass(frozen=True)
class FeeCheck(Rule):
    by: str = "agent"
    context: str | None = None  # amounts without "per month" count only in turns matching it
    unless: str | None = None  # turns matching it are not about the fee (gifts, refunds...)
    tolerance: float = 0.005

    def check(self, ctx: CallContext, when: Evidence) -> Iterator[Draft]:
        product = ctx.call.product
        if product is None or product.monthly_fee is None:
            return
        fee = Decimal(str(product.monthly_fee))
        context_turns = {h.turn for h in ctx.hits_of(self.context)} if self.context else set()
        unless_turns = {h.turn for h in ctx.hits_of(self.unless)} if self.unless else set()
        for number, (turn, norm) in enumerate(zip(ctx.call.turns, ctx.turns, strict=False)):
            if turn.speaker != self.by or number in unless_turns:
                continue
            for amount in find_amounts(norm.folded.text):
                monthly = amount.per == "month" or (amount.per is None and number in context_turns)
                if not monthly or abs(amount.value - fee) <= Decimal(str(self.tolerance)):
                    continue
                start, end = norm.folded.to_original(amount.start, amount.end)
                yield Draft(
                    (Mark(number, start, end),),
                    f"stated {_money(amount.value)} a month; the product's fee is {_money(fee)}",
                )

    def matchers(self) -> tuple[str, ...]:
        return tuple(m for m in (self.context, self.unless) if m)


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
            for stated in find_dates(norm.folded.text, day):
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


def _money(value: Decimal) -> str:
    return f"{value.normalize():f}"


# -- compiling each kind's own keys ------------------------------------------------------

Fields = dict[str, Node]


def _speaker(fields: Fields, key: str = "by", default: str | None = None) -> str | None:
    return fields[key].choice(key, SPEAKERS) if key in fields else default


def _ref(fields: Fields, key: str, compiler: Compiler) -> str | None:
    return compiler.reference(fields[key], key) if key in fields else None


def _forbidden(info: RuleInfo, when: Condition | None, f: Fields, c: Compiler) -> Rule | None:
    matcher = _ref(f, "matcher", c)
    return Forbidden(info, when=when, matcher=matcher, by=_speaker(f)) if matcher else None


def _required(info: RuleInfo, when: Condition | None, f: Fields, c: Compiler) -> Rule | None:
    matcher = _ref(f, "matcher", c)
    if matcher is None:
        return None
    return Required(info, when=when, matcher=matcher, by=_speaker(f), before=_ref(f, "before", c))


def _precedence(info: RuleInfo, when: Condition | None, f: Fields, c: Compiler) -> Rule | None:
    trigger, before = _ref(f, "trigger", c), _ref(f, "requires_before", c)
    within = f["within_turns"].integer("within_turns", 0) if "within_turns" in f else None
    if trigger is None or before is None:
        return None
    return Precedence(info, when=when, trigger=trigger, requires_before=before, within_turns=within)


def _condition(info: RuleInfo, when: Condition | None, f: Fields, c: Compiler) -> Rule | None:
    return ConditionRule(info, when=when) if when is not None else None


def _fee_check(info: RuleInfo, when: Condition | None, f: Fields, c: Compiler) -> Rule | None:
    tolerance = f["tolerance"].number("tolerance") if "tolerance" in f else 0.005
    return FeeCheck(
        info,
        when=when,
        by=_speaker(f, default="agent") or "agent",
        context=_ref(f, "context", c),
        unless=_ref(f, "unless", c),
        tolerance=tolerance if tolerance is not None else 0.005,
    )


def _trial_end(info: RuleInfo, when: Condition | None, f: Fields, c: Compiler) -> Rule | None:
    context = _ref(f, "context", c)
    days = f["tolerance_days"].integer("tolerance_days", 0, 31) if "tolerance_days" in f else 1
    if context is None:
        return None
    return TrialEndCheck(
        info,
        when=when,
        context=context,
        by=_speaker(f, default="agent") or "agent",
        tolerance_days=days if days is not None else 1,
    )


@dataclass(frozen=True)
class RuleKind:
    """One entry of the menu: its own keys and how to compile them."""

    keys: frozenset[str]
    required: frozenset[str]
    compile: Callable[[RuleInfo, Condition | None, Fields, Compiler], Rule | None]
    summary: str


RULE_KINDS: dict[str, RuleKind] = {
    "forbidden": RuleKind(
        frozenset({"matcher", "by"}),
        frozenset({"matcher"}),
        _forbidden,
        "the matcher must never match",
    ),
    "required": RuleKind(
        frozenset({"matcher", "by", "before"}),
        frozenset({"matcher"}),
        _required,
        "when the condition holds, the matcher must match",
    ),
    "precedence": RuleKind(
        frozenset({"trigger", "requires_before", "within_turns"}),
        frozenset({"trigger", "requires_before"}),
        _precedence,
        "a matcher must match before the trigger does",
    ),
    "condition": RuleKind(
        frozenset(), frozenset({"when"}), _condition, "the condition itself is the violation"
    ),
    "fee_check": RuleKind(
        frozenset({"by", "context", "unless", "tolerance"}),
        frozenset(),
        _fee_check,
        "stated monthly amounts must equal product.monthly_fee",
    ),
    "trial_end_check": RuleKind(
        frozenset({"by", "context", "tolerance_days"}),
        frozenset({"context"}),
        _trial_end,
        "a stated trial end date must equal started_at + trial_days",
    ),
}
