"""`fee_check`: amounts the agent states as a monthly fee must equal product.monthly_fee.

Amounts are typed (engine/text/numbers.py): one said per day, week or item ("一天还不到两毛")
is not a monthly fee; one said as a ceiling ("不到五块", "less than $5") only contradicts a
fee above it; one in a clause that names another channel or product (`other_price`:
"营业厅办要二十块", "in store it's $20") is not this product's fee."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

from engine.rules.base import Draft, Mark, RuleInfo
from engine.rules.compiler import Compiler
from engine.rules.conditions import Condition, Evidence
from engine.rules.context import CallContext
from engine.rules.kinds.base import Fields, Rule, RuleKind, matcher_field, speaker_field
from engine.text.normalize import NormalizedTurn
from engine.text.numbers import StatedAmount, amount_bound, clause_around, may_say_monthly

# An amount said as an estimate ("五块左右", "about $5") may be this far from the fee.
ABOUT = Decimal("0.1")


@dataclass(frozen=True)
class FeeCheck(Rule):
    by: str = "agent"
    context: str | None = None  # amounts without "per month" count only in turns matching it
    unless: str | None = None  # turns matching it are not about the fee (gifts, refunds...)
    tolerance: float = 0.005
    # Clauses matching it state another channel's or product's price, not this product's.
    other_price: str | None = None

    def check(self, ctx: CallContext, when: Evidence) -> Iterator[Draft]:
        product = ctx.call.product
        if product is None or product.monthly_fee is None:
            return
        fee = Decimal(str(product.monthly_fee))
        tolerance = Decimal(str(self.tolerance))
        context_turns = {h.turn for h in ctx.hits_of(self.context)} if self.context else set()
        unless_turns = {h.turn for h in ctx.hits_of(self.unless)} if self.unless else set()
        elsewhere: dict[int, list[tuple[int, int]]] = {}
        if self.other_price:
            for hit in ctx.hits_of(self.other_price):
                elsewhere.setdefault(hit.turn, []).append(
                    ctx.turns[hit.turn].to_original(hit.start, hit.end))
        for number, (turn, norm) in enumerate(zip(ctx.call.turns, ctx.turns, strict=False)):
            if turn.speaker != self.by or number in unless_turns:
                continue
            if number not in context_turns and not may_say_monthly(norm.folded_text):
                continue  # no amount here can be a monthly fee
            floor = 0
            for amount in norm.amounts:
                bound_floor, floor = floor, amount.end
                monthly = amount.per == "month" or (amount.per is None and number in context_turns)
                if not monthly or abs(amount.value - fee) <= tolerance:
                    continue
                text = norm.folded_text
                bound = amount_bound(text, amount, bound_floor)
                if bound == "under" and fee <= amount.value + tolerance:
                    continue  # "不到五块" of a fee of 4.99
                if bound == "about" and abs(amount.value - fee) <= max(tolerance, fee * ABOUT):
                    continue
                if number in elsewhere and _said_elsewhere(norm, amount, elsewhere[number]):
                    continue
                start, end = norm.folded.to_original(amount.start, amount.end)
                said = f"{'under ' if bound == 'under' else ''}{_money(amount.value)}"
                yield Draft(
                    (Mark(number, start, end),),
                    f"stated {said} a month; the product's fee is {_money(fee)} "
                    f"(read: {describe_amount(amount, bound)})",
                )

    def matchers(self) -> tuple[str, ...]:
        return tuple(m for m in (self.context, self.unless, self.other_price) if m)


def _said_elsewhere(norm: NormalizedTurn, amount: StatedAmount,
                    spans: list[tuple[int, int]]) -> bool:
    """Whether the amount's clause holds a match of `other_price`."""
    left, right = clause_around(norm.folded_text, amount.start, amount.end)
    lo, hi = norm.folded.to_original(left, max(right, left + 1))
    return any(lo <= start and end <= hi for start, end in spans)


def describe_amount(amount: StatedAmount, bound: str | None = None) -> str:
    """An amount as read: "5 CNY per month", "under 0.2 CNY per day", "9.99 per month"."""
    parts = [f"{'under ' if bound == 'under' else 'about ' if bound == 'about' else ''}"
             f"{_money(amount.value)}"]
    if amount.currency:
        parts.append(amount.currency)
    if amount.per == "unit":
        parts.append("per item")
    elif amount.per:
        parts.append(f"per {amount.per}")
    return " ".join(parts)


def _fee_check(info: RuleInfo, when: Condition | None, f: Fields, c: Compiler) -> Rule | None:
    tolerance = f["tolerance"].number("tolerance") if "tolerance" in f else 0.005
    return FeeCheck(
        info,
        when=when,
        by=speaker_field(f, default="agent") or "agent",
        context=matcher_field(f, "context", c),
        unless=matcher_field(f, "unless", c),
        tolerance=tolerance if tolerance is not None else 0.005,
        other_price=matcher_field(f, "other_price", c),
    )


KIND = RuleKind(
    frozenset({"by", "context", "unless", "tolerance", "other_price"}),
    frozenset(),
    _fee_check,
    "stated monthly amounts must equal product.monthly_fee",
)


def _money(value: Decimal) -> str:
    return f"{value.normalize():f}"
