"""`fee_check`: amounts the agent states as a monthly fee must equal product.monthly_fee."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

from engine.rules.base import Draft, Mark, RuleInfo
from engine.rules.compiler import Compiler
from engine.rules.conditions import Condition, Evidence
from engine.rules.context import CallContext
from engine.rules.kinds.base import Fields, Rule, RuleKind, matcher_field, speaker_field
from engine.text.numbers import may_say_monthly


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
            if number not in context_turns and not may_say_monthly(norm.folded_text):
                continue  # no amount here can be a monthly fee
            for amount in norm.amounts:
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


def _fee_check(info: RuleInfo, when: Condition | None, f: Fields, c: Compiler) -> Rule | None:
    tolerance = f["tolerance"].number("tolerance") if "tolerance" in f else 0.005
    return FeeCheck(
        info,
        when=when,
        by=speaker_field(f, default="agent") or "agent",
        context=matcher_field(f, "context", c),
        unless=matcher_field(f, "unless", c),
        tolerance=tolerance if tolerance is not None else 0.005,
    )


KIND = RuleKind(
    frozenset({"by", "context", "unless", "tolerance"}),
    frozenset(),
    _fee_check,
    "stated monthly amounts must equal product.monthly_fee",
)


def _money(value: Decimal) -> str:
    return f"{value.normalize():f}"
