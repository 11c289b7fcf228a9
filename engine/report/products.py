"""What the product catalogue supplied and the typed values read, for `check --show-matches`:
how a rule author sees why a fee, trial or disclosure check decided as it did."""

from __future__ import annotations

from datetime import timedelta

from engine.outputs import escape_controls as shown
from engine.rules.catalogue import FACTS
from engine.rules.context import CallContext
from engine.rules.kinds.fee_check import describe_amount
from engine.text.numbers import (
    amount_bound,
    find_billing_starts,
    find_dates,
    find_durations,
    resolve_date,
)


def format_product(ctx: CallContext) -> list[str]:
    """The call's product as the rules judged it: its catalogue entry, what the catalogue
    filled in, conflicts with the call's metadata, and the facts it knows."""
    product = ctx.call.product
    resolution = ctx.product
    if product is None:
        return ["product: none in the call's metadata"]
    figures = [f"monthly_fee {product.monthly_fee:g}" if product.monthly_fee is not None
               else "monthly_fee unknown", f"trial_days {product.trial_days}"]
    head = f"product: {product.code or '-'} {product.name or ''}".rstrip()
    lines = [shown(f"{head} ({', '.join(figures)})")]
    if resolution is None:
        return lines
    entry = resolution.entry
    if entry is None:
        lines.append("  catalogue: this product is not in it (by code or name)")
        return lines
    lines.append(shown(f"  catalogue: {entry.location} (found by {resolution.matched_by})"))
    if resolution.supplied:
        lines.append(shown(f"  supplied by the catalogue: {', '.join(resolution.supplied)}"))
    for conflict in resolution.conflicts:
        lines.append(shown(f"  conflict: {conflict}"))
    known = []
    for fact in FACTS:
        names = entry.matcher_names(fact) if entry.has(fact) else ()
        if names:
            said = sum(1 for name in names if ctx.hits.get(name))
            known.append(f"{fact} {said}/{len(names)} said")
    lines.append(shown(f"  facts: {'; '.join(known) or 'none'}"))
    return lines


def format_typed_values(ctx: CallContext) -> list[str]:
    """Per agent turn, the amounts, free periods, billing starts and dates read from it."""
    call = ctx.call
    day = call.started_at.date() if call.started_at else None
    lines = []
    for number, (turn, norm) in enumerate(zip(call.turns, ctx.turns, strict=False)):
        if turn.speaker != "agent":
            continue
        text = norm.folded_text
        values = []
        floor = 0
        for amount in norm.amounts:
            values.append("amount " + describe_amount(amount, amount_bound(text, amount, floor)))
            floor = amount.end
        for duration in find_durations(text):
            low, high = duration.days
            kind = "free period" if duration.free else "period"
            days = f"{low}" if low == high else f"{low}-{high}"
            values.append(f"{kind} {duration.describe()} ({days} days)")
        if day is not None:
            starts = find_billing_starts(text, day)
            for start in starts:
                said = resolve_date(start.date, day) + timedelta(days=int(start.after))
                values.append(f"billing starts {said.isoformat()}")
            billed = {(s.date.start, s.date.end) for s in starts}
            for stated in find_dates(text, day):
                if (stated.start, stated.end) not in billed:
                    values.append(f"date {resolve_date(stated, day).isoformat()}")
        if values:
            lines.append(f"#{number + 1:<3} " + "; ".join(values))
    return ["typed values (agent turns):", *lines] if lines else []
